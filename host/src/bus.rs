//! The event bus: accepted events travel from whoever accepted them (an API
//! call, a committed run) to the router, one ordered stream.
//!
//! Behind a trait so several hosts can later share one bus (NATS JetStream).

use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Result};
use tokio::sync::mpsc;

use crate::event::Event;

pub trait EventBus: Send + Sync + 'static {
    /// Appends an accepted event to the stream.
    fn publish(&self, event: Arc<Event>) -> Result<()>;

    /// The consuming end, taken once by the router.
    fn take_consumer(&self) -> Option<mpsc::UnboundedReceiver<Arc<Event>>>;
}

/// An in-process bus: an unbounded channel, FIFO.
pub struct MemoryBus {
    tx: mpsc::UnboundedSender<Arc<Event>>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Arc<Event>>>>,
}

impl MemoryBus {
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
    fn publish(&self, event: Arc<Event>) -> Result<()> {
        self.tx
            .send(event)
            .map_err(|_| anyhow!("the event bus is closed: the host is shutting down"))
    }

    fn take_consumer(&self) -> Option<mpsc::UnboundedReceiver<Arc<Event>>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}
