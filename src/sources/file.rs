//! NDJSON from a file or standard input, one record per line.
//!
//! Lines are acknowledged like Kafka offsets (the line number is the offset), through the
//! same [`OffsetTracker`]: the source reports the last line that every sink made durable.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::{Semaphore, mpsc};

use super::{SourceSpec, decode_record, file_origin};
use crate::event::EventKind;
use crate::pipeline::{BuildContext, BuildError, Flow};
use crate::runtime::{
    Ack, Batch, BoxFuture, Envelope, OffsetTracker, RuntimeError, Source, SourceContext,
    SourceReport,
};

/// `type = "file"`: newline-delimited JSON records.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// File to read, or `-` for standard input.
    pub path: String,
    /// What each line holds: `interaction` (default) or `telemetry`.
    #[serde(default = "default_kind")]
    pub kind: EventKind,
    /// At the end of the file, wait for more lines (like `tail -f`) until shutdown.
    #[serde(default)]
    pub follow: bool,
}

fn default_kind() -> EventKind {
    EventKind::Interaction
}

impl SourceSpec for FileSourceConfig {
    fn flow(&self) -> Flow {
        Flow {
            interactions: self.kind == EventKind::Interaction,
            telemetry: self.kind == EventKind::Telemetry,
            alerts: false,
            redacted: false,
        }
    }

    fn build(&self, _cx: &BuildContext) -> Result<Box<dyn Source>, BuildError> {
        if self.path.is_empty() {
            return Err(BuildError::new("path", "must name a file, or `-` for standard input"));
        }
        if self.follow && self.path == "-" {
            return Err(BuildError::new(
                "follow",
                "standard input is always followed; set `follow` only for files",
            ));
        }
        Ok(Box::new(FileSource { config: self.clone() }))
    }
}

struct FileSource {
    config: FileSourceConfig,
}

/// Lines read by the reader thread: `(first_line, last_line, envelopes)`.
type ReadBatch = (i64, i64, Vec<Envelope>);

impl Source for FileSource {
    fn run(self: Box<Self>, cx: SourceContext) -> BoxFuture<Result<SourceReport, RuntimeError>> {
        Box::pin(async move { self.run_inner(cx).await })
    }
}

impl FileSource {
    async fn run_inner(self, cx: SourceContext) -> Result<SourceReport, RuntimeError> {
        let name = cx.name.to_string();
        let fail = |message: String| RuntimeError::Source { name: name.clone(), message };
        let reader: Box<dyn Read + Send> = if self.config.path == "-" {
            Box::new(std::io::stdin())
        } else {
            let path = PathBuf::from(&self.config.path);
            let file = std::fs::File::open(&path).map_err(|e| {
                fail(format!(
                    "cannot open input file {}: {e} (check `path` in the pipeline file)",
                    path.display()
                ))
            })?;
            Box::new(file)
        };

        let (batch_tx, mut batch_rx) = mpsc::channel::<ReadBatch>(2);
        let reader_cx = ReaderCx {
            source: cx.name.clone(),
            path: Arc::from(self.config.path.as_str()),
            kind: self.config.kind,
            follow: self.config.follow,
            batch_size: cx.settings.batch_size,
            decoder: cx.decoder.clone(),
            shutdown: cx.shutdown.clone(),
        };
        let reader_thread = std::thread::Builder::new()
            .name(format!("palisade-read-{}", cx.name))
            .spawn(move || read_lines(reader, reader_cx, batch_tx))
            .map_err(|e| fail(format!("cannot start reader thread: {e}")))?;

        let permits = Arc::new(Semaphore::new(cx.settings.max_inflight_batches));
        let (ack_tx, mut ack_rx) = mpsc::unbounded_channel::<crate::runtime::Completion>();
        let mut tracker = OffsetTracker::new();
        let mut report = SourceReport { name: name.clone(), ..SourceReport::default() };
        let mut outstanding = 0usize;
        let mut closed = false;
        let mut downstream_gone = false;

        loop {
            tokio::select! {
                biased;
                Some(c) = ack_rx.recv() => {
                    tracker.complete(c.first, c.last, c.ok);
                    outstanding -= 1;
                }
                () = cx.shutdown.cancelled(), if !closed => {
                    // Stop reading; what was already read is still processed.
                    batch_rx.close();
                    closed = true;
                }
                next = batch_rx.recv() => {
                    let Some((first, last, events)) = next else { break };
                    let (records, dead) = super::count_batch(&events);
                    report.events += records;
                    report.dead_letters += dead;
                    let permit = permits.clone().acquire_owned().await.ok();
                    let ack = Ack::new(0, first, last, ack_tx.clone(), permit);
                    tracker.register(first, last);
                    outstanding += 1;
                    if cx.out.send(Batch { events, ack: Some(ack) }).await.is_err() {
                        downstream_gone = true;
                        batch_rx.close();
                        closed = true;
                    }
                }
            }
        }
        // Close our side of the graph, then wait for every batch to come back acknowledged.
        drop(cx.out);
        drop(ack_tx);
        while outstanding > 0 {
            let Some(c) = ack_rx.recv().await else { break };
            tracker.complete(c.first, c.last, c.ok);
            outstanding -= 1;
        }
        let read_error = if reader_thread.is_finished() {
            reader_thread.join().unwrap_or_else(|_| Err("reader thread panicked".into())).err()
        } else {
            None // blocked on standard input after shutdown: the process exit ends it
        };
        report.committed = tracker
            .committable()
            .map(|next| vec![(self.config.path.clone(), 0, next)])
            .unwrap_or_default();
        report.failed_batches = tracker.failed();
        report.unacknowledged = tracker.in_flight();
        tracing::info!(
            source = %name,
            events = report.events,
            dead_letters = report.dead_letters,
            committed_through_line = tracker.committable().map_or(0, |n| n - 1),
            "source finished"
        );
        if let Some(message) = read_error {
            return Err(fail(message));
        }
        if downstream_gone {
            return Err(fail(
                "downstream components stopped before the input was processed".into(),
            ));
        }
        Ok(report)
    }
}

