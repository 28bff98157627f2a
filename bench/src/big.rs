//! Row 10: a big project, 1,000 skills in 100 flows of 10, started cold
//! (empty compilation cache) and warm (the cache filled by the cold start),
//! with the memory it holds after start and its dispatch throughput across
//! every skill; against compiling the same components in parallel with
//! wasmtime's own API, in the same run.
//!
//! Two shapes: 1,000 distinct components (the noop component, each copy
//! made distinct by a custom section, so each compiles and caches on its
//! own), and 1,000 skills on 10 components told apart by parameters.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use skillhost::flows::load_project;
use skillhost::store::MemoryStore;
use skillhost::{Host, HostConfig, Submission};

use crate::memory::{mib, rss, trim};
use crate::workload::{component, per_second, runtime};
use crate::{Row, Scale};

const FLOWS: usize = 100;
const SKILLS_PER_FLOW: usize = 10;
const PERSONAS: usize = 64;

/// The noop component with a custom section naming `variant`: the same
/// code, distinct bytes (wasmtime's cache is keyed by the bytes).
fn variant(noop: &[u8], variant: usize) -> Vec<u8> {
    let name = b"skillhost-bench-variant";
    let payload = variant.to_string();
    let mut content = leb(name.len());
    content.extend_from_slice(name);
    content.extend_from_slice(payload.as_bytes());
    let mut bytes = noop.to_vec();
    bytes.push(0); // custom section
    bytes.extend(leb(content.len()));
    bytes.extend(content);
    bytes
}

fn leb(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Writes the project: `components` component files, and flows `F0..F99`
/// of skills `S0..S9`, skill `k` of the whole project on component
/// `k % components` with parameter `n: k`, each on its own event `e{k}`.
fn write_project(dir: &Path, components: usize) -> Result<Vec<PathBuf>> {
    let noop = std::fs::read(component("noop")).context("reading the noop component")?;
    let wasm_dir = dir.join("components");
    std::fs::create_dir_all(&wasm_dir)?;
    let mut paths = Vec::new();
    for c in 0..components {
        let path = wasm_dir.join(format!("c{c}.wasm"));
        std::fs::write(&path, variant(&noop, c))?;
        paths.push(path);
    }
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows)?;
    std::fs::write(flows.join("skillhost.yaml"), "agent_name: Big\n")?;
    for f in 0..FLOWS {
        let mut yaml = format!("idn: F{f}\nskills:\n");
        let mut events = String::from("events:\n");
        for s in 0..SKILLS_PER_FLOW {
            let k = f * SKILLS_PER_FLOW + s;
            yaml.push_str(&format!(
                "  - idn: S{s}\n    wasm: {:?}\n    parameters:\n      - name: n\n        default_value: \"{k}\"\n",
                paths[k % components].display().to_string()
            ));
            events.push_str(&format!(
                "  - idn: e{k}\n    skill_idn: S{s}\n    interrupt_mode: queue\n"
            ));
        }
        yaml.push_str(&events);
        std::fs::write(flows.join(format!("f{f}.yaml")), yaml)?;
    }
    Ok(paths)
}

/// Loads and starts the project with this compilation cache; the time taken.
async fn start(dir: &Path, cache: &Path) -> Result<(Arc<Host>, Duration)> {
    let clock = Instant::now();
    let project = load_project(&dir.join("flows")).map_err(|e| anyhow!("{e}"))?;
    let mut config = HostConfig {
        backlog: crate::workload::config().backlog,
        ..Default::default()
    };
    config.runtime.compilation_cache = Some(cache.to_path_buf());
    let host = Host::start(project, Arc::new(MemoryStore::new()), config).await?;
    Ok((Arc::new(host), clock.elapsed()))
}

