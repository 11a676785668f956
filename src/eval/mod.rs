//! Accuracy on labeled datasets: detection (`palisade eval --dataset`, this module) and PII
//! recognizers (`palisade eval --pii`, [`pii`]).
//!
//! Detection dataset lines: `{"id", "text", "label": 0|1, "category"?, "kind"?, "plain"?}`.
//! `kind` splits negatives into `benign` and `hard_negative`, and marks `obfuscated`
//! positives, whose `plain` form is scanned too: obfuscation recall counts only variants
//! whose plain form is caught (what the normalization layer is responsible for).

pub mod pii;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::detect::{Detector, Scratch};

/// One labeled sample.
#[derive(Debug, Clone, Deserialize)]
pub struct Sample {
    pub id: String,
    pub text: String,
    pub label: u8,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub plain: Option<String>,
}

/// A dataset line could not be read.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DatasetError {
    pub line: usize,
    pub message: String,
}

/// Parses a JSONL dataset.
///
/// # Errors
/// The first malformed line (what is wrong, which line).
pub fn parse_dataset(text: &str) -> Result<Vec<Sample>, DatasetError> {
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let sample: Sample = serde_json::from_str(line).map_err(|e| DatasetError {
            line: i + 1,
            message: format!("expected {{\"id\",\"text\",\"label\":0|1,\"category\"?}}: {e}"),
        })?;
        if sample.label > 1 {
            return Err(DatasetError { line: i + 1, message: "label must be 0 or 1".into() });
        }
        samples.push(sample);
    }
    Ok(samples)
}

/// Counts for one slice of the data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub positives: usize,
    pub detected: usize,
    pub negatives: usize,
    pub false_positives: usize,
    /// Flagged samples (of either label) attributed to this slice.
    pub flagged: usize,
}

impl Counts {
    pub fn recall(&self) -> f64 {
        ratio(self.detected, self.positives)
    }

    pub fn fpr(&self) -> f64 {
        ratio(self.false_positives, self.negatives)
    }

