//! `palisade eval`: accuracy of detection rules (`--dataset`) or PII recognizers (`--pii`)
//! on a labeled JSONL dataset.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use palisade::detect::RuleSet;

/// Measure accuracy on a labeled JSONL dataset.
///
/// Detection (--dataset): lines {"id","text","label":0|1,"category"?,"kind"?,"plain"?}.
/// Prints precision, recall and FPR per category and overall, FPR per negative kind (benign,
/// hard_negative), obfuscation recall, recall at fixed FPR (1%, 0.1%), and the misses.
///
/// PII (--pii): lines {"id","text","spans":[{"type","start","end"}]}, offsets in UTF-8 bytes
/// (end exclusive). Every text goes through the policy's recognizers, confidence floors and
/// overlap resolution, as the redact stage would. Prints precision, recall and F2 per type
/// and overall, then leaked values, typed misses and false positives.
///
/// Matching rule: a predicted span is correct if it overlaps a gold span of the same type;
/// a gold span is found if a predicted span of its type overlaps it. A gold span is leaked
/// if predicted spans of any type do not cover all of its bytes (the value would survive
/// redaction, at least in part). Values are never printed: only the sample id, type, offsets
/// and a masked preview (at most the first two characters).
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["dataset", "pii"])))]
pub struct EvalArgs {
    /// Detection dataset (JSONL).
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// PII dataset (JSONL with labeled spans).
    #[arg(long)]
    pii: Option<PathBuf>,
    /// Rules directory or file (detection).
    #[arg(long, default_value = "rules/detection")]
    rules: PathBuf,
    /// Risk score from which a sample counts as flagged (detection).
    #[arg(long, default_value_t = palisade::analyze::DEFAULT_THRESHOLD)]
    threshold: u8,
    /// How many misses and false positives (and, with --pii, leaks) to list.
    #[arg(long, default_value_t = 20)]
    misses: usize,
    /// PII policy whose entity types and confidence floors are evaluated: a name looked up
    /// in --policies, or a policy file. Gold spans of types the policy does not redact count
    /// as misses.
    #[arg(long, default_value = "default_pii", requires = "pii")]
    policy: String,
    /// Directory of PII policy files.
    #[arg(long, default_value = palisade::pii::policy::DEFAULT_POLICY_DIR, requires = "pii")]
    policies: PathBuf,
    /// Print the PII report as one JSON object (rates are null where undefined).
    #[arg(long, requires = "pii")]
    json: bool,
}

pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.pii {
        return pii(path, &args);
    }
    let Some(dataset) = &args.dataset else {
        anyhow::bail!("give --dataset or --pii");
    };
    let set = Arc::new(RuleSet::load(&args.rules).context("rules do not compile")?);
    let text = std::fs::read_to_string(dataset)
        .with_context(|| format!("cannot read {}", dataset.display()))?;
    let samples =
        palisade::eval::parse_dataset(&text).with_context(|| format!("{}", dataset.display()))?;
    let report =
        palisade::eval::evaluate(&palisade::detect::Detector::new(set), &samples, args.threshold);
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, report.render(args.misses).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn pii(path: &PathBuf, args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let policy = palisade::pii::policy::resolve(&args.policy, &args.policies)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let samples =
        palisade::eval::pii::parse_dataset(&text).with_context(|| format!("{}", path.display()))?;
    let report = palisade::eval::pii::evaluate(&policy, &samples);
    let mut rendered = if args.json {
        serde_json::to_string(&report.to_json())?
    } else {
        report.render(args.misses)
    };
    if !rendered.ends_with('\n') {
        rendered.push('\n');
    }
    let mut out = std::io::stdout().lock();
    std::io::Write::write_all(&mut out, rendered.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
