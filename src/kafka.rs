//! What the Kafka source, the Kafka sinks and the Kafka CLI commands share: client
//! configuration (with secrets kept out of logs), topic administration, and publishing
//! JSON records keyed by session.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use std::sync::atomic::{AtomicU64, Ordering};

use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use serde::Deserialize;

/// Extra librdkafka options (`options = { "security.protocol" = "SASL_SSL", ... }`), see
/// <https://github.com/confluentinc/librdkafka/blob/master/CONFIGURATION.md>. Values of keys
/// that look secret (password, secret, key, token) never appear in `Debug` output.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct KafkaOptions(pub BTreeMap<String, String>);

impl fmt::Debug for KafkaOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in &self.0 {
            let secret =
                ["password", "secret", "key", "token", "jaas"].iter().any(|w| key.contains(w));
            if secret {
                map.entry(key, &"**REDACTED**");
            } else {
                map.entry(key, value);
            }
        }
        map.finish()
    }
}

/// A librdkafka client configuration for `brokers` with `options` applied last (they win).
pub fn client_config(brokers: &str, options: &KafkaOptions) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    // librdkafka logs go through its own logger; keep its noise out of ours.
    config.set("log_level", "3");
    for (key, value) in &options.0 {
        config.set(key, value);
    }
    config
}

/// Client context that routes librdkafka's logs and errors through `tracing`, rate-limited:
/// while a broker is down librdkafka reports the same failure many times a second.
#[derive(Debug, Default)]
pub struct LogContext {
    errors: AtomicU64,
}

impl LogContext {
    /// Logs the 1st, 2nd, 4th, 8th... occurrence.
    pub fn report_error(&self, error: &KafkaError, reason: &str) {
        let n = self.errors.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(error = %error, reason, occurrences = n, "kafka client error (retrying)");
        }
    }
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
                tracing::error!(facility, message, "librdkafka");
            }
            RDKafkaLogLevel::Error | RDKafkaLogLevel::Warning => {
                tracing::debug!(facility, message, "librdkafka");
            }
            _ => tracing::trace!(facility, message, "librdkafka"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.report_error(&error, reason);
    }
}

impl rdkafka::consumer::ConsumerContext for LogContext {}

impl KafkaOptions {
    /// `message` with every option value replaced by `**REDACTED**`: librdkafka quotes the
    /// value of an option it rejects, and a misspelt key can hide a password.
    pub fn redact(&self, message: &str) -> String {
        let mut out = message.to_owned();
        for value in self.0.values().filter(|v| v.len() >= 3) {
            out = out.replace(value.as_str(), "**REDACTED**");
        }
        out
    }
}

/// Checks that every option is a known librdkafka property with a valid value, without
/// creating a client (so nothing connects anywhere).
///
/// # Errors
/// librdkafka's message for the first bad option.
pub fn check_config(config: &ClientConfig) -> Result<(), KafkaError> {
    config.create_native_config().map(|_| ())
}

/// Partitions and replication of a topic created by `palisade topics create`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    #[serde(default = "default_replication")]
    pub replication_factor: i32,
}

fn default_partitions() -> i32 {
    6
}

fn default_replication() -> i32 {
    1
}

impl Default for TopicSpec {
    fn default() -> Self {
        Self { partitions: default_partitions(), replication_factor: default_replication() }
    }
}

/// A Kafka operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KafkaOpError {
    #[error("cannot create a Kafka client for {brokers}: {source}")]
    Client { brokers: String, source: KafkaError },
    #[error("creating topic `{topic}` failed: {code}")]
    CreateTopic { topic: String, code: RDKafkaErrorCode },
    #[error("Kafka request failed: {0}")]
    Request(#[from] KafkaError),
}

/// Creates topics (an existing topic is not an error). Returns the names created.
///
/// # Errors
/// [`KafkaOpError`] if the broker refuses a topic for another reason than it existing.
pub async fn create_topics(
    brokers: &str,
    options: &KafkaOptions,
    topics: &[(String, TopicSpec)],
) -> Result<Vec<String>, KafkaOpError> {
    let admin: AdminClient<LogContext> = client_config(brokers, options)
        .create_with_context(LogContext::default())
        .map_err(|source| KafkaOpError::Client { brokers: brokers.to_owned(), source })?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, spec)| {
            NewTopic::new(name, spec.partitions, TopicReplication::Fixed(spec.replication_factor))
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin.create_topics(&new, &options).await?;
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(KafkaOpError::CreateTopic { topic, code }),
        }
    }
    Ok(created)
}

