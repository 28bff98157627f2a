//! The `skillhost` command: a thin layer over the library.
mod cli;

/// Small, short-lived allocations dominate a run's host-side work; mimalloc
/// serves them several times cheaper than glibc's allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
