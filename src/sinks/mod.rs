//! Sinks: where records leave a pipeline, durably, before their acknowledgements go back.
//! One folder or file per sink type, one line in the registry below.

pub mod file;
pub mod kafka;

use std::fmt::Debug;

use serde::Deserialize;

use crate::pipeline::{BuildContext, BuildError};
use crate::runtime::Sink;

/// Which records of the incoming stream a sink writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// Interaction events (redacted, unless the sink sets `allow_raw`).
    Interactions,
    Telemetry,
    Alerts,
    /// Records that could not be decoded, with their reason.
    DeadLetters,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interactions => "interactions",
            Self::Telemetry => "telemetry",
            Self::Alerts => "alerts",
            Self::DeadLetters => "dead_letters",
        }
    }
}

/// What every sink type's configuration provides.
pub trait SinkSpec: Debug + Send + Sync {
    fn inputs(&self) -> &[String];
    fn records(&self) -> &[RecordKind];
    /// The sink may write interactions that no `redact` stage has seen.
    fn allow_raw(&self) -> bool;
    fn build(&self, cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError>;
    /// Brokers and topic, for Kafka sinks.
    fn kafka(&self) -> Option<(String, Vec<String>)> {
        None
    }
}

macro_rules! sink_registry {
    ($($name:literal => $variant:ident($config:ty),)*) => {
        /// A `[sinks.NAME]` table; `type` picks the sink.
        #[derive(Debug, Deserialize)]
        #[serde(tag = "type")]
        pub enum SinkConfig {
            $(#[serde(rename = $name)] $variant($config),)*
        }

        impl SinkConfig {
            /// Names accepted in `type`.
            pub const TYPES: &'static [&'static str] = &[$($name,)*];

            pub fn spec(&self) -> &dyn SinkSpec {
                match self { $(Self::$variant(c) => c,)* }
            }

            pub fn inputs(&self) -> &[String] {
                self.spec().inputs()
            }

            pub fn records(&self) -> &[RecordKind] {
                self.spec().records()
            }

            pub fn allow_raw(&self) -> bool {
                self.spec().allow_raw()
            }

            pub fn build(&self, cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
                self.spec().build(cx)
            }
        }
    };
}

sink_registry! {
    "file" => File(file::FileSinkConfig),
    "kafka" => Kafka(kafka::KafkaSinkConfig),
}
