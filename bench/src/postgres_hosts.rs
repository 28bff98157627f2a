//! Rows 11b and 11c: row 11 with 2 and 3 active hosts on one PostgreSQL
//! database, each host joined beside the others (`sole: false`) and owning
//! its fair share of the 16 partitions. All hosts run in this process on
//! one tokio runtime of 2 workers, with PostgreSQL on the same 2 cores: the
//! figure says what the routing between hosts costs on a shared machine,
//! not how far more machines would scale. Events go round robin over the
//! hosts, as a load balancer that knows nothing of partitions would send
//! them, so most are accepted by a host that does not own their user and
//! wait in the inbox for the owner.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use skillhost::cluster::{fair_share, partition_of, ClusterOptions};
use skillhost::store::{PostgresStore, Store};
use skillhost::Host;

use crate::postgres::{connect, create_database, drop_database};
use crate::workload::{per_second, project, runtime, start, tick, tick_flow};
use crate::{Row, Scale};

/// As row 11: enough concurrent submitters to keep both workers busy.
const CLIENTS: usize = 64;
/// Users the events are for: enough that their personas fall in most of
/// the partitions (their ids are fresh, so the spread differs per run).
const USERS: usize = 64;
const PARTITIONS: u32 = 16;
/// Short, so joining hosts split the partitions within a few seconds.
const LEASE: Duration = Duration::from_secs(2);

/// One row per host count; `one_host` is row 11's figure (events/s), the
/// reference.
pub fn rows(scale: &Scale, one_host: Option<f64>, rows: &mut Vec<Row>) -> Result<()> {
    for (label, hosts) in [("11b", 2), ("11c", 3)] {
        let name = format!(
            "{label}. dispatch, trivial skill, PostgreSQL store, {hosts} active hosts \
             (in one process, one runtime of 2 workers), {PARTITIONS} partitions, \
             {USERS} users, events round robin over the hosts"
        );
        let (Some(base), Some(one_host)) = (
            std::env::var("SKILLHOST_TEST_PG")
                .ok()
                .filter(|u| !u.is_empty()),
            one_host,
        ) else {
            rows.push(Row {
                name,
                value: "not measured: SKILLHOST_TEST_PG is not set".into(),
                reference: "export SKILLHOST_TEST_PG=$(.ci/postgres)".into(),
                ratio: "-".into(),
            });
            continue;
        };
        let mut best: Option<Measured> = None;
        for r in 0..scale.repeats {
            let m = measure(&base, hosts, scale.events, r)?;
            if best.as_ref().is_none_or(|b| m.per_second > b.per_second) {
                best = Some(m);
            }
        }
        let best = best.context("no measurement")?;
        rows.push(Row {
            name,
            value: format!(
                "{:.0} events/s ({:.0} µs/event); {:.0}% accepted by a host not owning \
                 the user's partition (via the inbox)",
                best.per_second,
                1e6 / best.per_second,
                100.0 * best.forwarded
            ),
            reference: format!(
                "1 active host {one_host:.0}/s ({:.0} µs/event, row 11)",
                1e6 / one_host
            ),
            ratio: format!("{:.2}x of 1 host", best.per_second / one_host),
        });
    }
    Ok(())
}

struct Measured {
    per_second: f64,
    /// The share of events submitted to a host other than their owner.
    forwarded: f64,
}

/// One measurement on a fresh database, dropped afterwards.
fn measure(base: &str, hosts: usize, events: usize, repeat: usize) -> Result<Measured> {
    let dir = project(&tick_flow("noop", &[]))?;
    let db = format!("skillhost_bench_{}_{hosts}h_{repeat}", std::process::id());
    let url = runtime(1).block_on(create_database(base, &db))?;
    // A runtime per measurement: dropping it ends the hosts' tasks, so the
    // stores close (and give their leases back) before the drop.
    let rt = runtime(2);
    let measured = rt.block_on(async {
        let stores = split(&url, hosts).await?;
        let moved_in = moves(&stores);
        let mut running = Vec::new();
        for store in &stores {
            let store: Arc<dyn Store> = store.clone();
            running.push(start(dir.path(), store, crate::workload::config()).await?);
        }
        let (elapsed, forwarded) = drive(&running, &stores, events).await?;
        check(&url, &stores, events).await?;
        if moves(&stores) != moved_in {
            bail!("a partition moved between hosts while measuring: the figure would include a takeover");
        }
        anyhow::Ok(Measured {
            per_second: per_second(events, elapsed),
            forwarded,
        })
    });
    drop(rt);
    runtime(1).block_on(drop_database(base, &db))?;
    measured
}

