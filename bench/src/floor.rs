//! The floor: the same component on bare wasmtime, with nothing else.
//!
//! Same engine settings that matter for instantiation (pooling allocator,
//! copy-on-write memory images, slot reset by dirty-page scan), a fresh `Store` and WASI context per event,
//! `InstancePre::instantiate_async` and a call of `run`. No epoch
//! interruption, no limits, no routing, no store: what any wasmtime embedder
//! pays per event, so the host's rows can be read as overhead over this.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

struct Data {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Data {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A component pre-instantiated on bare wasmtime.
pub struct Floor {
    engine: Engine,
    pre: InstancePre<Data>,
}

impl Floor {
    pub fn new(component: &Path, concurrency: u32) -> Result<Floor> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(concurrency)
            .total_core_instances(concurrency * 8)
            .total_memories(concurrency * 2)
            .total_tables(concurrency * 8)
            .total_stacks(concurrency)
            .max_memory_size(256 << 20);
        // The host's slot reset (see skillhost's runtime): copy back dirty
        // pages rather than `madvise`, where the kernel can scan for them.
        pool.pagemap_scan(wasmtime::Enabled::Auto)
            .linear_memory_keep_resident(skillhost::runtime::KEEP_RESIDENT)
            .table_keep_resident(skillhost::runtime::KEEP_RESIDENT);
        let mut config = Config::new();
        // The host's memory layout (see skillhost's runtime), so both pay the
        // same for memory setup and reset.
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .memory_reservation(256 << 20)
            .memory_guard_size(64 << 10);
        let engine = Engine::new(&config).map_err(|e| anyhow!("{e}"))?;
        let component = Component::from_file(&engine, component).map_err(|e| anyhow!("{e}"))?;
        let mut linker = Linker::<Data>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow!("{e}"))?;
        // The trivial component calls none of the skill interfaces.
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| anyhow!("{e}"))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow!("{e}"))?;
        Ok(Floor { engine, pre })
    }

    /// One event: a fresh store and instance, a call of `run`.
    pub async fn run_once(&self) -> Result<()> {
        let data = Data {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, data);
        let instance = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let run = instance
            .get_typed_func::<(), (Result<(), String>,)>(&mut store, "run")
            .map_err(|e| anyhow!("{e}"))?;
        let (result,) = run
            .call_async(&mut store, ())
            .await
            .map_err(|e| anyhow!("{e}"))?;
        result.map_err(|e| anyhow!("run failed: {e}"))
    }

    /// `events` runs from `concurrency` tasks on the current runtime.
    pub async fn drive(self: &Arc<Self>, events: usize, concurrency: usize) -> Result<Duration> {
        let clock = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..concurrency {
            let floor = self.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = t;
                while i < events {
                    floor.run_once().await?;
                    i += concurrency;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        Ok(clock.elapsed())
    }
}
