//! Sources: where records enter a pipeline. One folder or file per source type, one line in
//! the registry below.

pub mod file;
pub mod kafka;

use std::fmt::Debug;

use serde::Deserialize;

use crate::pipeline::{BuildContext, BuildError, Flow};
use crate::runtime::Source;

/// What every source type's configuration provides.
pub trait SourceSpec: Debug + Send + Sync {
    /// What the source emits.
    fn flow(&self) -> Flow;
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Source>, BuildError>;
    /// Brokers and topics, for Kafka sources.
    fn kafka(&self) -> Option<(String, Vec<String>)> {
        None
    }
}

macro_rules! source_registry {
    ($($name:literal => $variant:ident($config:ty),)*) => {
        /// A `[sources.NAME]` table; `type` picks the source.
        #[derive(Debug, Deserialize)]
        #[serde(tag = "type")]
        pub enum SourceConfig {
            $(#[serde(rename = $name)] $variant($config),)*
        }

        impl SourceConfig {
            /// Names accepted in `type`.
            pub const TYPES: &'static [&'static str] = &[$($name,)*];

            pub fn spec(&self) -> &dyn SourceSpec {
                match self { $(Self::$variant(c) => c,)* }
            }
        }
    };
}

source_registry! {
    "file" => File(file::FileSourceConfig),
    "kafka" => Kafka(kafka::KafkaSourceConfig),
}

use std::sync::Arc;

use base64::Engine as _;

use crate::event::{DeadLetter, DecodeError, Decoder, EventKind, Timestamp};
use crate::runtime::{Envelope, From, Origin, Payload};

/// Decodes one record into an event envelope, or a dead-letter envelope saying why not.
/// Shared by every source so that a malformed record is treated the same everywhere.
pub fn decode_record(decoder: &Decoder, kind: EventKind, bytes: &[u8], origin: Origin) -> Envelope {
    let payload = match decoder.decode(kind, bytes) {
        Ok(crate::event::Event::Interaction(e)) => Payload::Interaction(e),
        Ok(crate::event::Event::Telemetry(t)) => Payload::Telemetry(t),
        Err(error) => Payload::DeadLetter(Box::new(dead_letter(bytes, &origin, &error, kind))),
    };
    Envelope::new(origin, payload)
}

fn dead_letter(bytes: &[u8], origin: &Origin, error: &DecodeError, kind: EventKind) -> DeadLetter {
    let (file, line, topic, partition, offset) = match &origin.from {
        From::File(path) => (Some(path.to_string()), Some(origin.offset as u64), None, None, None),
        From::Kafka(topic) => {
            (None, None, Some(topic.to_string()), Some(origin.partition), Some(origin.offset))
        }
    };
    DeadLetter {
        original: base64::engine::general_purpose::STANDARD.encode(bytes),
        source: origin.source.to_string(),
        file,
        line,
        topic,
        partition,
        offset,
        error: error.class().to_owned(),
        reason: format!("not a valid {kind} event: {error}"),
        received_at: Timestamp::now(),
    }
}

/// The origin of a record read from a file (`offset` is the 1-based line number).
pub fn file_origin(source: &Arc<str>, path: &Arc<str>, line: i64) -> Origin {
    Origin { source: source.clone(), from: From::File(path.clone()), partition: 0, offset: line }
}

/// Counts a batch into the process counters: (records, dead letters).
pub fn count_batch(events: &[Envelope]) -> (u64, u64) {
    let dead = events.iter().filter(|e| matches!(e.payload, Payload::DeadLetter(_))).count() as u64;
    let counters = crate::metrics::counters();
    crate::metrics::Counters::add(&counters.records_in, events.len() as u64);
    crate::metrics::Counters::add(&counters.dead_letters, dead);
    (events.len() as u64, dead)
}
