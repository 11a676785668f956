//! `palisade analyze`: one-off batch analysis of a JSONL file.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use palisade::analyze::{AnalyzeLine, Analyzer, AnalyzerState, DEFAULT_THRESHOLD};
use palisade::detect::{Detector, RuleSet};
use palisade::event::{DEFAULT_MAX_EVENT_BYTES, Decoder};
use palisade::pii::Redactor;
use palisade::stages::redact::policy_by_name;

use super::{open_output, thousands};

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Detection rules: a directory of *.yaml packs, or one file.
    #[arg(long, default_value = "rules/detection")]
    rules: PathBuf,
    /// PII redaction policy: a name looked up in --policies (default_pii, pci_dss,
    /// hipaa_phi, gdpr_strict, ...) or a path to a policy file.
    #[arg(long, default_value = "default_pii")]
    policy: String,
    /// Directory of PII policy files.
    #[arg(long, default_value = palisade::pii::policy::DEFAULT_POLICY_DIR)]
    policies: PathBuf,
    /// Risk score (0-100) from which an event counts as a threat.
    #[arg(long, default_value_t = DEFAULT_THRESHOLD, value_parser = clap::value_parser!(u8).range(0..=100))]
    threshold: u8,
    /// Input JSONL file, or `-` for standard input.
    #[arg(long, short, default_value = "-")]
    input: String,
    /// Output JSONL file, or `-` for standard output.
    #[arg(long, short, default_value = "-")]
    output: String,
    /// Largest accepted line, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_EVENT_BYTES)]
    max_event_bytes: usize,
    /// Do not print the summary.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Default)]
struct Summary {
    events: u64,
    bytes: u64,
    errors: u64,
    threats: u64,
    by_category: BTreeMap<&'static str, u64>,
    pii: BTreeMap<&'static str, u64>,
}

pub fn run(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let rules = RuleSet::load(&args.rules).context("cannot load detection rules")?;
    let policy = policy_by_name(&args.policy, &args.policies).map_err(anyhow::Error::msg)?;
    let analyzer = Analyzer {
        detector: Detector::new(Arc::new(rules)),
        redactor: Redactor::new(Arc::new(policy)),
        threshold: args.threshold,
    };
    let input: Box<dyn Read> = if args.input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&args.input)
                .with_context(|| format!("cannot open {}", args.input))?,
        )
    };
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut out = open_output(&args.output)?;
    let decoder = Decoder::new(args.max_event_bytes).lenient();
    let mut state = AnalyzerState::default();
    let mut summary = Summary::default();
    let mut line = Vec::with_capacity(4096);
    let mut json = Vec::with_capacity(4096);
    let mut number = 0u64;
    let started = Instant::now();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).context("read error")?;
        if n == 0 {
            break;
        }
        number += 1;
        summary.bytes += n as u64;
        let mut record: &[u8] = &line;
        while let [rest @ .., b'\n' | b'\r'] = record {
            record = rest;
        }
        json.clear();
        match decoder.interaction(record) {
            Ok(mut event) => {
                summary.events += 1;
                let analysis = analyzer.analyze(&mut event, &mut state);
                let is_threat = analyzer.is_threat(&analysis.detection);
                if is_threat {
                    summary.threats += 1;
                    for c in &analysis.detection.categories {
                        *summary.by_category.entry(c.as_str()).or_default() += 1;
                    }
                }
                for p in &analysis.redaction.findings {
                    *summary.pii.entry(p.entity.as_str()).or_default() += 1;
                }
                AnalyzeLine::new(&event, &analysis, is_threat).write_json(&mut json)?;
            }
            Err(error) => {
                summary.errors += 1;
                let message = error.to_string();
                serde_json::to_writer(
                    &mut json,
                    &serde_json::json!({"line": number, "error": message}),
                )?;
            }
        }
        json.push(b'\n');
        out.write_all(&json).context("write error")?;
    }
    out.flush().context("write error")?;
    let elapsed = started.elapsed().as_secs_f64();
    if !args.quiet {
        print_summary(&summary, number, elapsed);
    }
    Ok(if summary.errors > 0 { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

fn print_summary(s: &Summary, lines: u64, elapsed: f64) {
    let rate = if elapsed > 0.0 { s.events as f64 / elapsed } else { 0.0 };
    let mb = s.bytes as f64 / 1e6;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "analyzed {} events ({} lines, {} unreadable) in {:.2}s: {} events/s, {:.1} MB/s",
        thousands(s.events),
        thousands(lines),
        thousands(s.errors),
        elapsed,
        thousands(rate as u64),
        if elapsed > 0.0 { mb / elapsed } else { 0.0 }
    );
    let _ = writeln!(err, "threats: {}", thousands(s.threats));
    for (category, n) in &s.by_category {
        let _ = writeln!(err, "  {category:<24} {}", thousands(*n));
    }
    let total: u64 = s.pii.values().sum();
    let _ = writeln!(err, "PII redacted: {}", thousands(total));
    for (entity, n) in &s.pii {
        let _ = writeln!(err, "  {entity:<24} {}", thousands(*n));
    }
}
