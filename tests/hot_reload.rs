//! Rules swapped mid-stream: the running pipeline picks up a new rule file between
//! batches, keeps the old rules when a file is broken, and processes every event once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

fn canary_line(i: usize) -> String {
    serde_json::json!({"event_id": format!("canary-{i}"), "ts": "2026-11-22T10:00:00Z", "agent_id": "a",
        "session_id": format!("canary-session-{i}"), "prompt": format!("status report {i}: zebra-canary-42")})
    .to_string()
}

fn append(path: &std::path::Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
}

#[test]
fn rules_reload_mid_stream_without_losing_or_repeating_events() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    for entry in std::fs::read_dir(root().join("rules/detection")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, rules.join(path.file_name().unwrap())).unwrap();
    }
    let (traffic, _) = generate(dir.path(), 200, 21);
    let input = dir.path().join("input.jsonl");
    std::fs::copy(&traffic, &input).unwrap();
    let out = dir.path().join("out");
    let pipeline = dir.path().join("pipeline.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"name = "reload"
[settings]
batch_size = 32
workers = 2
[sources.in]
type = "file"
path = "{input}"
follow = true
[stages.detect]
type = "detect"
inputs = ["in"]
rules = "{rules}"
reload_interval = "100ms"
[stages.redact]
type = "redact"
inputs = ["detect"]
[sinks.alerts]
type = "file"
inputs = ["redact"]
records = ["alerts"]
path = "{out}/alerts.jsonl"
[sinks.redacted]
type = "file"
inputs = ["redact"]
records = ["interactions"]
path = "{out}/redacted.jsonl"
"#,
            input = input.display(),
            rules = rules.display(),
            out = out.display()
        ),
    )
    .unwrap();
    let mut child = ChildGuard(
        palisade()
            .args(["run", "--pipeline", pipeline.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let logs = Arc::new(Mutex::new(String::new()));
    let reader = {
        let logs = logs.clone();
        let stderr = child.0.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = logs.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        })
    };
    let saw = |needle: String| {
        let logs = logs.clone();
        move || logs.lock().unwrap().lines().any(|l| l.contains(&needle))
    };
    let count = |needle: &str| logs.lock().unwrap().lines().filter(|l| l.contains(needle)).count();
    wait_until(Duration::from_secs(60), "the first 200 lines", saw("lines=200".into()));

    // A new pack: picked up by the watcher.
    std::fs::write(
        rules.join("zz-canary.yaml"),
        "name: canary\nversion: '1'\nrules:\n  - id: CANARY-1\n    category: data_exfiltration\n    risk_score: 90\n    keywords: [zebra-canary]\n    pattern: 'zebra-canary-\\d+'\n    description: test rule\n",
    )
    .unwrap();
    wait_until(
        Duration::from_secs(30),
        "the rules to reload",
        saw("detection rules reloaded".into()),
    );
    append(&input, &(0..100).map(canary_line).collect::<Vec<_>>());
    wait_until(Duration::from_secs(60), "the canary lines", saw("lines=300".into()));

    // A broken file: the canary rule stays in force.
    std::fs::write(
        rules.join("zz-broken.yaml"),
        "name: broken\nversion: '1'\nrules:\n  - id: [oops\n",
    )
    .unwrap();
    wait_until(Duration::from_secs(30), "the failed reload", saw("NOT reloaded".into()));
    append(&input, &(100..150).map(canary_line).collect::<Vec<_>>());
    wait_until(Duration::from_secs(60), "the last lines", saw("lines=350".into()));

    let pid = child.0.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.0.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success(), "{}", logs.lock().unwrap());
    assert_eq!(count("detection rules reloaded"), 1);

    let redacted = read_jsonl(&out.join("redacted.jsonl"));
    let ids: BTreeSet<&str> = redacted.iter().map(|v| v["event_id"].as_str().unwrap()).collect();
    assert_eq!(redacted.len(), 350, "every event exactly once");
    assert_eq!(ids.len(), 350);

    let alerts = read_jsonl(&out.join("alerts.jsonl"));
    let canary: Vec<_> = alerts
        .iter()
        .filter(|a| a["rule_ids"].as_array().unwrap().iter().any(|r| r == "CANARY-1"))
        .collect();
    assert_eq!(canary.len(), 150, "every event after the reload is scanned by the new rules");
    assert!(canary.iter().all(|a| a["source_event_id"].as_str().unwrap().starts_with("canary-")));
    let versions: BTreeSet<&str> =
        alerts.iter().map(|a| a["rules_version"].as_str().unwrap()).collect();
    assert_eq!(
        versions.len(),
        2,
        "alerts before and after the reload carry different rule versions"
    );
}
