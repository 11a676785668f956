//! Detection and redaction of one event, and the alert it raises. Shared by `palisade
//! analyze`, the `detect` / `redact` stages and evaluation, so every entry point reaches the
//! same verdict for the same event.

use std::fmt::Write as _;

use serde::Serialize;

use crate::detect::session::SessionMemory;
use crate::detect::{Detection, Detector, Scratch};
use crate::event::{Alert, Evidence, InteractionEvent, Timestamp};
use crate::fields::for_each_text;
use crate::pii::{PiiFinding, Redaction, Redactor, TokenVault};

/// Default risk score from which an event is a threat (and raises an alert).
pub const DEFAULT_THRESHOLD: u8 = 50;
/// Bytes of redacted context kept on each side of an evidence span in an excerpt.
const EXCERPT_CONTEXT: usize = 40;
/// Longest excerpt, in bytes (evidence spans longer than this are cut).
const EXCERPT_MAX: usize = 240;

/// Detection followed by redaction, with a threshold.
#[derive(Debug, Clone)]
pub struct Analyzer {
    pub detector: Detector,
    pub redactor: Redactor,
    pub threshold: u8,
}

/// Per-thread mutable state of an [`Analyzer`].
#[derive(Debug, Default)]
pub struct AnalyzerState {
    pub scratch: Scratch,
    pub vault: TokenVault,
    pub sessions: SessionMemory,
}

/// The verdict on one event.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub detection: Detection,
    pub redaction: Redaction,
}

impl Analyzer {
    /// Scans `event` (raw), then redacts it in place.
    pub fn analyze(&self, event: &mut InteractionEvent, state: &mut AnalyzerState) -> Analysis {
        let mut detection = self.detector.scan(event, &mut state.scratch);
        state.sessions.apply(event, &mut detection, self.threshold);
        let redaction = self.redactor.redact(event, &mut state.vault);
        Analysis { detection, redaction }
    }

    pub fn is_threat(&self, detection: &Detection) -> bool {
        !detection.is_empty() && detection.risk_score >= self.threshold
    }
}

/// A stable alert id: the same event under the same rules and pipeline always gets the
/// same id, so consumers can drop the duplicates that at-least-once delivery allows.
pub fn alert_id(pipeline: &str, rules_version: &str, event_id: &str) -> String {
    let mut h = crate::detect::rules::Fnv64::new();
    for part in [pipeline, rules_version, event_id] {
        h.write(part.as_bytes());
        h.write(&[0]);
    }
    format!("alr-{:016x}", h.finish())
}

/// The alert for a detection (without excerpts: see [`fill_excerpts`]).
pub fn alert_for(
    event: &InteractionEvent,
    detection: &Detection,
    pipeline: &str,
    rules_version: &str,
) -> Alert {
    let category =
        detection.categories.first().copied().unwrap_or(crate::event::Category::PromptInjection);
    let mut fields: Vec<&str> = Vec::new();
    for f in &detection.findings {
        if !fields.contains(&f.field.as_str()) {
            fields.push(&f.field);
        }
    }
    let mut summary =
        format!("{} (risk {}) in {}", category, detection.risk_score, fields.join(", "));
    if detection.categories.len() > 1 {
        let others: Vec<&str> = detection.categories[1..].iter().map(|c| c.as_str()).collect();
        let _ = write!(summary, "; also {}", others.join(", "));
    }
    let _ = write!(summary, "; rules {}", detection.rule_ids.join(", "));
    Alert {
        alert_id: alert_id(pipeline, rules_version, &event.event_id),
        ts: event.ts.clone(),
        detected_at: Timestamp::now(),
        severity: detection.severity(),
        category,
        categories: detection.categories.clone(),
        risk_score: detection.risk_score,
        confidence: detection.confidence,
        action: crate::event::Action::Alert,
        source_event_id: event.event_id.clone(),
        session_id: event.session_id.clone(),
        user_id: event.user_id.clone(),
        agent_id: event.agent_id.clone(),
        rule_ids: detection.rule_ids.iter().map(|r| r.to_string()).collect(),
        summary,
        evidence: detection
            .findings
            .iter()
            .map(|f| Evidence { field: f.field.clone(), start: f.start, end: f.end, excerpt: None })
            .collect(),
        pipeline: pipeline.to_owned(),
        rules_version: rules_version.to_owned(),
    }
}

