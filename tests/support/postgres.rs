//! The PostgreSQL the cluster tests run against: `SKILLHOST_TEST_PG` names
//! a database whose role may create databases (`.ci/postgres` starts one
//! and prints its URL). Each test gets a fresh database of its own.
//!
//! Without the variable the PostgreSQL tests skip, saying why, except under
//! CI (`CI` set), where they fail: CI starts PostgreSQL itself.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

/// The variable naming the test server.
pub const VAR: &str = "SKILLHOST_TEST_PG";

/// The URL of a new, empty database; `None` (after printing why) when no
/// test server is configured outside CI.
pub fn fresh_database(test: &str) -> Option<String> {
    let base = match std::env::var(VAR) {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var_os("CI").is_some() => panic!(
            "{VAR} is not set: under CI the PostgreSQL tests must run \
             (`export {VAR}=$(.ci/postgres)`)"
        ),
        _ => {
            eprintln!("skipping {test}: {VAR} is not set (export {VAR}=$(.ci/postgres) to run it)");
            return None;
        }
    };
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    static CLEANUP: Once = Once::new();
    let name = format!(
        "skillhost_t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let db = name.clone();
    on_server(&base, |client| async move {
        let mut first = false;
        CLEANUP.call_once(|| first = true);
        if first {
            drop_databases_of_ended_processes(&client).await;
        }
        client
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .await
            .unwrap_or_else(|e| panic!("creating test database {db}: {e}"));
    });
    Some(with_database(&base, &name))
}

/// Test databases whose process has ended: dropped, so runs do not pile up.
async fn drop_databases_of_ended_processes(client: &tokio_postgres::Client) {
    let rows = client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'skillhost_t_%'",
            &[],
        )
        .await
        .unwrap();
    for r in rows {
        let name: String = r.get(0);
        let pid = name
            .strip_prefix("skillhost_t_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|p| p.parse::<i32>().ok());
        let alive = pid.is_some_and(|p| unsafe { libc::kill(p, 0) } == 0);
        if !alive {
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// `url` with its database replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let server = path.map_or(base, |i| &base[..i]);
    format!("{server}/{db}{query}")
}

/// An outage of one test database: while this lives, it refuses new
/// connections, and the open ones were ended. Dropping it lets them in.
pub struct Outage {
    database: String,
}

/// Makes the database `url` names refuse connections (see [`Outage`]).
pub fn refuse_connections(url: &str) -> Outage {
    let database = url
        .rsplit('/')
        .next()
        .and_then(|d| d.split('?').next())
        .unwrap_or_default()
        .to_string();
    admin(&format!(
        "ALTER DATABASE {database} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    ));
    Outage { database }
}

impl Drop for Outage {
    fn drop(&mut self) {
        admin(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            self.database
        ));
    }
}

/// Runs `sql` on the test server's own database, from a thread of its own
/// (callers may be inside a runtime).
fn admin(sql: &str) {
    let base = std::env::var(VAR).expect("the test server's URL");
    let sql = sql.to_string();
    on_server(&base, |client| async move {
        client
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

/// Runs `sql` on the database `url` names and returns its rows, from a
/// thread of its own (callers may be inside a runtime).
pub fn query(url: &str, sql: &str) -> Vec<tokio_postgres::Row> {
    let sql = sql.to_string();
    on_server(url, |client| async move {
        client
            .query(&sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    })
}

/// Connects to `url` and runs `f` with the client, on a thread and runtime
/// of its own (callers may be inside a runtime already).
fn on_server<T, F, Fut>(url: &str, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce(tokio_postgres::Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    let url = url.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("connecting to the test server ({VAR}): {e}"));
            tokio::spawn(conn);
            f(client).await
        })
    })
    .join()
    .unwrap()
}
