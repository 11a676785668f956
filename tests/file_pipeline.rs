//! The file pipeline end to end, through the real binary: consistency with `analyze`, no PII
//! leaks, malformed input, graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::*;

fn ids(values: &[serde_json::Value], key: &str) -> BTreeSet<String> {
    values.iter().map(|v| v[key].as_str().unwrap().to_owned()).collect()
}

#[test]
fn alerts_match_analyze_and_every_event_is_redacted_without_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let (traffic, truth) = generate(dir.path(), 3000, 7);
    let out = dir.path().join("out");
    let pipeline = file_pipeline(dir.path(), &traffic, &out, "", "");
    let run_out = run(palisade().args(["run", "--pipeline", pipeline.to_str().unwrap()]));
    let logs = stderr(&run_out);
    assert!(run_out.status.success(), "{logs}");

    let redacted = read_jsonl(&out.join("redacted.jsonl"));
    let inputs = read_jsonl(&traffic);
    assert_eq!(
        ids(&redacted, "event_id"),
        ids(&inputs, "event_id"),
        "every event reaches the redacted output"
    );

    let analyzed = dir.path().join("analyzed.jsonl");
    let a = run(palisade().args([
        "analyze",
        "--quiet",
        "-i",
        traffic.to_str().unwrap(),
        "-o",
        analyzed.to_str().unwrap(),
    ]));
    assert!(a.status.success(), "{}", stderr(&a));
    let threats: BTreeSet<String> = read_jsonl(&analyzed)
        .iter()
        .filter(|v| v["is_threat"] == true)
        .map(|v| v["event_id"].as_str().unwrap().to_owned())
        .collect();
    let alerts = read_jsonl(&out.join("alerts.jsonl"));
    assert!(!alerts.is_empty());
    assert_eq!(ids(&alerts, "source_event_id"), threats, "pipeline alerts equal analyze's threats");
    for alert in &alerts {
        for evidence in alert["evidence"].as_array().unwrap() {
            assert!(
                evidence["excerpt"].is_string(),
                "alert evidence carries a redacted excerpt: {alert}"
            );
        }
    }

    let truth = read_jsonl(&truth);
    let outputs = [
        std::fs::read_to_string(out.join("redacted.jsonl")).unwrap(),
        std::fs::read_to_string(out.join("alerts.jsonl")).unwrap(),
        logs,
    ];
    let mut planted = 0;
    for t in &truth {
        for p in t["pii"].as_array().unwrap() {
            planted += 1;
            let value = p["value"].as_str().unwrap();
            for output in &outputs {
                assert!(!output.contains(value), "planted {} leaked: {value}", p["type"]);
            }
        }
    }
    assert!(planted > 300, "the corpus plants PII ({planted})");
}

