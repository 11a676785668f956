//! `type = "kafka"`: a consumer-group member that commits only what every sink delivered.
//!
//! The consumer runs on its own thread (librdkafka's poll is blocking, and rebalance
//! callbacks run inside it). Per assigned partition it keeps an [`OffsetTracker`], a
//! semaphore of in-flight batches and the batch being filled:
//!
//! - a batch is dispatched when full, after `linger`, or when no message is waiting;
//! - offsets are committed (every `commit_interval`, on revoke, at shutdown) only up to the
//!   contiguous prefix of batches every sink acknowledged;
//! - when a partition has `max_inflight_batches` unacknowledged batches, the source stops
//!   polling until one completes; librdkafka then stops fetching once its bounded queue
//!   (`queued.max.messages.kbytes`, 16 MiB by default here) is full: nothing grows;
//! - on revoke, in-flight acks of the revoked partitions are drained (up to
//!   `drain_timeout`), their offsets committed synchronously, and their state dropped;
//!   completions that arrive later for an old assignment are ignored (they are
//!   re-delivered to the new owner: at-least-once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::{SourceSpec, decode_record};
use crate::event::EventKind;
use crate::kafka::{KafkaOptions, client_config};
use crate::pipeline::{BuildContext, BuildError, Flow, duration};
use crate::runtime::{
    Ack, Batch, BoxFuture, Completion, Envelope, From, OffsetTracker, Origin, Output, Payload,
    RuntimeError, Source, SourceContext, SourceReport,
};

/// Where a new consumer group starts reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsetReset {
    /// From the oldest retained message.
    #[default]
    Earliest,
    /// From new messages only.
    Latest,
}

/// Configuration of a Kafka source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceConfig {
    /// Bootstrap brokers, comma-separated (`host:port,host:port`).
    pub brokers: String,
    /// Topics to subscribe to.
    pub topics: Vec<String>,
    /// Consumer group; processes sharing it split the partitions.
    pub group_id: String,
    /// What the messages hold: `interaction` (default) or `telemetry`.
    #[serde(default = "default_kind")]
    pub kind: EventKind,
    /// Where to start when the group has no committed offset: `earliest` or `latest`.
    #[serde(default)]
    pub auto_offset_reset: OffsetReset,
    /// How often acknowledged offsets are committed.
    #[serde(default = "default_commit_interval", with = "duration")]
    pub commit_interval: Duration,
    /// On partition revoke, how long to wait for in-flight events to be acknowledged.
    #[serde(default = "default_drain_timeout", with = "duration")]
    pub drain_timeout: Duration,
    /// Longest wait to fill a batch before dispatching it.
    #[serde(default = "default_linger", with = "duration")]
    pub linger: Duration,
    /// Extra librdkafka consumer options (they override Palisade's defaults).
    #[serde(default)]
    pub options: KafkaOptions,
}

fn default_kind() -> EventKind {
    EventKind::Interaction
}
fn default_commit_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_drain_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_linger() -> Duration {
    Duration::from_millis(5)
}

impl KafkaSourceConfig {
    fn consumer_config(&self) -> rdkafka::ClientConfig {
        let mut base = KafkaOptions::default();
        for (key, value) in [
            ("group.id", self.group_id.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"),
            (
                "auto.offset.reset",
                match self.auto_offset_reset {
                    OffsetReset::Earliest => "earliest",
                    OffsetReset::Latest => "latest",
                },
            ),
            // Bounded prefetch: while the source waits for acknowledgements this is all
            // that is ever buffered.
            ("queued.max.messages.kbytes", "16384"),
            // A caught-up consumer answers new events within tens of milliseconds (the
            // librdkafka default waits up to 500 ms per fetch).
            ("fetch.wait.max.ms", "10"),
        ] {
            base.0.insert(key.to_owned(), value.to_owned());
        }
        for (key, value) in &self.options.0 {
            base.0.insert(key.clone(), value.clone());
        }
        client_config(&self.brokers, &base)
    }
}

impl SourceSpec for KafkaSourceConfig {
    fn flow(&self) -> Flow {
        Flow {
            interactions: self.kind == EventKind::Interaction,
            telemetry: self.kind == EventKind::Telemetry,
            alerts: false,
            redacted: false,
        }
    }

