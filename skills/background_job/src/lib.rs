//! Background job: for the cancel-mode demo. Does a bounded chunk of busy
//! work (act argument `iterations`, else skill parameter `iterations`, else
//! 50 000 000), increments the state field `jobs_done`, replies `job done`.
use std::hint::black_box;

use skill_sdk::prelude::*;

skill!(run);

const DEFAULT_ITERATIONS: u64 = 50_000_000;

fn run(act: Act) -> Result<()> {
    let iterations = match act
        .arg("iterations")
        .map(str::to_owned)
        .or_else(|| parameter("iterations"))
    {
        Some(n) if !n.trim().is_empty() => n.trim().parse::<u64>()?,
        _ => DEFAULT_ITERATIONS,
    };
    let mut x: u64 = 1;
    for _ in 0..iterations {
        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
    black_box(x);
    let n = state::get("jobs_done")?.parse::<u64>().unwrap_or(0) + 1;
    state::set("jobs_done", &n.to_string())?;
    log::info!("job {n} done after {iterations} iterations");
    reply("job done")
}

#[cfg(test)]
mod tests {
    use skill_sdk::testing::TestHost;

    #[test]
    fn counts_jobs() {
        let mut host = TestHost::new("job")
            .arg("iterations", "10")
            .field("jobs_done", "0");
        assert_eq!(host.run(super::run).reply_texts(), ["job done"]);
        assert_eq!(host.run(super::run).reply_texts(), ["job done"]);
        assert_eq!(host.value("jobs_done"), Some("2"));
    }
}