    pub fn precision(&self) -> f64 {
        ratio(self.detected, self.flagged)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { f64::NAN } else { a as f64 / b as f64 }
}

/// The result of an evaluation.
#[derive(Debug, Default)]
pub struct EvalReport {
    pub threshold: u8,
    pub overall: Counts,
    pub by_category: BTreeMap<String, Counts>,
    /// Negatives by kind (`benign`, `hard_negative`, ...): (count, false positives).
    pub negatives_by_kind: BTreeMap<String, (usize, usize)>,
    /// (obfuscated samples whose plain form is caught, of those caught).
    pub obfuscated: (usize, usize),
    /// (target FPR, threshold, recall, FPR at that threshold).
    pub recall_at_fpr: Vec<(f64, u8, f64, f64)>,
    /// Missed positives: (id, category, risk).
    pub misses: Vec<(String, String, u8)>,
    /// Flagged negatives: (id, kind, rule ids).
    pub false_positives: Vec<(String, String, Vec<String>)>,
}

/// Scans every sample as a prompt and scores the detector.
pub fn evaluate(detector: &Detector, samples: &[Sample], threshold: u8) -> EvalReport {
    let mut scratch = Scratch::default();
    let mut report = EvalReport { threshold, ..EvalReport::default() };
    let mut scored: Vec<(u8, u8)> = Vec::with_capacity(samples.len()); // (label, risk)
    for sample in samples {
        let detection = detector.scan_prompt(&sample.text, &mut scratch);
        let risk = if detection.is_empty() { 0 } else { detection.risk_score };
        let flagged = risk >= threshold && !detection.is_empty();
        scored.push((sample.label, risk));
        let kind = sample
            .kind
            .clone()
            .unwrap_or_else(|| if sample.label == 1 { "plain".into() } else { "benign".into() });
        if sample.label == 1 {
            let category = sample.category.clone().unwrap_or_else(|| "unlabeled".into());
            let c = report.by_category.entry(category.clone()).or_default();
            c.positives += 1;
            report.overall.positives += 1;
            if flagged {
                c.detected += 1;
                c.flagged += 1;
                report.overall.detected += 1;
                report.overall.flagged += 1;
            } else {
                report.misses.push((sample.id.clone(), category, risk));
            }
            if kind == "obfuscated"
                && let Some(plain) = &sample.plain
            {
                let plain_hit = detector.scan_prompt(plain, &mut scratch);
                if !plain_hit.is_empty() && plain_hit.risk_score >= threshold {
                    report.obfuscated.1 += 1;
                    if flagged {
                        report.obfuscated.0 += 1;
                    }
                }
            }
        } else {
            report.overall.negatives += 1;
            let entry = report.negatives_by_kind.entry(kind.clone()).or_default();
            entry.0 += 1;
            if flagged {
                entry.1 += 1;
                report.overall.false_positives += 1;
                report.overall.flagged += 1;
                let top = detection.categories.first().map_or("?", |c| c.as_str()).to_owned();
                report.by_category.entry(top).or_default().flagged += 1;
                let ids = detection.rule_ids.iter().map(|r| r.to_string()).collect();
                report.false_positives.push((sample.id.clone(), kind, ids));
            }
        }
    }
    let negatives = report.overall.negatives;
    for c in report.by_category.values_mut() {
        c.negatives = negatives;
    }
    for (_, c) in report.by_category.iter_mut() {
        c.false_positives = c.flagged - c.detected;
    }
    for target in [0.01, 0.001] {
        report.recall_at_fpr.push(recall_at_fpr(&scored, target));
    }
    report
}

/// The lowest threshold whose false-positive rate is at most `target`, and the recall there.
fn recall_at_fpr(scored: &[(u8, u8)], target: f64) -> (f64, u8, f64, f64) {
    let positives = scored.iter().filter(|(l, _)| *l == 1).count();
    let negatives = scored.len() - positives;
    for t in 1..=101u16 {
        let fp = scored.iter().filter(|(l, r)| *l == 0 && u16::from(*r) >= t).count();
        let fpr = ratio(fp, negatives);
        if fpr <= target || negatives == 0 {
            let tp = scored.iter().filter(|(l, r)| *l == 1 && u16::from(*r) >= t).count();
            return (target, t.min(100) as u8, ratio(tp, positives), fpr);
        }
    }
    (target, 100, 0.0, 0.0)
}

fn pct(x: f64) -> String {
    if x.is_nan() { "   -  ".into() } else { format!("{:6.2}%", x * 100.0) }
}

impl EvalReport {
    /// The report as a text table.
    pub fn render(&self, show_misses: usize) -> String {
        let mut out = String::new();
        let o = &self.overall;
        let _ = writeln!(
            out,
            "threshold {}: {} positives, {} negatives",
            self.threshold, o.positives, o.negatives
        );
        let _ = writeln!(
            out,
            "{:<22} {:>9} {:>9} {:>9} {:>7}",
            "category", "precision", "recall", "FPR", "n"
        );
        for (category, c) in &self.by_category {
            let _ = writeln!(
                out,
                "{category:<22} {:>9} {:>9} {:>9} {:>7}",
                pct(c.precision()),
                pct(c.recall()),
                pct(c.fpr()),
                c.positives
            );
        }
        let _ = writeln!(
            out,
            "{:<22} {:>9} {:>9} {:>9} {:>7}",
            "overall",
            pct(o.precision()),
            pct(o.recall()),
            pct(o.fpr()),
            o.positives + o.negatives
        );
        for (kind, (n, fp)) in &self.negatives_by_kind {
            let _ = writeln!(out, "FPR on {kind}: {} ({fp} of {n})", pct(ratio(*fp, *n)).trim());
        }
        if self.obfuscated.1 > 0 {
            let (caught, of) = self.obfuscated;
            let _ = writeln!(
                out,
                "obfuscated variants caught whose plain form is caught: {} ({caught} of {of})",
                pct(ratio(caught, of)).trim()
            );
        }
        for (target, t, recall, fpr) in &self.recall_at_fpr {
            let _ = writeln!(
                out,
                "recall at FPR ≤ {}: {} (threshold {t}, FPR {})",
                pct(*target).trim(),
                pct(*recall).trim(),
                pct(*fpr).trim()
            );
        }
        if show_misses > 0 {
            let _ = writeln!(out, "missed positives ({}):", self.misses.len());
            for (id, category, risk) in self.misses.iter().take(show_misses) {
                let _ = writeln!(out, "  {id} [{category}] risk {risk}");
            }
            let _ = writeln!(out, "false positives ({}):", self.false_positives.len());
            for (id, kind, rules) in self.false_positives.iter().take(show_misses) {
                let _ = writeln!(out, "  {id} [{kind}] {}", rules.join(","));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_at_fpr_picks_the_lowest_threshold_within_budget() {
        // negatives at risk 10, 60; positives at 50, 70, 90.
        let scored = [(0, 10), (0, 60), (1, 50), (1, 70), (1, 90)];
        let (_, t, recall, fpr) = recall_at_fpr(&scored, 0.0);
        assert_eq!((t, fpr), (61, 0.0));
        assert!((recall - 2.0 / 3.0).abs() < 1e-9);
        let (_, t, recall, _) = recall_at_fpr(&scored, 0.5);
        assert_eq!(t, 11);
        assert!((recall - 1.0).abs() < 1e-9);
    }

    #[test]
    fn dataset_errors_name_the_line() {
        let err =
            parse_dataset("{\"id\":\"a\",\"text\":\"x\",\"label\":1}\n{\"id\":2}").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(parse_dataset("{\"id\":\"a\",\"text\":\"x\",\"label\":3}").is_err());
    }
}
