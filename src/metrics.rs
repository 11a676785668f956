//! Process-wide counters, updated in bulk (per batch, never per event in a hot loop) and
//! read by progress displays. Labels are fixed and few: no PII, no unbounded cardinality.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one process.
#[derive(Debug, Default)]
pub struct Counters {
    /// Records read by sources (events and dead letters).
    pub records_in: AtomicU64,
    /// Records that could not be decoded.
    pub dead_letters: AtomicU64,
    /// Records made durable by sinks, by kind.
    pub interactions_out: AtomicU64,
    pub telemetry_out: AtomicU64,
    pub alerts_out: AtomicU64,
    pub dead_letters_out: AtomicU64,
}

static COUNTERS: Counters = Counters {
    records_in: AtomicU64::new(0),
    dead_letters: AtomicU64::new(0),
    interactions_out: AtomicU64::new(0),
    telemetry_out: AtomicU64::new(0),
    alerts_out: AtomicU64::new(0),
    dead_letters_out: AtomicU64::new(0),
};

/// The process's counters.
pub fn counters() -> &'static Counters {
    &COUNTERS
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The durable-output counter for a record kind name (`interactions`, `alerts`, ...).
    pub fn out(&self, kind: &str) -> Option<&AtomicU64> {
        match kind {
            "interactions" => Some(&self.interactions_out),
            "telemetry" => Some(&self.telemetry_out),
            "alerts" => Some(&self.alerts_out),
            "dead_letters" => Some(&self.dead_letters_out),
            _ => None,
        }
    }

    /// Adds a batch's written records (by kind) once they are durable.
    pub fn add_written(&self, written: &[(&'static str, u64)]) {
        for (kind, n) in written {
            if let Some(c) = self.out(kind) {
                Self::add(c, *n);
            }
        }
    }
}
