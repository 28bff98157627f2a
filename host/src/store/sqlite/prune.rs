//! Pruning history (see [`crate::retention`]): one batch of the oldest
//! finished events past the retention bounds, with their runs and acts.

use anyhow::Result;
use rusqlite::{params, OptionalExtension, Transaction};

use crate::store::write_op::PruneBounds;

/// Deletes up to `max` finished events past the bounds; returns how many.
pub(super) fn prune(tx: &Transaction<'_>, b: &PruneBounds) -> Result<usize> {
    let Some(last_seq) = seq_bound(tx, b)? else {
        return Ok(0);
    };
    // Finished: routed, nothing queued or running for it, no command of its
    // runs still in the outbox. Oldest first.
    let victims: Vec<(i64, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT e.seq, e.id FROM events e \
             WHERE e.seq <= ?1 AND e.routed = 1 \
               AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.event_id = e.id) \
               AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = e.id) \
             ORDER BY e.seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![last_seq, b.max as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut runs = tx.prepare_cached("DELETE FROM runs WHERE event_id = ?1")?;
    let mut acts = tx.prepare_cached("DELETE FROM acts WHERE event_id = ?1")?;
    let mut events = tx.prepare_cached("DELETE FROM events WHERE seq = ?1")?;
    for (seq, id) in &victims {
        runs.execute(params![id])?;
        acts.execute(params![id])?;
        events.execute(params![seq])?;
    }
    Ok(victims.len())
}

/// The highest event seq past either bound, `None` if none is.
fn seq_bound(tx: &Transaction<'_>, b: &PruneBounds) -> Result<Option<i64>> {
    let (first, last): (Option<i64>, Option<i64>) =
        tx.query_row("SELECT MIN(seq), MAX(seq) FROM events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(None);
    };
    // Seqs have no gaps above the pruned ones, so the newest N are the last N.
    let by_count = b
        .keep_events
        .map(|n| last.saturating_sub(i64::try_from(n).unwrap_or(i64::MAX)));
    let by_age = match b.before_ms {
        Some(before) => last_accepted_before(tx, first, last, before)?,
        None => None,
    };
    Ok(by_count.max(by_age).filter(|&s| s >= first))
}

/// The last seq accepted before `before_ms`, by binary search on seq:
/// acceptance times grow with seq (within the length of a run, for events
/// sent by runs), so no index on time is needed.
fn last_accepted_before(
    tx: &Transaction<'_>,
    first: i64,
    last: i64,
    before_ms: i64,
) -> Result<Option<i64>> {
    let mut at = tx.prepare_cached(
        "SELECT seq, accepted_at_ms FROM events WHERE seq >= ?1 ORDER BY seq LIMIT 1",
    )?;
    let mut found = None;
    let (mut lo, mut hi) = (first, last);
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let row: Option<(i64, i64)> = at
            .query_row(params![mid], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match row {
            Some((seq, accepted)) if accepted < before_ms => {
                found = Some(seq);
                lo = seq + 1;
            }
            _ => hi = mid - 1,
        }
    }
    Ok(found)
}