#[test]
fn malformed_lines_become_dead_letters_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (traffic, _) = generate(dir.path(), 50, 3);
    let good: Vec<String> =
        std::fs::read_to_string(&traffic).unwrap().lines().map(str::to_owned).collect();
    let secret = "victim@example.com";
    let mut input: Vec<u8> = Vec::new();
    let mut bad_lines = Vec::new();
    let mut line_no = 0;
    let mut push = |bytes: &[u8], bad: Option<&'static str>, input: &mut Vec<u8>| {
        line_no += 1;
        input.extend_from_slice(bytes);
        input.push(b'\n');
        if let Some(class) = bad {
            bad_lines.push((line_no, class, bytes.to_vec()));
        }
    };
    for (i, line) in good.iter().enumerate() {
        push(line.as_bytes(), None, &mut input);
        match i {
            5 => push(b"{\"event_id\": \"x\", \"prompt\": ", Some("bad_json"), &mut input),
            10 => push(
                format!(r#"{{"event_id":"w","ts":"2026-11-22T10:00:00Z","agent_id":"a","session_id":"s","prompt":"hi","turn":"{secret}"}}"#).as_bytes(),
                Some("bad_field"),
                &mut input,
            ),
            15 => push(format!(r#"{{"event_id":"big","prompt":"{}"}}"#, "A".repeat(10_000)).as_bytes(), Some("oversize"), &mut input),
            20 => push(b"{\"event_id\":\"\xff\xfe\"}", Some("not_utf8"), &mut input),
            25 => push(b"", None, &mut input),
            30 => push(b"[1,2,3]", Some("bad_json"), &mut input),
            35 => push(br#"{"ts":"2026-11-22T10:00:00Z","agent_id":"a","session_id":"s","prompt":"hi"}"#, Some("missing_field"), &mut input),
            _ => {}
        }
    }
    let path = dir.path().join("mixed.jsonl");
    std::fs::write(&path, &input).unwrap();
    let out = dir.path().join("out");
    let pipeline = file_pipeline(dir.path(), &path, &out, "", "");
    let result = run(palisade().args(["run", "--pipeline", pipeline.to_str().unwrap()]));
    let logs = stderr(&result);
    assert!(result.status.success(), "{logs}");
    assert!(!logs.contains(secret), "the offending value never reaches logs");

    let redacted = read_jsonl(&out.join("redacted.jsonl"));
    assert_eq!(redacted.len(), good.len(), "every valid event is processed");
    let dead = read_jsonl(&out.join("deadletter.jsonl"));
    assert_eq!(dead.len(), bad_lines.len());
    for (letter, (line, class, bytes)) in dead.iter().zip(&bad_lines) {
        assert_eq!(letter["line"], *line, "{letter}");
        assert_eq!(letter["error"], *class, "{letter}");
        assert_eq!(letter["source"], "in");
        let reason = letter["reason"].as_str().unwrap();
        assert!(!reason.is_empty() && !reason.contains(secret), "{reason}");
        let original = base64::engine::general_purpose::STANDARD
            .decode(letter["original"].as_str().unwrap())
            .unwrap();
        if *class == "oversize" {
            assert!(bytes.starts_with(&original) && original.len() < bytes.len());
        } else {
            assert_eq!(&original, bytes, "dead letter keeps the original bytes");
        }
    }
    assert!(dead[1]["reason"].as_str().unwrap().contains("`turn`"), "{}", dead[1]);
}

#[test]
fn sigterm_drains_and_flushes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let (traffic, _) = generate(dir.path(), 500, 11);
    let all: Vec<String> =
        std::fs::read_to_string(&traffic).unwrap().lines().map(str::to_owned).collect();
    let input = dir.path().join("growing.jsonl");
    std::fs::write(&input, all[..300].join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    // Sinks never flush on their own: only shutdown makes the output appear.
    let pipeline = file_pipeline(
        dir.path(),
        &input,
        &out,
        "follow = true",
        "flush_interval = \"1h\"\nmax_unflushed_batches = 100000\nflush_on_idle = false\nfsync = false",
    );
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
    let waiting_at = |n: usize| {
        let logs = logs.clone();
        move || {
            let l = logs.lock().unwrap();
            l.lines().any(|line| {
                line.contains("waiting for more") && line.contains(&format!("lines={n}"))
            })
        }
    };
    wait_until(Duration::from_secs(60), "the source to reach the end of the file", waiting_at(300));
    // Follow mode picks up appended lines.
    let mut file = std::fs::OpenOptions::new().append(true).open(&input).unwrap();
    file.write_all((all[300..].join("\n") + "\n").as_bytes()).unwrap();
    drop(file);
    wait_until(Duration::from_secs(60), "the source to read the appended lines", waiting_at(500));
    let size = |name: &str| std::fs::metadata(out.join(name)).map(|m| m.len()).unwrap_or(0);
    assert_eq!(size("redacted.jsonl"), 0, "nothing is flushed before shutdown");

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exit = None;
    wait_until(Duration::from_secs(60), "the process to exit after SIGTERM", || {
        exit = child.0.try_wait().unwrap();
        exit.is_some()
    });
    reader.join().unwrap();
    let logs = logs.lock().unwrap().clone();
    assert!(exit.unwrap().success(), "exit status {exit:?}\n{logs}");
    let redacted = read_jsonl(&out.join("redacted.jsonl"));
    assert_eq!(redacted.len(), 500, "{logs}");
    let expected: BTreeSet<String> = all
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids(&redacted, "event_id"), expected);
    assert!(!read_jsonl(&out.join("alerts.jsonl")).is_empty(), "alerts were flushed too");
    assert!(logs.contains("committed_through_line=500"), "{logs}");
}

#[test]
fn validate_accepts_shipped_pipelines_and_names_file_and_key_on_error() {
    for entry in std::fs::read_dir(root().join("pipelines")).unwrap() {
        let path = entry.unwrap().path();
        let out = run(palisade().arg("validate").arg(&path));
        assert!(out.status.success(), "{}: {}", path.display(), stderr(&out));
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(root().join("pipelines/file.toml"))
        .unwrap()
        .replace("inputs = [\"detect\"]", "inputs = [\"detcet\"]");
    std::fs::write(&bad, text).unwrap();
    let out = run(palisade().arg("validate").arg(&bad));
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        message.contains(bad.to_str().unwrap())
            && message.contains("stages.redact.inputs")
            && message.contains("detcet"),
        "{message}"
    );
}
