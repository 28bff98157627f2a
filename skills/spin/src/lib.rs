//! Spin: CPU-bound work for the interrupt demo. Sets `progress=started`,
//! then busy-loops with no host calls for the act argument `iterations`
//! (or, without it, the skill parameter `iterations`; without either,
//! forever, i.e. until the host interrupts the run), then sets
//! `progress=done` and replies `spun N iterations`.
//!
//! A non-numeric `iterations` fails the run.
use std::hint::black_box;

use skill_sdk::prelude::*;

skill!(run);

fn run(act: Act) -> Result<()> {
    let iterations = match act
        .arg("iterations")
        .map(str::to_owned)
        .or_else(|| parameter("iterations"))
    {
        Some(n) if !n.trim().is_empty() => Some(n.trim().parse::<u64>()?),
        _ => None,
    };
    state::set("progress", "started")?;
    match iterations {
        Some(n) => {
            spin(n);
            state::set("progress", "done")?;
            reply(&format!("spun {n} iterations"))
        }
        None => loop {
            spin(u64::MAX);
        },
    }
}

/// `n` rounds of an LCG that the optimiser cannot see through.
fn spin(n: u64) {
    let mut x: u64 = 1;
    for _ in 0..n {
        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
    black_box(x);
}

#[cfg(test)]
mod tests {
    use skill_sdk::testing::TestHost;

    #[test]
    fn bounded_spin_finishes() {
        let mut host = TestHost::new("spin")
            .arg("iterations", "1000")
            .field("progress", "");
        let done = host.run(super::run);
        assert_eq!(done.reply_texts(), ["spun 1000 iterations"]);
        assert_eq!(host.value("progress"), Some("done"));
    }

    #[test]
    fn bad_iterations_fail() {
        let done = TestHost::new("spin")
            .arg("iterations", "lots")
            .field("progress", "")
            .run(super::run);
        assert!(done.error().is_some());
    }
}
