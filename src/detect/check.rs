//! `palisade rules lint` and `palisade rules test`: static checks of a rule set, and every
//! rule's embedded examples run through the full engine (prefilter included).

use std::fmt;

use super::{Detector, RuleSet, Scratch};
use crate::fields::FieldKind;

/// One lint message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintIssue {
    pub rule_id: String,
    pub error: bool,
    pub message: String,
}

impl fmt::Display for LintIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = if self.error { "error" } else { "warning" };
        write!(f, "{level}: {}: {}", self.rule_id, self.message)
    }
}

/// Static checks beyond what loading already enforces (regex syntax and size, duplicate
/// ids, known categories): examples present, keywords reachable from the examples.
pub fn lint(rules: &RuleSet) -> Vec<LintIssue> {
    let mut issues = Vec::new();
    for rule in rules.rules() {
        let mut push = |error: bool, message: String| {
            issues.push(LintIssue { rule_id: rule.id.to_string(), error, message });
        };
        if rule.examples.matches.is_empty() {
            push(false, "has no `examples.match`: nothing proves it fires".into());
        }
        if rule.examples.no_match.is_empty() && !rule.examples.matches.is_empty() {
            push(
                false,
                "has no `examples.no_match`: nothing proves it stays quiet on look-alikes".into(),
            );
        }
        if rule.description.is_empty() {
            push(false, "has no description".into());
        }
        if rule.keywords.is_empty() {
            continue;
        }
        for keyword in &rule.keywords {
            let used =
                rule.examples.matches.iter().any(|e| e.to_lowercase().contains(keyword.as_str()));
            if !used && !rule.examples.matches.is_empty() {
                push(false, format!("keyword `{keyword}` appears in none of the match examples"));
            }
        }
        for example in &rule.examples.matches {
            let lower = example.to_lowercase();
            if !rule.keywords.iter().any(|k| lower.contains(k.as_str())) {
                push(
                    true,
                    format!(
                        "match example {example:?} contains none of the keywords, so the prefilter never selects the rule for it"
                    ),
                );
            }
        }
    }
    issues
}

/// An example that did not behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleFailure {
    pub rule_id: String,
    pub expected_match: bool,
    pub example: String,
}

impl fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.expected_match {
            "should match but did not"
        } else {
            "should not match but did"
        };
        write!(f, "{}: {what}: {:?}", self.rule_id, self.example)
    }
}

/// Runs every rule's examples through the engine; returns (examples run, failures).
pub fn test_examples(rules: &std::sync::Arc<RuleSet>) -> (usize, Vec<ExampleFailure>) {
    let detector = Detector::new(rules.clone());
    let mut scratch = Scratch::default();
    let mut run = 0;
    let mut failures = Vec::new();
    for rule in rules.rules() {
        let kind = [FieldKind::Prompt, FieldKind::Response, FieldKind::Tool]
            .into_iter()
            .find(|k| rule.applies_to & super::rules::field_bit(*k) != 0)
            .unwrap_or(FieldKind::Prompt);
        for (expected, examples) in
            [(true, &rule.examples.matches), (false, &rule.examples.no_match)]
        {
            for example in examples {
                run += 1;
                let detection = detector.scan_as(kind, kind.as_str(), example, &mut scratch);
                let fired = detection.rule_ids.contains(&rule.id);
                if fired != expected {
                    failures.push(ExampleFailure {
                        rule_id: rule.id.to_string(),
                        expected_match: expected,
                        example: example.clone(),
                    });
                }
            }
        }
    }
    (run, failures)
}
