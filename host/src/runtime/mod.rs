//! The wasm runtime: compiles skill components once, pre-instantiates them,
//! and runs each triggered act in a fresh sandboxed instance.
//!
//! Instances come from wasmtime's pooling allocator (copy-on-write memory
//! images make a fresh instance cheap). Every run has the [`Limits`] of its
//! skill (the host's, with the skill's `limits:` from its flow file applied):
//!
//! - memory: a resource limiter traps a `memory.grow` past the limit; the
//!   pool's slot size (`memory_ceiling`) is the hard ceiling behind it;
//! - CPU time: the run's future is metered with the thread CPU clock, and an
//!   epoch callback (every tick, 1 ms) stops the run once it is over;
//! - wall-clock time: a timer stops a run that waits (sleeps) too long;
//! - stack: wasmtime's `max_wasm_stack`, an engine setting, so each distinct
//!   stack size gets its own engine (created when a skill asks for it);
//! - sizes and counts of what the skill hands the host: checked in the host
//!   calls (see `host_api`), which trap.
//!
//! A skill may call other skills of its flow (`call-skill`, see
//! `host_api::skills`): each call runs in a fresh instance of its own store
//! (see `sandbox`), inside the caller's host call, sharing the run's
//! limits, effect buffer, CPU clock and control. Called skills' instances
//! come from the same pool, beyond the runs' own slots
//! ([`RuntimeConfig::max_concurrent_calls`]).
//!
//! A skill gets no ambient authority: WASI with no preopened directories, no
//! environment or arguments, no network (TCP, UDP and name lookup refused),
//! empty stdin; stdout and stderr go into the host's log within the run's
//! log budget. A component importing anything else is refused at load.
//! Models are reached only through the `llm` host calls, whose waits are
//! part of the run's future: an interrupt or the wall-time limit drops them
//! with the run.

mod bindings;
mod cpu;
mod host_api;
mod output;
mod sandbox;

pub use host_api::{Generation, RunEnv, SkillRun};

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use tokio::sync::{Notify, Semaphore};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, EngineWeak, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::flows::Skill;
use crate::limits::{format_bytes, Limit, LimitExceeded, Limits};
use crate::store::SkillCall;
use bindings::{Skill as SkillWorld, SkillPre};
use cpu::{CpuClock, Metered};
use output::LogBudget;
use sandbox::{describe_failure, new_store, Interrupted, RunState, Shared};

/// Limits and sizing of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Runs executing at once; also the size of the instance pool.
    pub max_concurrent_runs: u32,
    /// Instances of called skills (`call-skill`) alive at once over all
    /// runs, in instance-pool slots of their own beyond the runs'. A call
    /// finding none free returns an error to its caller.
    pub max_concurrent_calls: u32,
    /// Every run's limits, unless its skill overrides them in its flow file.
    pub limits: Limits,
    /// The most memory any skill may be given (the instance pool's slot
    /// size): `limits.memory` and every skill's `memory` must be at most this.
    pub memory_ceiling: usize,
    /// The most wasm stack any skill may be given.
    pub stack_ceiling: usize,
    /// How often the epoch advances: the granularity of interrupts and deadlines.
    pub epoch_tick: Duration,
    /// The directory of wasmtime's on-disk cache of compiled components
    /// (see [`default_compilation_cache`]); `None` compiles every component
    /// at every start.
    pub compilation_cache: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_concurrent_runs: 64,
            max_concurrent_calls: 64,
            limits: Limits::default(),
            memory_ceiling: 256 << 20,
            stack_ceiling: 8 << 20,
            epoch_tick: Duration::from_millis(1),
            compilation_cache: default_compilation_cache(),
        }
    }
}

/// Where compiled components are kept between starts unless told otherwise:
/// `$XDG_CACHE_HOME/skillhost/compiled`, else `~/.cache/skillhost/compiled`
/// (`None` if neither variable is set). `skillhost run` and `skillhost check`
/// use the same one, so a checked project starts without compiling; entries
/// are keyed by the component's bytes and the engine's settings and
/// wasmtime version, so a stale entry is never used.
pub fn default_compilation_cache() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    base.is_absolute()
        .then(|| base.join("skillhost").join("compiled"))
}

/// Lets the executor stop a run from outside.
#[derive(Debug, Default)]
pub struct RunControl {
    interrupted_by: OnceLock<String>,
    notify: Notify,
}

impl RunControl {
    /// Asks the run to stop at its next epoch tick (or at once, if it is
    /// waiting); `by` is the interrupting event.
    pub fn interrupt(&self, by: &str) {
        let _ = self.interrupted_by.set(by.to_string());
        self.notify.notify_waiters();
    }