    fn kafka(&self) -> Option<(String, Vec<String>)> {
        Some((self.brokers.clone(), self.topics.clone()))
    }

    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        if self.brokers.trim().is_empty() {
            return Err(BuildError::new("brokers", "must list at least one broker (host:port)"));
        }
        if self.topics.is_empty() || self.topics.iter().any(|t| t.trim().is_empty()) {
            return Err(BuildError::new("topics", "must name at least one topic, none empty"));
        }
        if self.group_id.trim().is_empty() {
            return Err(BuildError::new("group_id", "must not be empty"));
        }
        // Surface unknown or invalid librdkafka options now, not at run time.
        crate::kafka::check_config(&self.consumer_config()).map_err(|e| {
            let message = self.options.redact(&e.to_string());
            BuildError::new("options", format!("invalid consumer configuration: {message}"))
        })?;
        Ok(Box::new(KafkaSource { config: self.clone() }))
    }
}

struct KafkaSource {
    config: KafkaSourceConfig,
}

impl Source for KafkaSource {
    fn run(self: Box<Self>, cx: SourceContext) -> BoxFuture<Result<SourceReport, RuntimeError>> {
        Box::pin(async move {
            let name = cx.name.to_string();
            let handle = tokio::runtime::Handle::current();
            let thread = std::thread::Builder::new()
                .name(format!("palisade-kafka-{name}"))
                .spawn(move || consume(self.config, cx, handle))
                .map_err(|e| RuntimeError::Source {
                    name: name.clone(),
                    message: format!("cannot start consumer thread: {e}"),
                })?;
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| RuntimeError::Source { name: name.clone(), message: e.to_string() })?
                .unwrap_or_else(|_| {
                    Err(RuntimeError::Source { name, message: "consumer thread panicked".into() })
                })
        })
    }
}

/// One assignment of one partition.
struct Stream {
    id: i32,
    topic: Arc<str>,
    partition: i32,
    tracker: OffsetTracker,
    committed: Option<i64>,
    permits: Arc<Semaphore>,
    pending: Vec<Envelope>,
    first: i64,
    last: i64,
    since: Option<Instant>,
}

#[derive(Default)]
struct Streams {
    next_id: i32,
    by_partition: HashMap<(Arc<str>, i32), Stream>,
    ids: HashMap<i32, (Arc<str>, i32)>,
    completions: Option<mpsc::UnboundedReceiver<Completion>>,
    max_inflight: usize,
    /// Final positions of streams that were revoked, for the report.
    history: Vec<(String, i32, i64)>,
    failed_batches: u64,
}

impl Streams {
    /// Applies every completion received so far.
    fn absorb(&mut self) {
        let Some(rx) = self.completions.as_mut() else {
            return;
        };
        while let Ok(c) = rx.try_recv() {
            let Some(key) = self.ids.get(&c.stream) else {
                continue;
            };
            if let Some(stream) = self.by_partition.get_mut(key) {
                stream.tracker.complete(c.first, c.last, c.ok);
                if !c.ok {
                    self.failed_batches += 1;
                }
            }
        }
    }

    /// Offsets to commit: streams whose committable position moved.
    fn to_commit<'a>(&self, only: impl Fn(&(Arc<str>, i32)) -> bool + 'a) -> TopicPartitionList {
        let mut tpl = TopicPartitionList::new();
        for (key, s) in &self.by_partition {
            if !only(key) {
                continue;
            }
            if let Some(next) = s.tracker.committable()
                && s.committed != Some(next)
            {
                let _ = tpl.add_partition_offset(&s.topic, s.partition, Offset::Offset(next));
            }
        }
        tpl
    }

    fn mark_committed(&mut self, tpl: &TopicPartitionList) {
        for element in tpl.elements() {
            let key = (Arc::<str>::from(element.topic()), element.partition());
            if let (Some(s), Offset::Offset(next)) =
                (self.by_partition.get_mut(&key), element.offset())
            {
                s.committed = Some(next);
            }
        }
    }
}

