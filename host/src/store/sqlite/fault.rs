//! Storage faults the writer waits out (a full disk, an I/O error, a file
//! locked by another process), and the store's health while it does.
//!
//! A full disk is not a skill's failure: a run that finished must commit
//! once space returns, not end `failed`. So the writer holds the writes the
//! pipeline already owes (routing, run commits, dispatch ends, timer fires,
//! command results) and retries them in order; writes from outside (new
//! submissions, new actors) fail at once, so clients get a `503` and retry.

use rusqlite::ErrorCode;

pub(super) use crate::store::faults::Faults;

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
