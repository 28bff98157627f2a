//! CPU time of one run: the thread CPU clock, summed over every poll of the
//! run's future (a run moves between worker threads, and waits at epoch
//! yields while other runs use the CPU; neither is counted).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Not inside a poll.
const IDLE: u64 = u64::MAX;

#[derive(Debug)]
pub(crate) struct CpuClock {
    /// Nanoseconds used by finished polls.
    spent: AtomicU64,
    /// The thread CPU clock when the current poll started, or [`IDLE`].
    poll_started: AtomicU64,
}

impl Default for CpuClock {
    fn default() -> Self {
        CpuClock {
            spent: AtomicU64::new(0),
            poll_started: AtomicU64::new(IDLE),
        }
    }
}

impl CpuClock {
    /// CPU time used so far. Called from inside the run (at epoch ticks), so
    /// on the thread that is polling it.
    pub fn used(&self) -> Duration {
        let mut ns = self.spent.load(Ordering::Relaxed);
        let started = self.poll_started.load(Ordering::Relaxed);
        if started != IDLE {
            ns += thread_cpu_nanos().saturating_sub(started);
        }
        Duration::from_nanos(ns)
    }
}

/// A future whose polls are charged to a [`CpuClock`].
pub(crate) struct Metered<F> {
    inner: Pin<Box<F>>,
    clock: Arc<CpuClock>,
}

impl<F: Future> Metered<F> {
    pub fn new(inner: F, clock: Arc<CpuClock>) -> Self {
        Metered {
            inner: Box::pin(inner),
            clock,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = thread_cpu_nanos();
        self.clock.poll_started.store(start, Ordering::Relaxed);
        let result = self.inner.as_mut().poll(cx);
        let used = thread_cpu_nanos().saturating_sub(start);
        self.clock.poll_started.store(IDLE, Ordering::Relaxed);
        self.clock.spent.fetch_add(used, Ordering::Relaxed);
        result
    }
}

/// This thread's CPU time in nanoseconds.
#[cfg(unix)]
fn thread_cpu_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return wall_nanos();
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// Without a thread CPU clock, wall time (an over-estimate).
#[cfg(not(unix))]
fn thread_cpu_nanos() -> u64 {
    wall_nanos()
}

fn wall_nanos() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_busy_polls_not_sleep() {
        let clock = Arc::new(CpuClock::default());
        Metered::new(
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
            },
            clock.clone(),
        )
        .await;
        assert!(
            clock.used() < Duration::from_millis(20),
            "{:?}",
            clock.used()
        );
        Metered::new(
            async {
                let t = std::time::Instant::now();
                while t.elapsed() < Duration::from_millis(30) {
                    std::hint::black_box(0);
                }
            },
            clock.clone(),
        )
        .await;
        assert!(
            clock.used() >= Duration::from_millis(5),
            "{:?}",
            clock.used()
        );
    }
}
