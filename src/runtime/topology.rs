//! Building the running graph from a validated pipeline, and running it to the end.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    Batch, Output, RuntimeError, Sink, SinkContext, SinkReport, Source, SourceContext,
    SourceReport, Transform,
};
use crate::event::Decoder;
use crate::pipeline::{BuildContext, Pipeline, PipelineError, Settings};

struct StageNode {
    name: String,
    inputs: Vec<String>,
    shards: Vec<Box<dyn Transform>>,
}

struct SinkNode {
    name: String,
    inputs: Vec<String>,
    sink: Box<dyn Sink>,
}

/// A built pipeline, ready to run: every rule file loaded, every component configured.
/// (Input files and output paths are opened, and checked, when the pipeline runs.)
pub struct Topology {
    pipeline: String,
    settings: Settings,
    sources: Vec<(String, Box<dyn Source>)>,
    stages: Vec<StageNode>,
    sinks: Vec<SinkNode>,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topology")
            .field("pipeline", &self.pipeline)
            .field("sources", &self.sources.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .field(
                "stages",
                &self.stages.iter().map(|s| (&s.name, s.shards.len())).collect::<Vec<_>>(),
            )
            .field("sinks", &self.sinks.iter().map(|s| &s.name).collect::<Vec<_>>())
            .finish()
    }
}

/// What a whole run did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub sources: Vec<SourceReport>,
    /// Per stage, its counters summed over shards.
    pub stages: Vec<(String, BTreeMap<String, u64>)>,
    pub sinks: Vec<SinkReport>,
    pub errors: Vec<RuntimeError>,
    pub elapsed: Duration,
}

impl RunReport {
    pub fn events_in(&self) -> u64 {
        self.sources.iter().map(|s| s.events).sum()
    }

    pub fn stage_counter(&self, stage_type_counter: &str) -> u64 {
        self.stages.iter().filter_map(|(_, c)| c.get(stage_type_counter)).sum()
    }
}

impl Topology {
    /// Builds every component (loads rules and policies, opens nothing yet).
    ///
    /// # Errors
    /// [`PipelineError::Invalid`] naming the component key that could not be built.
    pub fn build(pipeline: &Pipeline) -> Result<Self, PipelineError> {
        let invalid = |key: String, message: String| PipelineError::Invalid {
            path: pipeline.file.clone(),
            key,
            message,
        };
        let cx = BuildContext {
            pipeline: pipeline.name.clone(),
            settings: pipeline.settings.clone(),
            workers: pipeline.settings.worker_count(),
        };
        let mut sources = Vec::new();
        for (name, config) in &pipeline.sources {
            let source = config
                .spec()
                .build(&cx)
                .map_err(|e| invalid(format!("sources.{name}.{}", e.key), e.message))?;
            sources.push((name.clone(), source));
        }
        let mut stages = Vec::new();
        for (name, config) in &pipeline.stages {
            let spec = config.spec();
            let shards = spec
                .build(&cx)
                .map_err(|e| invalid(format!("stages.{name}.{}", e.key), e.message))?;
            stages.push(StageNode { name: name.clone(), inputs: spec.inputs().to_vec(), shards });
        }
        let mut sinks = Vec::new();
        for (name, config) in &pipeline.sinks {
            let sink = config
                .build(&cx)
                .map_err(|e| invalid(format!("sinks.{name}.{}", e.key), e.message))?;
            sinks.push(SinkNode { name: name.clone(), inputs: config.inputs().to_vec(), sink });
        }
        Ok(Self {
            pipeline: pipeline.name.clone(),
            settings: pipeline.settings.clone(),
            sources,
            stages,
            sinks,
        })
    }

