//! What the `extract` fuzz target (`fuzz/fuzz_targets/extract.rs`) checks
//! on every input, shared with the stable test that replays its corpus and
//! findings (`tests/fuzz_replay.rs`). Panics only on a real bug.

use serde_json::Value;
use skillhost_emission::{
    extract, parse_at, ArgSchema, ArgType, Block, Catalog, EventSchema, Form, Problem,
};

fn catalog() -> Catalog {
    let arg = |name: &str, ty, required| ArgSchema {
        name: name.into(),
        ty,
        required,
        description: None,
    };
    let mut c = Catalog::new();
    c.insert(EventSchema {
        idn: "agent:status".into(),
        description: None,
        arguments: vec![
            arg("agent_id", ArgType::String, true),
            arg("progress", ArgType::Number, false),
            arg("done", ArgType::Boolean, false),
            arg("details", ArgType::Json, false),
        ],
    });
    c.insert(EventSchema {
        idn: "a".into(),
        description: None,
        arguments: Vec::new(),
    });
    c
}

/// The whole check: extraction with and without declared events, then the
/// scanner's JSON grammar against serde_json's on (small) inputs.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for catalog in [Catalog::new(), catalog()] {
        let blocks = extract(&text, &catalog);
        check_blocks(&text, &blocks, &catalog);
    }
    if text.len() <= 8 << 10 {
        grammar_matches_serde(&text);
    }
}

/// Blocks in text order, each at a `{`, with a message that says where;
/// accepted ones well-formed, with unique ids, and found again alone.
fn check_blocks(text: &str, blocks: &[Block], catalog: &Catalog) {
    let mut last = None;
    let mut ids = std::collections::HashSet::new();
    for (i, b) in blocks.iter().enumerate() {
        assert_eq!(b.index, i);
        assert!(last < Some(b.offset), "blocks out of order: {blocks:#?}");
        last = Some(b.offset);
        assert_eq!(text.as_bytes()[b.offset], b'{', "{b:#?}");
        assert!(b.offset + b.len <= text.len());
        assert_eq!(b.arguments.len(), b.kinds.len());
        match &b.verdict {
            Ok(()) => {
                assert_ne!(b.form, Form::Malformed);
                assert!(!b.name.as_deref().unwrap_or("").trim().is_empty(), "{b:#?}");
                if let Some(id) = &b.id {
                    assert!(ids.insert(id.clone()), "duplicate id accepted: {blocks:#?}");
                }
                assert!(catalog.is_empty() || catalog.get(b.name.as_deref().unwrap()).is_some());
                assert_eq!(&text[b.offset + b.len - 1..b.offset + b.len], "}");
                let alone = extract(&text[b.offset..b.offset + b.len], catalog);
                assert_eq!(alone.len(), 1, "{b:#?} alone: {alone:#?}");
                assert!(alone[0].is_accepted(), "{alone:#?}");
                assert_eq!((&alone[0].id, &alone[0].name), (&b.id, &b.name));
                assert_eq!(alone[0].arguments, b.arguments);
                for ((_, value), kind) in b.arguments.iter().zip(&b.kinds) {
                    if *kind != skillhost_emission::JsonKind::String {
                        assert!(parse_at(&format!("{{\"\":{value}}}"), 0).is_ok(), "{value}");
                    }
                }
            }
            Err(r) => {
                let at = format!(
                    "block {i} at byte {} (line {}, column {})",
                    b.offset, b.line, b.column
                );
                assert!(r.message.starts_with(&at), "{:?} vs {at:?}", r.message);
                if r.problem == Problem::Malformed {
                    assert_eq!(b.form, Form::Malformed);
                }
            }
        }
    }
}

/// At each `{` (the first 256), the scanner's own parse agrees with
/// serde_json: both fail, or both succeed with the same end and value
/// (except where serde_json has limits the scanner does not: its nesting
/// limit of 128 and numbers beyond f64).
fn grammar_matches_serde(text: &str) {
    for (i, _) in text.match_indices('{').take(256) {
        let mine = parse_at(text, i);
        let mut stream = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
        let theirs = stream.next();
        match (mine, theirs) {
            (Ok((end, json, _)), Some(Ok(value))) => {
                assert_eq!(end, i + stream.byte_offset(), "end at {i}");
                if let Ok(again) = serde_json::from_str::<Value>(&json) {
                    assert_eq!(again, value, "value at {i}");
                }
            }
            (Ok((_, _, height)), Some(Err(e))) => {
                let limit = e.to_string().contains("recursion limit") && height >= 127;
                let range = e.to_string().contains("number out of range");
                assert!(limit || range, "serde_json rejects at {i}: {e}");
            }
            (Ok(_), None) => panic!("serde_json sees nothing at {i}"),
            (Err(at), Some(Ok(_))) => panic!("scanner rejects at {i} (error at {at})"),
            (Err(_), _) => {}
        }
    }
}
