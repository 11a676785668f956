//! End-to-end acknowledgements: how a source learns that every sink made its events
//! durable, so it can commit its position (a Kafka offset, a file line).
//!
//! A source wraps each batch's offset range in an [`Ack`]. Every copy of the batch (after
//! fan-out or sharding) holds a clone; a sink drops its clone only once the events are
//! durable (file flushed and synced, Kafka delivery reported); a stage that filters events
//! out just drops them. When the last clone is dropped, a [`Completion`] travels back to the
//! source, whose [`OffsetTracker`] advances the committable position only over a
//! *contiguous* run of completed batches. A sink that cannot deliver calls [`Ack::fail`]:
//! the tracker then never moves past that batch, so its offset is never committed.
//!
//! The number of unacknowledged batches per source partition is bounded by a semaphore
//! permit carried inside the ack, which is what makes a source pause instead of buffering.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{OwnedSemaphorePermit, mpsc};

/// Sent back to the source when every holder of an [`Ack`] is done with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The source's number for the offset sequence (a file, or one assignment of a Kafka
    /// partition).
    pub stream: i32,
    /// First and last offsets of the batch, inclusive.
    pub first: i64,
    pub last: i64,
    /// False if any holder failed to make its copy durable.
    pub ok: bool,
}

struct AckInner {
    completion: Completion,
    failed: AtomicBool,
    notify: mpsc::UnboundedSender<Completion>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for AckInner {
    fn drop(&mut self) {
        // Dropped while unwinding from a panic: whatever held it did not finish its work.
        let ok = !self.failed.load(Ordering::Acquire) && !std::thread::panicking();
        let completion = Completion { ok, ..self.completion };
        // The source may be gone (shutdown after its deadline): nothing left to commit then.
        let _ = self.notify.send(completion);
    }
}

/// A shared acknowledgement token for one batch's offset range (see the module docs).
#[derive(Clone)]
pub struct Ack(Arc<AckInner>);

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.0.completion;
        write!(f, "Ack(s{} {}..={})", c.stream, c.first, c.last)
    }
}

impl Ack {
    /// A token for `first..=last` of `stream`, reporting to `notify`.
    pub fn new(
        stream: i32,
        first: i64,
        last: i64,
        notify: mpsc::UnboundedSender<Completion>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Self(Arc::new(AckInner {
            completion: Completion { stream, first, last, ok: true },
            failed: AtomicBool::new(false),
            notify,
            _permit: permit,
        }))
    }

    /// Marks the batch as not delivered: its offsets will never be committed.
    pub fn fail(&self) {
        self.0.failed.store(true, Ordering::Release);
    }

    pub fn range(&self) -> (i32, i64, i64) {
        let c = self.0.completion;
        (c.stream, c.first, c.last)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchState {
    Pending,
    Done,
    Failed,
}

/// Per-partition ordered finalizer: batches are registered in offset order and complete in
/// any order; the committable position advances over the contiguous done prefix.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    batches: VecDeque<(i64, i64, BatchState)>,
    /// Next offset to read after everything committed (Kafka commit semantics).
    committable: Option<i64>,
    failed: u64,
}

impl OffsetTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a batch just sent downstream. Ranges must be registered in order.
    pub fn register(&mut self, first: i64, last: i64) {
        debug_assert!(self.batches.back().is_none_or(|&(_, l, _)| l < first));
        self.batches.push_back((first, last, BatchState::Pending));
    }

    /// Records a completion; returns true if the committable position moved.
    pub fn complete(&mut self, first: i64, last: i64, ok: bool) -> bool {
        if let Some(entry) = self.batches.iter_mut().find(|(f, l, _)| *f == first && *l == last) {
            entry.2 = if ok { BatchState::Done } else { BatchState::Failed };
            if !ok {
                self.failed += 1;
            }
        }
        let mut moved = false;
        while let Some(&(_, last, BatchState::Done)) = self.batches.front() {
            self.batches.pop_front();
            self.committable = Some(last + 1);
            moved = true;
        }
        moved
    }

    /// The offset to commit (one past the last contiguously completed event), if any.
    pub fn committable(&self) -> Option<i64> {
        self.committable
    }

    /// Batches registered but not yet completed successfully.
    pub fn in_flight(&self) -> usize {
        self.batches.len()
    }

    /// Batches that failed delivery (the tracker is stuck behind the first of them).
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// True while some registered batch has not completed (successfully or not).
    pub fn has_pending(&self) -> bool {
        self.batches.iter().any(|(_, _, state)| *state == BatchState::Pending)
    }

    /// True when every registered batch completed successfully.
    pub fn is_drained(&self) -> bool {
        self.batches.is_empty()
    }

    /// Forgets everything (partition revoked).
    pub fn reset(&mut self) {
        self.batches.clear();
        self.committable = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::Rng;

    #[test]
    fn commits_only_contiguous_prefixes() {
        let mut t = OffsetTracker::new();
        t.register(0, 9);
        t.register(10, 19);
        t.register(20, 29);
        assert!(!t.complete(10, 19, true));
        assert_eq!(t.committable(), None);
        assert!(t.complete(0, 9, true));
        assert_eq!(t.committable(), Some(20));
        assert!(t.complete(20, 29, true));
        assert_eq!(t.committable(), Some(30));
        assert!(t.is_drained());
    }

    #[test]
    fn a_failed_batch_blocks_every_later_commit() {
        let mut t = OffsetTracker::new();
        t.register(0, 9);
        t.register(10, 19);
        t.register(20, 29);
        t.complete(0, 9, true);
        t.complete(10, 19, false);
        t.complete(20, 29, true);
        assert_eq!(t.committable(), Some(10));
        assert_eq!(t.failed(), 1);
        assert!(!t.is_drained());
        assert!(!t.has_pending(), "every batch has completed, one of them badly");
    }

    #[test]
    fn any_completion_order_ends_at_the_last_offset() {
        let mut rng = Rng::new(9);
        for _ in 0..200 {
            let n = 1 + rng.below(40);
            let mut t = OffsetTracker::new();
            let mut ranges = Vec::new();
            let mut offset = 0;
            for _ in 0..n {
                let len = 1 + rng.below(5) as i64;
                t.register(offset, offset + len - 1);
                ranges.push((offset, offset + len - 1));
                offset += len;
            }
            for i in (1..ranges.len()).rev() {
                ranges.swap(i, rng.below(i + 1));
            }
            let mut last_seen = None;
            for (first, last) in ranges {
                t.complete(first, last, true);
                // Monotone, and never past a batch still pending.
                assert!(t.committable() >= last_seen);
                last_seen = t.committable();
            }
            assert_eq!(t.committable(), Some(offset));
        }
    }

    #[test]
    fn dropping_the_last_clone_reports_once_with_status() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ack = Ack::new(3, 100, 199, tx.clone(), None);
        let copy = ack.clone();
        drop(ack);
        assert!(rx.try_recv().is_err(), "a clone is still held");
        copy.fail();
        drop(copy);
        assert_eq!(
            rx.try_recv().unwrap(),
            Completion { stream: 3, first: 100, last: 199, ok: false }
        );
        drop(Ack::new(0, 0, 0, tx, None));
        assert!(rx.try_recv().unwrap().ok);
    }
}