    /// Runs until every source is exhausted, or until `shutdown` is cancelled and the graph
    /// has drained (bounded by `settings.shutdown_grace`).
    pub async fn run(self, shutdown: CancellationToken) -> RunReport {
        let started = Instant::now();
        let capacity = self.settings.channel_capacity;
        let mut inboxes: BTreeMap<String, mpsc::Sender<Batch>> = BTreeMap::new();
        let mut receivers: BTreeMap<String, mpsc::Receiver<Batch>> = BTreeMap::new();
        for name in self.stages.iter().map(|s| &s.name).chain(self.sinks.iter().map(|s| &s.name)) {
            let (tx, rx) = mpsc::channel(capacity);
            inboxes.insert(name.clone(), tx);
            receivers.insert(name.clone(), rx);
        }
        let consumers: Vec<(String, Vec<String>)> = self
            .stages
            .iter()
            .map(|s| (s.name.clone(), s.inputs.clone()))
            .chain(self.sinks.iter().map(|s| (s.name.clone(), s.inputs.clone())))
            .collect();
        let output_of = |producer: &str| {
            Output::new(
                consumers
                    .iter()
                    .filter(|(_, inputs)| inputs.iter().any(|i| i == producer))
                    .map(|(consumer, _)| inboxes[consumer].clone())
                    .collect(),
            )
        };

        let mut sink_tasks = Vec::new();
        for node in self.sinks {
            let Some(rx) = receivers.remove(&node.name) else {
                continue;
            };
            let cx = SinkContext { name: node.name.as_str().into(), shutdown: shutdown.clone() };
            let token = shutdown.clone();
            let run = node.sink.run(rx, cx);
            sink_tasks.push(tokio::spawn(async move {
                let result = run.await;
                if result.is_err() {
                    token.cancel();
                }
                result
            }));
        }

        let mut stage_threads = Vec::new();
        for node in self.stages {
            let Some(rx) = receivers.remove(&node.name) else {
                continue;
            };
            let out = output_of(&node.name);
            stage_threads.push(spawn_stage(
                node.name,
                node.shards,
                rx,
                out,
                capacity,
                shutdown.clone(),
            ));
        }

        let mut source_tasks = Vec::new();
        for (name, source) in self.sources {
            let cx = SourceContext {
                name: name.as_str().into(),
                out: output_of(&name),
                shutdown: shutdown.clone(),
                settings: self.settings.clone(),
                decoder: Decoder::new(self.settings.max_event_bytes),
            };
            let token = shutdown.clone();
            let run = source.run(cx);
            source_tasks.push(tokio::spawn(async move {
                let result = run.await;
                if result.is_err() {
                    token.cancel();
                }
                result
            }));
        }
        // Only components hold senders now: channels close as producers finish.
        drop(inboxes);

        let mut report = RunReport::default();
        let grace = self.settings.shutdown_grace;
        let deadline = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        let everything = async {
            for task in source_tasks {
                match task.await {
                    Ok(Ok(r)) => report.sources.push(r),
                    Ok(Err(e)) => report.errors.push(e),
                    Err(e) => report
                        .errors
                        .push(RuntimeError::Source { name: "?".into(), message: e.to_string() }),
                }
            }
            for (name, handle) in stage_threads {
                let joined = tokio::task::spawn_blocking(move || handle.join()).await;
                match joined {
                    Ok(Ok(Ok(stats))) => report.stages.push((name, stats)),
                    Ok(Ok(Err(message))) => {
                        report.errors.push(RuntimeError::Stage { name, message })
                    }
                    _ => report.errors.push(RuntimeError::Stage {
                        name,
                        message: "worker thread panicked".into(),
                    }),
                }
            }
            for task in sink_tasks {
                match task.await {
                    Ok(Ok(r)) => report.sinks.push(r),
                    Ok(Err(e)) => report.errors.push(e),
                    Err(e) => report
                        .errors
                        .push(RuntimeError::Sink { name: "?".into(), message: e.to_string() }),
                }
            }
        };
        tokio::select! {
            () = everything => {}
            () = deadline => {
                report.errors.push(RuntimeError::Shutdown(format!(
                    "components still busy {} after shutdown began; exiting without them \
                     (unacknowledged events are not committed and will be read again)",
                    crate::pipeline::duration::display(grace)
                )));
            }
        }
        report.elapsed = started.elapsed();
        report
    }
}

type StageHandle = std::thread::JoinHandle<Result<BTreeMap<String, u64>, String>>;

