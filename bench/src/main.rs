//! `skillhost-bench`: measures the host and prints one table, each row with
//! its reference measured in the same run.
//!
//! Run it with `cargo run --release -p skillhost-bench` (`-- --quick` for a
//! short smoke run, which CI runs in the dev profile).

mod big;
mod dispatch;
mod floor;
mod hostcalls;
mod latency;
mod memory;
mod peer;
mod postgres;
mod postgres_hosts;
mod sqlite_floor;
mod sustained;
mod workload;

/// The same allocator as the `skillhost` binary (host/src/main.rs), so the
/// figures are the shipped binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Benchmarks of skillhost, each row against a reference measured in the same run")]
struct Args {
    /// A short run that proves the harness works; its figures are noisy.
    #[arg(long)]
    quick: bool,
    /// Run only one workload, for a profiler (e.g. valgrind --tool=callgrind):
    /// `floor` or `host` (trivial skill, in-memory, 1 worker).
    #[arg(long, value_name = "WORKLOAD")]
    profile: Option<String>,
    /// Events for --profile.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Run only these sections after the dispatch rows (1, 2, 6 and 9,
    /// the others' reference), e.g. `--only postgres`; repeat for more.
    #[arg(long, value_enum, value_name = "SECTION")]
    only: Vec<Section>,
}

/// The sections after the dispatch rows, in the order they run.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Section {
    /// Row 3: submission latency.
    Latency,
    /// Row 4: interrupt latency.
    Interrupt,
    /// Row 5: host calls.
    Hostcalls,
    /// Row 7: the peer runtime (Extism).
    Peer,
    /// Row 8: resident memory per instance.
    Memory,
    /// Row 10: a thousand components.
    Big,
    /// Row 12: sustained load.
    Sustained,
    /// Rows 11, 11b, 11c: PostgreSQL with 1, 2 and 3 hosts.
    Postgres,
}

/// How much work each row does.
pub struct Scale {
    /// Events per throughput measurement.
    pub events: usize,
    /// Measurements per row; the best is reported.
    pub repeats: usize,
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
    let scale = if args.quick {
        Scale {
            events: 2_000,
            repeats: 1,
        }
    } else {
        Scale {
            events: 20_000,
            repeats: 3,
        }
    };
    workload::build_skills()?;
    if let Some(workload) = args.profile {
        return dispatch::profile(&workload, args.events);
    }
    let mut rows = Vec::new();
    let max = dispatch::rows(&scale, &mut rows)?;
    progress(&rows, 0);
    let mut done = rows.len();
    type Run<'a> = Box<dyn FnOnce(&mut Vec<Row>) -> anyhow::Result<()> + 'a>;
    let sections: Vec<(Section, Run<'_>)> = vec![
        (
            Section::Latency,
            Box::new(|rows| latency::submission_rows(&scale, &max, rows)),
        ),
        (
            Section::Interrupt,
            Box::new(|rows| latency::interrupt_rows(&scale, rows)),
        ),
        (
            Section::Hostcalls,
            Box::new(|rows| hostcalls::rows(&scale, &max, rows)),
        ),
        (
            Section::Peer,
            Box::new(|rows| peer::rows(&scale, &max, rows)),
        ),
        (Section::Memory, Box::new(|rows| memory::rows(&scale, rows))),
        (Section::Big, Box::new(|rows| big::rows(&scale, rows))),
        (
            Section::Sustained,
            Box::new(|rows| sustained::rows(&scale, rows)),
        ),
        (
            Section::Postgres,
            Box::new(|rows| {
                let one_host = postgres::rows(&scale, max.sqlite_full, rows)?;
                postgres_hosts::rows(&scale, one_host, rows)
            }),
        ),
    ];
    for (name, section) in sections {
        if !args.only.is_empty() && !args.only.contains(&name) {
            continue;
        }
        section(&mut rows)?;
        progress(&rows, done);
        done = rows.len();
    }
    // In the order.
    rows.sort_by_key(|r| number(&r.name));
    print_table(&rows);
    Ok(())
}

/// The row's number in the issue: its name's leading integer.
fn number(name: &str) -> u32 {
    let digits: String = name.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(u32::MAX)
}

/// Rows finished since `from`, on stderr as they complete.
fn progress(rows: &[Row], from: usize) {
    for r in &rows[from..] {
        eprintln!("{} | {} | {} | {}", r.name, r.value, r.reference, r.ratio);
    }
}

fn print_table(rows: &[Row]) {
    println!("| benchmark | result | reference (same run) | ratio |");
    println!("| --- | --- | --- | --- |");
    for r in rows {
        println!(
            "| {} | {} | {} | {} |",
            r.name, r.value, r.reference, r.ratio
        );
    }
}
