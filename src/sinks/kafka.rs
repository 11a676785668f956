//! `type = "kafka"`: publishes records as JSON to one topic, keyed by session.
//!
//! The producer is idempotent with `acks=all` and retries transient failures without a
//! deadline (`message.timeout.ms = 0`), so a broker outage delays delivery instead of
//! losing it. A batch's acknowledgement is released only when the delivery report of every
//! message in it arrived; a message that cannot be delivered (a permanent error) fails the
//! acknowledgement, so the source never commits past it, and stops the sink.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::producer::DeliveryFuture;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{RecordKind, SinkSpec};
use crate::kafka::{KafkaOptions, producer, producer_config, send};
use crate::pipeline::{BuildContext, BuildError};
use crate::runtime::{
    Ack, Batch, BoxFuture, Payload, RuntimeError, Sink, SinkContext, SinkReport, fail_pending,
};

/// Configuration of a Kafka sink.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSinkConfig {
    /// Sources or stages to read.
    pub inputs: Vec<String>,
    /// Which records to publish: any of `interactions`, `telemetry`, `alerts`, `dead_letters`.
    pub records: Vec<RecordKind>,
    /// Bootstrap brokers, comma-separated.
    pub brokers: String,
    /// Topic to publish to.
    pub topic: String,
    /// Publish interactions even if no `redact` stage is upstream.
    #[serde(default)]
    pub allow_raw: bool,
    /// Batches whose delivery reports may be outstanding at once.
    #[serde(default = "default_max_pending")]
    pub max_pending_batches: usize,
    /// Extra librdkafka producer options (they override Palisade's defaults).
    #[serde(default)]
    pub options: KafkaOptions,
}

fn default_max_pending() -> usize {
    64
}

impl SinkSpec for KafkaSinkConfig {
    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn records(&self) -> &[RecordKind] {
        &self.records
    }

    fn allow_raw(&self) -> bool {
        self.allow_raw
    }

    fn kafka(&self) -> Option<(String, Vec<String>)> {
        Some((self.brokers.clone(), vec![self.topic.clone()]))
    }

    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        if self.records.is_empty() {
            return Err(BuildError::new(
                "records",
                "name at least one of interactions, telemetry, alerts, dead_letters",
            ));
        }
        if self.topic.trim().is_empty() {
            return Err(BuildError::new("topic", "must not be empty"));
        }
        if self.brokers.trim().is_empty() {
            return Err(BuildError::new("brokers", "must list at least one broker (host:port)"));
        }
        if self.max_pending_batches == 0 {
            return Err(BuildError::new("max_pending_batches", "must be at least 1"));
        }
        // Surface invalid producer options at build time (without connecting).
        crate::kafka::check_config(&producer_config(&self.brokers, &self.options)).map_err(
            |e| {
                let message = self.options.redact(&e.to_string());
                BuildError::new("options", format!("invalid producer configuration: {message}"))
            },
        )?;
        Ok(Box::new(KafkaSink { config: self.clone() }))
    }
}

struct KafkaSink {
    config: KafkaSinkConfig,
}

impl Sink for KafkaSink {
    fn run(
        self: Box<Self>,
        input: mpsc::Receiver<Batch>,
        cx: SinkContext,
    ) -> BoxFuture<Result<SinkReport, RuntimeError>> {
        Box::pin(async move { self.run_inner(input, cx).await })
    }
}

