//! `skillhost run`: serve a project over HTTP, with hot reload.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use skillhost::api::{self, ApiConfig, ConnectionLimits};
use skillhost::flows::unbound::unbound_skills;
use skillhost::flows::{Project, SkillSelector};
use skillhost::reload::summary;
use skillhost::retention::Retention;
use skillhost::store::{self, StoreSpec};
use skillhost::{watch, Host, HostConfig};

use super::RunArgs;

/// How long in-flight work may take to finish on shutdown.
const DRAIN: Duration = Duration::from_secs(5);

/// The exit status of a host that stopped because its partitions moved
/// (README "Running several hosts").
const LOST_EXIT: i32 = 3;

/// Resolves once the PostgreSQL store's leases report lost work (see
/// `Leases::lost`); never for the other stores.
async fn lost_work(lost: Option<tokio::sync::watch::Receiver<Option<String>>>) -> String {
    let Some(mut lost) = lost else {
        return std::future::pending().await;
    };
    let why = match lost.wait_for(Option::is_some).await {
        Ok(why) => why.clone(),
        // The store is gone: only at shutdown, which the other arms handle.
        Err(_) => None,
    };
    match why {
        Some(why) => why,
        None => std::future::pending().await,
    }
}

pub async fn run(args: RunArgs) -> Result<()> {
    let addr: SocketAddr = args.listen.parse().with_context(|| {
        format!(
            "--listen `{}`: expected IP:PORT, e.g. 127.0.0.1:7411",
            args.listen
        )
    })?;
    let retention = retention(&args);
    let token = args.token.filter(|t| !t.is_empty());
    if !addr.ip().is_loopback() && token.is_none() {
        bail!(
            "--listen {addr} is not a loopback address: anyone who can reach it could drive the host, \
             so a bearer token is required (--token TOKEN or SKILLHOST_TOKEN)"
        );
    }

    let project = super::load(&args.project.project, args.project.select.as_deref())?;
    if args.standby && !matches!(args.store, StoreSpec::Postgres(_)) {
        bail!("--standby takes over from another host on the same PostgreSQL database: it needs --store postgres://...");
    }
    // Before the (possibly long) build, so a bad store fails fast.
    let cluster = skillhost::cluster::ClusterOptions {
        partitions: args.partitions,
        lease: args.lease,
        host_id: None,
        sole: true,
        standby: args.standby,
    };
    let (store, lost): (Arc<dyn store::Store>, _) = match &args.store {
        StoreSpec::Postgres(url) => {
            if args.standby {
                println!("standby: waiting until no other host is active on the database");
            }
            let pg = store::PostgresStore::open(url, &cluster)?;
            let lost = pg.leases().lost();
            (Arc::new(pg), Some(lost))
        }
        spec => (
            store::open_with(
                spec,
                &store::OpenOptions {
                    cache_entries: usize::try_from(args.cache_entries).unwrap_or(usize::MAX),
                    cluster,
                },
            )?,
            None,
        ),
    };
    if !args.no_build {
        let p = project.clone();
        tokio::task::spawn_blocking(move || super::build(&p)).await??;
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let bound = listener.local_addr()?;
    let loaded = describe(&project);
    let config = HostConfig {
        runtime: skillhost::runtime::RuntimeConfig {
            compilation_cache: args.cache.directory()?,
            ..Default::default()
        },
        commands: skillhost::commands::CommandsConfig {
            http_body_cap: args.http_body_cap,
            ..Default::default()
        },
        backlog: skillhost::backpressure::BacklogLimits {
            per_instance: args.max_queued_per_instance,
            open_events: args.max_open_events,
        },
        allow_unbound: args.allow_unbound,
        retention,
        ..HostConfig::default()
    };
    let host = Arc::new(Host::start(project, store, config).await?);
    let _watcher = if args.no_watch {
        None
    } else {
        Some(watch::watch(host.clone(), watch::DEFAULT_DEBOUNCE)?)
    };

    let app = api::router(
        host.clone(),
        ApiConfig {
            token,
            max_body: args.max_body,
            allowed_hosts: args.allowed_hosts,
            body_timeout: args.body_timeout,
        },
    );
    let limits = ConnectionLimits {
        max_connections: args
            .max_connections
            .unwrap_or_else(api::default_max_connections),
        header_timeout: args.header_timeout,
    };

    println!(
        "skillhost {} serving {} (store: {})",
        env!("CARGO_PKG_VERSION"),
        args.project.project.display(),
        args.store.describe()
    );
    print!("{loaded}");
    if !args.no_watch {
        println!("watching flow files and components: changes are reloaded");
    }
    // Tests and scripts wait for this line.
    println!("listening on http://{bound}");

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = api::serve(listener, app, limits, async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    });
    let mut server = std::pin::pin!(server);
    tokio::select! {
        () = &mut server => return Ok(()),
        () = shutdown_signal() => {}
        why = lost_work(lost) => {
            // Its queues in memory no longer match the database: running on
            // could run work twice. The rows stay; whoever owns them now (or
            // this host, restarted) recovers from them.
            eprintln!(
                "error: {why}; this host stops so that no work runs twice \
                 (what it acknowledged is in the database, and the partitions' owner runs it)"
            );
            std::process::exit(LOST_EXIT);
        }
    }
    eprintln!("shutting down: finishing work in flight (at most {DRAIN:?})");
    let _ = stop_tx.send(true);
    // Open streams (SSE) would hold a graceful shutdown forever: bound it.
    let _ = tokio::time::timeout(DRAIN, async {
        let _ = (&mut server).await;
        host.idle().await;
    })
    .await;
    Ok(())
}

/// What was loaded: flows, skills and subscriptions, one flow per line.
fn describe(project: &Project) -> String {
    let (flows, skills, subscriptions) = summary(project);
    let mut out =
        format!("loaded {flows} flow(s), {skills} skill(s), {subscriptions} subscription(s):\n");
    for f in &project.flows {
        let subs: Vec<String> = f
            .subscriptions
            .iter()
            .map(|s| {
                let skill = match &s.skill {
                    SkillSelector::Skill(k) => k.clone(),
                    SkillSelector::FromState(field) => format!("<state {field}>"),
                };
                format!("{} -> {skill} [{}]", s.idn, s.interrupt_mode.as_str())
            })
            .collect();
        out.push_str(&format!("  {:<18} {}\n", f.key(), subs.join(", ")));
    }
    let unbound = unbound_skills(project);
    if !unbound.is_empty() {
        let targeted = unbound.iter().filter(|s| s.targeted).count();
        out.push_str(&format!(
            "{} skill(s) have no component ({targeted} of them targeted by subscriptions): \
             dispatches to them fail\n",
            unbound.len()
        ));
    }
    out
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `--retain` and `--retain-events`; the in-memory store keeps a bounded
/// history unless told otherwise.
fn retention(args: &super::RunArgs) -> Retention {
    let mut r = Retention {
        max_age: args.retain,
        max_events: args.retain_events,
    };
    if args.store == StoreSpec::Memory && !r.prunes() {
        r.max_events = Some(skillhost::retention::MEMORY_DEFAULT_EVENTS);
    }
    r
}
