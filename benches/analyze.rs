//! Throughput of the analyzer on one core: decode → detect → redact → encode, the work
//! `palisade analyze` and the detect/redact stages do per event, plus each step alone.
//!
//! `cargo bench --bench analyze` runs the full measurement (100k generated events per
//! corpus, 7 rounds, median reported). Under `cargo test` it runs a quick smoke round so the
//! harness itself is tested. `PALISADE_BENCH_CORPUS=clean|generated|attack-dense` limits the
//! run to one corpus, for profilers.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use palisade::analyze::{AnalyzeLine, Analyzer, AnalyzerState};
use palisade::detect::{Detector, RuleSet, Scratch};
use palisade::event::Decoder;
use palisade::generate::{GenerateConfig, Generator};
use palisade::pii::{PiiPolicy, Redactor, TokenVault};

struct Corpus {
    name: &'static str,
    lines: Vec<String>,
    bytes: usize,
}

fn corpus(name: &'static str, events: usize, attack_percent: u64, pii_percent: u64) -> Corpus {
    let config = GenerateConfig { seed: 42, sessions: 500, attack_percent, pii_percent };
    let lines: Vec<String> = Generator::new(config)
        .take(events)
        .map(|g| serde_json::to_string(&g.interaction).expect("serializable"))
        .collect();
    let bytes = lines.iter().map(|l| l.len() + 1).sum();
    Corpus { name, lines, bytes }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Runs `f` over the corpus `rounds` times; returns the median seconds per round.
fn measure(rounds: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    median(
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (events, rounds) = if full { (100_000, 7) } else { (1_000, 1) };
    // `PALISADE_BENCH_CORPUS=generated` measures one corpus only (for profiling).
    let only = std::env::var("PALISADE_BENCH_CORPUS").ok();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = Arc::new(RuleSet::load(&root.join("rules/detection")).expect("shipped rules load"));
    let analyzer = Analyzer {
        detector: Detector::new(rules.clone()),
        redactor: Redactor::new(Arc::new(PiiPolicy::default_pii())),
        threshold: 50,
    };
    let decoder = Decoder::default().lenient();
    println!(
        "analyze bench: {} rules, {events} events per corpus, median of {rounds} rounds, one thread",
        rules.rules().len()
    );
    println!("{:<14} {:<26} {:>12} {:>9} {:>10}", "corpus", "step", "events/s", "MB/s", "µs/event");
    for c in [
        corpus("clean", events, 0, 0),
        corpus("generated", events, 10, 15),
        corpus("attack-dense", events, 50, 25),
    ]
    .into_iter()
    .filter(|c| only.as_deref().is_none_or(|o| o == c.name))
    {
        let decoded: Vec<_> =
            c.lines.iter().map(|l| decoder.interaction(l.as_bytes()).expect("decodes")).collect();
        let report = |step: &str, secs: f64| {
            let n = c.lines.len() as f64;
            println!(
                "{:<14} {:<26} {:>12.0} {:>9.1} {:>10.2}",
                c.name,
                step,
                n / secs,
                c.bytes as f64 / secs / 1e6,
                secs / n * 1e6
            );
        };
        report(
            "decode",
            measure(rounds, || {
                for l in &c.lines {
                    black_box(decoder.interaction(l.as_bytes()).ok());
                }
            }),
        );
        let mut with_views = 0usize;
        let mut leaves = 0usize;
        for e in &decoded {
            palisade::fields::for_each_text(e, |_, _, t| {
                leaves += 1;
                if !palisade::detect::normalize::views(t).is_empty() {
                    with_views += 1;
                }
            });
        }
        report(
            "normalize (views only)",
            measure(rounds, || {
                for e in &decoded {
                    palisade::fields::for_each_text(e, |_, _, t| {
                        black_box(palisade::detect::normalize::views(t));
                    });
                }
            }),
        );
        println!(
            "{:<14} text leaves needing a normalized/decoded view: {with_views} of {leaves}",
            c.name
        );
        let mut scratch = Scratch::default();
        report(
            "detect",
            measure(rounds, || {
                for e in &decoded {
                    black_box(analyzer.detector.scan(e, &mut scratch));
                }
            }),
        );
        let mut vault = TokenVault::default();
        report(
            "redact",
            measure(rounds, || {
                for e in &decoded {
                    let mut e = e.clone();
                    black_box(analyzer.redactor.redact(&mut e, &mut vault));
                }
            }),
        );
        // Per-event latency of the whole analysis (decode → detect → redact → encode).
        let mut latencies: Vec<f64> = Vec::with_capacity(c.lines.len());
        let mut state = AnalyzerState::default();
        let mut out = Vec::with_capacity(4096);
        for l in &c.lines {
            let start = Instant::now();
            out.clear();
            if let Ok(mut event) = decoder.interaction(l.as_bytes()) {
                let analysis = analyzer.analyze(&mut event, &mut state);
                let threat = analyzer.is_threat(&analysis.detection);
                serde_json::to_writer(&mut out, &AnalyzeLine::new(&event, &analysis, threat)).ok();
            }
            black_box(&out);
            latencies.push(start.elapsed().as_secs_f64() * 1e6);
        }
        latencies.sort_by(f64::total_cmp);
        let at = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
        println!(
            "{:<14} per-event latency (µs): p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.1}",
            c.name,
            at(0.5),
            at(0.99),
            at(0.999),
            at(1.0)
        );
        let mut state = AnalyzerState::default();
        report(
            "end to end (analyze)",
            measure(rounds, || {
                for l in &c.lines {
                    out.clear();
                    if let Ok(mut event) = decoder.interaction(l.as_bytes()) {
                        let analysis = analyzer.analyze(&mut event, &mut state);
                        let threat = analyzer.is_threat(&analysis.detection);
                        serde_json::to_writer(
                            &mut out,
                            &AnalyzeLine::new(&event, &analysis, threat),
                        )
                        .ok();
                    }
                    black_box(&out);
                }
            }),
        );
    }
}
