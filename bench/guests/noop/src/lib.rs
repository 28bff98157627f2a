//! Noop: returns ok and calls nothing. The trivial skill of the benchmarks
//! (bench/), where the same component also runs on bare wasmtime, so the
//! difference is the host's own cost.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "skill",
});

struct Noop;

impl Guest for Noop {
    fn run() -> Result<(), String> {
        Ok(())
    }
}

export!(Noop);
