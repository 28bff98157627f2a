//! `skillhost run`: serve a project over HTTP, with hot reload.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use skillhost::api::{self, ApiConfig, ConnectionLimits};
use skillhost::cluster::ActiveHost;
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

    if let Some(url) = &args.advertise {
        let scheme = reqwest::Url::parse(url).map(|u| u.scheme().to_string());
        if !matches!(scheme.as_deref(), Ok("http" | "https")) {
            bail!("--advertise `{url}`: expected an http:// or https:// URL, e.g. http://10.0.0.5:7411");
        }
    }
    let project = super::load(&args.project.project, args.project.select.as_deref())?;
    if args.standby && !matches!(args.store, StoreSpec::Postgres(_)) {
        bail!("--standby takes over from another host on the same PostgreSQL database: it needs --store postgres://...");
    }
    if args.join && !matches!(args.store, StoreSpec::Postgres(_)) {
        bail!("--join runs beside other hosts on the same PostgreSQL database: it needs --store postgres://...");
    }
    let limits = ConnectionLimits {
        max_connections: args
            .max_connections
            .unwrap_or_else(api::default_max_connections),
        header_timeout: args.header_timeout,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut stop_rx = stop_rx.clone();
        async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        }
    };
    // A standby listens at once and forwards requests to the active host
    // until it takes over; its own API is set in `own_api` then.
    let own_api: Arc<OnceLock<axum::Router>> = Arc::default();
    let active = Arc::new(ActiveHost::default());
    let mut standby_server = None;
    if args.standby {
        if !args.no_build {
            // Now, not after the takeover, which it would delay.
            let p = project.clone();
            tokio::task::spawn_blocking(move || super::build(&p)).await??;
        }
        let listener = bind(addr).await?;
        let bound = listener.local_addr()?;
        let app = api::standby_router(
            own_api.clone(),
            active.clone(),
            args.max_body,
            args.body_timeout,
        )?;
        let server = tokio::spawn(api::serve(listener, app, limits.clone(), stopped()));
        println!(
            "standby: listening on http://{bound}, forwarding requests to the active host until this one takes over"
        );
        println!("standby: waiting until no other host is active on the database");
        standby_server = Some((bound, server));
    }
    // Before the (possibly long) build, so a bad store fails fast.
    let cluster = skillhost::cluster::ClusterOptions {
        partitions: args.partitions,
        lease: args.lease,
        host_id: None,
        sole: !args.join,
        standby: args.standby,
        active: args.standby.then(|| active.clone()),
    };
    let (store, postgres): (Arc<dyn store::Store>, _) = match &args.store {
        StoreSpec::Postgres(url) => {
            // Blocking, for as long as a standby waits: off the runtime.
            let url = url.clone();
            let pg = Arc::new(
                tokio::task::spawn_blocking(move || store::PostgresStore::open(&url, &cluster))
                    .await??,
            );
            (pg.clone(), Some(pg))
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
    let lost = postgres.as_ref().map(|pg| pg.leases().lost());
    if !args.no_build && !args.standby {
        let p = project.clone();
        tokio::task::spawn_blocking(move || super::build(&p)).await??;
    }
    let listener = match &standby_server {
        Some(_) => None,
        None => Some(bind(addr).await?),
    };
    let bound = match (&listener, &standby_server) {
        (Some(l), _) => l.local_addr()?,
        (None, Some((bound, _))) => *bound,
        (None, None) => unreachable!("a host has a listener or a standby server"),
    };
    if let Some(pg) = &postgres {
        match advertised(args.advertise.as_deref(), bound) {
            Some(url) => pg.advertise(&url)?,
            None => eprintln!(
                "warning: listening on {bound}, an address other hosts cannot reach: standbys \
                 cannot forward requests here (give --advertise URL)"
            ),
        }
    }
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
    let server: Pin<Box<dyn Future<Output = ()> + Send>> = match (listener, standby_server) {
        (Some(listener), _) => Box::pin(api::serve(listener, app, limits, stopped())),
        (None, Some((_, task))) => {
            // The standby's server answers with this host's API from now on.
            let _ = own_api.set(app);
            Box::pin(async move {
                let _ = task.await;
            })
        }
        (None, None) => unreachable!("a host has a listener or a standby server"),
    };
    // Tests and scripts wait for this line.
    println!("listening on http://{bound}");

    let mut server = server;
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

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))
}

/// The URL standbys forward requests to: `--advertise`, else the address
/// listened on, unless that is a wildcard (0.0.0.0, [::]) no other host
/// could dial.
fn advertised(advertise: Option<&str>, bound: SocketAddr) -> Option<String> {
    match advertise {
        Some(url) => Some(url.trim_end_matches('/').to_string()),
        None if bound.ip().is_unspecified() => None,
        None => Some(format!("http://{bound}")),
    }
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
