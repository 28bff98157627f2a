//! One instance's sandbox: the data of its store (a WASI with nothing in
//! it, the memory limiter, the host-call context) and the store itself, with
//! the epoch callback that stops it when the run is interrupted or over its
//! CPU time.
//!
//! A run's own skill gets one, and so does every skill it calls
//! (`call-skill`), each in a store of its own. What they share is the run's
//! [`Shared`]: its limits, log budget, CPU clock, control and the runtime.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::cpu::CpuClock;
use super::output::{LogBudget, LogStream};
use super::{RunControl, Runtime, SkillRun};
use crate::limits::{format_bytes, BadArgument, Limit, LimitExceeded, Limits};

/// The run was interrupted: carried through wasmtime as a trap payload.
#[derive(Debug)]
pub(super) struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// What the skill of a run and the skills it calls share.
#[derive(Clone)]
pub(super) struct Shared {
    /// The run's limits: those of the skill the run began with.
    pub limits: Limits,
    pub log: Arc<LogBudget>,
    pub control: Arc<RunControl>,
    pub cpu: Arc<CpuClock>,
    /// Where called skills' components are found.
    pub runtime: Arc<Runtime>,
}

/// Traps a `memory.grow` past the instance's memory limit.
pub(super) struct MemoryLimiter {
    limits: Limits,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limits.memory {
            let detail = if current == 0 {
                format!(
                    "the component needs {} of memory to start",
                    format_bytes(desired)
                )
            } else {
                format!(
                    "the skill tried to grow its memory from {} to {}",
                    format_bytes(current),
                    format_bytes(desired)
                )
            };
            return Err(wasmtime::Error::new(LimitExceeded::new(
                Limit::Memory,
                &self.limits,
                detail,
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Bounded by the pool's `table_elements`.
        Ok(true)
    }
}

/// The data of one instance's store: its sandbox and its host-call context.
pub(crate) struct RunState {
    wasi: WasiCtx,
    /// Resources handed to the guest (the `llm` interface's generations).
    pub(super) table: ResourceTable,
    limiter: MemoryLimiter,
    /// The run's limits, with this instance's own `memory` and `stack`.
    pub(super) limits: Limits,
    pub(super) log: Arc<LogBudget>,
    pub(super) stdout: LogStream,
    pub(super) stderr: LogStream,
    pub(super) shared: Shared,
    pub(super) run: SkillRun,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl RunState {
    /// A sandbox for `run`, with the run's limits but the `memory` and
    /// `stack` of `own`, the limits of the skill it runs: those two are
    /// per instance (its component is compiled for its stack size).
    pub(super) fn new(run: SkillRun, own: &Limits, shared: &Shared) -> RunState {
        let limits = Limits {
            memory: own.memory,
            stack: own.stack,
            ..shared.limits
        };
        let tags = Arc::new(run.log_tags());
        let stdout = LogStream::new("stdout", tags.clone(), shared.log.clone());
        let stderr = LogStream::new("stderr", tags, shared.log.clone());
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .max_random_size(1 << 20)
            .build();
        RunState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter { limits },
            limits,
            log: shared.log.clone(),
            stdout,
            stderr,
            shared: shared.clone(),
            run,
        }
    }

    /// Flushes what the skill left unterminated on stdout and stderr.
    pub(super) fn finish_output(&self) {
        self.stdout.finish();
        self.stderr.finish();
    }
}

/// A store for one instance: memory limited, and stopped at an epoch tick
/// once the run is interrupted or over its CPU time; else it yields at every
/// tick so other runs on the worker thread make progress too.
pub(super) fn new_store(engine: &Engine, state: RunState) -> Store<RunState> {
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|ctx| {
        let s = &ctx.data().shared;
        if s.control.interrupted_by().is_some() {
            return Err(wasmtime::Error::new(Interrupted));
        }
        let used = s.cpu.used();
        if used > s.limits.time {
            return Err(wasmtime::Error::new(LimitExceeded::new(
                Limit::Time,
                &s.limits,
                format!(
                    "the run used {} of CPU",
                    humantime::format_duration(Duration::from_millis(used.as_millis() as u64))
                ),
            )));
        }
        Ok(UpdateDeadline::Yield(1))
    });
    store
}

/// The limit a failure broke, if it broke one: the limits are the run's,
/// so such a failure in a called skill fails the whole run.
pub(super) fn limit_exceeded(e: &wasmtime::Error, limits: &Limits) -> Option<LimitExceeded> {
    if let Some(limit) = e.downcast_ref::<LimitExceeded>() {
        return Some(limit.clone());
    }
    if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::StackOverflow) {
        return Some(LimitExceeded::new(
            Limit::Stack,
            limits,
            "call stack exhausted (unbounded recursion?)",
        ));
    }
    None
}

/// Turns why an instance stopped into a reason a skill author can act on:
/// the limit and its value, the bad host-call argument, `exit`, or the trap
/// kind and, for a Rust panic, the panic message the guest wrote to stderr.
pub(super) fn describe_failure(e: &wasmtime::Error, limits: &Limits, stderr: &LogStream) -> String {
    if let Some(limit) = limit_exceeded(e, limits) {
        return limit.to_string();
    }
    if let Some(bad) = e.downcast_ref::<BadArgument>() {
        return bad.to_string();
    }
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return format!("the skill called exit({})", exit.0);
    }
    let out = stderr.kept();
    let out = String::from_utf8_lossy(&out);
    let panic = out
        .lines()
        .skip_while(|l| !l.contains("panicked at"))
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let trap = match e.downcast_ref::<wasmtime::Trap>() {
        Some(t) => format!("trap: {t}"),
        None => format!("{e}"),
    };
    if panic.is_empty() {
        trap
    } else {
        format!("panic: {} ({trap})", panic.trim())
    }
}