/// Opens `hosts` stores beside each other on `url` and waits until they
/// have split the partitions: all owned, none over its fair share. Then
/// nobody gives any back or takes any (only a lapsed lease would move).
async fn split(url: &str, hosts: usize) -> Result<Vec<Arc<PostgresStore>>> {
    let options = ClusterOptions {
        partitions: Some(PARTITIONS),
        lease: LEASE,
        host_id: None,
        sole: false,
        standby: false,
        active: None,
    };
    let mut stores = Vec::new();
    for _ in 0..hosts {
        stores.push(Arc::new(PostgresStore::open(url, &options)?));
    }
    let share = fair_share(PARTITIONS, hosts as u32) as usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let owned: Vec<usize> = stores.iter().map(|s| s.leases().owned().len()).collect();
        if owned.iter().sum::<usize>() == PARTITIONS as usize && owned.iter().all(|n| *n <= share) {
            return Ok(stores);
        }
        if Instant::now() > deadline {
            bail!("{hosts} hosts did not split the partitions within 60 s: {owned:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Submits `events` ticks for [`USERS`] users from [`CLIENTS`] tasks, each
/// event to the next host in turn, and waits until every run has
/// committed. Returns the elapsed time and the share of events accepted by
/// a host that does not own their user.
async fn drive(
    hosts: &[Arc<Host>],
    stores: &[Arc<PostgresStore>],
    events: usize,
) -> Result<(Duration, f64)> {
    // The actors exist before the clock starts (as in row 11), and every
    // host has looked them up once.
    let mut owner = vec![usize::MAX; USERS];
    for host in hosts {
        for (u, owner) in owner.iter_mut().enumerate() {
            let actor = host.actor("bench", "bench", &format!("u{u}")).await?;
            let p = partition_of(Some(actor.persona_id.as_str()), PARTITIONS);
            *owner = stores
                .iter()
                .position(|s| s.leases().owned().contains(&p))
                .context("a partition without owner after the split")?;
        }
    }
    // Event i is for user i % USERS and goes to host (i + i / USERS) % n:
    // round robin over the events, and each user's successive events to
    // successive hosts (plain i % n would pin user u to host u % n when n
    // divides USERS).
    let n = hosts.len();
    let host_of = move |i: usize| (i + i / USERS) % n;
    let forwarded = (0..events)
        .filter(|&i| owner[i % USERS] != host_of(i))
        .count() as f64
        / events as f64;
    let clock = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..CLIENTS {
        let hosts = hosts.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut i = s;
            while i < events {
                hosts[host_of(i)].submit(tick(i % USERS)).await?;
                i += CLIENTS;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("submitter panicked")??;
    }
    // Done when the hosts together have ended one run per event. No host's
    // tracker knows that: `idle()` covers only the events a host routed
    // itself, and an event accepted for another host's partition is done
    // for its acceptor once it waits in the inbox. Each tick matches one
    // subscription, so it makes exactly one run, and the owner's executor
    // counts an ok run only after its commit returned: the sum of the
    // hosts' run counters reaches `events` exactly when every run is
    // committed (a failed or dropped run counts too, so a fault ends the
    // wait and `check` reports it). It is in memory, so polling it puts no
    // load on PostgreSQL, which the measurement shares the cores with.
    let deadline = clock + Duration::from_secs(600);
    while ended(hosts) < events as u64 {
        if Instant::now() > deadline {
            bail!("{} of {events} runs ended after 600 s", ended(hosts));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok((clock.elapsed(), forwarded))
}

/// Partitions the stores have taken from another owner or a lapsed lease.
fn moves(stores: &[Arc<PostgresStore>]) -> u64 {
    stores.iter().map(|s| s.leases().moved_in()).sum()
}

/// Runs ended on these hosts, of every outcome.
fn ended(hosts: &[Arc<Host>]) -> u64 {
    hosts
        .iter()
        .flat_map(|h| h.metrics().runs_by_outcome())
        .map(|(_, n)| n)
        .sum()
}

/// After the clock stopped: the database holds one ok run per event and no
/// other, nothing waits in the inbox or the queue or is unrouted, and no
/// write was fenced.
async fn check(url: &str, stores: &[Arc<PostgresStore>], events: usize) -> Result<()> {
    let client = connect(url).await?;
    let count = |sql: &'static str| {
        let client = &client;
        async move {
            let n: i64 = client.query_one(sql, &[]).await?.get(0);
            anyhow::Ok(n)
        }
    };
    let ok = count("SELECT count(*) FROM runs WHERE outcome = 'ok'").await?;
    let other = count("SELECT count(*) FROM runs WHERE outcome <> 'ok'").await?;
    if ok != events as i64 || other != 0 {
        bail!("{ok} ok runs and {other} others in the database for {events} events");
    }
    // A committed run's routing rows (inbox, unrouted flag) were written
    // before it ran, but let their cleanup land: a short bound.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = count(
            "SELECT (SELECT count(*) FROM inbox) + (SELECT count(*) FROM queue) \
             + (SELECT count(*) FROM events WHERE NOT routed)",
        )
        .await?;
        if left == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!("{left} inbox, queue or unrouted rows left after every run committed");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for s in stores {
        let leases = s.leases();
        if leases.fenced() > 0 || leases.lost().borrow().is_some() {
            bail!(
                "a host lost a partition while measuring ({} writes fenced)",
                leases.fenced()
            );
        }
    }
    Ok(())
}
