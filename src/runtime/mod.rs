//! The stage graph at run time.
//!
//! ```text
//!  source task ──batch──► stage dispatcher ──► shard 0 ─┐
//!  (tokio)       bounded   (OS thread)     └─► shard 1 ─┴──► sink task(s) ──► durable
//!      ▲          channel   split by session_id hash         (tokio)           │
//!      └───────────────────────── Ack completions ◄────────────────────────────┘
//! ```
//!
//! - Components pass [`Batch`]es over bounded channels: a slow sink slows the source.
//! - CPU-heavy stages run on their own threads, one per shard; a session always lands on
//!   the same shard, so per-session order and per-session state hold without locks.
//! - Every batch carries an [`ack::Ack`]; a source commits only what every sink made
//!   durable (see [`ack`]).
//! - Shutdown: the token is cancelled, sources stop reading and close their outputs, every
//!   component drains what it holds and exits as its input closes, sinks flush last.

pub mod ack;
mod topology;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::event::{Alert, DeadLetter, Decoder, InteractionEvent, TelemetryEvent};
use crate::pipeline::Settings;
pub use ack::{Ack, Completion, OffsetTracker};
pub use topology::{RunReport, Topology};

/// A boxed, sendable future (component entry points are object-safe with it).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Where a record came from: the source component and its position there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub source: Arc<str>,
    pub from: From,
    pub partition: i32,
    /// Kafka offset, or the 1-based line number for file sources.
    pub offset: i64,
}

/// The kind of place a record was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// A file (path), or standard input (`-`); the offset is a line number.
    File(Arc<str>),
    /// A Kafka topic; partition and offset are Kafka's.
    Kafka(Arc<str>),
}

/// What a record is.
#[derive(Debug, Clone)]
pub enum Payload {
    Interaction(Box<InteractionEvent>),
    Telemetry(Box<TelemetryEvent>),
    DeadLetter(Box<DeadLetter>),
}

/// A record moving through the graph, with what stages attached to it.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub origin: Origin,
    pub payload: Payload,
    /// Alerts raised about this record.
    pub alerts: Vec<Alert>,
    /// The interaction's text fields have been redacted.
    pub redacted: bool,
}

impl Envelope {
    pub fn new(origin: Origin, payload: Payload) -> Self {
        Self { origin, payload, alerts: Vec::new(), redacted: false }
    }

    /// The key that picks a shard: the session for events, the offset for dead letters.
    pub fn shard_hash(&self) -> u64 {
        let key = match &self.payload {
            Payload::Interaction(e) => e.session_id.as_bytes(),
            Payload::Telemetry(t) => t.session_id.as_deref().unwrap_or(&t.agent_id).as_bytes(),
            Payload::DeadLetter(_) => return self.origin.offset as u64,
        };
        let mut h = crate::detect::rules::Fnv64::new();
        h.write(key);
        h.finish()
    }
}

/// Records travelling together, with the acknowledgement of their source range.
#[derive(Debug, Clone)]
pub struct Batch {
    pub events: Vec<Envelope>,
    pub ack: Option<Ack>,
}

impl Batch {
    /// Marks the batch undelivered (its offsets will never be committed) and drops it.
    pub fn fail(self) {
        if let Some(ack) = &self.ack {
            ack.fail();
        }
    }

    /// Splits by shard (`shard_hash % n`) into `(shard, part)`; every part shares the ack.
    pub fn split(self, n: usize) -> Vec<(usize, Batch)> {
        if n <= 1 {
            return vec![(0, self)];
        }
        let mut parts: Vec<Vec<Envelope>> = (0..n).map(|_| Vec::new()).collect();
        for envelope in self.events {
            let shard = (envelope.shard_hash() % n as u64) as usize;
            parts[shard].push(envelope);
        }
        parts
            .into_iter()
            .enumerate()
            .filter(|(_, events)| !events.is_empty())
            .map(|(shard, events)| (shard, Batch { events, ack: self.ack.clone() }))
            .collect()
    }
}

/// The downstream side of a component: one bounded sender per consumer.
#[derive(Debug, Clone, Default)]
pub struct Output {
    senders: Vec<mpsc::Sender<Batch>>,
}

