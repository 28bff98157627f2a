//! The wasm runtime: compiles skill components once, pre-instantiates them,
//! and runs each triggered act in a fresh sandboxed instance.
//!
//! Instances come from wasmtime's pooling allocator (copy-on-write memory
//! images make a fresh instance cheap), each with a memory cap and a deadline.
//! A background thread advances the engine's epoch every tick; at each tick a
//! running skill checks whether it was interrupted or is past its deadline, so
//! even a skill spinning in a tight loop stops within a tick or two.

mod bindings;
mod host_api;

pub use host_api::{RunEnv, SkillRun};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use tokio::sync::Semaphore;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder, UpdateDeadline,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use bindings::{Skill, SkillPre};

/// Limits and sizing of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Runs executing at once; also the size of the instance pool.
    pub max_concurrent_runs: u32,
    /// Linear memory a run may use.
    pub memory_limit: usize,
    /// Wall-clock time a run may take.
    pub time_limit: Duration,
    /// How often the epoch advances: the granularity of interrupts and deadlines.
    pub epoch_tick: Duration,
    /// Keep compiled components in wasmtime's on-disk cache.
    pub compilation_cache: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_concurrent_runs: 64,
            memory_limit: 64 << 20,
            time_limit: Duration::from_secs(5),
            epoch_tick: Duration::from_millis(1),
            compilation_cache: true,
        }
    }
}

/// Why a run stopped early, carried through wasmtime as a trap payload.
#[derive(Debug)]
enum Stop {
    Interrupted,
    TimeLimit(Duration),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Interrupted => f.write_str("interrupted"),
            Stop::TimeLimit(d) => write!(f, "exceeded the time limit of {d:?}"),
        }
    }
}

impl std::error::Error for Stop {}

/// Lets the executor stop a run from outside.
#[derive(Debug, Default)]
pub struct RunControl {
    interrupted_by: OnceLock<String>,
}

impl RunControl {
    /// Asks the run to stop at its next epoch tick; `by` is the interrupting event.
    pub fn interrupt(&self, by: &str) {
        let _ = self.interrupted_by.set(by.to_string());
    }

    pub fn interrupted_by(&self) -> Option<&str> {
        self.interrupted_by.get().map(String::as_str)
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum RunResult {
    /// `run` returned ok: the effects may be committed.
    Ok(Box<SkillRun>),
    /// Error, trap, panic or limit; the reason says which.
    Failed(String),
    /// Stopped by the interrupting event with this id.
    Interrupted(String),
}

/// The data of one run's store: its sandbox and its host-call context.
pub(crate) struct RunState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    stderr: MemoryOutputPipe,
    control: Arc<RunControl>,
    deadline: Instant,
    time_limit: Duration,
    run: SkillRun,
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A compiled component, checked against the skill world, not yet in use.
pub struct Prepared {
    path: PathBuf,
    pre: SkillPre<RunState>,
}

/// Compiled skills and the engine that runs them.
pub struct Runtime {
    engine: Engine,
    linker: Linker<RunState>,
    components: RwLock<HashMap<PathBuf, SkillPre<RunState>>>,
    permits: Arc<Semaphore>,
    config: RuntimeConfig,
    _ticker: Ticker,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Self> {
        let mut pool = PoolingAllocationConfig::default();
        let n = config.max_concurrent_runs.max(1);
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
            .max_memory_size(config.memory_limit);

        let mut wasm = Config::new();
        wasm.epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .max_wasm_stack(1 << 20)
            .memory_reservation(config.memory_limit as u64)
            .memory_guard_size(64 << 10);
        if config.compilation_cache {
            // The cache only speeds up start-up; run without it if it is unavailable.
            if let Ok(cache) = wasmtime::Cache::new(wasmtime::CacheConfig::new()) {
                wasm.cache(Some(cache));
            }
        }
        let engine = Engine::new(&wasm).map_err(|e| anyhow!("creating the wasm engine: {e}"))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow!("linking WASI: {e}"))?;
        Skill::add_to_linker::<RunState, wasmtime::component::HasSelf<RunState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| anyhow!("linking the skill interface: {e}"))?;

        Ok(Runtime {
            _ticker: Ticker::start(&engine, config.epoch_tick),
            permits: Arc::new(Semaphore::new(n as usize)),
            engine,
            linker,
            components: RwLock::new(HashMap::new()),
            config,
        })
    }

