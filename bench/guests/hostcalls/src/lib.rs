//! Hostcalls: times host calls from inside a skill, for the benchmarks.
//!
//! The skill parameter `call` names one of `state_get`, `state_set` or
//! `send`; `count` says how many calls to make. The skill replies
//! `ns=<nanoseconds per call>`, timed with the WASI monotonic clock around
//! the loop alone, so instantiation and commit are not in the figure. It
//! measures what a skill author pays: the SDK's lowering, the component
//! model's copy and the host's work for the call.
use std::time::Instant;

use skill_sdk::prelude::*;

skill!(run);

fn run(_act: Act) -> Result<()> {
    let call = parameter("call").unwrap_or_default();
    let count: u32 = parameter("count").unwrap_or_default().trim().parse()?;
    let clock = Instant::now();
    for i in 0..count {
        match call.as_str() {
            "state_get" => {
                std::hint::black_box(state::get("value")?);
            }
            "state_set" => state::set("value", if i % 2 == 0 { "a" } else { "b" })?,
            "send" => {
                Event::new("bench_unsubscribed").arg("i", "1").send()?;
            }
            other => return Err(Error::new(format!("unknown call `{other}`"))),
        }
    }
    let ns = clock.elapsed().as_nanos() as f64 / f64::from(count.max(1));
    reply(&format!("ns={ns:.1}"))
}
