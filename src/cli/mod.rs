//! Command-line definitions and dispatch.

mod analyze;
mod generate;
mod rules;
mod run;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Palisade: streaming security and compliance for LLM agent traffic.
///
/// Consumes agent interactions and telemetry, detects prompt injection, jailbreaks,
/// exfiltration and secret leaks, redacts PII, and emits alerts, a redacted stream and dead
/// letters.
#[derive(Debug, Parser)]
#[command(
    name = "palisade",
    version,
    about,
    long_about,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Logging options (logs go to stderr; they never contain prompt or response text).
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "PALISADE_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info`, `palisade=debug` (also read from RUST_LOG).
    #[arg(
        long,
        global = true,
        env = "RUST_LOG",
        default_value = "warn,palisade=info"
    )]
    pub log: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyze a JSONL file of interactions in one pass: risk, findings, PII, redacted text.
    Analyze(analyze::AnalyzeArgs),
    /// Write deterministic synthetic agent traffic (interactions, telemetry, ground truth).
    Generate(generate::GenerateArgs),
    /// Run a pipeline until its sources are exhausted or it receives SIGINT/SIGTERM.
    Run(run::RunArgs),
    /// Check pipeline files without running them (exit 1 on the first error).
    Validate {
        /// Pipeline files to check.
        #[arg(required = true)]
        pipelines: Vec<PathBuf>,
    },
    /// Work with detection rules.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
}

pub fn init_logging(args: &LogArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,palisade=info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    match args.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_target(false).init(),
    }
}

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Run(args) => run::run(args),
        Command::Validate { pipelines } => run::validate(&pipelines),
        Command::Rules(command) => rules::run(command),
    }
}

/// Opens an output path, `-` meaning standard output.
pub fn open_output(path: &str) -> anyhow::Result<Box<dyn Write>> {
    use anyhow::Context as _;
    if path == "-" {
        return Ok(Box::new(std::io::BufWriter::with_capacity(
            1 << 16,
            std::io::stdout().lock(),
        )));
    }
    let path = PathBuf::from(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create directory {}", parent.display()))?;
    }
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Box::new(std::io::BufWriter::with_capacity(1 << 20, file)))
}

/// Formats an integer with thousands separators.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
