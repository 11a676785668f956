//! Pipeline files (`pipelines/*.toml`): parse → validate. Building the running graph from a
//! valid [`Pipeline`] is [`crate::runtime`]'s job.
//!
//! ```toml
//! name = "file"
//!
//! [settings]
//! batch_size = 256
//!
//! [sources.interactions]
//! type = "file"
//! path = "${PALISADE_INPUT:-traffic.jsonl}"
//!
//! [stages.detect]
//! type = "detect"
//! inputs = ["interactions"]
//!
//! [stages.redact]
//! type = "redact"
//! inputs = ["detect"]
//!
//! [sinks.alerts]
//! type = "file"
//! inputs = ["redact"]
//! records = ["alerts"]
//! path = "out/alerts.jsonl"
//! ```
//!
//! Every error names the file and the key at fault.

pub mod duration;
pub mod env;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::event::DEFAULT_MAX_EVENT_BYTES;
use crate::kafka::TopicSpec;
use crate::sinks::{RecordKind, SinkConfig};
use crate::sources::SourceConfig;
use crate::stages::StageConfig;

/// A pipeline file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read pipeline file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Env { path: PathBuf, source: env::EnvError },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {key}: {message}")]
    Invalid { path: PathBuf, key: String, message: String },
}

/// What building a component may need to know about its pipeline.
#[derive(Debug, Clone)]
pub struct BuildContext {
    pub pipeline: String,
    pub settings: Settings,
    /// Worker threads (shards) for CPU-heavy stages.
    pub workers: usize,
}

/// A component's configuration is well-formed but cannot be built (a rule file is missing,
/// a policy is unknown...). `key` is relative to the component (`rules`, `policy`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{key}: {message}")]
pub struct BuildError {
    pub key: String,
    pub message: String,
}

impl BuildError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }
}

/// Runtime knobs shared by every component.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Events per batch read from a source.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Batches a channel between two components holds before the sender waits.
    #[serde(default = "default_channel_capacity")]
    pub channel_capacity: usize,
    /// Worker threads per CPU-heavy stage (0: one per available core).
    #[serde(default)]
    pub workers: usize,
    /// Largest accepted event, in bytes; larger ones become dead letters.
    #[serde(default = "default_max_event_bytes")]
    pub max_event_bytes: usize,
    /// Batches a source (per partition) may have in flight, unacknowledged, before it pauses.
    #[serde(default = "default_max_inflight_batches")]
    pub max_inflight_batches: usize,
    /// How long shutdown waits for in-flight events to drain before giving up.
    #[serde(default = "default_shutdown_grace", with = "duration")]
    pub shutdown_grace: Duration,
}

fn default_batch_size() -> usize {
    256
}
fn default_channel_capacity() -> usize {
    8
}
fn default_max_event_bytes() -> usize {
    DEFAULT_MAX_EVENT_BYTES
}
fn default_max_inflight_batches() -> usize {
    32
}
fn default_shutdown_grace() -> Duration {
    Duration::from_secs(30)
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            batch_size: default_batch_size(),
            channel_capacity: default_channel_capacity(),
            workers: 0,
            max_event_bytes: default_max_event_bytes(),
            max_inflight_batches: default_max_inflight_batches(),
            shutdown_grace: default_shutdown_grace(),
        }
    }
}

impl Settings {
    /// Worker threads per sharded stage, resolving 0 to the number of available cores.
    pub fn worker_count(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    sources: BTreeMap<String, SourceConfig>,
    #[serde(default)]
    stages: BTreeMap<String, StageConfig>,
    #[serde(default)]
    sinks: BTreeMap<String, SinkConfig>,
    /// Partitions and replication for `palisade topics create` (topics not listed get the
    /// defaults: 6 partitions, replication factor 1).
    #[serde(default)]
    topics: BTreeMap<String, TopicSpec>,
}

/// What flows out of a component, as far as validation can tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flow {
    pub interactions: bool,
    pub telemetry: bool,
    pub alerts: bool,
    /// Every interaction on this stream went through a `redact` stage.
    pub redacted: bool,
}

/// A validated pipeline: names resolve, the graph is acyclic, types line up.
#[derive(Debug)]
pub struct Pipeline {
    pub name: String,
    pub description: Option<String>,
    pub file: PathBuf,
    pub settings: Settings,
    pub sources: Vec<(String, SourceConfig)>,
    /// In dependency order: every stage comes after its inputs.
    pub stages: Vec<(String, StageConfig)>,
    pub sinks: Vec<(String, SinkConfig)>,
    pub topics: BTreeMap<String, TopicSpec>,
}

