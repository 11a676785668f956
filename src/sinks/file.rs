//! NDJSON to a file or standard output.
//!
//! Durability: records are buffered and written; acknowledgements are held until the file
//! is flushed and (by default) `fsync`ed, which happens whenever no more input is waiting
//! (group commit), every `flush_interval`, every `max_unflushed_batches` batches, and at
//! shutdown.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{RecordKind, SinkSpec};
use crate::pipeline::{BuildContext, BuildError, duration};
use crate::runtime::{
    Ack, Batch, BoxFuture, Payload, RuntimeError, Sink, SinkContext, SinkReport, fail_pending,
};

/// `type = "file"`: newline-delimited JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// Sources or stages to read.
    pub inputs: Vec<String>,
    /// Which records to write: any of `interactions`, `telemetry`, `alerts`, `dead_letters`.
    pub records: Vec<RecordKind>,
    /// File to write (parent directories are created), or `-` for standard output.
    pub path: String,
    /// Append to an existing file instead of replacing it.
    #[serde(default)]
    pub append: bool,
    /// Write interactions even if no `redact` stage is upstream.
    #[serde(default)]
    pub allow_raw: bool,
    /// Longest time a written record waits before being flushed.
    #[serde(default = "default_flush_interval", with = "duration")]
    pub flush_interval: Duration,
    /// Flush after this many batches even if `flush_interval` has not passed.
    #[serde(default = "default_max_unflushed")]
    pub max_unflushed_batches: usize,
    /// `fsync` the file on every flush (durable across power loss, slower).
    #[serde(default = "default_true")]
    pub fsync: bool,
    /// Flush as soon as no more input is waiting (group commit). Turning it off batches more
    /// records per flush, but acknowledgements (and so source commits and in-flight
    /// permits) then wait for `flush_interval` or `max_unflushed_batches`.
    #[serde(default = "default_true")]
    pub flush_on_idle: bool,
}

fn default_flush_interval() -> Duration {
    Duration::from_millis(200)
}

fn default_max_unflushed() -> usize {
    64
}

fn default_true() -> bool {
    true
}

impl SinkSpec for FileSinkConfig {
    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn records(&self) -> &[RecordKind] {
        &self.records
    }

    fn allow_raw(&self) -> bool {
        self.allow_raw
    }

    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Sink>, BuildError> {
        if self.records.is_empty() {
            return Err(BuildError::new(
                "records",
                "name at least one of interactions, telemetry, alerts, dead_letters",
            ));
        }
        if self.path.is_empty() {
            return Err(BuildError::new("path", "must name a file, or `-` for standard output"));
        }
        if self.max_unflushed_batches == 0 {
            return Err(BuildError::new("max_unflushed_batches", "must be at least 1"));
        }
        Ok(Box::new(FileSink { config: self.clone() }))
    }
}

struct FileSink {
    config: FileSinkConfig,
}

enum Target {
    File(BufWriter<File>),
    Stdout(BufWriter<std::io::Stdout>),
}

impl Target {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Self::File(w) => w,
            Self::Stdout(w) => w,
        }
    }

    fn flush(&mut self, fsync: bool) -> std::io::Result<()> {
        match self {
            Self::File(w) => {
                w.flush()?;
                if fsync {
                    tokio::task::block_in_place(|| w.get_ref().sync_data())?;
                }
                Ok(())
            }
            Self::Stdout(w) => w.flush(),
        }
    }
}

impl Sink for FileSink {
    fn run(
        self: Box<Self>,
        input: mpsc::Receiver<Batch>,
        cx: SinkContext,
    ) -> BoxFuture<Result<SinkReport, RuntimeError>> {
        Box::pin(async move { self.run_inner(input, cx).await })
    }
}

impl FileSink {
    fn open(&self) -> std::io::Result<Target> {
        if self.config.path == "-" {
            return Ok(Target::Stdout(BufWriter::with_capacity(1 << 16, std::io::stdout())));
        }
        let path = PathBuf::from(&self.config.path);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut options = OpenOptions::new();
        options.create(true);
        if self.config.append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        Ok(Target::File(BufWriter::with_capacity(1 << 20, options.open(&path)?)))
    }

