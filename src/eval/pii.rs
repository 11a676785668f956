//! PII recognizer accuracy on a labeled dataset (`palisade eval --pii`).
//!
//! Dataset lines: `{"id", "text", "spans": [{"type", "start", "end"}]}`, offsets in UTF-8
//! bytes (`end` exclusive). Every sample is run through a [`PiiPolicy`] exactly as the
//! redact stage would (its entity types, confidence floors, overlap resolution).
//!
//! Matching rule: a predicted span is a true positive if it overlaps a gold span of the
//! same type; a gold span is found if some predicted span of its type overlaps it.
//! Precision counts predicted spans, recall counts gold spans, F2 weighs recall twice as
//! much as precision. A gold span is *leaked* if predicted spans (of any type) do not cover
//! every byte of it: that value would survive redaction, at least in part.
//!
//! The report is a log too: values are never printed, only a masked preview (at most the
//! first two characters of long values, none of short ones).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::DatasetError;
use crate::pii::{EntityType, PiiMatch, PiiPolicy};

/// One labeled sample.
#[derive(Debug, Clone)]
pub struct PiiSample {
    pub id: String,
    pub text: String,
    pub spans: Vec<GoldSpan>,
}

/// A labeled value: byte offsets into the sample's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoldSpan {
    pub entity: EntityType,
    pub start: usize,
    pub end: usize,
}

#[derive(Deserialize)]
struct RawSample {
    id: String,
    text: String,
    spans: Vec<RawSpan>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpan {
    #[serde(rename = "type")]
    entity: String,
    start: usize,
    end: usize,
}

/// Parses a PII JSONL dataset, checking every span's type and offsets.
///
/// # Errors
/// The first malformed line: what is wrong and which line.
pub fn parse_dataset(text: &str) -> Result<Vec<PiiSample>, DatasetError> {
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let error = |message: String| DatasetError { line: i + 1, message };
        let raw: RawSample = serde_json::from_str(line).map_err(|e| {
            error(format!(
                "expected {{\"id\",\"text\",\"spans\":[{{\"type\",\"start\",\"end\"}}]}}: {e}"
            ))
        })?;
        let mut spans = Vec::with_capacity(raw.spans.len());
        for s in raw.spans {
            let entity = EntityType::parse(&s.entity).ok_or_else(|| {
                let known: Vec<&str> = EntityType::ALL.iter().map(|e| e.as_str()).collect();
                error(format!("unknown type `{}`; known: {}", s.entity, known.join(", ")))
            })?;
            if s.start >= s.end
                || s.end > raw.text.len()
                || !raw.text.is_char_boundary(s.start)
                || !raw.text.is_char_boundary(s.end)
            {
                return Err(error(format!(
                    "span {}..{} of `{}` is not a non-empty range of whole characters in a text of \
                     {} bytes (offsets are UTF-8 bytes)",
                    s.start,
                    s.end,
                    s.entity,
                    raw.text.len()
                )));
            }
            spans.push(GoldSpan { entity, start: s.start, end: s.end });
        }
        samples.push(PiiSample { id: raw.id, text: raw.text, spans });
    }
    Ok(samples)
}

/// Counts for one entity type (or all of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SpanCounts {
    /// Gold spans.
    pub gold: usize,
    /// Gold spans overlapped by a predicted span of their type.
    pub found: usize,
    /// Predicted spans.
    pub predicted: usize,
    /// Predicted spans overlapping a gold span of their type.
    pub correct: usize,
    /// Gold spans not fully covered by predicted spans of any type.
    pub leaked: usize,
}

impl SpanCounts {
    pub fn precision(&self) -> f64 {
        ratio(self.correct, self.predicted)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.found, self.gold)
    }

    /// F-beta with beta = 2: recall weighs twice as much as precision.
    pub fn f2(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p.is_nan() || r.is_nan() || p + r == 0.0 {
            f64::NAN
        } else {
            5.0 * p * r / (4.0 * p + r)
        }
    }

    fn add(&mut self, other: &SpanCounts) {
        self.gold += other.gold;
        self.found += other.found;
        self.predicted += other.predicted;
        self.correct += other.correct;
        self.leaked += other.leaked;
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { f64::NAN } else { a as f64 / b as f64 }
}

/// A span named in the report: where it is, never what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpanRef {
    pub id: String,
    #[serde(rename = "type")]
    pub entity: EntityType,
    pub start: usize,
    pub end: usize,
    /// At most the first two characters of the value, then `…`.
    pub preview: String,
}

