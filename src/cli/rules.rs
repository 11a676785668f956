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
    /// Where detection time goes on a corpus: per rule, how often the keyword prefilter
    /// selects it, how often it then matches, and what its regexes cost; and which keywords
    /// occur in most texts. Use it to find rules whose keywords are too common. The corpus
    /// is JSONL interactions (as `palisade generate` writes or `analyze` reads); lines that
    /// do not decode are skipped and counted.
    Profile {
        /// Rules directory or file.
        #[arg(long, default_value = "rules/detection")]
        rules: PathBuf,
        /// JSONL corpus of interaction events.
        #[arg(long)]
        corpus: PathBuf,
        /// How many rules and keywords to list.
        #[arg(long, default_value_t = 25)]
        top: usize,
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
        RulesCommand::Profile { rules, corpus, top } => {
            let set = RuleSet::load(&rules).context("rules do not compile")?;
            let text = std::fs::read(&corpus)
                .with_context(|| format!("cannot read corpus {}", corpus.display()))?;
            let decoder = palisade::event::Decoder::default().lenient();
            let mut events = Vec::new();
            let mut skipped = 0u64;
            for line in text.split(|&b| b == b'\n').filter(|l| !l.trim_ascii().is_empty()) {
                match decoder.interaction(line) {
                    Ok(event) => events.push(event),
                    Err(_) => skipped += 1,
                }
            }
            let mut leaves = Vec::new();
            for event in &events {
                palisade::fields::for_each_text(event, |kind, _, text| leaves.push((kind, text)));
            }
            let profile = palisade::detect::check::profile(&set, leaves);
            if skipped > 0 {
                eprintln!("{skipped} corpus lines skipped (not interaction events)");
            }
            let mut out = std::io::stdout().lock();
            std::io::Write::write_all(&mut out, profile.render(top).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