/// Cuts each evidence excerpt from the *redacted* event, mapping original offsets through
/// the redaction's edits. Personal data inside or around the evidence appears only as its
/// replacement.
pub fn fill_excerpts(alert: &mut Alert, redacted: &InteractionEvent, redaction: &Redaction) {
    for evidence in &mut alert.evidence {
        let mut text = None;
        for_each_text(redacted, |_, path, t| {
            if text.is_none() && path == evidence.field {
                text = Some(t);
            }
        });
        let Some(text) = text else { continue };
        let (start, end) = redaction.map_span(&evidence.field, evidence.start, evidence.end);
        evidence.excerpt = Some(excerpt(text, start, end));
    }
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn excerpt(text: &str, start: usize, end: usize) -> String {
    let end = floor_boundary(text, end.min(start.saturating_add(EXCERPT_MAX)));
    let start = floor_boundary(text, start);
    let from = floor_boundary(text, start.saturating_sub(EXCERPT_CONTEXT));
    let to = floor_boundary(text, end.saturating_add(EXCERPT_CONTEXT));
    let mut out = String::with_capacity(to - from + 6);
    if from > 0 {
        out.push('…');
    }
    out.push_str(&text[from..to]);
    if to < text.len() {
        out.push('…');
    }
    out
}

/// One line of `palisade analyze` output.
#[derive(Debug, Serialize)]
pub struct AnalyzeLine<'a> {
    pub event_id: &'a str,
    pub risk_score: u8,
    pub is_threat: bool,
    pub categories: Vec<&'static str>,
    pub rule_ids: Vec<&'a str>,
    pub findings: Vec<FindingOut<'a>>,
    pub pii: &'a [PiiFinding],
    pub redacted: RedactedOut<'a>,
}

#[derive(Debug, Serialize)]
pub struct FindingOut<'a> {
    pub rule_id: &'a str,
    pub category: &'static str,
    pub field: &'a str,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Serialize)]
pub struct RedactedOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tool_calls: &'a [crate::event::ToolCall],
}

impl<'a> AnalyzeLine<'a> {
    pub fn new(redacted: &'a InteractionEvent, analysis: &'a Analysis, is_threat: bool) -> Self {
        let d = &analysis.detection;
        Self {
            event_id: &redacted.event_id,
            risk_score: d.risk_score,
            is_threat,
            categories: d.categories.iter().map(|c| c.as_str()).collect(),
            rule_ids: d.rule_ids.iter().map(|r| &**r).collect(),
            findings: d
                .findings
                .iter()
                .map(|f| FindingOut {
                    rule_id: &f.rule_id,
                    category: f.category.as_str(),
                    field: &f.field,
                    start: f.start,
                    end: f.end,
                })
                .collect(),
            pii: &analysis.redaction.findings,
            redacted: RedactedOut {
                prompt: redacted.prompt.as_deref(),
                response: redacted.response.as_deref(),
                tool_calls: &redacted.tool_calls,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_respect_char_boundaries_and_mark_cuts() {
        let text = "ééééé".repeat(30) + "ATTACK" + &"ü".repeat(60);
        let at = text.find("ATTACK").unwrap();
        let e = excerpt(&text, at, at + 6);
        assert!(e.starts_with('…') && e.ends_with('…') && e.contains("ATTACK"));
        assert_eq!(excerpt("short", 0, 5), "short");
    }

    #[test]
    fn alert_ids_are_stable_and_distinct() {
        assert_eq!(alert_id("p", "v", "e1"), alert_id("p", "v", "e1"));
        assert_ne!(alert_id("p", "v", "e1"), alert_id("p", "v", "e2"));
        assert_ne!(alert_id("p", "v1", "e1"), alert_id("p", "v2", "e1"));
    }
}
