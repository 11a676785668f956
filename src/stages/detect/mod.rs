//! `type = "detect"`: scans interactions with the detection rules and attaches an alert to
//! every event whose risk reaches the threshold. Alerts leave this stage without excerpts;
//! a downstream `redact` stage cuts them from redacted text.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::StageSpec;
use crate::analyze::{DEFAULT_THRESHOLD, alert_for};
use crate::detect::reload::RulesHandle;
use crate::detect::session::SessionMemory;
use crate::detect::{Detector, Scratch};
use crate::event::Action;
use crate::pipeline::duration;
use crate::pipeline::{BuildContext, BuildError, Flow};
use crate::runtime::{Envelope, Payload, Transform};

/// Configuration of a `detect` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Sources or stages to read (interactions only).
    pub inputs: Vec<String>,
    /// Rules directory (every `*.yaml` in it) or a single rule file. Relative paths are
    /// resolved from the current directory.
    #[serde(default = "default_rules")]
    pub rules: PathBuf,
    /// Risk score (0-100) from which an event raises an alert.
    #[serde(default = "default_threshold")]
    pub threshold: u8,
    /// Risk score from which an alert says `action = "block"` (gateways that consult
    /// alerts act on it); below it alerts say `"alert"`. Omit to never say block.
    #[serde(default)]
    pub block_threshold: Option<u8>,
    /// Reload the rules when their files change or on SIGHUP.
    #[serde(default = "default_true")]
    pub reload: bool,
    /// How often rule files are checked for changes.
    #[serde(default = "default_reload_interval", with = "duration")]
    pub reload_interval: std::time::Duration,
    /// Sessions remembered for multi-turn scoring, per worker.
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
}

fn default_true() -> bool {
    true
}

fn default_reload_interval() -> std::time::Duration {
    std::time::Duration::from_secs(2)
}

fn default_max_sessions() -> usize {
    100_000
}

fn default_rules() -> PathBuf {
    PathBuf::from("rules/detection")
}

fn default_threshold() -> u8 {
    DEFAULT_THRESHOLD
}

impl StageSpec for DetectConfig {
    fn type_name(&self) -> &'static str {
        "detect"
    }

    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn text_stage(&self) -> bool {
        true
    }

    fn flow(&self, input: Flow) -> Flow {
        Flow { alerts: true, ..input }
    }

    fn build(&self, cx: &BuildContext) -> Result<Vec<Box<dyn Transform>>, BuildError> {
        if self.threshold > 100 {
            return Err(BuildError::new("threshold", format!("{} is over 100", self.threshold)));
        }
        if let Some(block) = self.block_threshold
            && (block > 100 || block < self.threshold)
        {
            return Err(BuildError::new(
                "block_threshold",
                format!("{block} must be between `threshold` ({}) and 100", self.threshold),
            ));
        }
        let handle = RulesHandle::load(&self.rules).map_err(|e| {
            let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
            BuildError::new("rules", format!("{e} (relative paths are resolved from {cwd})"))
        })?;
        let rules = handle.current();
        tracing::info!(
            rules = rules.rules().len(),
            version = rules.version(),
            "detection rules loaded"
        );
        if self.reload {
            handle.watch(self.reload_interval);
        }
        let workers = cx.workers.max(1);
        Ok((0..workers)
            .map(|_| {
                Box::new(DetectTransform {
                    detector: Detector::new(handle.current()),
                    generation: handle.generation(),
                    handle: handle.clone(),
                    scratch: Scratch::default(),
                    sessions: SessionMemory::new((self.max_sessions / workers).max(1)),
                    threshold: self.threshold,
                    block_threshold: self.block_threshold,
                    pipeline: cx.pipeline.clone(),
                    stats: BTreeMap::new(),
                }) as Box<dyn Transform>
            })
            .collect())
    }
}

struct DetectTransform {
    detector: Detector,
    handle: Arc<RulesHandle>,
    generation: u64,
    scratch: Scratch,
    sessions: SessionMemory,
    threshold: u8,
    block_threshold: Option<u8>,
    pipeline: String,
    stats: BTreeMap<String, u64>,
}

impl Transform for DetectTransform {
    fn process(&mut self, events: &mut Vec<Envelope>) {
        // A new rules version takes effect between batches: one version per event.
        let generation = self.handle.generation();
        if generation != self.generation {
            self.detector = Detector::new(self.handle.current());
            self.generation = generation;
            *self.stats.entry("rules_reloads".into()).or_default() += 1;
        }
        let mut scanned = 0;
        let mut alerts = 0;
        for envelope in events.iter_mut() {
            let Payload::Interaction(event) = &envelope.payload else {
                continue;
            };
            scanned += 1;
            let mut detection = self.detector.scan(event, &mut self.scratch);
            self.sessions.apply(event, &mut detection, self.threshold);
            if detection.is_empty() || detection.risk_score < self.threshold {
                continue;
            }
            alerts += 1;
            let version = self.detector.rules().version();
            let mut alert = alert_for(event, &detection, &self.pipeline, version);
            if self.block_threshold.is_some_and(|b| detection.risk_score >= b) {
                alert.action = Action::Block;
            }
            *self.stats.entry(format!("alerts.{}", alert.category)).or_default() += 1;
            envelope.alerts.push(alert);
        }
        *self.stats.entry("events".into()).or_default() += scanned;
        *self.stats.entry("alerts".into()).or_default() += alerts;
    }

    fn stats(&self) -> Vec<(String, u64)> {
        self.stats.iter().map(|(k, v)| (format!("detect.{k}"), *v)).collect()
    }
}