/// Topics on the cluster with their partition counts (internal topics excluded).
///
/// # Errors
/// [`KafkaOpError`] if the cluster cannot be reached within `timeout`.
pub fn list_topics(
    brokers: &str,
    options: &KafkaOptions,
    timeout: Duration,
) -> Result<Vec<(String, usize)>, KafkaOpError> {
    let consumer: BaseConsumer = client_config(brokers, options)
        .create()
        .map_err(|source| KafkaOpError::Client { brokers: brokers.to_owned(), source })?;
    let metadata = consumer.fetch_metadata(None, timeout)?;
    let mut topics: Vec<(String, usize)> = metadata
        .topics()
        .iter()
        .filter(|t| !t.name().starts_with("__"))
        .map(|t| (t.name().to_owned(), t.partitions().len()))
        .collect();
    topics.sort();
    Ok(topics)
}

/// An idempotent producer tuned for throughput (lz4, small linger), used by `produce`,
/// the demo and the Kafka sinks.
///
/// # Errors
/// [`KafkaOpError::Client`] if the configuration is invalid.
pub fn producer(
    brokers: &str,
    options: &KafkaOptions,
) -> Result<FutureProducer<LogContext>, KafkaOpError> {
    producer_config(brokers, options)
        .create_with_context(LogContext::default())
        .map_err(|source| KafkaOpError::Client { brokers: brokers.to_owned(), source })
}

/// The configuration [`producer`] uses.
pub fn producer_config(brokers: &str, options: &KafkaOptions) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("log_level", "3")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "200000")
        // 0: retry transient failures for as long as it takes; a message is never dropped
        // because a broker was down for a while.
        .set("message.timeout.ms", "0");
    for (key, value) in &options.0 {
        config.set(key, value);
    }
    config
}

/// Sends one record, waiting (not failing) while the producer's local queue is full.
/// Returns the delivery future.
///
/// # Errors
/// The first non-retriable error from enqueueing.
pub async fn send<C: ClientContext + 'static>(
    producer: &FutureProducer<C>,
    topic: &str,
    key: Option<&str>,
    payload: &[u8],
) -> Result<rdkafka::producer::DeliveryFuture, KafkaError> {
    let mut record = FutureRecord::<str, [u8]>::to(topic).payload(payload);
    if let Some(key) = key {
        record = record.key(key);
    }
    loop {
        match producer.send_result(record) {
            Ok(future) => return Ok(future),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::ZERO);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err((error, _)) => return Err(error),
        }
    }
}

/// Waits for every queued message to be delivered (or `timeout`).
///
/// # Errors
/// [`KafkaError`] if messages are still queued at the deadline.
pub fn flush<C: ClientContext + 'static>(
    producer: &FutureProducer<C>,
    timeout: Duration,
) -> Result<(), KafkaError> {
    producer.flush(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_never_quote_option_values() {
        let options =
            KafkaOptions(BTreeMap::from([("sasl.pasword".to_owned(), "hunter2".to_owned())]));
        let err = check_config(&client_config("localhost:9092", &options)).unwrap_err().to_string();
        assert!(err.contains("hunter2"), "librdkafka quotes it: {err}");
        let shown = options.redact(&err);
        assert!(!shown.contains("hunter2") && shown.contains("sasl.pasword"), "{shown}");
    }

    #[test]
    fn debug_output_hides_secret_option_values() {
        let options = KafkaOptions(BTreeMap::from([
            ("sasl.password".to_owned(), "hunter2".to_owned()),
            ("ssl.key.pem".to_owned(), "-----BEGIN".to_owned()),
            ("security.protocol".to_owned(), "SASL_SSL".to_owned()),
        ]));
        let shown = format!("{options:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("BEGIN"), "{shown}");
        assert!(shown.contains("SASL_SSL"));
    }
}
