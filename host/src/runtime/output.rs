//! A skill's stdout and stderr: into the host's log, within the run's log budget.
//!
//! A skill has no terminal. What it writes to stdout or stderr goes, line by
//! line, into the host's `tracing` log under target `skill`, tagged with
//! flow, skill and event, like its `log` calls. Both streams and `log` draw
//! on one budget, the run's `log_bytes` limit; a write past it traps, failing
//! the run with a reason naming the limit. The start of stderr is also kept
//! so a panic message can become the run's failure reason.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use crate::limits::{format_bytes, Limit, LimitExceeded, Limits};

/// Which run a log line belongs to.
#[derive(Debug)]
pub(crate) struct LogTags {
    pub flow: String,
    pub skill: String,
    pub event: String,
}

/// The bytes a run may still log, shared by `log` calls, stdout and stderr.
#[derive(Debug)]
pub(crate) struct LogBudget {
    limits: Limits,
    used: AtomicUsize,
}

impl LogBudget {
    pub fn new(limits: Limits) -> Self {
        LogBudget {
            limits,
            used: AtomicUsize::new(0),
        }
    }

    /// Takes `n` bytes from the budget, or says the limit is exceeded.
    pub fn charge(&self, n: usize, what: &str) -> Result<(), LimitExceeded> {
        let used = self.used.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        if used > self.limits.log_bytes {
            return Err(LimitExceeded::new(
                Limit::LogBytes,
                &self.limits,
                format!("the run {what}, {} in all", format_bytes(used)),
            ));
        }
        Ok(())
    }
}

/// Longest line kept before it is logged anyway.
const MAX_LINE: usize = 8 << 10;
/// How much of stderr is kept for the failure reason.
const KEEP: usize = 16 << 10;

/// One of a run's output streams (stdout or stderr).
#[derive(Clone)]
pub(crate) struct LogStream(Arc<Shared>);

struct Shared {
    name: &'static str,
    tags: Arc<LogTags>,
    budget: Arc<LogBudget>,
    state: Mutex<Buffered>,
}

#[derive(Default)]
struct Buffered {
    line: Vec<u8>,
    kept: Vec<u8>,
}

impl LogStream {
    pub fn new(name: &'static str, tags: Arc<LogTags>, budget: Arc<LogBudget>) -> Self {
        LogStream(Arc::new(Shared {
            name,
            tags,
            budget,
            state: Mutex::new(Buffered::default()),
        }))
    }

    /// The start of what was written (up to 16 KiB).
    pub fn kept(&self) -> Vec<u8> {
        self.0.lock().kept.clone()
    }

    /// Logs a last line without its newline.
    pub fn finish(&self) {
        let mut state = self.0.lock();
        if !state.line.is_empty() {
            let line = std::mem::take(&mut state.line);
            self.0.emit(&line);
        }
    }

    fn write(&self, bytes: &[u8]) -> Result<(), LimitExceeded> {
        self.0
            .budget
            .charge(bytes.len(), &format!("wrote to {}", self.0.name))?;
        let mut state = self.0.lock();
        let room = KEEP.saturating_sub(state.kept.len());
        state
            .kept
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
        for &b in bytes {
            if b == b'\n' {
                let line = std::mem::take(&mut state.line);
                self.0.emit(&line);
            } else {
                state.line.push(b);
                if state.line.len() >= MAX_LINE {
                    let line = std::mem::take(&mut state.line);
                    self.0.emit(&line);
                }
            }
        }
        Ok(())
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Buffered> {
        self.state.lock()
    }

    fn emit(&self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches('\r');
        let LogTags { flow, skill, event } = &*self.tags;
        let stream = self.name;
        if stream == "stderr" {
            tracing::warn!(target: "skill", %flow, %skill, %event, stream, "{line}");
        } else {
            tracing::info!(target: "skill", %flow, %skill, %event, stream, "{line}");
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(Writer(self.clone()))
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(Writer(self.clone()))
    }
}

/// A handle the guest writes through.
struct Writer(LogStream);

#[async_trait::async_trait]
impl Pollable for Writer {
    async fn ready(&mut self) {}
}

impl OutputStream for Writer {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.0
            .write(&bytes)
            .map_err(|e| StreamError::Trap(wasmtime::Error::new(e)))
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always writable: the budget is checked, and trapped on, at `write`.
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for Writer {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(
            self.0
                .write(buf)
                .map(|()| buf.len())
                .map_err(std::io::Error::other),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
