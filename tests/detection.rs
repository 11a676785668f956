//! The shipped detection rules: they compile cleanly, their embedded examples behave, and
//! they catch each attack family while staying quiet on benign look-alikes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use palisade::detect::check::{lint, test_examples};
use palisade::detect::{Detector, RuleSet, Scratch};
use palisade::fields::FieldKind;

fn shipped() -> Arc<RuleSet> {
    Arc::new(RuleSet::load(&common::root().join("rules/detection")).unwrap())
}

#[test]
fn shipped_rules_lint_clean_and_their_examples_pass() {
    let rules = shipped();
    let issues = lint(&rules);
    assert!(issues.is_empty(), "lint: {issues:#?}");
    let (run, failures) = test_examples(&rules);
    assert!(run >= 40, "only {run} examples");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn starter_rules_catch_every_family_and_pass_benign_lookalikes() {
    let detector = Detector::new(shipped());
    let mut scratch = Scratch::default();
    let data =
        std::fs::read_to_string(common::root().join("tests/data/starter_families.jsonl")).unwrap();
    let mut caught_families = BTreeSet::new();
    let mut families = BTreeSet::new();
    for line in data.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = case["text"].as_str().unwrap();
        let kind =
            if case["field"] == "response" { FieldKind::Response } else { FieldKind::Prompt };
        let detection = detector.scan_as(kind, case["field"].as_str().unwrap(), text, &mut scratch);
        let flagged = detection.risk_score >= palisade::analyze::DEFAULT_THRESHOLD;
        let family = case["family"].as_str().unwrap().to_owned();
        if case["label"] == 1 {
            families.insert(family.clone());
            assert!(flagged, "missed {family}: {text:?}");
            caught_families.insert(family);
            for f in &detection.findings {
                assert!(text.is_char_boundary(f.start) && f.end <= text.len() && f.start < f.end);
            }
        } else {
            assert!(!flagged, "false positive ({:?}): {text:?}", detection.rule_ids);
        }
    }
    let expected: BTreeSet<String> = [
        "instruction_override",
        "system_prompt_extraction",
        "role_play_jailbreak",
        "markdown_image_exfiltration",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(caught_families, expected);
}

#[test]
fn duplicate_rule_ids_across_files_are_rejected_naming_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let pack = |name: &str| {
        format!(
            "name: {name}\nversion: '1'\nrules:\n  - id: SAME-1\n    category: jailbreak\n    risk_score: 50\n    pattern: x\n"
        )
    };
    std::fs::write(dir.path().join("a.yaml"), pack("a")).unwrap();
    std::fs::write(dir.path().join("b.yml"), pack("b")).unwrap();
    let err = RuleSet::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("SAME-1") && err.contains("a.yaml") && err.contains("b.yml"), "{err}");
}