    /// The id of the event that interrupted the run, once one has.
    pub fn interrupted_by(&self) -> Option<&str> {
        self.interrupted_by.get().map(String::as_str)
    }

    /// Resolves once the run is interrupted.
    async fn interrupted(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.interrupted_by().is_some() {
                return;
            }
            notified.await;
        }
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum RunResult {
    /// `run` returned ok: the effects may be committed.
    Ok(Box<SkillRun>),
    /// Error, trap, panic or limit; the reason says which.
    Failed {
        /// Why, for the run's record.
        reason: String,
        /// The skills the run called before it failed.
        calls: Vec<SkillCall>,
    },
    /// Stopped by the interrupting event with this id.
    Interrupted(String),
}

/// A compiled component, checked against the skill world, not yet in use.
pub struct Prepared {
    path: PathBuf,
    stack: usize,
    pre: SkillPre<RunState>,
}

/// An engine for one wasm stack size, and its linker.
struct EngineSet {
    engine: Engine,
    linker: Linker<RunState>,
}

/// Compiled skills and the engines that run them.
pub struct Runtime {
    /// By wasm stack size.
    engines: Mutex<HashMap<usize, Arc<EngineSet>>>,
    /// By component file, then stack size. Keyed by the path's bytes: it is
    /// looked up on every run, and hashing a `Path` parses its components.
    components: RwLock<HashMap<OsString, HashMap<usize, SkillPre<RunState>>>>,
    permits: Arc<Semaphore>,
    /// Instance slots for called skills, beyond the runs' own.
    call_slots: Arc<Semaphore>,
    config: RuntimeConfig,
    ticker: Ticker,
}

impl Runtime {
    /// A runtime with no components yet, its epoch ticker started; fails if the
    /// host's limits are over the ceilings or the engine cannot be configured.
    pub fn new(config: RuntimeConfig) -> Result<Self> {
        let limits = &config.limits;
        if limits.memory > config.memory_ceiling {
            bail!(
                "the memory limit ({}) is over the memory ceiling ({})",
                format_bytes(limits.memory),
                format_bytes(config.memory_ceiling)
            );
        }
        if limits.stack > config.stack_ceiling {
            bail!(
                "the stack limit ({}) is over the stack ceiling ({})",
                format_bytes(limits.stack),
                format_bytes(config.stack_ceiling)
            );
        }
        let runtime = Runtime {
            engines: Mutex::new(HashMap::new()),
            components: RwLock::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(config.max_concurrent_runs.max(1) as usize)),
            call_slots: Arc::new(Semaphore::new(config.max_concurrent_calls as usize)),
            ticker: Ticker::start(config.epoch_tick),
            config,
        };
        // The default engine now, so a broken configuration shows at start.
        runtime.engine(runtime.config.limits.stack)?;
        Ok(runtime)
    }

    /// The settings it was created with.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// A skill's limits: the host's with the skill's overrides.
    pub fn limits_for(&self, skill: &Skill) -> Limits {
        self.config.limits.with(&skill.limits)
    }

    /// Checks a skill's limits against the runtime's ceilings.
    pub fn check_limits(&self, skill: &Skill) -> Result<(), String> {
        let limits = self.limits_for(skill);
        if limits.memory > self.config.memory_ceiling {
            return Err(format!(
                "limits.memory: {} is over the host's memory ceiling of {}",
                format_bytes(limits.memory),
                format_bytes(self.config.memory_ceiling)
            ));
        }
        if limits.stack > self.config.stack_ceiling {
            return Err(format!(
                "limits.stack: {} is over the host's stack ceiling of {}",
                format_bytes(limits.stack),
                format_bytes(self.config.stack_ceiling)
            ));
        }
        Ok(())
    }

    /// The engine for a stack size, made on first use.
    fn engine(&self, stack: usize) -> Result<Arc<EngineSet>> {
        let mut engines = self.engines.lock();
        if let Some(set) = engines.get(&stack) {
            return Ok(set.clone());
        }
        let set = Arc::new(self.new_engine(stack)?);
        self.ticker.add(&set.engine);
        engines.insert(stack, set.clone());
        Ok(set)
    }

