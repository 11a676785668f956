//! `palisade run` and `palisade validate`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use palisade::pipeline::Pipeline;
use palisade::runtime::{RunReport, Topology};
use tokio_util::sync::CancellationToken;

use super::thousands;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Pipeline file (TOML).
    #[arg(long, short)]
    pipeline: PathBuf,
}

pub fn validate(paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    for path in paths {
        let pipeline = Pipeline::load(path)?;
        Topology::build(&pipeline)?;
        eprintln!(
            "{}: ok (pipeline `{}`: {} sources, {} stages, {} sinks)",
            path.display(),
            pipeline.name,
            pipeline.sources.len(),
            pipeline.stages.len(),
            pipeline.sinks.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let pipeline = Pipeline::load(&args.pipeline)?;
    let topology = Topology::build(&pipeline)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("palisade-io")
        .build()
        .context("cannot start the async runtime")?;
    tracing::info!(pipeline = %pipeline.name, file = %pipeline.file.display(), "pipeline starting");
    let report = runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        tokio::spawn(watch_signals(shutdown.clone()));
        topology.run(shutdown).await
    });
    print_report(&pipeline.name, &report);
    // Reader threads blocked on standard input must not keep the process alive.
    runtime.shutdown_background();
    if report.errors.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for error in &report.errors {
            tracing::error!(error = %error, "component failed");
        }
        Ok(ExitCode::from(1))
    }
}

async fn watch_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    if let Ok(mut hup) = signal(SignalKind::hangup()) {
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading detection rules");
                palisade::detect::reload::request_reload();
            }
        });
    }
    let (Ok(mut term), Ok(mut int)) =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        tracing::warn!("cannot install signal handlers; stop with SIGKILL");
        return;
    };
    let mut received = 0;
    loop {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        received += 1;
        if received == 1 {
            tracing::info!(
                "shutdown requested: draining in-flight events (signal again to exit at once)"
            );
            shutdown.cancel();
        } else {
            tracing::warn!("second signal: exiting without draining");
            std::process::exit(130);
        }
    }
}

fn print_report(name: &str, report: &RunReport) {
    let mut err = std::io::stderr().lock();
    let secs = report.elapsed.as_secs_f64();
    let events = report.events_in();
    let rate = if secs > 0.0 { events as f64 / secs } else { 0.0 };
    let _ = writeln!(
        err,
        "pipeline `{name}`: {} events in {secs:.2}s ({} events/s)",
        thousands(events),
        thousands(rate as u64)
    );
    for s in &report.sources {
        let committed: Vec<String> =
            s.committed.iter().map(|(t, p, o)| format!("{t}[{p}]@{o}")).collect();
        let _ = writeln!(
            err,
            "  source {}: {} records, {} dead letters, committed {}{}",
            s.name,
            thousands(s.events),
            thousands(s.dead_letters),
            if committed.is_empty() { "nothing".into() } else { committed.join(" ") },
            if s.failed_batches > 0 {
                format!(", {} batches NOT delivered", s.failed_batches)
            } else {
                String::new()
            }
        );
    }
    for (stage, counters) in &report.stages {
        let list: Vec<String> =
            counters.iter().map(|(k, v)| format!("{k}={}", thousands(*v))).collect();
        let _ = writeln!(err, "  stage {stage}: {}", list.join(" "));
    }
    for s in &report.sinks {
        let list: Vec<String> =
            s.written.iter().map(|(k, v)| format!("{} {k}", thousands(*v))).collect();
        let written = if list.is_empty() { "nothing".to_owned() } else { list.join(", ") };
        let _ = writeln!(err, "  sink {}: wrote {written}", s.name);
    }
    for e in &report.errors {
        let _ = writeln!(err, "  error: {e}");
    }
}
