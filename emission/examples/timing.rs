//! Times `extract` on 1 MiB inputs of several adversarial shapes.
use skillhost_emission::{extract, Catalog};
use std::time::Instant;

fn mib(unit: &str) -> String {
    unit.repeat((1 << 20) / unit.len())
}

fn main() {
    let block = r#"{"type":"ksi_tool_use","id":"ID","name":"agent:status","input":{"agent_id":"a","status":"s","progress":0.5}}"#;
    let mut n = 0;
    let many_blocks: String = (0..)
        .map(|i| {
            n += 1;
            format!("text {} ", block.replace("ID", &format!("k{i}")))
        })
        .take_while(|_| true)
        .take(9000)
        .collect();
    let shapes: Vec<(&str, String)> = vec![
        ("prose", mib("All work and no play makes Jack a dull boy. ")),
        ("open braces {", mib("{")),
        ("open keys {\"a\":", mib("{\"a\":")),
        ("quote+brace \"{", mib("\"{")),
        ("brace+quote {\"", mib("{\"")),
        ("unclosed arrays {\"a\":[", mib("{\"a\":[")),
        ("backslashes {\\\"", mib("{\\\"")),
        ("single-quoted blocks", mib("{'type': 'ksi_tool_use'} ")),
        ("valid blocks", many_blocks),
        (
            "one huge block",
            format!(
                r#"{{"type":"ksi_tool_use","id":"a","name":"n","input":{{"k":[{}0]}}}}"#,
                "1,".repeat(500_000)
            ),
        ),
        ("deep nesting", mib("[{\"a\":")),
        (
            "unterminated string",
            format!("{{\"type\":\"ksi_tool_use\",\"x\":\"{}", mib("{ab} ")),
        ),
    ];
    // Best of 5 (the machine is shared), and the same shape at 4 MiB: a
    // linear scanner takes about 4 times as long.
    let best = |text: &str| {
        let mut best = f64::MAX;
        let mut found = 0;
        for _ in 0..5 {
            let t = Instant::now();
            found = extract(text, &Catalog::new()).len();
            best = best.min(t.elapsed().as_secs_f64() * 1000.0);
        }
        (best, found)
    };
    println!(
        "{:28} {:>8} {:>7} {:>9} {:>9} {:>6}",
        "shape", "bytes", "blocks", "1 MiB ms", "4 MiB ms", "ratio"
    );
    for (name, text) in &shapes {
        let (one, found) = best(text);
        let (four, _) = best(&text.repeat(4));
        println!(
            "{name:28} {:>8} {found:>7} {one:>9.1} {four:>9.1} {:>6.2}",
            text.len(),
            four / one
        );
    }
}
