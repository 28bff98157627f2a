//! skillhost: runs event-driven agent skills as sandboxed WebAssembly components.
//!
//! The pipeline, one module each:
//! [`flows`] (YAML → validated model) → [`router`] (event → subscriptions ×
//! instances) → [`executor`] (interrupt modes, one skill per instance at a
//! time) → [`runtime`] (a fresh wasm instance per run) → [`store`] (state,
//! event log, replies). [`host::Host`] wires them; [`bus`] carries accepted
//! events to the router; [`tracker`] knows when a causation tree is settled;
//! [`commands`] carries out the commands skills send (timers, outbound HTTP)
//! and turns their outcomes into events.
//!
//! Serving: [`api`] is the HTTP API over a host, [`metrics`] its counters,
//! [`reload`] swaps in a changed project atomically and [`watch`] triggers it
//! when flow files or components change.

pub mod allowed_host;
pub mod api;
pub mod bus;
pub mod commands;
pub mod compile;
pub mod event;
pub mod executor;
pub mod flows;
pub mod hash;
pub mod host;
pub mod limits;
pub mod metrics;
pub mod reload;
pub mod router;
pub mod runtime;
pub mod store;
pub mod tracker;
pub mod versions;
pub mod watch;

pub use event::{ActorRef, Receipt, Submission, SubmissionError};
pub use host::{Host, HostConfig};
/// Finding and checking the event blocks agents write (`emit-from-text`).
pub use skillhost_emission as emission;
