//! The embedded demo: the shipped `pipelines/default.toml` against an in-process Kafka
//! (librdkafka's mock cluster), fed with generated traffic. No external service.
//!
//! The helpers here (publishing generated traffic, reading a topic back, loading a pipeline
//! with overrides) are also what the fault-injection tests use.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::DeliveryFuture;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::generate::{GenerateConfig, Generator};
use crate::kafka::{self, KafkaOptions};
use crate::pipeline::{Pipeline, PipelineError};

/// Loads a pipeline file, taking `overrides` before the environment for `${VAR}` lookups.
///
/// # Errors
/// [`PipelineError`] as [`Pipeline::load`].
pub fn load_pipeline_with(
    path: &Path,
    overrides: &[(&str, String)],
) -> Result<Pipeline, PipelineError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| PipelineError::Io { path: path.to_owned(), source })?;
    Pipeline::parse(path, &text, |name| {
        overrides
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
    })
}

/// Publishes `events` generated interactions to `topic`, keyed by session. Returns the
/// number delivered.
///
/// # Errors
/// The first enqueue or delivery failure.
pub async fn publish_generated(
    brokers: &str,
    topic: &str,
    events: u64,
    seed: u64,
) -> Result<u64, DemoError> {
    let producer =
        kafka::producer(brokers, &KafkaOptions::default()).map_err(|e| DemoError(e.to_string()))?;
    let config = GenerateConfig { seed, ..GenerateConfig::default() };
    let mut pending: std::collections::VecDeque<DeliveryFuture> = std::collections::VecDeque::new();
    let mut payload = Vec::with_capacity(2048);
    let mut delivered = 0;
    for g in Generator::new(config).take(events as usize) {
        payload.clear();
        serde_json::to_writer(&mut payload, &g.interaction)
            .map_err(|e| DemoError(e.to_string()))?;
        let future = kafka::send(&producer, topic, Some(&g.interaction.session_id), &payload)
            .await
            .map_err(|e| DemoError(e.to_string()))?;
        pending.push_back(future);
        while pending.len() > 20_000 {
            delivered += settle_one(&mut pending).await?;
        }
    }
    while !pending.is_empty() {
        delivered += settle_one(&mut pending).await?;
    }
    Ok(delivered)
}

async fn settle_one(
    pending: &mut std::collections::VecDeque<DeliveryFuture>,
) -> Result<u64, DemoError> {
    match pending.pop_front() {
        Some(f) => match f.await {
            Ok(Ok(_)) => Ok(1),
            Ok(Err((e, _))) => Err(DemoError(format!("not delivered: {e}"))),
            Err(_) => Err(DemoError("producer stopped".into())),
        },
        None => Ok(0),
    }
}

/// Reads every partition of `topic` from the beginning until `expected` messages arrived
/// or none came for `idle`.
///
/// # Errors
/// If the topic's metadata cannot be read.
pub fn read_topic(
    brokers: &str,
    topic: &str,
    expected: usize,
    idle: Duration,
) -> Result<Vec<Vec<u8>>, DemoError> {
    let consumer: BaseConsumer<kafka::LogContext> =
        kafka::client_config(brokers, &KafkaOptions::default())
            .set("group.id", "palisade-reader")
            .set("enable.auto.commit", "false")
            .create_with_context(kafka::LogContext::default())
            .map_err(|e| DemoError(e.to_string()))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| DemoError(e.to_string()))?;
    let partitions = metadata.topics().first().map_or(0, |t| t.partitions().len());
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions as i32 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| DemoError(e.to_string()))?;
    }
    consumer.assign(&tpl).map_err(|e| DemoError(e.to_string()))?;
    let mut out = Vec::new();
    let mut last = Instant::now();
    while out.len() < expected && last.elapsed() < idle {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50)) {
            out.push(m.payload().unwrap_or_default().to_vec());
            last = Instant::now();
        }
    }
    Ok(out)
}

/// A demo step failed; the message says which and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DemoError(pub String);

impl From<String> for DemoError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// What the demo found, for its summary.
#[derive(Debug, Default)]
pub struct DemoSummary {
    pub alerts_by_category: BTreeMap<String, u64>,
    /// (session, alerts, highest risk), riskiest first.
    pub top_sessions: Vec<(String, u64, u64)>,
}

/// Summarizes alert records (JSON payloads).
pub fn summarize_alerts(alerts: &[Vec<u8>]) -> DemoSummary {
    let mut summary = DemoSummary::default();
    let mut sessions: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for payload in alerts {
        let Ok(alert) = serde_json::from_slice::<serde_json::Value>(payload) else { continue };
        let category = alert["category"].as_str().unwrap_or("?").to_owned();
        *summary.alerts_by_category.entry(category).or_default() += 1;
        let session = alert["session_id"].as_str().unwrap_or("?").to_owned();
        let risk = alert["risk_score"].as_u64().unwrap_or(0);
        let entry = sessions.entry(session).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(risk);
    }
    let mut top: Vec<(String, u64, u64)> =
        sessions.into_iter().map(|(s, (n, r))| (s, n, r)).collect();
    top.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
    top.truncate(5);
    summary.top_sessions = top;
    summary
}