/// Every consumer of an output has gone away.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("downstream components have stopped")]
pub struct Closed;

impl Output {
    pub fn new(senders: Vec<mpsc::Sender<Batch>>) -> Self {
        Self { senders }
    }

    /// Sends to every consumer (cloning for all but the last), waiting for space.
    ///
    /// # Errors
    /// [`Closed`] if a consumer stopped.
    pub async fn send(&self, batch: Batch) -> Result<(), Closed> {
        let Some((last, rest)) = self.senders.split_last() else {
            return Ok(());
        };
        for sender in rest {
            if let Err(mpsc::error::SendError(copy)) = sender.send(batch.clone()).await {
                copy.fail();
                batch.fail();
                return Err(Closed);
            }
        }
        last.send(batch).await.map_err(|mpsc::error::SendError(batch)| {
            batch.fail();
            Closed
        })
    }

    /// [`Output::send`] from a non-async thread.
    ///
    /// # Errors
    /// [`Closed`] if a consumer stopped.
    pub fn blocking_send(&self, batch: Batch) -> Result<(), Closed> {
        let Some((last, rest)) = self.senders.split_last() else {
            return Ok(());
        };
        for sender in rest {
            if let Err(mpsc::error::SendError(copy)) = sender.blocking_send(batch.clone()) {
                copy.fail();
                batch.fail();
                return Err(Closed);
            }
        }
        last.blocking_send(batch).map_err(|mpsc::error::SendError(batch)| {
            batch.fail();
            Closed
        })
    }

    /// True if this output has no consumers.
    pub fn is_empty(&self) -> bool {
        self.senders.is_empty()
    }
}

/// Closes an input after a failure and marks everything still buffered in it undelivered,
/// so that no offset behind an unprocessed batch is ever committed.
pub fn fail_pending(rx: &mut mpsc::Receiver<Batch>) {
    rx.close();
    while let Ok(batch) = rx.try_recv() {
        batch.fail();
    }
}

/// A component failed at run time.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("source `{name}`: {message}")]
    Source { name: String, message: String },
    #[error("sink `{name}`: {message}")]
    Sink { name: String, message: String },
    #[error("stage `{name}`: {message}")]
    Stage { name: String, message: String },
    #[error("shutdown: {0}")]
    Shutdown(String),
}

/// Everything a source needs to run.
#[derive(Debug)]
pub struct SourceContext {
    pub name: Arc<str>,
    pub out: Output,
    pub shutdown: CancellationToken,
    pub settings: Settings,
    pub decoder: Decoder,
}

/// What a source did.
#[derive(Debug, Clone, Default)]
pub struct SourceReport {
    pub name: String,
    pub events: u64,
    pub dead_letters: u64,
    /// Per (topic or file, partition): the committed position (next offset / next line).
    pub committed: Vec<(String, i32, i64)>,
    pub failed_batches: u64,
    /// Batches still unacknowledged when the source exited (shutdown deadline hit).
    pub unacknowledged: usize,
}

/// A component that reads records and sends batches.
pub trait Source: Send {
    fn run(self: Box<Self>, cx: SourceContext) -> BoxFuture<Result<SourceReport, RuntimeError>>;
}

/// A function over batches; stateful per shard (sessions are sticky to shards).
pub trait Transform: Send {
    fn process(&mut self, events: &mut Vec<Envelope>);

    /// Counters to report when the stage ends (`name → value`).
    fn stats(&self) -> Vec<(String, u64)> {
        Vec::new()
    }
}

/// Everything a sink needs to run.
#[derive(Debug)]
pub struct SinkContext {
    pub name: Arc<str>,
    pub shutdown: CancellationToken,
}

/// What a sink wrote, by record kind.
#[derive(Debug, Clone, Default)]
pub struct SinkReport {
    pub name: String,
    pub written: BTreeMap<&'static str, u64>,
}

/// A component that makes records durable somewhere, then releases their acks.
pub trait Sink: Send {
    fn run(
        self: Box<Self>,
        input: mpsc::Receiver<Batch>,
        cx: SinkContext,
    ) -> BoxFuture<Result<SinkReport, RuntimeError>>;
}
