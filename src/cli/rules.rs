//! `palisade rules lint|test`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;
use palisade::detect::RuleSet;
use palisade::detect::check::{lint, test_examples};

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Compile the rules and check them: regex syntax and size, duplicate ids, categories,
    /// examples present, keywords reachable. Exit 1 on errors (or warnings with --strict).
    Lint {
        /// Rules directory or file.
        #[arg(long, default_value = "rules/detection")]
        rules: PathBuf,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
    },
    /// Run every rule's `examples.match` / `examples.no_match` through the engine.
    /// Exit 1 if any example misbehaves.
    Test {
        /// Rules directory or file.
        #[arg(long, default_value = "rules/detection")]
        rules: PathBuf,
    },
}

pub fn run(command: RulesCommand) -> anyhow::Result<ExitCode> {
    match command {
        RulesCommand::Lint { rules, strict } => {
            let set = RuleSet::load(&rules).context("rules do not compile")?;
            let issues = lint(&set);
            for issue in &issues {
                eprintln!("{issue}");
            }
            let errors = issues.iter().filter(|i| i.error || strict).count();
            eprintln!(
                "{} rules in {} packs, {} keywords: {} errors, {} warnings",
                set.rules().len(),
                set.packs().len(),
                set.keyword_count(),
                issues.iter().filter(|i| i.error).count(),
                issues.iter().filter(|i| !i.error).count()
            );
            Ok(if errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        RulesCommand::Test { rules } => {
            let set = Arc::new(RuleSet::load(&rules).context("rules do not compile")?);
            let (run, failures) = test_examples(&set);
            for failure in &failures {
                eprintln!("FAIL {failure}");
            }
            eprintln!(
                "{} examples over {} rules: {} passed, {} failed",
                run,
                set.rules().len(),
                run - failures.len(),
                failures.len()
            );
            Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

/// Measure detection accuracy on a labeled JSONL dataset: lines
/// `{"id","text","label":0|1,"category"?,"kind"?,"plain"?}`. Prints precision, recall and
/// FPR per category and overall, FPR per negative kind (benign, hard_negative), obfuscation
/// recall, recall at fixed FPR (1%, 0.1%), and the misses.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Dataset file (JSONL).
    #[arg(long)]
    dataset: PathBuf,
    /// Rules directory or file.
    #[arg(long, default_value = "rules/detection")]
    rules: PathBuf,
    /// Risk score from which a sample counts as flagged.
    #[arg(long, default_value_t = palisade::analyze::DEFAULT_THRESHOLD)]
    threshold: u8,
    /// How many misses and false positives to list.
    #[arg(long, default_value_t = 20)]
    misses: usize,
}

pub fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let set = Arc::new(RuleSet::load(&args.rules).context("rules do not compile")?);
    let text = std::fs::read_to_string(&args.dataset)
        .with_context(|| format!("cannot read {}", args.dataset.display()))?;
    let samples = palisade::eval::parse_dataset(&text)
        .with_context(|| format!("{}", args.dataset.display()))?;
    let report =
        palisade::eval::evaluate(&palisade::detect::Detector::new(set), &samples, args.threshold);
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, report.render(args.misses).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
