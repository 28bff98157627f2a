//! Replays every input of the fuzzers' corpora (`fuzz/corpus/<target>/`)
//! and every crash they found (`fuzz/regressions/<target>/`) through the
//! same checks the fuzz targets make, in the ordinary stable test run.

use std::path::Path;

use skillhost_tests::{fuzz, repo};

/// Feeds every file under `fuzz/{corpus,regressions}/<target>` to `check`;
/// returns how many there were.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let mut n = 0;
    for kind in ["corpus", "regressions"] {
        let dir = repo().join("fuzz").join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{} fails", rel(&file));
            n += 1;
        }
    }
    n
}

fn rel(p: &Path) -> String {
    p.strip_prefix(repo()).unwrap_or(p).display().to_string()
}

#[test]
fn flow_loader_corpus_and_crashes_replay() {
    let n = replay("flow_loader", fuzz::flow_loader);
    assert!(n > 0, "no corpus for flow_loader");
}

#[test]
fn event_json_corpus_and_crashes_replay() {
    let n = replay("event_json", fuzz::event_json);
    assert!(n > 0, "no corpus for event_json");
}