struct ReaderCx {
    source: Arc<str>,
    path: Arc<str>,
    kind: EventKind,
    follow: bool,
    batch_size: usize,
    decoder: crate::event::Decoder,
    shutdown: tokio_util::sync::CancellationToken,
}

/// Reads lines on a plain thread (file reads block), decoding each into an envelope.
/// A batch is sent when full, or as soon as no more input is immediately available.
fn read_lines(
    reader: Box<dyn Read + Send>,
    cx: ReaderCx,
    tx: mpsc::Sender<ReadBatch>,
) -> Result<(), String> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut line = Vec::with_capacity(4096);
    let mut events = Vec::with_capacity(cx.batch_size);
    let mut number: i64 = 0;
    let mut first = 1;
    let limit = cx.decoder.max_event_bytes();
    loop {
        if cx.shutdown.is_cancelled() {
            return Ok(());
        }
        line.clear();
        // Read at most limit + 2 bytes of a line; anything longer is skipped, not buffered.
        let read = read_line_capped(&mut reader, &mut line, limit + 2)
            .map_err(|e| format!("read error: {e}"))?;
        if read.bytes == 0 {
            if !events.is_empty() {
                let batch = std::mem::take(&mut events);
                if tx.blocking_send((first, number, batch)).is_err() {
                    return Ok(());
                }
            }
            if cx.follow {
                tracing::info!(source = %cx.source, lines = number, "reached end of input; waiting for more (follow mode)");
                wait_for_growth(&mut reader, &cx.shutdown);
                continue;
            }
            return Ok(());
        }
        number += 1;
        if events.is_empty() {
            first = number;
        }
        let mut record: &[u8] = &line;
        while let [rest @ .., b'\n' | b'\r'] = record {
            record = rest;
        }
        if record.iter().all(u8::is_ascii_whitespace) && !read.truncated {
            // Blank lines are not records; they still count as lines (and as acknowledged).
        } else {
            let origin = file_origin(&cx.source, &cx.path, number);
            let envelope = if read.truncated {
                oversize(&cx, record, read.bytes, origin)
            } else {
                decode_record(&cx.decoder, cx.kind, record, origin)
            };
            events.push(envelope);
        }
        let idle = reader.buffer().is_empty();
        if events.len() >= cx.batch_size || (idle && !events.is_empty()) {
            let batch = std::mem::replace(&mut events, Vec::with_capacity(cx.batch_size));
            if tx.blocking_send((first, number, batch)).is_err() {
                return Ok(());
            }
        }
    }
}

fn oversize(cx: &ReaderCx, prefix: &[u8], size: usize, origin: crate::runtime::Origin) -> Envelope {
    // Keep the first `limit` bytes as the dead letter's original; the decoder reports the size.
    let mut envelope = decode_record(&cx.decoder, cx.kind, prefix, origin);
    if let crate::runtime::Payload::DeadLetter(dl) = &mut envelope.payload {
        dl.error = "oversize".into();
        dl.reason = format!(
            "not a valid {} event: event is {size} bytes or more, over the {}-byte limit (raise \
             `max_event_bytes` in the pipeline settings if such events are legitimate); the dead \
             letter keeps its first {} bytes",
            cx.kind,
            cx.decoder.max_event_bytes(),
            prefix.len()
        );
    }
    envelope
}

struct LineRead {
    bytes: usize,
    truncated: bool,
}

/// Reads one line into `out`, keeping at most `cap` bytes and discarding the rest of it.
fn read_line_capped(
    reader: &mut impl BufRead,
    out: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<LineRead> {
    let mut total = 0;
    let mut truncated = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(LineRead { bytes: total, truncated });
        }
        let (chunk, done) = match memchr::memchr(b'\n', buf) {
            Some(at) => (&buf[..=at], true),
            None => (buf, false),
        };
        let room = cap.saturating_sub(out.len());
        if chunk.len() > room {
            truncated = true;
        }
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = chunk.len();
        total += used;
        reader.consume(used);
        if done {
            return Ok(LineRead { bytes: total, truncated });
        }
    }
}

fn wait_for_growth(reader: &mut impl BufRead, shutdown: &tokio_util::sync::CancellationToken) {
    while !shutdown.is_cancelled() {
        match reader.fill_buf() {
            Ok(buf) if !buf.is_empty() => return,
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_lines_discard_the_excess_and_keep_reading() {
        let data = b"short\nthis line is far too long\nnext\nlast-no-newline";
        let mut reader = BufReader::with_capacity(4, &data[..]);
        let mut out = Vec::new();
        let r = read_line_capped(&mut reader, &mut out, 8).unwrap();
        assert_eq!((out.as_slice(), r.bytes, r.truncated), (&b"short\n"[..], 6, false));
        out.clear();
        let r = read_line_capped(&mut reader, &mut out, 8).unwrap();
        assert_eq!((out.as_slice(), r.truncated), (&b"this lin"[..], true));
        out.clear();
        read_line_capped(&mut reader, &mut out, 8).unwrap();
        assert_eq!(out, b"next\n");
        out.clear();
        let r = read_line_capped(&mut reader, &mut out, 64).unwrap();
        assert_eq!((out.as_slice(), r.truncated), (&b"last-no-newline"[..], false));
        out.clear();
        assert_eq!(read_line_capped(&mut reader, &mut out, 8).unwrap().bytes, 0);
    }
}
