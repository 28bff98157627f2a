//! Storage faults the writer waits out (a full disk, an I/O error, a file
//! locked by another process), and the store's health while it does.
//!
//! A full disk is not a skill's failure: a run that finished must commit
//! once space returns, not end `failed`. So the writer holds the writes the
//! pipeline already owes (routing, run commits, dispatch ends, timer fires,
//! command results) and retries them in order; writes from outside (new
//! submissions, new actors) fail at once, so clients get a `503` and retry.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;
use rusqlite::ErrorCode;

use crate::store::StoreHealth;

/// Whether an error is the storage refusing writes for now, as opposed to
/// a write that is wrong (a constraint, an unknown id) and fails for good.
pub(super) fn is_transient(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<rusqlite::Error>()
            .and_then(|e| e.sqlite_error_code())
            .is_some_and(|code| {
                matches!(
                    code,
                    ErrorCode::DiskFull
                        | ErrorCode::SystemIoFailure
                        | ErrorCode::CannotOpen
                        | ErrorCode::DatabaseBusy
                        | ErrorCode::DatabaseLocked
                        | ErrorCode::OutOfMemory
                )
            })
    })
}

/// What the writer reports about itself, read by `/healthz` and `/metrics`.
#[derive(Default)]
pub(super) struct Faults {
    /// The last storage error while writes are refused; `None` when healthy.
    reason: Mutex<Option<String>>,
    /// Writes waiting for the storage to accept them.
    held: AtomicUsize,
    /// Transactions and writes the storage refused, since start.
    refused: AtomicU64,
}

impl Faults {
    /// The storage refused a write with `e`.
    pub(super) fn refused(&self, e: &anyhow::Error) {
        self.refused.fetch_add(1, Relaxed);
        let mut reason = self.reason.lock();
        if reason.is_none() {
            tracing::error!("the store refuses writes, holding the pipeline's writes until it accepts them: {e:#}");
        }
        *reason = Some(format!("{e:#}"));
    }

    /// A batch went through with nothing refused.
    pub(super) fn recovered(&self) {
        if self.reason.lock().take().is_some() {
            tracing::info!("the store accepts writes again");
        }
    }

    pub(super) fn is_refusing(&self) -> bool {
        self.reason.lock().is_some()
    }

    pub(super) fn set_held(&self, n: usize) {
        self.held.store(n, Relaxed);
    }

    pub(super) fn health(&self) -> StoreHealth {
        StoreHealth {
            refusing_writes: self.reason.lock().clone(),
            held_writes: self.held.load(Relaxed),
            refused_writes: self.refused.load(Relaxed),
        }
    }
}