    fn new_engine(&self, stack: usize) -> Result<EngineSet> {
        let config = &self.config;
        let mut pool = PoolingAllocationConfig::default();
        // Every run, and every called skill, is an instance with a fiber stack.
        let n = config.max_concurrent_runs.max(1) + config.max_concurrent_calls;
        // A Rust component holds a few core instances (the program plus shims),
        // each with at most a memory and a couple of tables.
        pool.total_component_instances(n)
            .total_core_instances(n * 8)
            .total_memories(n * 2)
            .total_tables(n * 8)
            .total_stacks(n)
            .max_core_instances_per_component(16)
            .max_memories_per_component(2)
            .max_tables_per_component(8)
            .max_memory_size(config.memory_ceiling);
        reset_dirty_pages_only(&mut pool);

        let mut wasm = Config::new();
        wasm.epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .max_wasm_stack(stack)
            // Room for host calls on top of the wasm stack.
            .async_stack_size(stack + (1 << 20))
            .memory_reservation(config.memory_ceiling as u64)
            .memory_guard_size(64 << 10);
        if let Some(dir) = &config.compilation_cache {
            // The cache only speeds up start-up; run without it if it is unavailable.
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir);
            match wasmtime::Cache::new(cache) {
                Ok(cache) => {
                    wasm.cache(Some(cache));
                }
                Err(e) => tracing::warn!(
                    dir = %dir.display(),
                    "compiling without the compilation cache: {e:#}"
                ),
            }
        }
        let engine = Engine::new(&wasm).map_err(|e| anyhow!("creating the wasm engine: {e}"))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow!("linking WASI: {e}"))?;
        SkillWorld::add_to_linker::<RunState, wasmtime::component::HasSelf<RunState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| anyhow!("linking the skill interface: {e}"))?;
        Ok(EngineSet { engine, linker })
    }

    /// Compiles a component for a stack size and checks it against the skill
    /// world without putting it in use: see [`Runtime::install`].
    pub fn prepare(&self, path: &Path, stack: usize, bytes: &[u8]) -> Result<Prepared> {
        let set = self.engine(stack)?;
        if !is_component(bytes) {
            bail!(
                "{}: not a WebAssembly component (a core module or another file); build skills for wasm32-wasip2",
                path.display()
            );
        }
        let component = Component::new(&set.engine, bytes)
            .map_err(|e| anyhow!("{}: compiling: {e:#}", path.display()))?;
        let unprovided: Vec<String> = component
            .component_type()
            .imports(&set.engine)
            .map(|(name, _)| name)
            .filter(|name| !is_provided(name))
            .map(|name| format!("`{name}`"))
            .collect();
        if !unprovided.is_empty() {
            bail!(
                "{}: imports {}, which the host does not provide ({PROVIDED})",
                path.display(),
                unprovided.join(", ")
            );
        }
        // wasmtime names the first import it cannot satisfy in the outermost
        // context; the root cause says whether the name is unknown or its
        // type differs.
        let pre = set.linker.instantiate_pre(&component).map_err(|e| {
            anyhow!(
                "{}: refused: {e}; the host provides only the `skillhost:skill@0.1.0` \
                 interfaces and WASI 0.2 ({})",
                path.display(),
                e.root_cause()
            )
        })?;
        let pre = SkillPre::new(pre).map_err(|e| {
            anyhow!(
                "{}: not a skill: it does not export the skill world's `run: func() -> \
                 result<_, string>` ({e:#}); is it a component for another world?",
                path.display()
            )
        })?;
        Ok(Prepared {
            path: path.to_path_buf(),
            stack,
            pre,
        })
    }

    /// Puts prepared components in use, all at once: runs that start from now
    /// on use them; runs already started finish on the version they began with.
    pub fn install(&self, prepared: Vec<Prepared>) {
        let mut components = self.components.write();
        for p in prepared {
            components
                .entry(p.path.into_os_string())
                .or_default()
                .insert(p.stack, p.pre);
        }
    }

    /// Whether a component is compiled for this stack size.
    pub fn is_loaded_for(&self, path: &Path, stack: usize) -> bool {
        self.components
            .read()
            .get(path.as_os_str())
            .is_some_and(|by_stack| by_stack.contains_key(&stack))
    }

    /// The compiled component file for a skill's stack size, and the
    /// skill's limits; `None` if it is not loaded.
    fn component_of(&self, path: &Path, skill: &Skill) -> Option<(SkillPre<RunState>, Limits)> {
        let limits = self.limits_for(skill);
        let pre = self
            .components
            .read()
            .get(path.as_os_str())
            .and_then(|by_stack| by_stack.get(&limits.stack))
            .cloned()?;
        Some((pre, limits))
    }

    /// Runs a skill component once, in a fresh instance, within its skill's
    /// limits; the skills it calls run inside it (see the module docs).
    pub async fn run(
        self: &Arc<Self>,
        component: &Path,
        mut run: SkillRun,
        control: Arc<RunControl>,
    ) -> RunResult {
        let failed = |reason: String| RunResult::Failed {
            reason,
            calls: Vec::new(),
        };
        let Some((pre, limits)) = self.component_of(component, run.skill()) else {
            return failed(format!("component {} is not loaded", component.display()));
        };
        // Bound the runs in flight to the instance pool's size.
        let Ok(_permit) = self.permits.acquire().await else {
            return failed("the runtime is shutting down".into());
        };
        if let Some(by) = control.interrupted_by() {
            return RunResult::Interrupted(by.to_string());
        }

        run.set_limits(limits);
        let shared = Shared {
            limits,
            log: Arc::new(LogBudget::new(limits)),
            control: control.clone(),
            cpu: Arc::new(CpuClock::default()),
            runtime: self.clone(),
        };
        let cpu = shared.cpu.clone();
        let mut store = new_store(pre.engine(), RunState::new(run, &limits, &shared));
        let ended = {
            let work = Metered::new(
                async {
                    let skill = pre.instantiate_async(&mut store).await?;
                    skill.call_run(&mut store).await
                },
                cpu.clone(),
            );
            tokio::select! {
                result = work => Ended::Returned(result),
                () = tokio::time::sleep(limits.wall_time) => Ended::WallTime,
                () = control.interrupted() => Ended::Interrupted,
            }
        };
        let mut state = store.into_data();
        state.finish_output();
        let result = match ended {
            Ended::Returned(result) => result,
            Ended::Interrupted => Err(wasmtime::Error::new(Interrupted)),
            Ended::WallTime => Err(wasmtime::Error::new(LimitExceeded::new(
                Limit::WallTime,
                &limits,
                format!(
                    "the run was still going after {} of wall-clock time, having used {} \
                     of CPU (it sleeps, waits, or was starved of CPU)",
                    humantime::format_duration(limits.wall_time),
                    humantime::format_duration(
                        Duration::from_millis(cpu.used().as_millis() as u64)
                    )
                ),
            ))),
        };
        let reason = match result {
            Ok(Ok(())) => return RunResult::Ok(Box::new(state.run)),
            Ok(Err(reason)) => format!("skill returned an error: {reason}"),
            Err(e) if e.downcast_ref::<Interrupted>().is_some() => {
                return RunResult::Interrupted(
                    control.interrupted_by().unwrap_or_default().to_string(),
                )
            }
            Err(e) => describe_failure(&e, &limits, &state.stderr),
        };
        RunResult::Failed {
            reason,
            calls: state.run.take_calls(),
        }
    }

    /// A free instance slot for a called skill, if there is one.
    fn call_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.call_slots.clone().try_acquire_owned().ok()
    }
}

