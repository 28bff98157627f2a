//! Replays the `extract` fuzz target's corpus (`fuzz/corpus/extract/`) and
//! every input it ever failed on (`fuzz/regressions/extract/`) through the
//! same checks, in the ordinary test run.

#[path = "support/fuzz_check.rs"]
mod fuzz_check;

use std::path::Path;

#[test]
fn extract_corpus_and_findings_replay() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut n = 0;
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join("extract")) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let result = std::panic::catch_unwind(|| fuzz_check::check(&data));
            assert!(result.is_ok(), "{} fails", file.display());
            n += 1;
        }
    }
    assert!(n > 0, "no corpus in {}", fuzz.display());
}

/// The corpus tests, the seed and generated texts through the same checks.
#[test]
fn generated_texts_pass_the_fuzz_checks() {
    fuzz_check::check(include_bytes!("data/seed.md"));
    let tricky = [
        "{\"a\":[{\"type\":\"ksi_tool_use\",\"id\":\"x\",\"name\":\"a\",\"input\":{}}",
        "\"{\" {\"event\": \"a\"} {'event': 1}",
        "{\"type\":\"ksi_tool_use\",\"id\":\"x\",\"name\":\"a\",\"input\":{\"k\":1e999}}",
        "{\"k\":\"\\ud800\"} {\"k\":\"\\ud83d\\ude00\"}",
    ];
    for t in tricky {
        fuzz_check::check(t.as_bytes());
    }
    let deep = "[".repeat(200) + &"]".repeat(200);
    fuzz_check::check(format!("{{\"event\":\"a\",\"data\":{{\"k\":{deep}}}}}").as_bytes());
}
