//! Redaction policies end to end through the binary: golden outputs per shipped policy, and
//! the leak test — 10,000 generated events with planted PII through the file pipeline, every
//! output and the debug logs searched for every planted value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;

/// The HMAC key the golden `gdpr_strict` output was made with (test-only).
const GOLDEN_KEY: &str = "golden-test-key-0123456789";

fn redacted_prompts(policy: &str, key: Option<&str>) -> Result<Vec<String>, String> {
    let mut cmd = palisade();
    cmd.args(["analyze", "--quiet", "--policy", policy, "-i", "tests/golden/pii/input.jsonl"]);
    match key {
        Some(k) => cmd.env("PALISADE_PII_KEY", k),
        None => cmd.env_remove("PALISADE_PII_KEY"),
    };
    let out = run(&mut cmd);
    if !out.status.success() {
        return Err(stderr(&out));
    }
    Ok(String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["redacted"]["prompt"].as_str().unwrap().to_owned()
        })
        .collect())
}

/// Each shipped policy turns `tests/golden/pii/input.jsonl` into exactly
/// `tests/golden/pii/<policy>.txt` (one redacted prompt per line).
#[test]
fn every_policy_matches_its_golden_output() {
    for policy in ["default_pii", "pci_dss", "hipaa_phi", "gdpr_strict"] {
        let got = redacted_prompts(policy, Some(GOLDEN_KEY)).unwrap();
        let want =
            std::fs::read_to_string(root().join(format!("tests/golden/pii/{policy}.txt"))).unwrap();
        let want: Vec<&str> = want.lines().collect();
        assert_eq!(got.len(), want.len(), "{policy}: line count");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{policy}: line {} differs", i + 1);
        }
    }
}

#[test]
fn policies_differ_where_the_regulations_do() {
    let pci = redacted_prompts("pci_dss", None).unwrap();
    // PAN truncated to BIN + last four, CVV gone entirely, test PAN allowlisted.
    assert!(pci[1].contains("453914…6467") && !pci[1].contains("123,"), "{}", pci[1]);
    assert!(pci[6].contains("4111 1111 1111 1111") && pci[6].contains("550000…5559"));
    let hipaa = redacted_prompts("hipaa_phi", None).unwrap();
    // Names, every date, ages over 89, ZIP beyond three digits.
    assert!(!hipaa[2].contains("John Smith") && !hipaa[2].contains("2024-03-12"), "{}", hipaa[2]);
    assert!(hipaa[2].contains("[AGE_1]") && hipaa[1].contains("IL 62700"), "{hipaa:?}");
    let default = redacted_prompts("default_pii", None).unwrap();
    assert!(default[2].contains("2024-03-12") && default[2].contains("age 93"));
}

#[test]
fn a_policy_that_hashes_refuses_to_start_without_its_key_and_never_prints_it() {
    let err = redacted_prompts("gdpr_strict", None).unwrap_err();
    assert!(err.contains("PALISADE_PII_KEY") && err.contains("not set"), "{err}");
    let err = redacted_prompts("gdpr_strict", Some("short")).unwrap_err();
    assert!(err.contains("at least 16 bytes") && !err.contains("short\n"), "{err}");
    let a = redacted_prompts("gdpr_strict", Some(GOLDEN_KEY)).unwrap();
    let b = redacted_prompts("gdpr_strict", Some("another-key-0123456789abcdef")).unwrap();
    assert_ne!(a[0], b[0], "the digest depends on the key");
    assert!(!a.concat().contains(GOLDEN_KEY));
}

/// Issue 5's leak test: 10,000 generated events with planted PII of several types through
/// the file pipeline with debug logging; no planted value appears in any output or log line.
#[test]
fn ten_thousand_events_leak_no_planted_value_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let (traffic, truth) = generate(dir.path(), 10_000, 2026);
    let out = dir.path().join("out");
    let pipeline = file_pipeline(dir.path(), &traffic, &out, "", "");
    let run_out = run(palisade().env("RUST_LOG", "debug").args([
        "run",
        "--pipeline",
        pipeline.to_str().unwrap(),
    ]));
    let mut logs = stderr(&run_out);
    logs.push_str(&String::from_utf8_lossy(&run_out.stdout));
    assert!(run_out.status.success(), "{logs}");
    assert!(logs.lines().count() > 5, "debug logging produced output");

    let outputs: Vec<(String, String)> = ["redacted.jsonl", "alerts.jsonl", "deadletter.jsonl"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read_to_string(out.join(f)).unwrap_or_default()))
        .chain([("logs".to_string(), logs)])
        .collect();
    assert!(outputs[0].1.lines().count() == 10_000, "every event reaches the redacted output");

    let mut planted: BTreeMap<String, usize> = BTreeMap::new();
    for t in read_jsonl(&truth) {
        for p in t["pii"].as_array().unwrap() {
            let value = p["value"].as_str().unwrap();
            *planted.entry(p["type"].as_str().unwrap().to_owned()).or_default() += 1;
            // The value as written, and digits-only for numbers written with separators.
            let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            for (name, text) in &outputs {
                assert!(!text.contains(value), "planted {} leaked into {name}", p["type"]);
                assert!(
                    compact.len() < 8 || !text.contains(&compact),
                    "planted {} leaked (compacted) into {name}",
                    p["type"]
                );
            }
        }
    }
    for kind in
        ["email", "phone", "us_ssn", "credit_card", "ip_address", "iban", "aws_access_key_id"]
    {
        assert!(planted.get(kind).copied().unwrap_or(0) >= 20, "too few {kind}: {planted:?}");
    }
}