/// Awaits a batch's delivery reports; Ok releases its ack, Err fails it.
async fn settle(
    deliveries: Vec<DeliveryFuture>,
    ack: Option<Ack>,
    written: Vec<(&'static str, u64)>,
    give_up: tokio_util::sync::CancellationToken,
) -> Result<(), String> {
    for delivery in deliveries {
        let outcome = tokio::select! {
            result = delivery => match result {
                Ok(Ok(_)) => continue,
                Ok(Err((error, _message))) => format!("message not delivered: {error}"),
                Err(_) => "producer shut down before delivery".to_owned(),
            },
            // Another batch failed: this one will not be committed either, stop waiting.
            () = give_up.cancelled() => "abandoned after an earlier delivery failure".to_owned(),
        };
        if let Some(ack) = &ack {
            ack.fail();
        }
        return Err(outcome);
    }
    drop(ack);
    crate::metrics::counters().add_written(&written);
    Ok(())
}

fn bump(counts: &mut Vec<(&'static str, u64)>, kind: &'static str) {
    match counts.iter_mut().find(|(k, _)| *k == kind) {
        Some((_, n)) => *n += 1,
        None => counts.push((kind, 1)),
    }
}

impl KafkaSink {
    async fn run_inner(
        self,
        mut input: mpsc::Receiver<Batch>,
        cx: SinkContext,
    ) -> Result<SinkReport, RuntimeError> {
        let name = cx.name.to_string();
        let fail = |message: String| RuntimeError::Sink { name: name.clone(), message };
        let producer = match producer(&self.config.brokers, &self.config.options) {
            Ok(p) => p,
            Err(e) => {
                fail_pending(&mut input);
                return Err(fail(e.to_string()));
            }
        };
        let topic = self.config.topic.clone();
        let records = &self.config.records;
        let (interactions, telemetry, alerts, dead) = (
            records.contains(&RecordKind::Interactions),
            records.contains(&RecordKind::Telemetry),
            records.contains(&RecordKind::Alerts),
            records.contains(&RecordKind::DeadLetters),
        );
        let mut report = SinkReport { name: name.clone(), written: BTreeMap::new() };
        let mut in_flight: JoinSet<Result<(), String>> = JoinSet::new();
        let give_up = tokio_util::sync::CancellationToken::new();
        let mut payload = Vec::with_capacity(4096);
        let mut error: Option<String> = None;

        'batches: while let Some(batch) = input.recv().await {
            // Collect finished deliveries (waiting while too many are outstanding); the
            // first failure stops the sink.
            loop {
                let next = if in_flight.len() >= self.config.max_pending_batches {
                    in_flight.join_next().await
                } else {
                    in_flight.try_join_next()
                };
                match next {
                    Some(Ok(Err(e))) => {
                        error = Some(e);
                        batch.fail();
                        break 'batches;
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            let mut deliveries = Vec::with_capacity(batch.events.len());
            let mut batch_written: Vec<(&'static str, u64)> = Vec::new();
            for envelope in &batch.events {
                let mut items: Vec<(&'static str, Option<&str>)> = Vec::new();
                payload.clear();
                let key = match &envelope.payload {
                    Payload::Interaction(e) if interactions => {
                        serde_json::to_writer(&mut payload, &**e).ok();
                        items.push(("interactions", Some(e.session_id.as_str())));
                        Some(e.session_id.as_str())
                    }
                    Payload::Telemetry(t) if telemetry => {
                        serde_json::to_writer(&mut payload, &**t).ok();
                        items.push(("telemetry", None));
                        Some(t.session_id.as_deref().unwrap_or(&t.agent_id))
                    }
                    Payload::DeadLetter(d) if dead => {
                        serde_json::to_writer(&mut payload, &**d).ok();
                        items.push(("dead_letters", None));
                        None
                    }
                    _ => None,
                };
                if !items.is_empty() {
                    match send(&producer, &topic, key, &payload).await {
                        Ok(d) => deliveries.push(d),
                        Err(e) => {
                            error = Some(format!("cannot enqueue a message for `{topic}`: {e}"));
                            batch.fail();
                            break 'batches;
                        }
                    }
                    *report.written.entry(items[0].0).or_default() += 1;
                    bump(&mut batch_written, items[0].0);
                }
                if alerts {
                    for alert in &envelope.alerts {
                        payload.clear();
                        serde_json::to_writer(&mut payload, alert).ok();
                        match send(&producer, &topic, Some(&alert.session_id), &payload).await {
                            Ok(d) => deliveries.push(d),
                            Err(e) => {
                                error = Some(format!("cannot enqueue an alert for `{topic}`: {e}"));
                                batch.fail();
                                break 'batches;
                            }
                        }
                        *report.written.entry("alerts").or_default() += 1;
                        bump(&mut batch_written, "alerts");
                    }
                }
            }
            in_flight.spawn(settle(deliveries, batch.ack, batch_written, give_up.clone()));
        }
        if error.is_some() {
            give_up.cancel();
            fail_pending(&mut input);
        }
        // Drain: every outstanding delivery report, then the producer queue.
        while let Some(result) = in_flight.join_next().await {
            if let Ok(Err(e)) = result {
                give_up.cancel();
                error.get_or_insert(e);
            }
        }
        // After a failure nothing more can be delivered in order: do not wait long for it.
        let wait = if error.is_some() { Duration::from_secs(1) } else { Duration::from_secs(30) };
        let _ = tokio::task::spawn_blocking(move || crate::kafka::flush(&producer, wait)).await;
        match error {
            Some(message) => Err(fail(message)),
            None => Ok(report),
        }
    }
}
