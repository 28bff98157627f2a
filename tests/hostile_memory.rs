//! After hostile skills have come and gone, the host's memory returns to
//! its baseline: instance memories go back to the pool (and their pages to
//! the OS), and nothing a failed run built up is kept.
//!
//! One test in its own binary, so no other test shares the process whose
//! resident set it measures.

use skillhost::store::Outcome;
use skillhost::HostConfig;
use skillhost_tests::*;

/// Resident set size of this process, from /proc/self/statm.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("reading /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("statm's second field");
    pages * 4096
}

const ATTACKS: &[&str] = &[
    "alloc",
    "huge_state",
    "huge_reply",
    "huge_argument",
    "flood_events",
    "flood_replies",
    "flood_log",
    "many_arguments",
    "many_fields",
    "huge_name",
    "panic",
];

fn project() -> Vec<String> {
    let mut skills = String::new();
    let mut events = String::new();
    for attack in ATTACKS {
        skills += &format!(
            "  - idn: {attack}\n    crate: hostile\n    parameters:\n      - name: attack\n        default_value: {attack}\n"
        );
        events += &format!("  - idn: {attack}\n    skill_idn: {attack}\n");
    }
    vec![format!(
        "idn: Hostile\nskills:\n{skills}events:\n{events}state_fields:\n  - idn: blob\n"
    )]
}

/// Every attack, each by `mallories` users at once; all must fail.
async fn round(t: &RunningHost, mallories: usize) {
    let mut ids = Vec::new();
    for attack in ATTACKS {
        for m in 0..mallories {
            let receipt = t
                .host
                .submit(user(attack, &format!("mallory-{m}")))
                .await
                .unwrap();
            ids.push((attack, receipt.event_id));
        }
    }
    for (attack, id) in ids {
        t.host.settled(&id).await;
        let trace = t.host.trace(&id).unwrap().unwrap();
        assert!(
            matches!(only_outcome(&trace), Outcome::Failed(_)),
            "{attack}: {:?}",
            trace.runs
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_memory_returns_to_baseline_after_hostile_skills() {
    let flows = project();
    let t = start_with(&[&flows[0]], HostConfig::default()).await;
    // Warm up: a round as below, so lazily made things (pool slots, code,
    // allocator arenas) exist before the baseline is taken.
    round(&t, 4).await;
    let baseline = rss();

    // Four allocation bombs at once touch 256 MiB of instance memory; five
    // rounds of everything would leave over a gigabyte behind if runs
    // leaked. What stays is the store's record of the runs (a few hundred
    // KiB a round).
    let mut rounds = Vec::new();
    for _ in 0..5 {
        round(&t, 4).await;
        rounds.push(rss());
    }
    let after = rss();
    let mib = |b: usize| b as f64 / (1 << 20) as f64;
    eprintln!(
        "RSS: baseline {:.1} MiB, after each of 5 rounds of {} attacks x 4: {:.1?} MiB",
        mib(baseline),
        ATTACKS.len(),
        rounds.iter().map(|&b| mib(b)).collect::<Vec<_>>()
    );
    assert!(
        after < baseline + (64 << 20),
        "RSS grew from {:.1} MiB to {:.1} MiB",
        mib(baseline),
        mib(after)
    );
}
