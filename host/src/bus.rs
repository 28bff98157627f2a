//! The event bus: accepted events travel from whoever accepted them (an API
//! call, a committed run) to the router, one ordered stream, each with the
//! routes worked out when it was accepted.
//!
//! Behind a trait so the transport can change without touching either end.

use anyhow::{anyhow, Result};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::router::Accepted;

/// The stream of accepted events from acceptance to the router (see the module docs).
pub trait EventBus: Send + Sync + 'static {
    /// Appends an accepted event to the stream.
    fn publish(&self, event: Accepted) -> Result<()>;

    /// The consuming end, taken once by the router.
    fn take_consumer(&self) -> Option<mpsc::UnboundedReceiver<Accepted>>;
}

/// An in-process bus: an unbounded channel, FIFO.
pub struct MemoryBus {
    tx: mpsc::UnboundedSender<Accepted>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Accepted>>>,
}

impl MemoryBus {
    /// An empty bus whose consumer has not been taken yet.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        MemoryBus {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus for MemoryBus {
    fn publish(&self, event: Accepted) -> Result<()> {
        self.tx
            .send(event)
            .map_err(|_| anyhow!("the event bus is closed: the host is shutting down"))
    }

    fn take_consumer(&self) -> Option<mpsc::UnboundedReceiver<Accepted>> {
        self.rx.lock().take()
    }
}
