//! This host's membership of the hosts sharing the database: the partitions
//! it owns, the queue entries a taken-over partition brings, and the inbox
//! from the owner's side: a host that shares the database with
//! others listens for the events they accepted for its partitions (`LISTEN`,
//! each `NOTIFY` naming a partition; `rows.rs` sends them), and reads what
//! waits there. The listener reconnects when its connection drops; what was
//! notified meanwhile is found by the poll that
//! [`crate::cluster::Membership::inbox_changed`]
//! also resolves on.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use deadpool_postgres::Pool;
use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio_postgres::AsyncMessage;

use super::leases::Leases;
use super::outbox::outbox_in;
use super::read_on;
use super::rows::{
    events_from_rows, query, queued_in, EVENT_COLUMNS, INBOX_CHANNEL, REPLIES_CHANNEL,
};
use super::shared::{announced_by_other, SHARED_CHANNEL};
use crate::cluster::ReplyNotice;
use crate::event::Event;
use crate::store::{Command, QueuedDispatch};
use crate::versions::SharedKey;

/// How often the owner looks at its inbox without being notified.
const POLL: Duration = Duration::from_millis(500);

/// Pause before the listener connects again after losing its connection.
const RECONNECT: Duration = Duration::from_secs(1);

/// This host's [`crate::cluster::Membership`] on PostgreSQL.
pub(super) struct Membership {
    pub(super) pool: Pool,
    pub(super) leases: Arc<Leases>,
    pub(super) wake: Arc<Notify>,
    /// Where the listener passes on what other hosts announce.
    pub(super) news: News,
    /// The store's runtime, where reads run.
    pub(super) runtime: tokio::runtime::Handle,
}

impl crate::cluster::Membership for Membership {
    fn partitions(&self) -> u32 {
        self.leases.partitions()
    }

    fn owns(&self, partition: u32) -> bool {
        self.leases.epoch(partition).is_some()
    }

    fn watch(&self) -> watch::Receiver<BTreeSet<u32>> {
        self.leases.watch()
    }

    fn queued(&self, partitions: &[u32]) -> Result<Vec<QueuedDispatch>> {
        let partitions: Vec<i32> = partitions.iter().map(|p| *p as i32).collect();
        read_on(&self.runtime, &self.pool, move |c| async move {
            queued_in(&c, &partitions).await
        })
        .context("reading the queue")
    }

    fn outbox(&self, partitions: &[u32]) -> Result<Vec<Command>> {
        let partitions: Vec<i32> = partitions.iter().map(|p| *p as i32).collect();
        read_on(&self.runtime, &self.pool, move |c| async move {
            outbox_in(&c, &partitions).await
        })
        .context("reading the outbox")
    }

    fn inbox_changed(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {
            let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
        })
    }

    fn inbox(&self, partitions: &[u32], after: i64, limit: usize) -> Result<Vec<(i64, Event)>> {
        let owned: Vec<i32> = partitions.iter().map(|p| *p as i32).collect();
        let limit = limit as i64;
        read_on(&self.runtime, &self.pool, move |c| async move {
            let rows = query(
                &c,
                &format!(
                    "SELECT {EVENT_COLUMNS}, seq FROM events WHERE id IN ( \
                       SELECT event_id FROM inbox WHERE partition = ANY($1)) \
                     AND seq > $2 ORDER BY seq LIMIT $3"
                ),
                &[&owned, &after, &limit],
            )
            .await?;
            let seqs: Vec<i64> = rows.iter().map(|r| r.get(SEQ)).collect();
            let events = events_from_rows(&c, &rows).await?;
            Ok(seqs
                .into_iter()
                .zip(events)
                .map(|(seq, (e, _, _))| (seq, e))
                .collect())
        })
        .context("reading the inbox")
    }

    fn settled(&self, event_id: &str) -> Result<bool> {
        let id = event_id.to_string();
        read_on(&self.runtime, &self.pool, move |c| async move {
            // One statement, one snapshot: a routing, a run's commit and a
            // command's completion each move work between these tables in
            // one transaction, so no part is seen in neither place.
            let rows = query(
                &c,
                "WITH RECURSIVE tree(id) AS ( \
                   SELECT id FROM events WHERE id = $1 \
                   UNION SELECT e.id FROM events e JOIN tree t ON e.parent = t.id) \
                 SELECT NOT EXISTS (SELECT 1 FROM events e JOIN tree t ON e.id = t.id WHERE NOT e.routed) \
                   AND NOT EXISTS (SELECT 1 FROM inbox i JOIN tree t ON i.event_id = t.id) \
                   AND NOT EXISTS (SELECT 1 FROM queue q JOIN tree t ON q.event_id = t.id) \
                   AND NOT EXISTS (SELECT 1 FROM outbox o JOIN tree t ON o.event_id = t.id)",
                &[&id],
            )
            .await?;
            Ok(rows[0].get(0))
        })
        .context("reading whether an event is settled")
    }

    fn replies(&self) -> broadcast::Receiver<ReplyNotice> {
        self.news.replies.subscribe()
    }

    fn shared_changed(&self) -> broadcast::Receiver<Option<SharedKey>> {
        self.news.shared.subscribe()
    }

    fn latest_reply(&self, actor_id: &str) -> Result<Option<u64>> {
        let id = actor_id.to_string();
        read_on(&self.runtime, &self.pool, move |c| async move {
            let rows = query(
                &c,
                "SELECT max(seq) FROM acts WHERE actor_id = $1 AND kind = 'agent_message'",
                &[&id],
            )
            .await?;
            Ok(rows[0].get::<_, Option<i64>>(0).map(|s| s as u64))
        })
        .context("reading an actor's latest reply")
    }
}

