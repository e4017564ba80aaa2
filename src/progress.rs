//! Progress and cancellation of long work (reading a model's weights, a forward pass),
//! shared between the thread doing it and the window showing a bar with a Cancel button.
//!
//! The worker counts units of work done out of a total (array elements read, layers
//! run) and asks [`Progress::cancelled`] between units; the window reads
//! [`Progress::fraction`] each frame and calls [`Progress::cancel`]. A clone shares the
//! same counters, so the handle is cheap to pass to a thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A shared counter of work done, its total, and a cancel flag.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    done: AtomicU64,
    total: AtomicU64,
    cancelled: AtomicBool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress::default()
    }

    /// Sets how many units the work has (0: unknown).
    pub fn set_total(&self, total: u64) {
        self.0.total.store(total, Ordering::Relaxed);
    }

    /// Counts `n` more units done.
    pub fn advance(&self, n: u64) {
        self.0.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Units done and the total (0 when unknown).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.0.done.load(Ordering::Relaxed),
            self.0.total.load(Ordering::Relaxed),
        )
    }

    /// Done out of total, in 0–1; `None` while the total is unknown.
    pub fn fraction(&self) -> Option<f32> {
        let (done, total) = self.counts();
        (total > 0).then(|| (done as f64 / total as f64).min(1.0) as f32)
    }

    /// Asks the work to stop at its next check.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether [`Progress::cancel`] was called.
    pub fn cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_counts_and_the_cancel_flag() {
        let p = Progress::new();
        assert_eq!(p.fraction(), None);
        let worker = p.clone();
        worker.set_total(8);
        worker.advance(2);
        assert_eq!(p.counts(), (2, 8));
        assert_eq!(p.fraction(), Some(0.25));
        worker.advance(10);
        assert_eq!(p.fraction(), Some(1.0));
        assert!(!worker.cancelled());
        p.cancel();
        assert!(worker.cancelled());
    }
}
