//! CPU time of one run: the thread CPU clock, summed over every poll of the
//! run's future (a run moves between worker threads, and waits at epoch
//! yields while other runs use the CPU; neither is counted).
//!
//! The thread CPU clock is a system call (Linux serves only the wall clocks
//! from the vDSO), and most runs are one short poll: two system calls were
//! a tenth of such a run. So the run's first poll is charged its wall time,
//! read from the monotonic clock without a system call, and every later
//! poll its thread CPU time. Wall time on one thread is never less than its
//! CPU time, so the first poll can only be overcharged (by as long as the
//! thread was preempted during it, at most until the first epoch tick ends
//! the poll with a yield): a limit is never loosened. A run that spins
//! yields at every epoch tick, so from its second millisecond on it is
//! metered exactly.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Not inside a poll.
const IDLE: u64 = u64::MAX;

/// Which clock the current poll is read with.
const BY_WALL: u8 = 0;
const BY_CPU: u8 = 1;

#[derive(Debug)]
pub(crate) struct CpuClock {
    /// Nanoseconds used by finished polls.
    spent: AtomicU64,
    /// The clock's reading when the current poll started, or [`IDLE`].
    poll_started: AtomicU64,
    /// The clock of the current poll: [`BY_WALL`] or [`BY_CPU`].
    poll_clock: AtomicU8,
    /// Polls begun so far.
    polls: AtomicU64,
}

impl Default for CpuClock {
    fn default() -> Self {
        CpuClock {
            spent: AtomicU64::new(0),
            poll_started: AtomicU64::new(IDLE),
            poll_clock: AtomicU8::new(BY_WALL),
            polls: AtomicU64::new(0),
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
            ns += read(self.poll_clock.load(Ordering::Relaxed)).saturating_sub(started);
        }
        Duration::from_nanos(ns)
    }
}

/// A reading of the clock a poll is metered with.
fn read(clock: u8) -> u64 {
    if clock == BY_CPU {
        thread_cpu_nanos()
    } else {
        wall_nanos()
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
        // The first poll by wall time, the rest by CPU time (module docs).
        let clock = if self.clock.polls.fetch_add(1, Ordering::Relaxed) == 0 {
            BY_WALL
        } else {
            BY_CPU
        };
        self.clock.poll_clock.store(clock, Ordering::Relaxed);
        let start = read(clock);
        self.clock.poll_started.store(start, Ordering::Relaxed);
        let result = self.inner.as_mut().poll(cx);
        let used = read(clock).saturating_sub(start);
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

/// Nanoseconds of the monotonic clock since the first reading (no system
/// call: the vDSO serves it).
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

    #[tokio::test]
    async fn a_busy_first_poll_is_charged_at_least_its_cpu_time() {
        let clock = Arc::new(CpuClock::default());
        // Read inside the poll, so the poll's wall time encloses it.
        let cpu = Metered::new(
            async {
                let before = thread_cpu_nanos();
                let t = std::time::Instant::now();
                while t.elapsed() < Duration::from_millis(30) {
                    std::hint::black_box(0);
                }
                Duration::from_nanos(thread_cpu_nanos() - before)
            },
            clock.clone(),
        )
        .await;
        assert!(clock.used() >= cpu, "{:?} < {cpu:?}", clock.used());
    }
}