/// How a run's future ended.
enum Ended {
    Returned(wasmtime::Result<Result<(), String>>),
    Interrupted,
    WallTime,
}

/// Resets a used instance slot by copying back only the pages the run
/// dirtied (found with Linux's `PAGEMAP_SCAN`, 6.7+), instead of `madvise`
/// dropping them: no system call per run to reset memory, no TLB shootdown
/// across the workers, and no page faults when the next run touches the same
/// pages. Where the kernel lacks the scan, wasmtime falls back to `madvise`
/// past a small `memset`d prefix.
fn reset_dirty_pages_only(pool: &mut PoolingAllocationConfig) {
    pool.pagemap_scan(wasmtime::Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT);
}

/// How much of each memory and table is reset in place rather than released.
pub const KEEP_RESIDENT: usize = 2 << 20;

/// What a skill component may import.
const PROVIDED: &str = "a skill may import the skill world `skillhost:skill@0.1.0` and WASI 0.2";

/// Whether an import name is one of the families the linker serves; anything
/// else is named in the error (the linker would accept an empty instance).
fn is_provided(name: &str) -> bool {
    name.starts_with("skillhost:skill/") || name.starts_with("wasi:")
}

/// The component-model layer byte: components are `\0asm` with version 0x0d and layer 1.
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && &bytes[0..4] == b"\0asm" && bytes[6..8] == [1, 0]
}

/// Advances the epoch of every engine on one background thread until dropped.
struct Ticker {
    engines: Arc<Mutex<Vec<EngineWeak>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Ticker {
    fn start(tick: Duration) -> Ticker {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let engines: Arc<Mutex<Vec<EngineWeak>>> = Arc::default();
        let (flag, list) = (stop.clone(), engines.clone());
        std::thread::Builder::new()
            .name("skillhost-epoch".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    let mut list = list.lock();
                    list.retain(|weak| match weak.upgrade() {
                        Some(engine) => {
                            engine.increment_epoch();
                            true
                        }
                        None => false,
                    });
                }
            })
            .expect("spawning the epoch thread");
        Ticker { engines, stop }
    }

    fn add(&self, engine: &Engine) {
        self.engines.lock().push(engine.weak());
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
