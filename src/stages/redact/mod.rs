//! `type = "redact"`: rewrites PII in every text leaf of each interaction according to a
//! policy, and cuts alert excerpts from the redacted text.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::StageSpec;
use crate::analyze::fill_excerpts;
use crate::pii::{PiiPolicy, Redactor, TokenVault};
use crate::pipeline::{BuildContext, BuildError, Flow};
use crate::runtime::{Envelope, Payload, Transform};

/// Configuration of a `redact` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Sources or stages to read (interactions only).
    pub inputs: Vec<String>,
    /// Redaction policy: a name looked up in `policies` (`default_pii`, `pci_dss`,
    /// `hipaa_phi`, `gdpr_strict`, or your own), or a path to a policy file.
    #[serde(default = "default_policy")]
    pub policy: String,
    /// Directory of policy files (`<name>.yaml`).
    #[serde(default = "default_policies")]
    pub policies: std::path::PathBuf,
    /// Sessions whose replacement tokens are remembered per worker (oldest forgotten first).
    #[serde(default = "default_max_sessions")]
    pub max_sessions: usize,
}

fn default_policy() -> String {
    "default_pii".into()
}

fn default_policies() -> std::path::PathBuf {
    crate::pii::policy::DEFAULT_POLICY_DIR.into()
}

fn default_max_sessions() -> usize {
    100_000
}

/// Resolves a policy by name in `dir` (or a policy file path). Errors name the file and key
/// at fault, or list the available policies.
///
/// # Errors
/// The policy's load error, as text.
pub fn policy_by_name(name: &str, dir: &std::path::Path) -> Result<PiiPolicy, String> {
    crate::pii::policy::resolve(name, dir).map_err(|e| e.to_string())
}

impl StageSpec for RedactConfig {
    fn type_name(&self) -> &'static str {
        "redact"
    }

    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn text_stage(&self) -> bool {
        true
    }

    fn flow(&self, input: Flow) -> Flow {
        Flow { redacted: true, ..input }
    }

    fn build(&self, cx: &BuildContext) -> Result<Vec<Box<dyn Transform>>, BuildError> {
        let policy = Arc::new(
            policy_by_name(&self.policy, &self.policies)
                .map_err(|m| BuildError::new("policy", m))?,
        );
        let per_worker = (self.max_sessions / cx.workers.max(1)).max(1);
        Ok((0..cx.workers.max(1))
            .map(|_| {
                Box::new(RedactTransform {
                    redactor: Redactor::new(policy.clone()),
                    vault: TokenVault::new(per_worker),
                    stats: BTreeMap::new(),
                }) as Box<dyn Transform>
            })
            .collect())
    }
}

struct RedactTransform {
    redactor: Redactor,
    vault: TokenVault,
    stats: BTreeMap<String, u64>,
}

impl Transform for RedactTransform {
    fn process(&mut self, events: &mut Vec<Envelope>) {
        let mut redacted = 0;
        for envelope in events.iter_mut() {
            let Payload::Interaction(event) = &mut envelope.payload else {
                continue;
            };
            let redaction = self.redactor.redact(event, &mut self.vault);
            for finding in &redaction.findings {
                *self.stats.entry(format!("pii.{}", finding.entity)).or_default() += 1;
            }
            for alert in &mut envelope.alerts {
                fill_excerpts(alert, event, &redaction);
            }
            envelope.redacted = true;
            redacted += 1;
        }
        *self.stats.entry("events".into()).or_default() += redacted;
    }

    fn stats(&self) -> Vec<(String, u64)> {
        self.stats.iter().map(|(k, v)| (format!("redact.{k}"), *v)).collect()
    }
}
