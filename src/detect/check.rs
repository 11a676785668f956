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
    for (index, rule) in rules.rules().iter().enumerate() {
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
        for group in [&rule.keywords, &rule.and_keywords] {
            for keyword in group {
                let shadow = group.iter().find(|other| {
                    *other != keyword
                        && if other.len() > super::WORD_START_MAX_LEN {
                            keyword.contains(other.as_str())
                        } else {
                            keyword.starts_with(other.as_str())
                        }
                });
                if let Some(other) = shadow {
                    push(
                        false,
                        format!(
                            "keyword `{keyword}` is redundant: `{other}` already selects the rule"
                        ),
                    );
                }
            }
        }
        for example in &rule.examples.matches {
            let groups = rules.keyword_groups(index, example);
            if groups & 1 == 0 {
                push(
                    true,
                    format!(
                        "match example {example:?} contains none of the keywords, so the prefilter never selects the rule for it"
                    ),
                );
            } else if !rule.and_keywords.is_empty() && groups & 2 == 0 {
                push(
                    true,
                    format!(
                        "match example {example:?} contains none of the and_keywords, so the prefilter never selects the rule for it"
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

/// What one rule cost over a corpus (`palisade rules profile`).
#[derive(Debug, Clone, Default)]
pub struct RuleCost {
    pub rule_id: String,
    /// Leaves (and views) on which the prefilter selected the rule.
    pub candidates: u64,
    /// Of those, how many the rule matched.
    pub matches: u64,
    /// Time spent in the rule's regexes.
    pub nanos: u64,
}

/// Where detection time goes on a corpus, rule by rule.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Text leaves scanned, and their bytes.
    pub leaves: u64,
    pub bytes: u64,
    /// Views (normalized or decoded text) scanned in addition to the leaves.
    pub views: u64,
    /// Time in candidate selection (keyword automaton, RegexSet, signal gates).
    pub select_nanos: u64,
    /// Time building normalized and decoded views.
    pub views_nanos: u64,
    /// One entry per rule, costliest first.
    pub rules: Vec<RuleCost>,
    /// Keywords by the share of leaves they occur in, most frequent first.
    pub keywords: Vec<(String, u64)>,
}

impl Profile {
    /// Total time in rule regexes.
    pub fn regex_nanos(&self) -> u64 {
        self.rules.iter().map(|r| r.nanos).sum()
    }

    /// A table for humans: the costliest `top` rules and most frequent keywords.
    pub fn render(&self, top: usize) -> String {
        use std::fmt::Write as _;
        let per_leaf = |nanos: u64| nanos as f64 / 1e3 / self.leaves.max(1) as f64;
        let share = |n: u64| 100.0 * n as f64 / self.leaves.max(1) as f64;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} text leaves ({:.0} bytes avg), {} extra views; µs per leaf: selection {:.2}, views {:.2}, rule regexes {:.2}",
            self.leaves,
            self.bytes as f64 / self.leaves.max(1) as f64,
            self.views,
            per_leaf(self.select_nanos),
            per_leaf(self.views_nanos),
            per_leaf(self.regex_nanos()),
        );
        let _ = writeln!(
            s,
            "\n{:<24} {:>12} {:>10} {:>12}",
            "rule", "candidate %", "match %", "µs/leaf"
        );
        for r in self.rules.iter().take(top) {
            let _ = writeln!(
                s,
                "{:<24} {:>11.2}% {:>9.2}% {:>12.3}",
                r.rule_id,
                share(r.candidates),
                share(r.matches),
                per_leaf(r.nanos)
            );
        }
        let _ = writeln!(s, "\n{:<32} {:>10}", "keyword", "in leaves");
        for (keyword, n) in self.keywords.iter().take(top) {
            let _ = writeln!(s, "{:<32} {:>9.2}%", format!("{keyword:?}"), share(*n));
        }
        let _ = writeln!(
            s,
            "\nA rule selected on many leaves but matching few pays its regex for nothing: give it\n\
             more distinctive keywords (phrases, not common words) or an `only_if` signal."
        );
        s
    }
}

/// Runs the engine's own selection and rule evaluation over `leaves`, timing each rule.
/// Findings are the same as [`Detector::scan`]'s; only the bookkeeping differs.
pub fn profile<'a>(
    rules: &RuleSet,
    leaves: impl IntoIterator<Item = (FieldKind, &'a str)>,
) -> Profile {
    use std::time::Instant;
    let mut costs: Vec<RuleCost> = rules
        .rules()
        .iter()
        .map(|r| RuleCost { rule_id: r.id.to_string(), ..RuleCost::default() })
        .collect();
    let mut keyword_leaves = vec![0u64; rules.keyword_count()];
    let mut seen_keywords: Vec<usize> = Vec::new();
    let mut lower: Vec<u8> = Vec::new();
    let mut scratch = Scratch::default();
    let mut findings = Vec::new();
    let mut p = Profile::default();
    let mut run =
        |text: &str, kind: FieldKind, signals: u8, p: &mut Profile, scratch: &mut Scratch| {
            let started = Instant::now();
            rules.select(text, signals, scratch);
            p.select_nanos += started.elapsed().as_nanos() as u64;
            let bit = super::rules::field_bit(kind);
            for &index in &scratch.candidates {
                let rule = &rules.rules()[index as usize];
                if rule.applies_to & bit == 0 || (rule.only_if != 0 && rule.only_if & signals == 0)
                {
                    continue;
                }
                let started = Instant::now();
                findings.clear();
                let matched = super::evaluate(rule, kind.as_str(), text, &mut findings);
                let cost = &mut costs[index as usize];
                cost.nanos += started.elapsed().as_nanos() as u64;
                cost.candidates += 1;
                cost.matches += u64::from(matched);
            }
        };
    for (kind, text) in leaves {
        if text.is_empty() {
            continue;
        }
        p.leaves += 1;
        p.bytes += text.len() as u64;
        seen_keywords.clear();
        rules.scanner.scan(text.as_bytes(), &mut lower, |pattern, _| {
            let k = pattern as usize;
            if !seen_keywords.contains(&k) {
                seen_keywords.push(k);
                keyword_leaves[k] += 1;
            }
        });
        let started = Instant::now();
        let signals = super::normalize::signals(text);
        let views = super::normalize::views_with(text, signals);
        p.views_nanos += started.elapsed().as_nanos() as u64;
        let bits = signals.bits();
        run(text, kind, bits, &mut p, &mut scratch);
        for view in &views {
            p.views += 1;
            run(&view.text, kind, bits, &mut p, &mut scratch);
        }
    }
    costs.sort_by(|a, b| b.nanos.cmp(&a.nanos).then_with(|| a.rule_id.cmp(&b.rule_id)));
    p.rules = costs;
    let names = rules.keyword_names();
    let mut keywords: Vec<(String, u64)> =
        names.into_iter().zip(keyword_leaves).filter(|(_, n)| *n > 0).collect();
    keywords.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    p.keywords = keywords;
    p
}
