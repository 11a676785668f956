//! `type = "detect"`: scans interactions with the detection rules and attaches an alert to
//! every event whose risk reaches the threshold. Alerts leave this stage without excerpts;
//! a downstream `redact` stage cuts them from redacted text.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

use super::StageSpec;
use crate::analyze::{DEFAULT_THRESHOLD, alert_for};
use crate::detect::{Detector, RuleSet, Scratch};
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
        let rules = RuleSet::load(&self.rules).map_err(|e| {
            let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
            BuildError::new("rules", format!("{e} (relative paths are resolved from {cwd})"))
        })?;
        let rules = Arc::new(rules);
        tracing::info!(
            rules = rules.rules().len(),
            version = rules.version(),
            "detection rules loaded"
        );
        Ok((0..cx.workers.max(1))
            .map(|_| {
                Box::new(DetectTransform {
                    detector: Detector::new(rules.clone()),
                    scratch: Scratch::default(),
                    threshold: self.threshold,
                    pipeline: cx.pipeline.clone(),
                    stats: BTreeMap::new(),
                }) as Box<dyn Transform>
            })
            .collect())
    }
}

struct DetectTransform {
    detector: Detector,
    scratch: Scratch,
    threshold: u8,
    pipeline: String,
    stats: BTreeMap<String, u64>,
}

impl Transform for DetectTransform {
    fn process(&mut self, events: &mut Vec<Envelope>) {
        let mut scanned = 0;
        let mut alerts = 0;
        for envelope in events.iter_mut() {
            let Payload::Interaction(event) = &envelope.payload else {
                continue;
            };
            scanned += 1;
            let detection = self.detector.scan(event, &mut self.scratch);
            if detection.is_empty() || detection.risk_score < self.threshold {
                continue;
            }
            alerts += 1;
            let version = self.detector.rules().version();
            let alert = alert_for(event, &detection, &self.pipeline, version);
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
