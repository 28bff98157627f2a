//! Property tests: any valid block, embedded at any position in arbitrary
//! prose, is found exactly once, accepted, with its event and arguments.

use proptest::prelude::*;
use serde_json::{Map, Value};
use skillhost_emission::{extract, Catalog};

/// Characters that stress the scanner, and any character at all.
fn prose() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            "{", "}", "[", "]", "\"", "'", ":", ",", "\\", "`", "\n", " ", "a", "é", "😀", "0",
        ])
        .prop_map(str::to_string),
        1 => prop::sample::select(vec![
            "{\"a\":", "{\"type\": \"ksi_tool_use\", ", "\"input\": {", "```json\n", "\n```",
            "{'type': 'ksi_tool_use'", "[{", "\\\"", "{\"event\": ", "true", "null,",
        ])
        .prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..80).prop_map(|v| v.concat())
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            'a', ' ', '{', '}', '[', ']', '"', '\\', '/', ':', ',', '\n', '\t', 'é', '😀', '\u{1}',
            '\'',
        ]),
        0..10,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

#[derive(Debug, Clone)]
struct Block {
    id: String,
    name: String,
    input: Vec<(String, Value)>,
    legacy: bool,
    text: String,
}

/// A valid block with its keys in any order, compact or spread out.
fn block() -> impl Strategy<Value = Block> {
    (
        "[a-z0-9_]{1,10}",
        "[a-z]{1,8}(:[a-z_]{1,8}){0,2}",
        prop::collection::btree_map(text(), json(), 0..5),
        any::<bool>(),
        Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        prop::sample::select(vec![",", ", ", ",\n  ", " ,\r\n\t"]),
        any::<bool>(),
    )
        .prop_map(|(id, name, input, legacy, order, sep, pretty)| {
            let id = format!("PROP_{id}");
            let input: Vec<(String, Value)> = input.into_iter().collect();
            let object = Value::Object(input.iter().cloned().collect());
            let body = if pretty {
                serde_json::to_string_pretty(&object).unwrap()
            } else {
                serde_json::to_string(&object).unwrap()
            };
            let q = |s: &str| serde_json::to_string(s).unwrap();
            let fields: Vec<String> = if legacy {
                vec![
                    format!("\"event\": {}", q(&name)),
                    format!("\"data\": {body}"),
                    format!("\"id\": {}", q(&id)),
                ]
            } else {
                vec![
                    "\"type\": \"ksi_tool_use\"".to_string(),
                    format!("\"id\": {}", q(&id)),
                    format!("\"name\":{}", q(&name)),
                    format!("\"input\" : {body}"),
                ]
            };
            let ordered: Vec<&str> = order
                .iter()
                .filter(|&&i| i < fields.len())
                .map(|&i| fields[i].as_str())
                .collect();
            let text = format!("{{{}}}", ordered.join(sep));
            Block {
                id,
                name,
                input,
                legacy,
                text,
            }
        })
}

/// Checks that `b`, at byte `at` of `text`, is found once and accepted.
///
/// The one exception: prose that makes it the argument value of another
/// block (`{"type": "ksi_tool_use", ..., "input": {"k": ` before it) makes
/// it that block's data, even when that block turns out malformed.
fn found_once(text: &str, at: usize, b: &Block) -> Result<(), TestCaseError> {
    let blocks = extract(text, &Catalog::new());
    let ours: Vec<_> = blocks
        .iter()
        .filter(|x| x.id.as_deref() == Some(&b.id))
        .collect();
    if ours.is_empty() {
        let data_of_another = blocks.iter().any(|x| {
            x.offset < at
                && at < x.offset + x.len
                && (text[x.offset..at].contains("\"input\"")
                    || text[x.offset..at].contains("\"data\""))
        });
        prop_assert!(data_of_another, "not found: {:#?}", blocks);
        return Ok(());
    }
    prop_assert_eq!(ours.len(), 1, "{:#?}", blocks);
    let found = ours[0];
    prop_assert!(found.is_accepted(), "{}", found);
    prop_assert_eq!(found.offset, at);
    prop_assert_eq!(found.len, b.text.len());
    prop_assert_eq!(found.name.as_deref(), Some(b.name.as_str()));
    prop_assert_eq!(found.arguments.len(), b.input.len());
    for ((name, value), (k, v)) in found.arguments.iter().zip(&b.input) {
        prop_assert_eq!(name, k);
        match v {
            Value::String(s) => prop_assert_eq!(value, s),
            // Numbers as written, so the same text serde_json writes.
            other => prop_assert_eq!(value, &serde_json::to_string(other).unwrap()),
        }
    }
    let _ = b.legacy;
    Ok(())
}

proptest! {
    // PROPTEST_CASES=100000 for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_block_anywhere_in_prose_is_found_once(
        prose in prose(),
        b in block(),
        at in any::<prop::sample::Index>(),
        fenced in any::<bool>(),
    ) {
        let cuts: Vec<usize> = prose.char_indices().map(|(i, _)| i).chain([prose.len()]).collect();
        let cut = cuts[at.index(cuts.len())];
        let (open, close) = if fenced { ("```json\n", "\n```\n") } else { ("", "") };
        let text = format!("{}{open}{}{close}{}", &prose[..cut], b.text, &prose[cut..]);
        found_once(&text, cut + open.len(), &b)?;
    }

    #[test]
    fn two_blocks_in_prose_are_both_found(
        p1 in prose(), p2 in prose(), p3 in prose(), a in block(), b in block(),
    ) {
        prop_assume!(a.id != b.id);
        let text = format!("{p1}{}{p2}{}{p3}", a.text, b.text);
        found_once(&text, p1.len(), &a)?;
        found_once(&text, p1.len() + a.text.len() + p2.len(), &b)?;
    }

    #[test]
    fn blocks_inside_other_json_are_found(
        b in block(),
        wrapper in prop::sample::select(vec![
            ("[", "]"), ("{\"calls\": [", "]}"), ("{\"a\": {\"b\": ", "}}"), ("[1, \"x\", ", ", null]"),
            ("{\"unclosed\": [", ""), ("{\"k\": ", " oops"),
        ]),
        prose in prose(),
    ) {
        let text = format!("{}{}{}{prose}", wrapper.0, b.text, wrapper.1);
        found_once(&text, wrapper.0.len(), &b)?;
    }
}
