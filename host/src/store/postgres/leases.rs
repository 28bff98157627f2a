//! Partition leases: which partitions this host owns, at which epoch, and
//! until when by its own clock; and the loop that renews them every third
//! of a lease, takes expired ones up to a fair share and gives back those
//! over it when hosts join.
//!
//! Safety does not rest on clocks: every partition write checks owner and
//! epoch in its own transaction (`writer.rs`). The local deadline only
//! makes a host stop early: a renewal's deadline is counted from before the
//! renewal was sent, minus a margin, so it passes before the database's
//! expiry (counted from the database's `now()` inside the renewal).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use deadpool_postgres::Pool;
use parking_lot::RwLock;
use tokio::sync::watch;

use crate::cluster::{fair_share, ActiveHost};

/// Any constant: the key of the advisory lock a sole host registers under.
const SOLE_LOCK: i64 = 0x736b_696c_6c73_6f6c;

#[derive(Debug, Clone, Copy)]
struct Held {
    epoch: i64,
    /// By this host's monotonic clock: past it, the partition is given up.
    valid_until: Instant,
}

/// This host's leases (see the module docs).
pub struct Leases {
    host_id: String,
    partitions: u32,
    lease: Duration,
    held: RwLock<BTreeMap<u32, Held>>,
    /// Test hook: renewals stop (the leases lapse by the local clock too).
    paused: AtomicBool,
    /// Test hook: renewals stop and the local deadlines are ignored, as in a
    /// process stalled between its check and its write (a zombie).
    frozen: AtomicBool,
    /// Partitions this host took from another owner or from an expired lease.
    moved_in: AtomicU64,
    /// Partition writes refused because the lease was lost.
    fenced: AtomicU64,
    /// The owned partitions, for whoever must follow changes (the host).
    owned_tx: watch::Sender<BTreeSet<u32>>,
    /// The database's only host (active/standby): keeps every partition,
    /// never gives any back for a fair share.
    sole: bool,
    /// Partitions whose local deadline passed, with the epoch this host held
    /// them at: taken again at the next epoch, nobody else held them between.
    lapsed: parking_lot::Mutex<BTreeMap<u32, i64>>,
    /// Set once work this host held in memory may have moved (see [`Leases::lost`]).
    lost_tx: watch::Sender<Option<String>>,
}

impl Leases {
    pub(super) fn new(
        host_id: String,
        partitions: u32,
        lease: Duration,
        sole: bool,
    ) -> Arc<Leases> {
        Arc::new(Leases {
            host_id,
            partitions,
            lease,
            held: RwLock::new(BTreeMap::new()),
            paused: AtomicBool::new(false),
            frozen: AtomicBool::new(false),
            moved_in: AtomicU64::new(0),
            fenced: AtomicU64::new(0),
            owned_tx: watch::channel(BTreeSet::new()).0,
            sole,
            lapsed: parking_lot::Mutex::new(BTreeMap::new()),
            lost_tx: watch::channel(None).0,
        })
    }

    /// This host's id, as the `owner` of its partitions.
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// The cluster's partition count.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// The epoch of a partition this host owns now, `None` if it does not.
    pub fn epoch(&self, p: u32) -> Option<i64> {
        let held = self.held.read().get(&p).copied()?;
        (self.frozen.load(Ordering::Relaxed) || held.valid_until > Instant::now())
            .then_some(held.epoch)
    }

    /// The partitions this host owns now.
    pub fn owned(&self) -> Vec<u32> {
        let now = Instant::now();
        let frozen = self.frozen.load(Ordering::Relaxed);
        self.held
            .read()
            .iter()
            .filter(|(_, h)| frozen || h.valid_until > now)
            .map(|(p, _)| *p)
            .collect()
    }

    /// Whether this host is the database's only active host (it owns every
    /// partition and routes every event itself).
    pub fn sole(&self) -> bool {
        self.sole
    }

    /// Follows the owned partitions as they change (each renewal publishes).
    pub fn watch(&self) -> watch::Receiver<BTreeSet<u32>> {
        self.owned_tx.subscribe()
    }

