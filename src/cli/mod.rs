//! Command-line definitions and dispatch.

mod analyze;
mod demo;
mod eval;
mod generate;
mod kafka;
mod rules;
mod run;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

pub use clap::Parser;
use clap::{Args, Subcommand, ValueEnum};

/// Palisade: streaming security and compliance for LLM agent traffic.
///
/// Consumes agent interactions and telemetry, detects prompt injection, jailbreaks,
/// exfiltration and secret leaks, redacts PII, and emits alerts, a redacted stream and dead
/// letters.
#[derive(Debug, Parser)]
#[command(name = "palisade", version, about, long_about, propagate_version = true)]
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
    #[arg(long, global = true, env = "RUST_LOG", default_value = "warn,palisade=info")]
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
    ///
    /// Reads JSONL interactions (a line with only `{"event_id","text"}` is read as a prompt) and
    /// writes one JSON line per input line, in order:
    ///
    /// {"event_id", "risk_score", "is_threat", "categories", "rule_ids",
    ///  "findings": [{"rule_id","category","field","start","end"}],
    ///  "pii": [{"type","field","start","end"}], "redacted": {"prompt", "response"}}
    ///
    /// Offsets are UTF-8 byte offsets into the original field. A line that cannot be read
    /// becomes {"line": N, "error": "..."} and processing goes on. A summary goes to stderr.
    ///
    /// Exit status: 0 if every line decoded, 2 if some did not, 1 on a fatal error (unreadable
    /// input, bad rules), 64 on a command-line usage error.
    #[command(verbatim_doc_comment)]
    Analyze(analyze::AnalyzeArgs),
    /// Write deterministic synthetic agent traffic (interactions, telemetry, ground truth).
    ///
    /// Writes `--events` interactions as JSONL (to `--output`), and optionally one telemetry
    /// record per interaction (`--telemetry`) and the ground truth per event (`--truth`: attack
    /// family and planted PII values, for tests and evaluation). The same arguments always
    /// produce the same bytes.
    Generate(generate::GenerateArgs),
    /// Run a pipeline until its sources are exhausted or it receives SIGINT/SIGTERM.
    ///
    /// Runs a pipeline until every source is exhausted (files) or until SIGINT/SIGTERM: then it
    /// stops reading, drains what is in flight, flushes every sink and exits 0. A second signal
    /// exits at once (status 130). Exit status 1 if any component failed.
    ///
    /// SIGHUP reloads the detection rules (their files are also watched for changes); a rule
    /// file that does not load keeps the previous rules and logs an audit event.
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
    Demo(demo::DemoArgs),
    Eval(eval::EvalArgs),
    Produce(kafka::ProduceArgs),
    Consume(kafka::ConsumeArgs),
    /// Create or list Kafka topics.
    #[command(subcommand)]
    Topics(kafka::TopicsCommand),
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
        Command::Demo(args) => demo::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Produce(args) => kafka::produce(args),
        Command::Consume(args) => kafka::consume(args),
        Command::Topics(command) => kafka::topics(command),
    }
}

/// Opens an output path, `-` meaning standard output.
pub fn open_output(path: &str) -> anyhow::Result<Box<dyn Write>> {
    use anyhow::Context as _;
    if path == "-" {
        return Ok(Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock())));
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

/// An error and its causes on one line, skipping a cause whose text the message before it
/// already contains (many errors quote their source).
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
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