impl Pipeline {
    /// Reads, substitutes environment variables, parses and validates a pipeline file.
    ///
    /// # Errors
    /// [`PipelineError`] naming the file and key.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| PipelineError::Io { path: path.to_owned(), source })?;
        Self::parse(path, &text, |name| std::env::var(name).ok())
    }

    /// Parses and validates pipeline text (`path` is only used in messages).
    ///
    /// # Errors
    /// [`PipelineError`] naming the file and key.
    pub fn parse(
        path: &Path,
        text: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, PipelineError> {
        let text = env::substitute(text, lookup)
            .map_err(|source| PipelineError::Env { path: path.to_owned(), source })?;
        let file: PipelineFile = toml::from_str(&text).map_err(|e| PipelineError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        validate(path, file)
    }

    /// Every Kafka topic the pipeline reads or writes, with its brokers and creation spec.
    pub fn kafka_topics(&self) -> Vec<(String, String, TopicSpec)> {
        let mut out: Vec<(String, String, TopicSpec)> = Vec::new();
        let endpoints = self
            .sources
            .iter()
            .filter_map(|(_, s)| s.spec().kafka())
            .chain(self.sinks.iter().filter_map(|(_, s)| s.spec().kafka()));
        for (brokers, topics) in endpoints {
            for topic in topics {
                if !out.iter().any(|(_, t, _)| *t == topic) {
                    let spec = self.topics.get(&topic).copied().unwrap_or_default();
                    out.push((brokers.clone(), topic, spec));
                }
            }
        }
        // Topics listed in [topics] but used by other pipelines or producers (e.g. telemetry).
        if let Some(brokers) = out.first().map(|(b, _, _)| b.clone()) {
            for (topic, spec) in &self.topics {
                if !out.iter().any(|(_, t, _)| t == topic) {
                    out.push((brokers.clone(), topic.clone(), *spec));
                }
            }
        }
        out
    }

    /// What flows out of each named source and stage.
    pub fn flows(&self) -> BTreeMap<&str, Flow> {
        let mut flows = BTreeMap::new();
        for (name, source) in &self.sources {
            flows.insert(name.as_str(), source.spec().flow());
        }
        for (name, stage) in &self.stages {
            let input =
                merge_flows(stage.spec().inputs().iter().filter_map(|i| flows.get(i.as_str())));
            flows.insert(name.as_str(), stage.spec().flow(input));
        }
        flows
    }
}

fn merge_flows<'a>(flows: impl Iterator<Item = &'a Flow>) -> Flow {
    let mut merged = Flow { redacted: true, ..Flow::default() };
    let mut any = false;
    for f in flows {
        any = true;
        merged.interactions |= f.interactions;
        merged.telemetry |= f.telemetry;
        merged.alerts |= f.alerts;
        merged.redacted &= f.redacted || !f.interactions;
    }
    if !any {
        merged.redacted = false;
    }
    merged
}