    /// Test hook: a paused host stops renewing; its leases lapse.
    pub fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    /// Test hook: a frozen host neither renews nor notices its leases expire.
    pub fn freeze(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::Relaxed);
    }

    /// How many partitions this host took over so far.
    pub fn moved_in(&self) -> u64 {
        self.moved_in.load(Ordering::Relaxed)
    }

    /// How many partition writes were refused for a lost lease so far.
    pub fn fenced(&self) -> u64 {
        self.fenced.load(Ordering::Relaxed)
    }

    pub(super) fn count_fenced(&self, partition: u32) {
        self.fenced.fetch_add(1, Ordering::Relaxed);
        if self.sole {
            // The refused write's queue entry is in no one's memory now.
            self.lose(format!(
                "a write to partition {partition} was refused: this host's lease of it had lapsed"
            ));
        }
    }

    /// Becomes `Some(why)` once work this host held in memory may belong to
    /// another host or was dropped: a partition it held was taken over (it
    /// stalled, or lost the database, for longer than the lease), or, as the
    /// sole host, one of its writes was fenced. Its in-memory queues no
    /// longer match the database: it must stop, and a fresh start recovers
    /// from the rows.
    pub fn lost(&self) -> watch::Receiver<Option<String>> {
        self.lost_tx.subscribe()
    }

    fn lose(&self, why: String) {
        self.lost_tx.send_if_modified(|old| {
            let first = old.is_none();
            if first {
                tracing::error!(host = %self.host_id, "{why}");
                *old = Some(why);
            }
            first
        });
    }

    fn publish(&self) {
        let owned: BTreeSet<u32> = self.owned().into_iter().collect();
        self.owned_tx.send_if_modified(|old| {
            let changed = *old != owned;
            *old = owned;
            changed
        });
    }

    /// One round: renew, give back over the fair share, take expired up to
    /// it. In one transaction, so a crash in the middle changes nothing.
    pub(super) async fn tick(&self, pool: &Pool) -> Result<()> {
        if self.frozen.load(Ordering::Relaxed) || self.paused.load(Ordering::Relaxed) {
            return Ok(());
        }
        let sent = Instant::now();
        let lease_ms = self.lease.as_millis() as i64;
        // Partitions past their local deadline are gone: the host dropped
        // their work, so getting one back goes through a takeover (a new
        // epoch, and recovery).
        let still: Vec<(u32, i64)> = {
            let mut held = self.held.write();
            let mut lapsed = self.lapsed.lock();
            held.retain(|p, h| {
                let valid = h.valid_until > sent;
                if !valid {
                    lapsed.insert(*p, h.epoch);
                }
                valid
            });
            held.iter().map(|(p, h)| (*p, h.epoch)).collect()
        };
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO hosts (id, expires_at) VALUES ($1, now() + $2::float8 * interval '1 millisecond') \
             ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
            &[&self.host_id, &(lease_ms as f64)],
        )
        .await?;
        tx.execute(
            "DELETE FROM hosts WHERE expires_at < now() - interval '1 hour'",
            &[],
        )
        .await?;
        let hosts: i64 = tx
            .query_one("SELECT count(*) FROM hosts WHERE expires_at > now()", &[])
            .await?
            .get(0);
        let share = if self.sole {
            self.partitions as usize
        } else {
            fair_share(self.partitions, hosts as u32) as usize
        };

        let mine: Vec<i32> = still.iter().map(|(p, _)| *p as i32).collect();
        let renewed_rows = tx
            .query(
                "UPDATE partitions SET expires_at = now() + $3::float8 * interval '1 millisecond' \
                 WHERE owner = $1 AND p = ANY($2) RETURNING p, epoch",
                &[&self.host_id, &mine, &(lease_ms as f64)],
            )
            .await?;
        let renewed: BTreeMap<u32, i64> = renewed_rows
            .iter()
            .map(|r| (r.get::<_, i32>(0) as u32, r.get::<_, i64>(1)))
            .filter(|(p, epoch)| still.contains(&(*p, *epoch)))
            .collect();

        // Over the share: give back the highest-numbered ones.
        let mut keep: Vec<u32> = renewed.keys().copied().collect();
        let give_back: Vec<i32> = if keep.len() > share {
            keep.split_off(share)
                .into_iter()
                .map(|p| p as i32)
                .collect()
        } else {
            Vec::new()
        };
        if !give_back.is_empty() {
            // Stop writing to them before they are free to take.
            self.held
                .write()
                .retain(|p, _| !give_back.contains(&(*p as i32)));
            tx.execute(
                "UPDATE partitions SET owner = NULL, expires_at = '-infinity' \
                 WHERE owner = $1 AND p = ANY($2)",
                &[&self.host_id, &give_back],
            )
            .await?;
        }

        // Under the share: take free or expired ones (ours from a previous
        // process with the same id too), skipping any another host is taking.
        let want = share.saturating_sub(keep.len()) as i64;
        let mut taken = BTreeMap::new();
        if want > 0 {
            let rows = tx
                .query(
                    "UPDATE partitions SET owner = $1, epoch = epoch + 1, \
                     expires_at = now() + $3::float8 * interval '1 millisecond' \
                     WHERE p IN (SELECT p FROM partitions \
                        WHERE (owner IS NULL OR expires_at < now() OR owner = $1) AND NOT (p = ANY($2)) \
                        ORDER BY p LIMIT $4 FOR UPDATE SKIP LOCKED) \
                     RETURNING p, epoch",
                    &[&self.host_id, &mine, &(lease_ms as f64), &want],
                )
                .await?;
            for r in rows {
                taken.insert(r.get::<_, i32>(0) as u32, r.get::<_, i64>(1));
            }
        }
        tx.commit().await?;

        let valid_until = sent + self.lease - self.margin();
        {
            let mut held = self.held.write();
            held.retain(|p, _| renewed.contains_key(p));
            for p in &keep {
                if let Some(h) = held.get_mut(p) {
                    h.valid_until = valid_until;
                }
            }
            for (p, epoch) in &taken {
                held.insert(
                    *p,
                    Held {
                        epoch: *epoch,
                        valid_until,
                    },
                );
            }
        }
        // A lapsed partition is still this host's only if it came back at the
        // next epoch: any other means another host held it in between.
        let lapsed = std::mem::take(&mut *self.lapsed.lock());
        for (p, epoch) in lapsed {
            match taken.get(&p) {
                Some(e) if *e == epoch + 1 => {}
                now => self.lose(format!(
                    "partition {p}: this host's lease (epoch {epoch}) lapsed and another host \
                     took it over (now {})",
                    now.map_or("not held".to_string(), |e| format!("epoch {e}"))
                )),
            }
        }
        if !taken.is_empty() {
            self.moved_in
                .fetch_add(taken.len() as u64, Ordering::Relaxed);
            tracing::info!(partitions = ?taken.keys().collect::<Vec<_>>(), host = %self.host_id, "took partitions");
        }
        if !give_back.is_empty() {
            tracing::info!(partitions = ?give_back, host = %self.host_id, "gave back partitions");
        }
        self.publish();
        Ok(())
    }

    /// Becomes the database's only host (see [`crate::cluster::ClusterOptions::sole`]):
    /// waits until no other host is alive, registers, then takes every
    /// partition as the previous owner's leases expire. Gives up after two
    /// leases with the other hosts' ids, unless `standby` (then it waits).
    /// A standby records the active host's URL in `active` at each check.
    pub(super) async fn claim_sole(
        &self,
        pool: &Pool,
        standby: bool,
        active: Option<&ActiveHost>,
    ) -> Result<()> {
        let start = Instant::now();
        let limit = self.lease * 2 + Duration::from_secs(1);
        let mut announced = false;
        let lease_ms = self.lease.as_millis() as f64;
        loop {
            let mut client = pool.get().await?;
            let tx = client.transaction().await?;
            // Two hosts starting at once: one registers, the other sees it.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SOLE_LOCK])
                .await?;
            let rows = tx
                .query(
                    "SELECT id, url FROM hosts WHERE id <> $1 AND expires_at > now() ORDER BY id",
                    &[&self.host_id],
                )
                .await?;
            let others: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            if let Some(active) = active {
                active.set(rows.iter().find_map(|r| r.get::<_, Option<String>>(1)));
            }
            if others.is_empty() {
                tx.execute(
                    "INSERT INTO hosts (id, expires_at) VALUES ($1, now() + $2::float8 * interval '1 millisecond') \
                     ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
                    &[&self.host_id, &lease_ms],
                )
                .await?;
                tx.commit().await?;
                break;
            }
            tx.commit().await?;
            if standby {
                if !announced {
                    tracing::warn!(
                        active = %others.join(", "),
                        "standby: another host is active on this database; taking over when it stops"
                    );
                    announced = true;
                }
            } else if start.elapsed() > limit {
                bail!(
                    "another skillhost is running on this database (host {}); one active host per \
                     database for now: stop it, use another database, or start this one with \
                     --standby to take over when it stops",
                    others.join(", ")
                );
            }
            tokio::time::sleep(self.lease / 3).await;
        }
        loop {
            self.tick(pool).await?;
            if self.owned().len() == self.partitions as usize {
                return Ok(());
            }
            if !standby && start.elapsed() > limit {
                bail!(
                    "partitions are still leased by another host after {:?}",
                    start.elapsed()
                );
            }
            tracing::info!("waiting for the previous host's partition leases to expire");
            tokio::time::sleep(self.lease / 3).await;
        }
    }

    /// How long before its local deadline a lease counts as lost: covers a
    /// renewal's round trip and the check-to-write gap of a partition write.
    fn margin(&self) -> Duration {
        self.lease / 5
    }

    /// Renews every third of a lease until `stop` is set; a failed round is
    /// logged and retried at the next one (leases lapse if it keeps failing).
    pub(super) async fn run(self: Arc<Self>, pool: Pool, stop: Arc<AtomicBool>) {
        let period = self.lease / 3;
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(period).await;
            if let Err(e) = self.tick(&pool).await {
                tracing::warn!("renewing partition leases: {e:#}");
            }
            // A lease may lapse between rounds (a stall): publish that too.
            self.publish();
        }
    }

    /// Gives back every partition and leaves the cluster (a clean shutdown):
    /// the others take them at once instead of after a lease.
    pub(super) async fn release(&self, pool: &Pool) -> Result<()> {
        let mine: Vec<i32> = std::mem::take(&mut *self.held.write())
            .into_keys()
            .map(|p| p as i32)
            .collect();
        let client = pool.get().await?;
        client
            .execute(
                "UPDATE partitions SET owner = NULL, expires_at = '-infinity' \
                 WHERE owner = $1 AND p = ANY($2)",
                &[&self.host_id, &mine],
            )
            .await?;
        client
            .execute("DELETE FROM hosts WHERE id = $1", &[&self.host_id])
            .await?;
        Ok(())
    }
}