    /// Compiles a component and checks it against the skill world; later runs
    /// of it only instantiate. Loading the same path again replaces it.
    pub fn load(&self, path: &Path) -> Result<()> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading component {}", path.display()))?;
        let prepared = self.prepare(path, &bytes)?;
        self.install(vec![prepared]);
        Ok(())
    }

    /// Compiles a component and checks it against the skill world without
    /// putting it in use: see [`Runtime::install`].
    pub fn prepare(&self, path: &Path, bytes: &[u8]) -> Result<Prepared> {
        if !wasmparser_is_component(bytes) {
            anyhow::bail!(
                "{}: not a WebAssembly component (a core module or another file); build skills for wasm32-wasip2",
                path.display()
            );
        }
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| anyhow!("{}: compiling: {e:#}", path.display()))?;
        let unprovided: Vec<String> = component
            .component_type()
            .imports(&self.engine)
            .map(|(name, _)| name)
            .filter(|name| !is_provided(name))
            .map(|name| format!("`{name}`"))
            .collect();
        if !unprovided.is_empty() {
            anyhow::bail!(
                "{}: imports {}, which the host does not provide ({PROVIDED})",
                path.display(),
                unprovided.join(", ")
            );
        }
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            let e = format!("{e:#}");
            if e.contains("not found in the linker") {
                anyhow!(
                    "{}: {e}: the host does not provide it ({PROVIDED})",
                    path.display()
                )
            } else {
                anyhow!("{}: {e}", path.display())
            }
        })?;
        let pre = SkillPre::new(pre).map_err(|e| {
            anyhow!(
                "{}: does not export the skill world's `run`: {e:#}",
                path.display()
            )
        })?;
        Ok(Prepared {
            path: path.to_path_buf(),
            pre,
        })
    }

    /// Puts prepared components in use, all at once: runs that start from now
    /// on use them; runs already started finish on the version they began with.
    pub fn install(&self, prepared: Vec<Prepared>) {
        let mut components = self.components.write().unwrap_or_else(|e| e.into_inner());
        for p in prepared {
            components.insert(p.path, p.pre);
        }
    }

    pub fn is_loaded(&self, path: &Path) -> bool {
        self.components
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(path)
    }

    /// Runs a skill component once, in a fresh instance.
    pub async fn run(
        &self,
        component: &Path,
        run: SkillRun,
        control: Arc<RunControl>,
    ) -> RunResult {
        let Some(pre) = self
            .components
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(component)
            .cloned()
        else {
            return RunResult::Failed(format!("component {} is not loaded", component.display()));
        };
        // Bound the runs in flight to the instance pool's size.
        let Ok(_permit) = self.permits.acquire().await else {
            return RunResult::Failed("the runtime is shutting down".into());
        };
        if let Some(by) = control.interrupted_by() {
            return RunResult::Interrupted(by.to_string());
        }

        let stderr = MemoryOutputPipe::new(16 << 10);
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let state = RunState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(self.config.memory_limit)
                .build(),
            stderr,
            control: control.clone(),
            deadline: Instant::now() + self.config.time_limit,
            time_limit: self.config.time_limit,
            run,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| {
            let s = ctx.data();
            if s.control.interrupted_by().is_some() {
                return Err(wasmtime::Error::new(Stop::Interrupted));
            }
            if Instant::now() >= s.deadline {
                return Err(wasmtime::Error::new(Stop::TimeLimit(s.time_limit)));
            }
            // Yield so other runs on this worker thread make progress too.
            Ok(UpdateDeadline::Yield(1))
        });

        let result = match pre.instantiate_async(&mut store).await {
            Ok(skill) => skill.call_run(&mut store).await,
            Err(e) => Err(e),
        };
        let state = store.into_data();
        match result {
            Ok(Ok(())) => RunResult::Ok(Box::new(state.run)),
            Ok(Err(reason)) => RunResult::Failed(format!("skill returned an error: {reason}")),
            Err(e) => match e.downcast_ref::<Stop>() {
                Some(Stop::Interrupted) => {
                    RunResult::Interrupted(control.interrupted_by().unwrap_or_default().to_string())
                }
                Some(stop @ Stop::TimeLimit(_)) => RunResult::Failed(stop.to_string()),
                None => RunResult::Failed(describe_trap(&e, &state.stderr)),
            },
        }
    }
}

/// Turns a trap into a reason a skill author can act on: the trap kind, and
/// for a Rust panic the panic message the guest wrote to stderr.
fn describe_trap(e: &wasmtime::Error, stderr: &MemoryOutputPipe) -> String {
    let out = stderr.contents();
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

/// What a skill component may import.
const PROVIDED: &str = "a skill may import the skill world `skillhost:skill@0.1.0` and WASI 0.2";

/// Whether an import name is one of the families the linker serves; anything
/// else is named in the error (the linker would accept an empty instance).
fn is_provided(name: &str) -> bool {
    name.starts_with("skillhost:skill/") || name.starts_with("wasi:")
}

/// The component-model layer byte: components are `\0asm` with version 0x0d and layer 1.
fn wasmparser_is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && &bytes[0..4] == b"\0asm" && bytes[6..8] == [1, 0]
}

/// Advances an engine's epoch on a background thread until dropped.
struct Ticker {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Ticker {
    fn start(engine: &Engine, tick: Duration) -> Ticker {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("skillhost-epoch".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch thread");
        Ticker { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
