//! Shared helpers for integration tests: run the real `palisade` binary from the project
//! root (so `rules/` and `pipelines/` resolve as they do for users), generate traffic, and
//! wait on conditions instead of sleeping.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `palisade` command running in the project root.
pub fn palisade() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.current_dir(root());
    cmd.env_remove("RUST_LOG").env("PALISADE_LOG_FORMAT", "text");
    cmd
}

/// Runs a command and returns its output, panicking with stderr if it could not start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("palisade binary runs")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Generates `events` interactions (and ground truth) into `dir`.
pub fn generate(dir: &Path, events: u64, seed: u64) -> (PathBuf, PathBuf) {
    let traffic = dir.join("traffic.jsonl");
    let truth = dir.join("truth.jsonl");
    let out = run(palisade()
        .args(["generate", "--events", &events.to_string(), "--seed", &seed.to_string()])
        .args(["--output", traffic.to_str().unwrap(), "--truth", truth.to_str().unwrap()]));
    assert!(out.status.success(), "generate failed: {}", stderr(&out));
    (traffic, truth)
}

/// Reads a JSONL file into values.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes a pipeline file that reads `input` and writes alerts, redacted events and dead
/// letters under `out`; `extra_source` / `extra_sink` are appended to the source table and
/// to every sink table.
pub fn file_pipeline(
    dir: &Path,
    input: &Path,
    out: &Path,
    extra_source: &str,
    extra_sink: &str,
) -> PathBuf {
    let text = format!(
        r#"name = "test"
[settings]
batch_size = 64
workers = 2
max_event_bytes = 4096

[sources.in]
type = "file"
path = "{input}"
{extra_source}

[stages.detect]
type = "detect"
inputs = ["in"]

[stages.redact]
type = "redact"
inputs = ["detect"]

[sinks.alerts]
type = "file"
inputs = ["redact"]
records = ["alerts"]
path = "{out}/alerts.jsonl"
{extra_sink}

[sinks.redacted]
type = "file"
inputs = ["redact"]
records = ["interactions"]
path = "{out}/redacted.jsonl"
{extra_sink}

[sinks.dead]
type = "file"
inputs = ["in"]
records = ["dead_letters"]
path = "{out}/deadletter.jsonl"
{extra_sink}
"#,
        input = input.display(),
        out = out.display(),
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Kills the child process when dropped, so a failing test never leaves it running.
pub struct ChildGuard(pub std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub mod kafka;