struct SourceCtx {
    streams: Arc<Mutex<Streams>>,
    drain_timeout: Duration,
    log: crate::kafka::LogContext,
}

impl SourceCtx {
    fn new(drain_timeout: Duration) -> Self {
        Self { streams: Arc::default(), drain_timeout, log: crate::kafka::LogContext::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Streams> {
        self.streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ClientContext for SourceCtx {
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, facility: &str, message: &str) {
        self.log.log(level, facility, message);
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.log.report_error(&error, reason);
    }
}

impl ConsumerContext for SourceCtx {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(tpl) = rebalance else {
            return;
        };
        let revoked: Vec<(Arc<str>, i32)> =
            tpl.elements().iter().map(|e| (Arc::<str>::from(e.topic()), e.partition())).collect();
        // Batches not yet dispatched are dropped: the next owner reads them again.
        {
            let mut streams = self.lock();
            for key in &revoked {
                if let Some(s) = streams.by_partition.get_mut(key) {
                    s.pending.clear();
                    s.since = None;
                }
            }
        }
        let deadline = Instant::now() + self.drain_timeout;
        loop {
            let mut streams = self.lock();
            streams.absorb();
            let drained = revoked
                .iter()
                .all(|k| streams.by_partition.get(k).is_none_or(|s| !s.tracker.has_pending()));
            if drained || Instant::now() >= deadline {
                if !drained {
                    tracing::warn!(
                        partitions = revoked.len(),
                        "revoke: in-flight events not acknowledged within drain_timeout; they will be re-delivered"
                    );
                }
                break;
            }
            drop(streams);
            std::thread::sleep(Duration::from_millis(2));
        }
        let mut streams = self.lock();
        let revoked_count = revoked.len();
        let tpl = streams.to_commit(|k| revoked.contains(k));
        if tpl.count() > 0 {
            match consumer.commit(&tpl, CommitMode::Sync) {
                Ok(()) => streams.mark_committed(&tpl),
                Err(e) => {
                    tracing::warn!(error = %e, "revoke: commit failed; uncommitted events will be re-delivered")
                }
            }
        }
        for key in revoked {
            if let Some(s) = streams.by_partition.remove(&key) {
                streams.ids.remove(&s.id);
                if let Some(next) = s.committed {
                    streams.history.push((s.topic.to_string(), s.partition, next));
                }
            }
        }
        tracing::info!(partitions = revoked_count, committed = tpl.count(), "partitions revoked");
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(tpl) = rebalance else {
            return;
        };
        let mut streams = self.lock();
        for element in tpl.elements() {
            let key = (Arc::<str>::from(element.topic()), element.partition());
            if streams.by_partition.contains_key(&key) {
                continue;
            }
            let id = streams.next_id;
            streams.next_id += 1;
            streams.ids.insert(id, key.clone());
            let permits = Arc::new(Semaphore::new(streams.max_inflight));
            streams.by_partition.insert(
                key.clone(),
                Stream {
                    id,
                    topic: key.0.clone(),
                    partition: key.1,
                    tracker: OffsetTracker::new(),
                    committed: None,
                    permits,
                    pending: Vec::new(),
                    first: 0,
                    last: 0,
                    since: None,
                },
            );
        }
        tracing::info!(partitions = tpl.count(), "partitions assigned");
    }
}

fn consume(
    config: KafkaSourceConfig,
    cx: SourceContext,
    handle: tokio::runtime::Handle,
) -> Result<SourceReport, RuntimeError> {
    let name = cx.name.to_string();
    let fail = |message: String| RuntimeError::Source { name: name.clone(), message };
    let context = SourceCtx::new(config.drain_timeout);
    let (ack_tx, ack_rx) = mpsc::unbounded_channel::<Completion>();
    {
        let mut streams = context.lock();
        streams.completions = Some(ack_rx);
        streams.max_inflight = cx.settings.max_inflight_batches;
    }
    let streams_handle = context.streams.clone();
    let consumer: BaseConsumer<SourceCtx> =
        config
            .consumer_config()
            .create_with_context(context)
            .map_err(|e| fail(format!("cannot create consumer: {e}")))?;
    let topics: Vec<&str> = config.topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| fail(format!("cannot subscribe to {topics:?}: {e}")))?;
    tracing::info!(source = %name, topics = ?config.topics, group = %config.group_id, "kafka source subscribed");

    let lock = || streams_handle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut report = SourceReport { name: name.clone(), ..SourceReport::default() };
    let mut last_commit = Instant::now();
    let mut poll_errors = 0u64;
    let batch_size = cx.settings.batch_size;
    let out = cx.out;
    let mut downstream_gone = false;

    while !cx.shutdown.is_cancelled() && !downstream_gone {
        lock().absorb();
        if last_commit.elapsed() >= config.commit_interval {
            commit(&consumer, &mut lock(), CommitMode::Async);
            last_commit = Instant::now();
        }
        // Dispatch batches that are full or have waited long enough.
        let due: Vec<(Arc<str>, i32)> = {
            let streams = lock();
            streams
                .by_partition
                .iter()
                .filter(|(_, s)| {
                    s.pending.len() >= batch_size
                        || s.since.is_some_and(|t| t.elapsed() >= config.linger)
                })
                .map(|(k, _)| k.clone())
                .collect()
        };
        for key in due {
            if dispatch(&streams_handle, &key, &out, &ack_tx, &handle, &cx.shutdown).is_err() {
                downstream_gone = true;
            }
        }
        match consumer.poll(config.linger.max(Duration::from_millis(1))) {
            None => {
                // Nothing waiting: send what is pending now rather than after the linger.
                let keys: Vec<_> = lock()
                    .by_partition
                    .iter()
                    .filter(|(_, s)| !s.pending.is_empty())
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in keys {
                    if dispatch(&streams_handle, &key, &out, &ack_tx, &handle, &cx.shutdown)
                        .is_err()
                    {
                        downstream_gone = true;
                    }
                }
            }
            Some(Err(e)) => {
                poll_errors += 1;
                if poll_errors.is_power_of_two() {
                    tracing::warn!(source = %name, error = %e, count = poll_errors, "kafka consumer error (retrying)");
                }
            }
            Some(Ok(message)) => {
                let topic_name = message.topic();
                let partition = message.partition();
                let offset = message.offset();
                let mut streams = lock();
                let Some((key, stream)) = streams
                    .by_partition
                    .iter_mut()
                    .find(|((t, p), _)| &**t == topic_name && *p == partition)
                else {
                    continue; // revoked between fetch and delivery
                };
                let key = key.clone();
                let origin = Origin {
                    source: cx.name.clone(),
                    from: From::Kafka(stream.topic.clone()),
                    partition,
                    offset,
                };
                let envelope = decode_record(
                    &cx.decoder,
                    config.kind,
                    message.payload().unwrap_or_default(),
                    origin,
                );
                if matches!(envelope.payload, Payload::DeadLetter(_)) {
                    report.dead_letters += 1;
                }
                report.events += 1;
                if stream.pending.is_empty() {
                    stream.first = offset;
                    stream.since = Some(Instant::now());
                }
                stream.last = offset;
                stream.pending.push(envelope);
                let full = stream.pending.len() >= batch_size;
                drop(streams);
                if full
                    && dispatch(&streams_handle, &key, &out, &ack_tx, &handle, &cx.shutdown)
                        .is_err()
                {
                    downstream_gone = true;
                }
            }
        }
    }

    // Shutdown: what was read is still processed; then wait for it to be acknowledged.
    let keys: Vec<_> = lock().by_partition.keys().cloned().collect();
    for key in keys {
        if dispatch(&streams_handle, &key, &out, &ack_tx, &handle, &cx.shutdown).is_err() {
            downstream_gone = true;
        }
    }
    drop(out);
    drop(ack_tx);
    let deadline = Instant::now() + cx.settings.shutdown_grace;
    loop {
        let mut streams = lock();
        streams.absorb();
        if streams.by_partition.values().all(|s| !s.tracker.has_pending())
            || Instant::now() >= deadline
        {
            break;
        }
        drop(streams);
        std::thread::sleep(Duration::from_millis(5));
    }
    commit(&consumer, &mut lock(), CommitMode::Sync);
    {
        let streams = lock();
        report.failed_batches = streams.failed_batches;
        report.unacknowledged = streams.by_partition.values().map(|s| s.tracker.in_flight()).sum();
        report.committed = streams.history.clone();
        for s in streams.by_partition.values() {
            if let Some(next) = s.committed {
                report.committed.push((s.topic.to_string(), s.partition, next));
            }
        }
        report.committed.sort();
    }
    consumer.unsubscribe();
    tracing::info!(source = %name, events = report.events, dead_letters = report.dead_letters, "kafka source finished");
    if downstream_gone {
        return Err(fail(
            "downstream components stopped; uncommitted events will be re-delivered".into(),
        ));
    }
    Ok(report)
}

fn commit(consumer: &BaseConsumer<SourceCtx>, streams: &mut Streams, mode: CommitMode) {
    streams.absorb();
    let tpl = streams.to_commit(|_| true);
    if tpl.count() == 0 {
        return;
    }
    match consumer.commit(&tpl, mode) {
        Ok(()) => streams.mark_committed(&tpl),
        // A sync commit right after an async one of the same offsets reports NoOffset.
        Err(rdkafka::error::KafkaError::ConsumerCommit(
            rdkafka::types::RDKafkaErrorCode::NoOffset,
        )) => {
            streams.mark_committed(&tpl);
        }
        Err(e) => tracing::warn!(error = %e, "offset commit failed; will retry"),
    }
}

/// Sends the pending batch of one partition downstream, waiting for an in-flight permit
/// if the partition has too many unacknowledged batches.
#[allow(clippy::too_many_arguments)]
fn dispatch(
    streams: &Arc<Mutex<Streams>>,
    key: &(Arc<str>, i32),
    out: &Output,
    ack_tx: &mpsc::UnboundedSender<Completion>,
    handle: &tokio::runtime::Handle,
    shutdown: &tokio_util::sync::CancellationToken,
) -> Result<(), crate::runtime::Closed> {
    let lock = || streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (permits, empty) = match lock().by_partition.get(key) {
        Some(s) => (s.permits.clone(), s.pending.is_empty()),
        None => return Ok(()),
    };
    if empty {
        return Ok(());
    }
    let permit: OwnedSemaphorePermit = match permits.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            // Not polling while we wait is what pauses fetching: librdkafka stops fetching
            // once its queue holds `queued.max.messages.kbytes`. (Explicit pause/resume was
            // tried and re-delivered and skipped messages with some brokers.)
            tracing::debug!(topic = %key.0, partition = key.1, "in-flight limit reached: waiting");
            loop {
                lock().absorb();
                let waited = handle.block_on(async {
                    tokio::time::timeout(Duration::from_millis(50), permits.clone().acquire_owned())
                        .await
                });
                if let Ok(Ok(p)) = waited {
                    break p;
                }
                if shutdown.is_cancelled() && !lock().by_partition.contains_key(key) {
                    return Ok(());
                }
            }
        }
    };
    let batch = {
        let mut guard = lock();
        let Some(s) = guard.by_partition.get_mut(key) else {
            return Ok(());
        };
        if s.pending.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut s.pending);
        super::count_batch(&events);
        s.since = None;
        let ack = Ack::new(s.id, s.first, s.last, ack_tx.clone(), Some(permit));
        s.tracker.register(s.first, s.last);
        Batch { events, ack: Some(ack) }
    };
    out.blocking_send(batch)
}