/// The column after [`EVENT_COLUMNS`]: the event's position.
const SEQ: usize = 15;

/// What the listener passes on besides the inbox's wake-ups: replies any
/// host committed, and shared keys another host wrote (`None`: some may
/// have been missed while the listener reconnected).
#[derive(Clone)]
pub(super) struct News {
    pub(super) replies: broadcast::Sender<ReplyNotice>,
    pub(super) shared: broadcast::Sender<Option<SharedKey>>,
}

impl News {
    pub(super) fn new(capacity: usize) -> News {
        News {
            replies: broadcast::channel(capacity).0,
            shared: broadcast::channel(capacity).0,
        }
    }
}

/// Listens for notifications of this host's partitions and wakes the
/// inbox's reader on each, and for the [`News`], which it passes on; for
/// as long as the store's runtime runs.
pub(super) async fn listen(
    config: tokio_postgres::Config,
    leases: Arc<Leases>,
    wake: Arc<Notify>,
    news: News,
) {
    loop {
        if let Err(e) = listen_once(&config, &leases, &wake, &news).await {
            tracing::warn!("the inbox listener lost its connection (polling meanwhile): {e:#}");
        }
        tokio::time::sleep(RECONNECT).await;
    }
}

async fn listen_once(
    config: &tokio_postgres::Config,
    leases: &Leases,
    wake: &Notify,
    news: &News,
) -> Result<()> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    // The connection delivers notifications only while it is polled, which
    // also carries the client's `LISTEN`: a task of its own polls it.
    let (tx, mut notified) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n).is_err() {
                        return Ok(());
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    client
        .batch_execute(&format!(
            "LISTEN {INBOX_CHANNEL}; LISTEN {REPLIES_CHANNEL}; LISTEN {SHARED_CHANNEL}"
        ))
        .await?;
    // Whatever was notified before this listened is read now.
    wake.notify_one();
    let _ = news.replies.send(ReplyNotice::Resumed);
    let _ = news.shared.send(None);
    while let Some(n) = notified.recv().await {
        if n.channel() == REPLIES_CHANNEL {
            if let Some(notice) = reply_notice(n.payload()) {
                let _ = news.replies.send(notice);
            }
            continue;
        }
        if n.channel() == SHARED_CHANNEL {
            if let Some(key) = announced_by_other(n.payload(), leases.host_id()) {
                let _ = news.shared.send(Some(key));
            }
            continue;
        }
        let mine = n
            .payload()
            .parse::<u32>()
            .is_ok_and(|p| leases.epoch(p).is_some());
        if mine {
            wake.notify_one();
        }
    }
    match driver.await {
        Ok(Ok(())) => Err(anyhow!("the connection closed")),
        Ok(Err(e)) => Err(e.into()),
        Err(e) => Err(anyhow!("the listener task ended: {e}")),
    }
}

/// A reply's announcement, `CURSOR ACTOR` (see `rows::insert_reply`).
fn reply_notice(payload: &str) -> Option<ReplyNotice> {
    let (cursor, actor) = payload.split_once(' ')?;
    Some(ReplyNotice::Committed {
        actor_id: actor.to_string(),
        cursor: cursor.parse().ok()?,
    })
}
