//! Stages: functions over batches between sources and sinks. One folder per stage type,
//! one line in the registry below.

pub mod detect;
pub mod redact;

use std::fmt::Debug;

use serde::Deserialize;

use crate::pipeline::{BuildContext, BuildError, Flow};
use crate::runtime::Transform;

/// What every stage type's configuration provides.
pub trait StageSpec: Debug + Send + Sync {
    /// The `type` name.
    fn type_name(&self) -> &'static str;
    /// Names of the sources and stages this stage reads.
    fn inputs(&self) -> &[String];
    /// A stage that reads interaction text (telemetry inputs are a wiring error).
    fn text_stage(&self) -> bool;
    /// What flows out, given what flows in.
    fn flow(&self, input: Flow) -> Flow;
    /// One transform per shard (`cx.workers` for CPU-heavy stages).
    fn build(&self, cx: &BuildContext) -> Result<Vec<Box<dyn Transform>>, BuildError>;
}

macro_rules! stage_registry {
    ($($name:literal => $variant:ident($config:ty),)*) => {
        /// A `[stages.NAME]` table; `type` picks the stage.
        #[derive(Debug, Deserialize)]
        #[serde(tag = "type")]
        pub enum StageConfig {
            $(#[serde(rename = $name)] $variant($config),)*
        }

        impl StageConfig {
            /// Names accepted in `type`.
            pub const TYPES: &'static [&'static str] = &[$($name,)*];

            pub fn spec(&self) -> &dyn StageSpec {
                match self { $(Self::$variant(c) => c,)* }
            }
        }
    };
}

stage_registry! {
    "detect" => Detect(detect::DetectConfig),
    "redact" => Redact(redact::RedactConfig),
}
