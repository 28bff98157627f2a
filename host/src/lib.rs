//! skillhost: runs event-driven agent skills as sandboxed WebAssembly components.
//!
//! # Layout
//!
//! The path of one event, from `POST /v1/events` to its reply, hop by hop:
//!
//! | hop | what happens | file |
//! | --- | --- | --- |
//! | 1 | the request body is parsed (the fuzzed parser) | `api/events.rs` → [`event::Submission::from_json`] |
//! | 2 | checked, its actor found, routed once (`matched`), held to the backlog bounds (429/503), written durably, opened in the tracker, published | [`Host::submit`] → `intake.rs` ([`router::route`], [`backpressure`], [`store::Store::accept_event`], [`tracker`], [`bus`]) |
//! | 3 | the router loop resolves each route's skill and queues the dispatches durably | `pipeline/route.rs` ([`router::resolve_skill`], [`store::Store::route_event`]) |
//! | 4 | once durable, in order, the dispatches go to their flow instances | `pipeline/admit.rs` |
//! | 5 | the interrupt mode decides: run now, queue, drop, or interrupt the running skill | `executor.rs` ([`executor::Executor::dispatch`]) |
//! | 6 | a fresh instance runs the skill under epoch interruption; host calls buffer its effects; skills it calls run in instances of their own inside it | `runtime/mod.rs`, `runtime/sandbox.rs` (an instance's store), `runtime/host_api/` (one file per WIT interface; `skills.rs`: `call-skill`) |
//! | 7 | the effects commit in one transaction; replies go out, sent events re-enter at hop 2, commands go to [`commands`] | `executor.rs` (`commit`) → [`store::Store::commit_run`] → `intake.rs` |
//! | 8 | `GET /v1/events/{id}?wait=` waits until the tree has settled and reads the trace and replies | `api/events.rs` → [`tracker`] → [`store::trace`] |
//!
//! Around that path: [`flows`] loads and validates a project into the model
//! every hop reads; [`components`] checks and compiles its components (start,
//! reload and `skillhost check` share it); [`reload`] owns the project in
//! force and swaps a changed one in, [`watch`] triggers it; [`commands`]
//! carries out timers and outbound HTTP and turns their outcomes into events
//! (entering at hop 2); [`llm`] answers runs' model requests at hop 6 (the
//! provider, budgets, usage in the run record) and [`live`] publishes
//! streamed replies ahead of the commit at hop 7 ([`sse`] parses the
//! streams); [`pipeline::recover`] resumes unfinished work at start, and
//! beside other hosts [`pipeline::inbox`] routes the events they accepted
//! for this host's partitions (entering at hop 3);
//! [`retention`] prunes finished history in the background (the SQLite
//! store holds its writes through a full disk: `store/sqlite/fault.rs`);
//! [`store`] has three implementations of one trait (memory, SQLite in
//! `store/sqlite/`, PostgreSQL in `store/postgres/`, whose partition leases
//! and fencing [`cluster`] describes; the two durable ones share their list
//! of writes, `store/write_op.rs`, and row spellings, `store/row_text.rs`);
//! [`api`] is the HTTP face (`api/serve.rs`: connection limits and deadlines;
//! `api/ui.rs` and `api/ui/`: the browser console at `/ui`, over the same API) and [`metrics`] its counters; the `skillhost`
//! binary (`cli/`) is a thin layer over [`Host`].

#![warn(missing_docs)]

pub mod allowed_host;
pub mod api;
pub mod backpressure;
pub mod bus;
pub mod cluster;
pub mod commands;
pub mod compile;
pub mod components;
pub mod event;
pub mod executor;
pub mod flows;
pub mod hash;
pub mod host;
pub mod intake;
pub mod limits;
pub mod live;
pub mod llm;
pub mod metrics;
pub mod outbound;
pub mod pipeline;
pub mod reload;
pub mod retention;
pub mod router;
pub mod runtime;
pub mod shard;
pub mod sse;
pub mod store;
pub mod tracker;
pub mod versions;
pub mod watch;

pub use event::{ActorRef, Receipt, Submission, SubmissionError};
pub use host::{Host, HostConfig};
/// Finding and checking the event blocks agents write (`emit-from-text`).
pub use skillhost_emission as emission;