/// The result of a PII evaluation.
#[derive(Debug, Default)]
pub struct PiiEvalReport {
    pub policy: String,
    pub samples: usize,
    pub by_type: BTreeMap<EntityType, SpanCounts>,
    pub overall: SpanCounts,
    /// Gold spans a redaction would leave (partly) readable.
    pub leaks: Vec<SpanRef>,
    /// Gold spans not found with their own type (typed misses, leaked or not).
    pub misses: Vec<SpanRef>,
    /// Predicted spans overlapping no gold span of their type.
    pub false_positives: Vec<SpanRef>,
}

/// A redaction-safe preview of a value: the first two characters of values of eight or
/// more, the first of four to seven, none of shorter ones; then `…`.
pub fn masked_preview(value: &str) -> String {
    let n = value.chars().count();
    let keep = match n {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    let mut out: String = value.chars().take(keep).collect();
    out.push('…');
    out
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Is every byte of `start..end` inside some predicted span?
fn covered(predicted: &[PiiMatch], start: usize, end: usize) -> bool {
    // `predicted` is sorted and non-overlapping (the policy resolved overlaps).
    let mut at = start;
    for p in predicted {
        if p.start <= at && p.end > at {
            at = p.end;
        }
        if at >= end {
            return true;
        }
    }
    at >= end
}

/// Runs every sample through `policy` and scores its recognizers.
pub fn evaluate(policy: &PiiPolicy, samples: &[PiiSample]) -> PiiEvalReport {
    let mut report =
        PiiEvalReport { policy: policy.name.clone(), samples: samples.len(), ..Default::default() };
    let mut predicted = Vec::new();
    let span_ref = |sample: &PiiSample, entity, start, end| SpanRef {
        id: sample.id.clone(),
        entity,
        start,
        end,
        preview: masked_preview(&sample.text[start..end]),
    };
    for sample in samples {
        policy.find(&sample.text, &mut predicted);
        for g in &sample.spans {
            let c = report.by_type.entry(g.entity).or_default();
            c.gold += 1;
            if predicted
                .iter()
                .any(|p| p.entity == g.entity && overlaps((p.start, p.end), (g.start, g.end)))
            {
                c.found += 1;
            } else {
                report.misses.push(span_ref(sample, g.entity, g.start, g.end));
            }
            if !covered(&predicted, g.start, g.end) {
                c.leaked += 1;
                report.leaks.push(span_ref(sample, g.entity, g.start, g.end));
            }
        }
        for p in &predicted {
            let c = report.by_type.entry(p.entity).or_default();
            c.predicted += 1;
            if sample
                .spans
                .iter()
                .any(|g| g.entity == p.entity && overlaps((p.start, p.end), (g.start, g.end)))
            {
                c.correct += 1;
            } else {
                report.false_positives.push(span_ref(sample, p.entity, p.start, p.end));
            }
        }
    }
    for c in report.by_type.values() {
        report.overall.add(c);
    }
    report
}

fn pct(x: f64) -> String {
    if x.is_nan() { "-".into() } else { format!("{:.2}%", x * 100.0) }
}

#[derive(Serialize)]
struct JsonCounts {
    #[serde(flatten)]
    counts: SpanCounts,
    precision: Option<f64>,
    recall: Option<f64>,
    f2: Option<f64>,
}

impl From<&SpanCounts> for JsonCounts {
    fn from(c: &SpanCounts) -> Self {
        let finite = |x: f64| (!x.is_nan()).then_some(x);
        Self {
            counts: *c,
            precision: finite(c.precision()),
            recall: finite(c.recall()),
            f2: finite(c.f2()),
        }
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    policy: &'a str,
    samples: usize,
    types: BTreeMap<&'static str, JsonCounts>,
    overall: JsonCounts,
    leaks: &'a [SpanRef],
    misses: &'a [SpanRef],
    false_positives: &'a [SpanRef],
}

impl PiiEvalReport {
    /// The report as JSON (rates are `null` where undefined).
    pub fn to_json(&self) -> serde_json::Value {
        let report = JsonReport {
            policy: &self.policy,
            samples: self.samples,
            types: self.by_type.iter().map(|(e, c)| (e.as_str(), c.into())).collect(),
            overall: (&self.overall).into(),
            leaks: &self.leaks,
            misses: &self.misses,
            false_positives: &self.false_positives,
        };
        serde_json::to_value(report).unwrap_or_default()
    }

    /// The report as a text table, listing up to `show` leaks, misses and false positives.
    pub fn render(&self, show: usize) -> String {
        let mut out = String::new();
        let o = &self.overall;
        let _ = writeln!(
            out,
            "policy {}: {} samples, {} gold spans, {} predicted",
            self.policy, self.samples, o.gold, o.predicted
        );
        let _ = writeln!(
            out,
            "{:<22} {:>5} {:>5} {:>5} {:>5} {:>10} {:>9} {:>9} {:>6}",
            "type", "gold", "found", "pred", "ok", "precision", "recall", "F2", "leaked"
        );
        let row = |out: &mut String, name: &str, c: &SpanCounts| {
            let _ = writeln!(
                out,
                "{name:<22} {:>5} {:>5} {:>5} {:>5} {:>10} {:>9} {:>9} {:>6}",
                c.gold,
                c.found,
                c.predicted,
                c.correct,
                pct(c.precision()),
                pct(c.recall()),
                pct(c.f2()),
                c.leaked
            );
        };
        for (entity, c) in &self.by_type {
            row(&mut out, entity.as_str(), c);
        }
        row(&mut out, "overall", o);
        let lists = [
            ("leaked values (not fully covered by any redaction)", &self.leaks),
            ("missed (no overlapping span of the same type)", &self.misses),
            ("false positives", &self.false_positives),
        ];
        for (title, list) in lists {
            let _ = writeln!(out, "{title}: {}", list.len());
            for s in list.iter().take(show) {
                let _ =
                    writeln!(out, "  {} {} {}..{} {}", s.id, s.entity, s.start, s.end, s.preview);
            }
            if list.len() > show {
                let _ = writeln!(out, "  ... {} more", list.len() - show);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(line: serde_json::Value) -> Vec<PiiSample> {
        parse_dataset(&line.to_string()).unwrap()
    }

    #[test]
    fn overlap_matching_and_leaks() {
        let text = "mail jane@example.com, card 4111 1111 1111 1111, order 12345";
        let email = text.find("jane").unwrap();
        let card = text.find("4111").unwrap();
        let order = text.find("12345").unwrap();
        let samples = sample(serde_json::json!({"id": "a", "text": text, "spans": [
            // Wider than the prediction: still found (overlap), but leaked (not covered).
            {"type": "email", "start": email - 1, "end": email + 16},
            {"type": "credit_card", "start": card, "end": card + 19},
            {"type": "phone", "start": order, "end": order + 5},
        ]}));
        let report = evaluate(&PiiPolicy::default_pii(), &samples);
        let email_counts = report.by_type[&EntityType::Email];
        assert_eq!((email_counts.found, email_counts.leaked, email_counts.correct), (1, 1, 1));
        assert_eq!(report.by_type[&EntityType::CreditCard].leaked, 0);
        let phone = report.by_type[&EntityType::Phone];
        assert_eq!((phone.gold, phone.found, phone.leaked), (1, 0, 1));
        assert_eq!(report.leaks.len(), 2);
        assert!(
            report.leaks.iter().all(|l| !l.preview.contains("jane") && !l.preview.contains("123"))
        );
        let rendered = report.render(10);
        assert!(!rendered.contains("jane@") && !rendered.contains("12345"), "{rendered}");
        let json = report.to_json();
        assert_eq!(json["types"]["credit_card"]["recall"], 1.0);
        assert_eq!(json["types"]["phone"]["precision"], serde_json::Value::Null);
    }

    #[test]
    fn f2_weighs_recall() {
        let c = SpanCounts { gold: 10, found: 10, predicted: 20, correct: 10, leaked: 0 };
        assert!((c.f2() - 5.0 * 0.5 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn previews_never_show_short_values() {
        assert_eq!(masked_preview("123"), "…");
        assert_eq!(masked_preview("1234"), "1…");
        assert_eq!(masked_preview("jürgen@x.de"), "jü…");
    }

    #[test]
    fn bad_lines_are_named() {
        let bad = [
            r#"{"id":"a","text":"x","spans":[{"type":"nope","start":0,"end":1}]}"#,
            r#"{"id":"a","text":"é","spans":[{"type":"email","start":0,"end":1}]}"#,
            r#"{"id":"a","text":"x","spans":[{"type":"email","start":0,"end":2}]}"#,
            r#"{"id":"a","text":"x"}"#,
        ];
        for line in bad {
            let err =
                parse_dataset(&format!("{{\"id\":\"ok\",\"text\":\"\",\"spans\":[]}}\n{line}"))
                    .unwrap_err();
            assert_eq!(err.line, 2, "{line}");
        }
    }
}