/// Compiles every file with wasmtime's API, as many at once as there are
/// cores, on an engine with the host's memory settings and no cache.
fn compile_reference(paths: &[PathBuf]) -> Result<Duration> {
    let mut config = wasmtime::Config::new();
    config
        .memory_reservation(256 << 20)
        .memory_guard_size(64 << 10)
        .epoch_interruption(true);
    let engine = wasmtime::Engine::new(&config).map_err(|e| anyhow!("{e}"))?;
    let files: Vec<Vec<u8>> = paths.iter().map(std::fs::read).collect::<Result<_, _>>()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let clock = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(bytes) = files.get(i) else {
                            return Ok(());
                        };
                        wasmtime::component::Component::new(&engine, bytes)
                            .map_err(|e| anyhow!("{e}"))?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| anyhow!("compiler thread panicked"))?)
    })?;
    Ok(clock.elapsed())
}

/// `events` events spread over every skill and `PERSONAS` users, from
/// `PERSONAS` tasks; the time until all have committed.
async fn drive(host: &Arc<Host>, events: usize) -> Result<Duration> {
    let skills = FLOWS * SKILLS_PER_FLOW;
    crate::workload::actors(host, PERSONAS).await?;
    let clock = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..PERSONAS {
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while i < events {
                let s = Submission::from_user(
                    &format!("e{}", i % skills),
                    "bench",
                    "bench",
                    &format!("u{}", i % PERSONAS),
                );
                host.submit(s).await?;
                i += PERSONAS;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("submitter panicked")??;
    }
    host.idle().await;
    let elapsed = clock.elapsed();
    // Every event ran its skill, and ok: the figure is of real runs.
    let metrics = host.metrics().render(&host.gauges());
    let ok = metrics
        .lines()
        .find_map(|l| l.strip_prefix("skillhost_runs_total{outcome=\"ok\"} "))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    anyhow::ensure!(
        ok == events,
        "{ok} of {events} runs of the big project succeeded"
    );
    Ok(elapsed)
}

pub fn rows(scale: &Scale, rows: &mut Vec<Row>) -> Result<()> {
    let skills = FLOWS * SKILLS_PER_FLOW;
    for components in [skills, 10] {
        let dir = tempfile::tempdir()?;
        let paths = write_project(dir.path(), components)?;
        let reference = compile_reference(&paths)?;
        let cache = dir.path().join("cache");
        let rt = runtime(2);
        let (cold, warm, grown, throughput) = rt.block_on(async {
            let (host, cold) = start(dir.path(), &cache).await?;
            drop(host);
            // The cache's writes land on a background thread; let them.
            tokio::time::sleep(Duration::from_millis(500)).await;
            trim();
            let before = rss()?;
            let (host, warm) = start(dir.path(), &cache).await?;
            trim();
            let grown = rss()?.saturating_sub(before);
            let events = scale.events;
            let d = drive(&host, events).await?;
            anyhow::Ok((cold, warm, grown, per_second(events, d)))
        })?;
        drop(rt);
        let shape = if components == skills {
            format!("{skills} distinct components")
        } else {
            format!("{components} components, told apart by parameters")
        };
        rows.push(Row {
            name: format!(
                "10. big project: {skills} skills in {FLOWS} flows, {shape}, in-memory, 2 workers"
            ),
            value: format!(
                "cold start {:.2} s, warm start {:.2} s; RSS after warm start +{:.1} MiB = {:.0} KiB/component; {throughput:.0} events/s across all skills",
                cold.as_secs_f64(),
                warm.as_secs_f64(),
                mib(grown),
                grown as f64 / 1024.0 / components as f64
            ),
            reference: format!(
                "wasmtime compiling the {components} components in parallel: {:.2} s",
                reference.as_secs_f64()
            ),
            ratio: format!(
                "cold/compile {:.2}x (target ≤ 2x), warm {:.2} s (target ≤ 5 s)",
                cold.as_secs_f64() / reference.as_secs_f64(),
                warm.as_secs_f64()
            ),
        });
    }
    Ok(())
}
