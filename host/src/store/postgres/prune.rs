//! Pruning history (see [`crate::retention`]): one batch of the oldest
//! finished events past the retention bounds, with their runs and acts.
//! Not a partition write: a finished event has nothing queued and nothing
//! in the outbox, so no owner's work can depend on it, and any host may
//! prune it.

use anyhow::Result;

use super::rows::{execute, query, Conn};
use crate::store::write_op::PruneBounds;

/// Deletes up to `max` finished events past the bounds; returns how many.
pub(super) async fn prune(c: &Conn, b: &PruneBounds) -> Result<usize> {
    let Some(last_seq) = seq_bound(c, b).await? else {
        return Ok(0);
    };
    // Finished: routed, nothing queued or running for it, no command of its
    // runs still in the outbox. Oldest first.
    let rows = query(
        c,
        "SELECT e.seq, e.id FROM events e \
         WHERE e.seq <= $1 AND e.routed \
           AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.event_id = e.id) \
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = e.id) \
         ORDER BY e.seq LIMIT $2",
        &[&last_seq, &(b.max as i64)],
    )
    .await?;
    let seqs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let ids: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
    if ids.is_empty() {
        return Ok(0);
    }
    execute(c, "DELETE FROM runs WHERE event_id = ANY($1)", &[&ids]).await?;
    execute(c, "DELETE FROM acts WHERE event_id = ANY($1)", &[&ids]).await?;
    execute(c, "DELETE FROM events WHERE seq = ANY($1)", &[&seqs]).await?;
    Ok(ids.len())
}

/// The highest event seq past either bound, `None` if none is.
async fn seq_bound(c: &Conn, b: &PruneBounds) -> Result<Option<i64>> {
    let rows = query(c, "SELECT MIN(seq), MAX(seq) FROM events", &[]).await?;
    let (first, last): (Option<i64>, Option<i64>) = (rows[0].get(0), rows[0].get(1));
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(None);
    };
    // A sequence leaves gaps (rolled-back inserts), so this keeps at most N:
    // "about" N, as documented.
    let by_count = b
        .keep_events
        .map(|n| last.saturating_sub(i64::try_from(n).unwrap_or(i64::MAX)));
    let by_age = match b.before_ms {
        Some(before) => last_accepted_before(c, first, last, before).await?,
        None => None,
    };
    Ok(by_count.max(by_age).filter(|&s| s >= first))
}

/// The last seq accepted before `before_ms`, by binary search on seq:
/// acceptance times grow with seq (within the length of a transaction, for
/// events accepted by several hosts at once), so no index on time is needed.
async fn last_accepted_before(
    c: &Conn,
    first: i64,
    last: i64,
    before_ms: i64,
) -> Result<Option<i64>> {
    let mut found = None;
    let (mut lo, mut hi) = (first, last);
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let row = query(
            c,
            "SELECT seq, accepted_at_ms FROM events WHERE seq >= $1 ORDER BY seq LIMIT 1",
            &[&mid],
        )
        .await?;
        match row
            .first()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
        {
            Some((seq, accepted)) if accepted < before_ms => {
                found = Some(seq);
                lo = seq + 1;
            }
            _ => hi = mid - 1,
        }
    }
    Ok(found)
}