fn process_batch(transform: &mut dyn Transform, batch: &mut Batch) -> Result<(), String> {
    let events = &mut batch.events;
    std::panic::catch_unwind(AssertUnwindSafe(|| transform.process(events))).map_err(|_| {
        if let Some(ack) = &batch.ack {
            ack.fail();
        }
        "a transform panicked; its batch is marked undelivered (this is a bug: please report it)"
            .to_owned()
    })
}

fn merge_stats(into: &mut BTreeMap<String, u64>, stats: Vec<(String, u64)>) {
    for (k, v) in stats {
        *into.entry(k).or_default() += v;
    }
}

fn spawn_stage(
    name: String,
    mut shards: Vec<Box<dyn Transform>>,
    mut rx: mpsc::Receiver<Batch>,
    out: Output,
    capacity: usize,
    shutdown: CancellationToken,
) -> (String, StageHandle) {
    let thread_name = format!("palisade-{name}");
    let builder = std::thread::Builder::new().name(thread_name.clone());
    let handle = if shards.len() == 1 {
        let mut transform = shards.pop().unwrap_or_else(|| unreachable!("one shard"));
        builder.spawn(move || {
            while let Some(mut batch) = rx.blocking_recv() {
                let sent = process_batch(transform.as_mut(), &mut batch).and_then(|()| {
                    if batch.events.is_empty() {
                        return Ok(());
                    }
                    out.blocking_send(batch).map_err(|_| "its consumers stopped".to_owned())
                });
                if let Err(e) = sent {
                    shutdown.cancel();
                    super::fail_pending(&mut rx);
                    return Err(e);
                }
            }
            let mut stats = BTreeMap::new();
            merge_stats(&mut stats, transform.stats());
            Ok(stats)
        })
    } else {
        let n = shards.len();
        let mut senders = Vec::with_capacity(n);
        let mut workers = Vec::with_capacity(n);
        for (i, mut transform) in shards.into_iter().enumerate() {
            let (tx, shard_rx) = std::sync::mpsc::sync_channel::<Batch>(capacity);
            senders.push(tx);
            let out = out.clone();
            let shutdown = shutdown.clone();
            let worker = std::thread::Builder::new().name(format!("{thread_name}-{i}")).spawn(
                move || -> Result<Vec<(String, u64)>, String> {
                    while let Ok(mut batch) = shard_rx.recv() {
                        let sent = process_batch(transform.as_mut(), &mut batch).and_then(|()| {
                            if batch.events.is_empty() {
                                return Ok(());
                            }
                            out.blocking_send(batch).map_err(|_| "its consumers stopped".to_owned())
                        });
                        if let Err(e) = sent {
                            shutdown.cancel();
                            for batch in shard_rx.try_iter() {
                                batch.fail();
                            }
                            return Err(e);
                        }
                    }
                    Ok(transform.stats())
                },
            );
            match worker {
                Ok(w) => workers.push(w),
                Err(e) => {
                    let message = format!("cannot start worker thread: {e}");
                    return (name, std::thread::spawn(move || Err(message)));
                }
            }
        }
        drop(out);
        builder.spawn(move || {
            let mut failed = None;
            'recv: while let Some(batch) = rx.blocking_recv() {
                for (shard, part) in batch.split(n) {
                    if let Err(std::sync::mpsc::SendError(part)) = senders[shard].send(part) {
                        part.fail();
                        failed = Some("a worker stopped".to_owned());
                        super::fail_pending(&mut rx);
                        break 'recv;
                    }
                }
            }
            drop(senders);
            let mut stats = BTreeMap::new();
            for worker in workers {
                match worker.join() {
                    Ok(Ok(s)) => merge_stats(&mut stats, s),
                    Ok(Err(e)) => failed = Some(e),
                    Err(_) => failed = Some("a worker thread panicked".into()),
                }
            }
            match failed {
                Some(e) => Err(e),
                None => Ok(stats),
            }
        })
    };
    let handle = handle.unwrap_or_else(|e| {
        let message = format!("cannot start stage thread: {e}");
        std::thread::spawn(move || Err(message))
    });
    (name, handle)
}
