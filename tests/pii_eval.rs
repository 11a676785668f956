//! `palisade eval --pii` on the labeled dev set, through the real binary: the accuracy bar
//! of issue 5, and that the report never prints a labeled value.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;

const DEV_SET: &str = "tests/data/pii_dev.jsonl";

fn eval(extra: &[&str]) -> std::process::Output {
    run(palisade().args(["eval", "--pii", DEV_SET]).args(extra))
}

fn rate(report: &Value, entity: &str, metric: &str) -> f64 {
    report["types"][entity][metric]
        .as_f64()
        .unwrap_or_else(|| panic!("{entity}.{metric} missing: {}", report["types"][entity]))
}

#[test]
fn dev_set_meets_the_accuracy_bar() {
    let out = eval(&["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["policy"], "default_pii");
    let mut failures = Vec::new();
    let mut check = |entity: &str, metric: &str, floor: f64| {
        let value = rate(&report, entity, metric);
        if value < floor {
            failures.push(format!("{entity} {metric} {value:.4} < {floor}"));
        }
    };
    for entity in ["credit_card", "iban", "us_ssn", "us_bank_routing"] {
        check(entity, "recall", 0.99);
        check(entity, "precision", 0.98);
    }
    for entity in ["email", "phone", "ip_address"] {
        check(entity, "f2", 0.95);
    }
    for entity in [
        "aws_access_key_id",
        "github_token",
        "gitlab_token",
        "slack_token",
        "stripe_key",
        "openai_key",
        "jwt",
        "private_key",
    ] {
        check(entity, "recall", 0.99);
    }
    assert!(failures.is_empty(), "{failures:#?}\nleaks: {}", report["leaks"]);
}

#[test]
fn the_report_never_prints_a_labeled_value() {
    let text = std::fs::read_to_string(root().join(DEV_SET)).unwrap();
    let mut values = Vec::new();
    for line in text.lines() {
        let sample: Value = serde_json::from_str(line).unwrap();
        let text = sample["text"].as_str().unwrap();
        for span in sample["spans"].as_array().unwrap() {
            let (start, end) =
                (span["start"].as_u64().unwrap() as usize, span["end"].as_u64().unwrap() as usize);
            values.push(text[start..end].to_owned());
        }
    }
    // Plant a miss so the leak listing is exercised.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.jsonl");
    let line = serde_json::json!({"id": "x", "text": "code name ZEBRA-UNICORN-42 here",
        "spans": [{"type": "generic_secret", "start": 10, "end": 26}]});
    std::fs::write(&path, format!("{line}\n")).unwrap();
    let planted = run(palisade().args(["eval", "--pii", path.to_str().unwrap(), "--json"]));
    let planted: Value = serde_json::from_slice(&planted.stdout).unwrap();
    assert_eq!(planted["leaks"][0]["preview"], "ZE…");
    values.push("ZEBRA-UNICORN-42".to_owned());

    for args in [&[][..], &["--json"][..], &["--misses", "1000"][..]] {
        let out = eval(args);
        assert!(out.status.success(), "{}", stderr(&out));
        let printed = String::from_utf8_lossy(&out.stdout);
        for value in values.iter().filter(|v| v.chars().count() >= 4) {
            assert!(!printed.contains(value.as_str()), "{value} printed with {args:?}");
        }
    }
}

#[test]
fn malformed_datasets_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(
        &path,
        "{\"id\":\"a\",\"text\":\"hi\",\"spans\":[]}\n{\"id\":\"b\",\"text\":\"é\",\"spans\":[{\"type\":\"email\",\"start\":0,\"end\":1}]}\n",
    )
    .unwrap();
    let out = run(palisade().args(["eval", "--pii", path.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    let out = run(palisade().args(["eval", "--pii", DEV_SET, "--policy", "nope"]));
    assert!(!out.status.success());
}
