//! `palisade generate`: deterministic synthetic traffic.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use palisade::generate::{GenerateConfig, Generator};

use super::open_output;

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of interactions.
    #[arg(long, short = 'n', default_value_t = 10_000)]
    events: u64,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Number of sessions the events are spread over (multi-turn conversations).
    #[arg(long, default_value_t = 200)]
    sessions: usize,
    /// Percent of events that are attacks.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=100))]
    attack_percent: u64,
    /// Percent of events that carry planted PII.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(0..=100))]
    pii_percent: u64,
    /// Interactions output file, or `-` for standard output.
    #[arg(long, short, default_value = "-")]
    output: String,
    /// Also write telemetry (one record per interaction) to this file.
    #[arg(long)]
    telemetry: Option<String>,
    /// Also write ground truth (family, planted PII) to this file.
    #[arg(long)]
    truth: Option<String>,
}

pub fn run(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.attack_percent + args.pii_percent <= 100,
        "--attack-percent plus --pii-percent must not exceed 100"
    );
    let config = GenerateConfig {
        seed: args.seed,
        sessions: args.sessions,
        attack_percent: args.attack_percent,
        pii_percent: args.pii_percent,
    };
    let mut out = open_output(&args.output)?;
    let mut telemetry = args.telemetry.as_deref().map(open_output).transpose()?;
    let mut truth = args.truth.as_deref().map(open_output).transpose()?;
    let mut line = Vec::with_capacity(2048);
    let mut write = |w: &mut dyn Write, value: &dyn erased_json::Json| -> anyhow::Result<()> {
        line.clear();
        value.to_json(&mut line)?;
        line.push(b'\n');
        w.write_all(&line).context("write error")
    };
    for g in Generator::new(config).take(args.events as usize) {
        write(&mut out, &g.interaction)?;
        if let Some(w) = telemetry.as_mut() {
            write(w, &g.telemetry)?;
        }
        if let Some(w) = truth.as_mut() {
            write(w, &g.truth)?;
        }
    }
    out.flush().context("write error")?;
    for w in [telemetry.as_mut(), truth.as_mut()].into_iter().flatten() {
        w.flush().context("write error")?;
    }
    Ok(ExitCode::SUCCESS)
}

mod erased_json {
    pub trait Json {
        fn to_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
            serde_json::to_writer(out, self)
        }
    }
}
