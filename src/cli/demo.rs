//! `palisade demo`: the main job on an embedded Kafka, one command, no external service.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use palisade::demo::{load_pipeline_with, publish_generated, read_topic, summarize_alerts};
use palisade::metrics::{Counters, counters};
use palisade::runtime::Topology;
use rdkafka::mocking::MockCluster;
use tokio_util::sync::CancellationToken;

use super::thousands;

/// Run the main pipeline (`pipelines/default.toml`) against an embedded, in-process Kafka
/// cluster: generated agent traffic is published to `agent.interactions`, detected,
/// redacted and written to `palisade.alerts`, `agent.interactions.redacted` and
/// `palisade.deadletter`; the demo then copies those topics to files and prints a summary.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Interactions to generate.
    #[arg(long, short = 'n', default_value_t = 20_000)]
    events: u64,
    /// Random seed for the traffic.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Pipeline to run (its Kafka brokers are pointed at the embedded cluster).
    #[arg(long, default_value = "pipelines/default.toml")]
    pipeline: PathBuf,
    /// Directory for the copies of the output topics.
    #[arg(long, default_value = "out/demo")]
    out: PathBuf,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let mut err = std::io::stderr();
    let cluster = MockCluster::new(3).context("cannot start the embedded Kafka cluster")?;
    let brokers = cluster.bootstrap_servers();
    let pipeline = load_pipeline_with(
        &args.pipeline,
        &[("PALISADE_BROKERS", brokers.clone()), ("PALISADE_GROUP", "palisade-demo".into())],
    )?;
    // The mock cluster keeps about 5 MiB per partition: spread topics wide.
    let topics = pipeline.kafka_topics();
    for (_, topic, spec) in &topics {
        cluster
            .create_topic(topic, spec.partitions.max(12), 1)
            .with_context(|| format!("cannot create {topic}"))?;
    }
    let input = pipeline
        .sources
        .iter()
        .find_map(|(_, s)| s.spec().kafka().and_then(|(_, t)| t.into_iter().next()))
        .context("the demo pipeline has no Kafka source")?;
    let topology = Topology::build(&pipeline)?;
    writeln!(
        err,
        "embedded Kafka cluster (3 brokers) at {brokers}; pipeline `{}` from {}",
        pipeline.name,
        args.pipeline.display()
    )?;
    writeln!(err, "publishing {} generated interactions to `{input}`...", thousands(args.events))?;

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let started = Instant::now();
    let shutdown = CancellationToken::new();
    let (report, published) = runtime.block_on(async {
        let run = tokio::spawn(topology.run(shutdown.clone()));
        let publisher = {
            let brokers = brokers.clone();
            let input = input.clone();
            tokio::spawn(async move {
                publish_generated(&brokers, &input, args.events, args.seed).await
            })
        };
        let bar = indicatif::ProgressBar::new(args.events);
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {bar:30} {pos}/{len} events redacted · {msg}",
        ) {
            bar.set_style(style);
        }
        let c: &Counters = counters();
        let done = loop {
            let redacted = Counters::get(&c.interactions_out);
            let rate =
                Counters::get(&c.records_in) as f64 / started.elapsed().as_secs_f64().max(1e-3);
            bar.set_position(redacted);
            bar.set_message(format!(
                "in {} · alerts {} · dead letters {} · {} events/s",
                thousands(Counters::get(&c.records_in)),
                thousands(Counters::get(&c.alerts_out)),
                thousands(Counters::get(&c.dead_letters)),
                thousands(rate as u64)
            ));
            if redacted >= args.events || run.is_finished() {
                break redacted >= args.events;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        bar.finish_and_clear();
        shutdown.cancel();
        let published = publisher.await;
        let report = run.await;
        (report.map(|r| (r, done)), published)
    });
    let (report, done) = report.context("the pipeline task failed")?;
    let published = published
        .context("the publisher task failed")?
        .map_err(|e| anyhow::anyhow!("publishing failed: {e}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    for e in &report.errors {
        writeln!(err, "error: {e}")?;
    }
    if !done || !report.errors.is_empty() {
        bail!("the pipeline stopped before processing every event");
    }

    // Copy the output topics to files, and summarize.
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut alerts = Vec::new();
    let mut outputs = Vec::new();
    for (_, sink) in &pipeline.sinks {
        let Some((_, sink_topics)) = sink.spec().kafka() else { continue };
        for topic in sink_topics {
            let records = read_topic(&brokers, &topic, usize::MAX, Duration::from_millis(1500))?;
            let path = args.out.join(format!("{topic}.jsonl"));
            let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
            for r in &records {
                file.write_all(r)?;
                file.write_all(b"\n")?;
            }
            file.flush()?;
            if topic.contains("alert") {
                alerts = records.clone();
            }
            outputs.push((topic, records.len(), path));
        }
    }
    let summary = summarize_alerts(&alerts);
    let pii: Vec<(String, u64)> = report
        .stages
        .iter()
        .flat_map(|(_, c)| c.iter())
        .filter_map(|(k, v)| k.strip_prefix("redact.pii.").map(|t| (t.to_owned(), *v)))
        .collect();

    let mut out = std::io::stderr().lock();
    writeln!(out)?;
    writeln!(
        out,
        "processed {} events (published {}) in {elapsed:.1}s: {} events/s end to end, including the embedded cluster's 3 s consumer-group start",
        thousands(report.events_in()),
        thousands(published),
        thousands((report.events_in() as f64 / elapsed) as u64)
    )?;
    writeln!(out, "\nalerts by category ({} total):", thousands(alerts.len() as u64))?;
    for (category, n) in &summary.alerts_by_category {
        writeln!(out, "  {category:<24} {:>8}", thousands(*n))?;
    }
    writeln!(out, "\ntop risky sessions:")?;
    for (session, n, risk) in &summary.top_sessions {
        writeln!(out, "  {session:<24} {n:>3} alerts, max risk {risk}")?;
    }
    writeln!(out, "\nPII redacted by type:")?;
    for (entity, n) in &pii {
        writeln!(out, "  {entity:<24} {:>8}", thousands(*n))?;
    }
    writeln!(out, "\noutputs (copied from the embedded topics):")?;
    for (topic, n, path) in &outputs {
        writeln!(out, "  {topic:<30} {:>8} records → {}", thousands(*n as u64), path.display())?;
    }
    writeln!(
        out,
        "\nSame pipeline on a real cluster: PALISADE_BROKERS=host:9092 palisade run --pipeline {}",
        args.pipeline.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
