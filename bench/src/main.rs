//! `skillhost-bench`: measures the host and prints one table, each row with
//! its reference measured in the same run.
//!
//! Run it with `cargo run --release --manifest-path bench/Cargo.toml`
//! (`-- --quick` for a short smoke run).

mod throughput;
mod workload;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Benchmarks of skillhost, each row against a reference measured in the same run")]
struct Args {
    /// A short run that proves the harness works; its figures are noisy.
    #[arg(long)]
    quick: bool,
}

/// One line of the result table.
pub struct Row {
    pub name: String,
    pub value: String,
    pub reference: String,
    pub ratio: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scale = if args.quick { 1 } else { 10 };
    let mut rows = Vec::new();
    rows.extend(throughput::durable_vs_memory(scale)?);
    print_table(&rows);
    Ok(())
}

fn print_table(rows: &[Row]) {
    println!("| benchmark | result | reference (same run) | ratio |");
    println!("| --- | --- | --- | --- |");
    for r in rows {
        println!("| {} | {} | {} | {} |", r.name, r.value, r.reference, r.ratio);
    }
}