    async fn run_inner(
        self,
        mut input: mpsc::Receiver<Batch>,
        cx: SinkContext,
    ) -> Result<SinkReport, RuntimeError> {
        let name = cx.name.to_string();
        let fail = |message: String| RuntimeError::Sink { name: name.clone(), message };
        let mut target = match self.open() {
            Ok(t) => t,
            Err(e) => {
                fail_pending(&mut input);
                return Err(fail(format!("cannot open {}: {e}", self.config.path)));
            }
        };
        let select = Selection::new(&self.config.records);
        let mut report = SinkReport { name: name.clone(), written: BTreeMap::new() };
        let mut pending: Vec<Ack> = Vec::new();
        let mut unflushed_since: Option<Instant> = None;
        let mut line = Vec::with_capacity(4096);
        let mut counted: BTreeMap<&'static str, u64> = BTreeMap::new();

        loop {
            let deadline = unflushed_since.map(|t| t + self.config.flush_interval);
            let flush_now = tokio::select! {
                biased;
                next = input.recv() => match next {
                    Some(batch) => {
                        if let Err(e) = write_batch(&batch, &select, target.writer(), &mut line, &mut report) {
                            batch.fail();
                            fail_acks(&mut pending);
                            fail_pending(&mut input);
                            return Err(fail(format!("write to {} failed: {e}", self.config.path)));
                        }
                        pending.extend(batch.ack);
                        unflushed_since.get_or_insert_with(Instant::now);
                        pending.len() >= self.config.max_unflushed_batches
                            || (self.config.flush_on_idle && input.is_empty())
                    }
                    None => break,
                },
                () = sleep_until(deadline) => true,
            };
            if flush_now {
                if let Err(e) = target.flush(self.config.fsync) {
                    fail_acks(&mut pending);
                    fail_pending(&mut input);
                    return Err(fail(format!("flush of {} failed: {e}", self.config.path)));
                }
                pending.clear(); // durable: release the acknowledgements
                unflushed_since = None;
                count_durable(&report, &mut counted);
            }
        }
        if let Err(e) = target.flush(self.config.fsync) {
            fail_acks(&mut pending);
            return Err(fail(format!("final flush of {} failed: {e}", self.config.path)));
        }
        count_durable(&report, &mut counted);
        drop(pending);
        Ok(report)
    }
}

/// Adds what became durable since the last flush to the process counters.
fn count_durable(report: &SinkReport, counted: &mut BTreeMap<&'static str, u64>) {
    let delta: Vec<(&'static str, u64)> = report
        .written
        .iter()
        .map(|(k, v)| (*k, v - counted.get(k).copied().unwrap_or(0)))
        .collect();
    crate::metrics::counters().add_written(&delta);
    counted.clone_from(&report.written);
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn fail_acks(pending: &mut Vec<Ack>) {
    for ack in pending.drain(..) {
        ack.fail();
    }
}

struct Selection {
    interactions: bool,
    telemetry: bool,
    alerts: bool,
    dead_letters: bool,
}

impl Selection {
    fn new(records: &[RecordKind]) -> Self {
        Self {
            interactions: records.contains(&RecordKind::Interactions),
            telemetry: records.contains(&RecordKind::Telemetry),
            alerts: records.contains(&RecordKind::Alerts),
            dead_letters: records.contains(&RecordKind::DeadLetters),
        }
    }
}

fn write_batch(
    batch: &Batch,
    select: &Selection,
    out: &mut dyn Write,
    line: &mut Vec<u8>,
    report: &mut SinkReport,
) -> std::io::Result<()> {
    let mut put = |value: &dyn erased::Json, kind: &'static str| -> std::io::Result<()> {
        line.clear();
        value.write_json(line)?;
        line.push(b'\n');
        out.write_all(line)?;
        *report.written.entry(kind).or_default() += 1;
        Ok(())
    };
    for envelope in &batch.events {
        match &envelope.payload {
            Payload::Interaction(e) if select.interactions => put(&**e, "interactions")?,
            Payload::Telemetry(t) if select.telemetry => put(&**t, "telemetry")?,
            Payload::DeadLetter(d) if select.dead_letters => put(&**d, "dead_letters")?,
            _ => {}
        }
        if select.alerts {
            for alert in &envelope.alerts {
                put(alert, "alerts")?;
            }
        }
    }
    Ok(())
}

mod erased {
    /// Object-safe JSON serialization of the record types.
    pub trait Json {
        fn write_json(&self, out: &mut Vec<u8>) -> std::io::Result<()>;
    }

    impl<T: serde::Serialize> Json for T {
        fn write_json(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
            serde_json::to_writer(out, self).map_err(std::io::Error::other)
        }
    }
}
