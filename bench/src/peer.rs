//! Row 7: a peer side by side: the same trivial plugin run by Extism, in
//! this process, on one thread.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use extism::{CompiledPlugin, Manifest, Plugin, PluginBuilder, Wasm};

use crate::dispatch::Throughput;
use crate::workload::repo;
use crate::{Row, Scale};

fn plugin_dir() -> PathBuf {
    repo().join("bench/plugins/noop_plugin")
}

/// Builds the trivial Extism plugin (release, wasm32-unknown-unknown);
/// on failure, the error carries cargo's output.
pub fn build_plugin() -> Result<PathBuf> {
    let dir = plugin_dir();
    let mut cmd = skillhost::compile::guest_cargo(&dir);
    cmd.args([
        "build",
        "--release",
        "--target",
        "wasm32-unknown-unknown",
        "--manifest-path",
    ]);
    cmd.arg(dir.join("Cargo.toml"));
    let out = cmd
        .output()
        .with_context(|| format!("running cargo in {}", dir.display()))?;
    if !out.status.success() {
        bail!(
            "building the Extism plugin in {} failed ({}):\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(dir.join("target/wasm32-unknown-unknown/release/noop_plugin.wasm"))
}

fn call(plugin: &mut Plugin) -> Result<()> {
    plugin
        .call::<&[u8], &[u8]>("run", &[])
        .map(drop)
        .map_err(|e| anyhow!("extism call: {e}"))
}

/// `events` calls, each on a new `Plugin` made from one `CompiledPlugin`.
fn fresh(compiled: &CompiledPlugin, events: usize) -> Result<Duration> {
    let clock = Instant::now();
    for _ in 0..events {
        let mut plugin =
            Plugin::new_from_compiled(compiled).map_err(|e| anyhow!("extism plugin: {e}"))?;
        call(&mut plugin)?;
    }
    Ok(clock.elapsed())
}

/// `events` calls on one `Plugin`.
fn reused(plugin: &mut Plugin, events: usize) -> Result<Duration> {
    let clock = Instant::now();
    for _ in 0..events {
        call(plugin)?;
    }
    Ok(clock.elapsed())
}

pub fn rows(scale: &Scale, max: &Throughput, rows: &mut Vec<Row>) -> Result<()> {
    let wasm = build_plugin()?;
    // Bytes, not a path: file registration needs extism's `register-filesystem`.
    let bytes = std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let manifest = Manifest::new([Wasm::data(bytes)]);
    let compiled = PluginBuilder::new(manifest)
        .with_wasi(false)
        .compile()
        .map_err(|e| anyhow!("compiling {} with extism: {e}", wasm.display()))?;
    let mut plugin =
        Plugin::new_from_compiled(&compiled).map_err(|e| anyhow!("extism plugin: {e}"))?;
    let events = scale.events;
    // Warm up both, then the best of `repeats`.
    fresh(&compiled, events / 4)?;
    reused(&mut plugin, events / 4)?;
    let (mut best_fresh, mut best_reused) = (Duration::MAX, Duration::MAX);
    for _ in 0..scale.repeats {
        best_fresh = best_fresh.min(fresh(&compiled, events)?);
        best_reused = best_reused.min(reused(&mut plugin, events)?);
    }
    let host_us = 1e6 / max.memory_1;
    let floor_us = 1e6 / max.floor_1;
    for (what, d) in [
        ("a new Plugin per event from one CompiledPlugin", best_fresh),
        ("one Plugin reused for every event", best_reused),
    ] {
        let per = d.as_secs_f64() * 1e6 / events as f64;
        rows.push(Row {
            name: format!(
                "7. peer: Extism 1.30 (wasmtime 43), trivial plugin `run`, {what}, 1 thread"
            ),
            value: format!("{per:.1} µs/event ({:.0}/s)", 1e6 / per),
            reference: format!(
                "skillhost {host_us:.1} µs/event, bare wasmtime floor {floor_us:.1} µs/event (row 1/6, 1 worker)"
            ),
            ratio: format!("skillhost/extism {:.2}x", host_us / per),
        });
    }
    Ok(())
}
