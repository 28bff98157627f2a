//! What a store's writer reports while the storage refuses writes (a full
//! disk, a lost database connection), read by `/healthz` and `/metrics`.
//! Shared by the SQLite and PostgreSQL writers; each knows for itself which
//! errors are the storage refusing for now (`sqlite/fault.rs`,
//! `postgres/fault.rs`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

use crate::store::StoreHealth;

/// What the writer reports about itself, read by `/healthz` and `/metrics`.
#[derive(Default)]
pub(crate) struct Faults {
    /// The last storage error while writes are refused; `None` when healthy.
    reason: Mutex<Option<String>>,
    /// Writes waiting for the storage to accept them.
    held: AtomicUsize,
    /// Transactions and writes the storage refused, since start.
    refused: AtomicU64,
}

impl Faults {
    /// The storage refused a write with `e`.
    pub(crate) fn refused(&self, e: &anyhow::Error) {
        self.refused.fetch_add(1, Relaxed);
        let mut reason = self.reason.lock();
        if reason.is_none() {
            tracing::error!("the store refuses writes, holding the pipeline's writes until it accepts them: {e:#}");
        }
        *reason = Some(format!("{e:#}"));
    }

    /// A batch went through with nothing refused.
    pub(crate) fn recovered(&self) {
        if self.reason.lock().take().is_some() {
            tracing::info!("the store accepts writes again");
        }
    }

    pub(crate) fn is_refusing(&self) -> bool {
        self.reason.lock().is_some()
    }

    pub(crate) fn set_held(&self, n: usize) {
        self.held.store(n, Relaxed);
    }

    pub(crate) fn health(&self) -> StoreHealth {
        StoreHealth {
            refusing_writes: self.reason.lock().clone(),
            held_writes: self.held.load(Relaxed),
            refused_writes: self.refused.load(Relaxed),
        }
    }

    /// The error a write from outside gets while the storage refuses
    /// writes: the API answers it with 503 and `Retry-After`.
    pub(crate) fn refusing_error(&self) -> anyhow::Error {
        let reason = self
            .reason
            .lock()
            .clone()
            .unwrap_or_else(|| "unknown".into());
        anyhow::anyhow!("the store refuses writes for now ({reason}); retry later")
    }
}