fn validate(path: &Path, file: PipelineFile) -> Result<Pipeline, PipelineError> {
    let invalid = |key: String, message: String| PipelineError::Invalid {
        path: path.to_owned(),
        key,
        message,
    };
    if file.name.trim().is_empty() {
        return Err(invalid("name".into(), "must not be empty".into()));
    }
    let s = &file.settings;
    for (key, value) in [
        ("batch_size", s.batch_size),
        ("channel_capacity", s.channel_capacity),
        ("max_event_bytes", s.max_event_bytes),
        ("max_inflight_batches", s.max_inflight_batches),
    ] {
        if value == 0 {
            return Err(invalid(format!("settings.{key}"), "must be at least 1".into()));
        }
    }
    if file.sources.is_empty() {
        return Err(invalid("sources".into(), "a pipeline needs at least one source".into()));
    }
    if file.sinks.is_empty() {
        return Err(invalid("sinks".into(), "a pipeline needs at least one sink".into()));
    }
    // Names are one namespace: inputs refer to sources and stages by name.
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    for (table, keys) in [
        ("sources", file.sources.keys().collect::<Vec<_>>()),
        ("stages", file.stages.keys().collect()),
        ("sinks", file.sinks.keys().collect()),
    ] {
        for name in keys {
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(invalid(
                    format!("{table}.{name}"),
                    "component names use only A-Z, a-z, 0-9, '_' and '-'".into(),
                ));
            }
            if let Some(other) = names.insert(name, table) {
                return Err(invalid(
                    format!("{table}.{name}"),
                    format!("the name is already used in [{other}]"),
                ));
            }
        }
    }
    let upstream_names = || -> String {
        file.sources
            .keys()
            .chain(file.stages.keys())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let check_inputs = |table: &str, name: &str, inputs: &[String]| -> Result<(), PipelineError> {
        if inputs.is_empty() {
            return Err(invalid(
                format!("{table}.{name}.inputs"),
                "must name at least one source or stage".into(),
            ));
        }
        for input in inputs {
            if input == name {
                return Err(invalid(
                    format!("{table}.{name}.inputs"),
                    "a component cannot read its own output".into(),
                ));
            }
            if !file.sources.contains_key(input) && !file.stages.contains_key(input) {
                let hint =
                    if file.sinks.contains_key(input) { " (sinks have no output)" } else { "" };
                return Err(invalid(
                    format!("{table}.{name}.inputs"),
                    format!(
                        "unknown input `{input}`{hint}; known sources and stages: {}",
                        upstream_names()
                    ),
                ));
            }
        }
        Ok(())
    };
    for (name, stage) in &file.stages {
        check_inputs("stages", name, stage.spec().inputs())?;
    }
    for (name, sink) in &file.sinks {
        check_inputs("sinks", name, sink.inputs())?;
    }

    // Topological order of stages (Kahn); what is left over sits on a cycle.
    let mut order: Vec<String> = Vec::new();
    let mut placed: BTreeSet<String> = file.sources.keys().cloned().collect();
    let mut remaining: Vec<&String> = file.stages.keys().collect();
    while !remaining.is_empty() {
        let before = remaining.len();
        remaining.retain(|name| {
            let ready = file.stages[*name].spec().inputs().iter().all(|i| placed.contains(i));
            if ready {
                order.push((*name).clone());
            }
            !ready
        });
        placed.extend(order[order.len() - (before - remaining.len())..].iter().cloned());
        if remaining.len() == before {
            let cycle: Vec<&str> = remaining.iter().map(|s| s.as_str()).collect();
            return Err(invalid(
                format!("stages.{}.inputs", cycle[0]),
                format!("the stages {} form a cycle", cycle.join(" → ")),
            ));
        }
    }

    let mut stages_by_name = file.stages;
    let stages: Vec<(String, StageConfig)> = order
        .into_iter()
        .map(|name| {
            let stage = stages_by_name
                .remove(&name)
                .unwrap_or_else(|| unreachable!("ordered stage exists"));
            (name, stage)
        })
        .collect();
    let pipeline = Pipeline {
        name: file.name,
        description: file.description,
        file: path.to_owned(),
        settings: file.settings,
        sources: file.sources.into_iter().collect(),
        stages,
        sinks: file.sinks.into_iter().collect(),
        topics: file.topics,
    };

    // Types: text stages take interactions only; sinks select what actually flows to them.
    let flows = pipeline.flows();
    for (name, stage) in &pipeline.stages {
        let spec = stage.spec();
        for input in spec.inputs() {
            let flow = flows[input.as_str()];
            if spec.text_stage() && flow.telemetry {
                return Err(invalid(
                    format!("stages.{name}.inputs"),
                    format!(
                        "`{input}` carries telemetry, but `{}` is a text stage that reads interactions; \
                         wire telemetry to a telemetry stage or straight to a sink",
                        spec.type_name()
                    ),
                ));
            }
        }
    }
    let mut fed: BTreeSet<&str> = BTreeSet::new();
    for (name, sink) in &pipeline.sinks {
        let flow = merge_flows(sink.inputs().iter().map(|i| &flows[i.as_str()]));
        fed.extend(sink.inputs().iter().map(String::as_str));
        for record in sink.records() {
            let available = match record {
                RecordKind::Interactions => flow.interactions,
                RecordKind::Telemetry => flow.telemetry,
                RecordKind::Alerts => flow.alerts,
                RecordKind::DeadLetters => true,
            };
            if !available {
                return Err(invalid(
                    format!("sinks.{name}.records"),
                    format!("selects {} but none of its inputs carries them", record.as_str()),
                ));
            }
            if *record == RecordKind::Interactions && !flow.redacted && !sink.allow_raw() {
                return Err(invalid(
                    format!("sinks.{name}.records"),
                    "would write raw (unredacted) interactions: put a `redact` stage upstream, \
                     or set `allow_raw = true` on this sink if raw output is intended"
                        .into(),
                ));
            }
        }
    }
    for (_, stage) in &pipeline.stages {
        fed.extend(stage.spec().inputs().iter().map(String::as_str));
    }
    let upstream = pipeline.sources.iter().map(|(n, _)| ("sources", n));
    let upstream = upstream.chain(pipeline.stages.iter().map(|(n, _)| ("stages", n)));
    for (table, name) in upstream {
        if !fed.contains(name.as_str()) {
            return Err(invalid(
                format!("{table}.{name}"),
                "its output goes nowhere: no stage or sink lists it in `inputs`".into(),
            ));
        }
    }
    Ok(pipeline)
}

#[cfg(test)]
mod tests;
