//! skillhost: runs event-driven agent skills as sandboxed WebAssembly components.
//!
//! The pipeline, one module each:
//! [`flows`] (YAML → validated model) → [`router`] (event → subscriptions ×
//! instances) → [`executor`] (interrupt modes, one skill per instance at a
//! time) → [`runtime`] (a fresh wasm instance per run) → [`store`] (state,
//! event log, replies). [`host::Host`] wires them; [`bus`] carries accepted
//! events to the router; [`tracker`] knows when a causation tree is settled.

pub mod bus;
pub mod compile;
pub mod event;
pub mod executor;
pub mod flows;
pub mod host;
pub mod router;
pub mod runtime;
pub mod store;
pub mod tracker;
pub mod versions;

pub use event::{ActorRef, Receipt, Submission};
/// Finding and checking the event blocks agents write (`emit-from-text`).
pub use skillhost_emission as emission;
pub use host::{Host, HostConfig};
