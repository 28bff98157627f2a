//! The extractor on a corpus of tricky texts: for each, the blocks it must
//! find, in order, with their verdicts, and what the messages must say.
//!
//! A block is written `ok <id> <event> <arg>=<value> ...` (`ok-legacy` for
//! the `{"event": ..., "data": ...}` form, `-` for no id) when accepted, and
//! as its `Problem` (Debug) when rejected.

use skillhost_emission::{extract, ArgSchema, ArgType, Block, Catalog, EventSchema, Form, Problem};

fn arg(name: &str, ty: ArgType, required: bool) -> ArgSchema {
    ArgSchema {
        name: name.into(),
        ty,
        required,
        description: Some(format!("the {name}")),
    }
}

/// The seed's events, declared.
fn catalog() -> Catalog {
    let mut c = Catalog::new();
    c.insert(EventSchema {
        idn: "agent:status".into(),
        description: None,
        arguments: vec![
            arg("agent_id", ArgType::String, true),
            arg("status", ArgType::String, true),
            arg("progress", ArgType::Number, false),
            arg("details", ArgType::Json, false),
            arg("final", ArgType::Boolean, false),
        ],
    });
    c.insert(EventSchema {
        idn: "state:entity:update".into(),
        description: None,
        arguments: vec![
            arg("id", ArgType::String, true),
            arg("properties", ArgType::Json, true),
        ],
    });
    c
}

fn render(b: &Block) -> String {
    match &b.verdict {
        Ok(()) => {
            let mut s = format!(
                "{} {} {}",
                if b.form == Form::Legacy {
                    "ok-legacy"
                } else {
                    "ok"
                },
                b.id.as_deref().unwrap_or("-"),
                b.name.as_deref().unwrap_or("?")
            );
            for (k, v) in &b.arguments {
                s += &format!(" {k}={v}");
            }
            s
        }
        Err(r) => format!("{:?}", r.problem),
    }
}

/// Extracts with or without the catalog; checks the rendered verdicts and
/// that every rejection message contains the given fragments (in order of
/// the rejected blocks; "" skips one).
#[track_caller]
fn case(text: &str, declared: bool, expected: &[&str], messages: &[&str]) -> Vec<Block> {
    let catalog = if declared { catalog() } else { Catalog::new() };
    let blocks = extract(text, &catalog);
    let got: Vec<String> = blocks.iter().map(render).collect();
    assert_eq!(got, expected, "text: {text:?}\nblocks: {blocks:#?}");
    let rejected: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b.rejection().map(|r| r.message.as_str()))
        .collect();
    for (i, fragment) in messages.iter().enumerate() {
        let message = rejected
            .get(i)
            .unwrap_or_else(|| panic!("no rejection {i}"));
        assert!(
            message.contains(fragment),
            "rejection {i}: {message:?} lacks {fragment:?}"
        );
    }
    for (i, b) in blocks.iter().enumerate() {
        assert_eq!(b.index, i);
        assert_eq!(&text[b.offset..b.offset + 1], "{");
        if let Some(r) = b.rejection() {
            let start = format!(
                "block {i} at byte {} (line {}, column {})",
                b.offset, b.line, b.column
            );
            assert!(
                r.message.starts_with(&start),
                "{:?} does not start with {start:?}",
                r.message
            );
        }
    }
    blocks
}

const STATUS: &str = r#"{"type": "ksi_tool_use", "id": "ksiu_status_001", "name": "agent:status", "input": {"agent_id": "analyzer_123", "status": "processing", "progress": 0.8}}"#;
const STATUS_OK: &str =
    "ok ksiu_status_001 agent:status agent_id=analyzer_123 status=processing progress=0.8";

fn tool(id: &str, name: &str, input: &str) -> String {
    format!(r#"{{"type":"ksi_tool_use","id":"{id}","name":"{name}","input":{input}}}"#)
}

// ---------------------------------------------------------------------------
// Finding blocks

#[test]
fn c01_bare_block() {
    let blocks = case(&format!("Status: {STATUS} ok"), false, &[STATUS_OK], &[]);
    assert_eq!(blocks[0].offset, 8);
    assert_eq!(blocks[0].len, STATUS.len());
}

#[test]
fn c02_fenced_block() {
    let text = format!("I'll report.\n\n```json\n{STATUS}\n```\n\nDone.");
    let blocks = case(&text, true, &[STATUS_OK], &[]);
    assert_eq!((blocks[0].line, blocks[0].column), (4, 1));
}

#[test]
fn c03_several_blocks_in_order() {
    let text = format!(
        "First {} then\n```json\n{}\n```\nand {}",
        tool("a", "x", "{}"),
        tool("b", "y", r#"{"n": 1}"#),
        tool("c", "z", r#"{"s": "t"}"#)
    );
    case(&text, false, &["ok a x", "ok b y n=1", "ok c z s=t"], &[]);
}

#[test]
fn c04_blocks_inside_a_json_array() {
    let text = format!("[{}, {}]", tool("a", "x", "{}"), tool("b", "y", "{}"));
    case(&text, false, &["ok a x", "ok b y"], &[]);
}

#[test]
fn c05_block_nested_in_another_object() {
    let text = format!(
        r#"{{"response": {{"thought": "report", "actions": [{}, {{"event": "e", "data": {{}}}}]}}, "n": 1}}"#,
        tool("a", "x", "{}")
    );
    case(&text, false, &["ok a x", "ok-legacy - e"], &[]);
}

#[test]
fn c06_braces_and_quotes_inside_strings() {
    let text = format!(
        "{} {}",
        tool(
            "a",
            "x",
            r#"{"text": "a } b { c \" d \\ e }}}", "k}": "{"}"#
        ),
        tool("b", "y", "{}")
    );
    case(
        &text,
        false,
        &[r#"ok a x text=a } b { c " d \ e }}} k}={"#, "ok b y"],
        &[],
    );
}

#[test]
fn c07_after_unbalanced_open_braces_in_prose() {
    let text = format!(
        "I think {{this is {{great and {{{{ so {} and {}",
        tool("a", "x", "{}"),
        tool("b", "y", "{}")
    );
    case(&text, false, &["ok a x", "ok b y"], &[]);
}

#[test]
fn c08_after_unbalanced_close_braces_in_prose() {
    let text = format!(
        "}}}} oops }} {} }} {}",
        tool("a", "x", "{}"),
        tool("b", "y", "{}")
    );
    case(&text, false, &["ok a x", "ok b y"], &[]);
}

#[test]
fn c09_after_a_stray_quote_in_prose() {
    // One `"` in the prose shifts which quotes pair up: the second view reads it.
    let text = format!(
        "She said \"go and {} then {}",
        tool("a", "x", "{}"),
        tool("b", "y", r#"{"q": "\""}"#)
    );
    case(&text, false, &["ok a x", "ok b y q=\""], &[]);
}

#[test]
fn c10_after_an_open_json_string_in_prose() {
    let text = format!(
        "{{\"note\": \"unfinished {} and {}",
        tool("a", "x", "{}"),
        tool("b", "y", "{}")
    );
    case(&text, false, &["ok a x", "ok b y"], &[]);
}

#[test]
fn c11_block_inside_an_unclosed_wrapper() {
    // The wrapper never closes: the blocks inside it still count.
    let text = format!(
        "{{\"calls\": [{}, {}",
        tool("a", "x", "{}"),
        tool("b", "y", "{}")
    );
    case(&text, false, &["ok a x", "ok b y"], &[]);
}

#[test]
fn c12_block_quoted_in_prose_and_inline_code() {
    let text = format!(
        "Call \"{}\" or `{}`",
        tool("a", "x", "{}"),
        tool("b", "y", "{}")
    );
    case(&text, false, &["ok a x", "ok b y"], &[]);
}

#[test]
fn c13_legacy_forms() {
    let text = r#"{"event": "agent:status", "data": {"agent_id": "a1", "status": "ok"}}
{"event": "ping"} {"event": "agent:status", "id": "L1", "data": {"agent_id": "a", "status": "s"}}"#;
    case(
        text,
        false,
        &[
            "ok-legacy - agent:status agent_id=a1 status=ok",
            "ok-legacy - ping",
            "ok-legacy L1 agent:status agent_id=a status=s",
        ],
        &[],
    );
}

#[test]
fn c14_json_that_is_not_a_block() {
    let text = r#"Config: {"a": 1, "type": "object", "properties": {"x": {"type": "string"}}} and {"name": "n", "input": {}}"#;
    case(text, false, &[], &[]);
}

#[test]
fn c15_no_blocks() {
    case("", false, &[], &[]);
    case("just prose, no braces at all", false, &[], &[]);
    case("{} {{}} {{{ }}} [{}] {\"a\"} {\"a\":}", false, &[], &[]);
}

#[test]
fn c16_block_inside_a_block_is_data() {
    let inner = tool("inner", "y", "{}");
    let text = tool("outer", "x", &format!(r#"{{"example": {inner}}}"#));
    case(&text, false, &[&format!("ok outer x example={inner}")], &[]);
}

#[test]
fn c17_example_block_in_a_string_is_data() {
    // An example written inside a string value, quotes escaped: neither a
    // block nor a malformed one.
    let example = r#"{\"type\": \"ksi_tool_use\", \"id\": \"ex\", \"name\": \"n\", \"input\": {}}"#;
    let text = tool(
        "a",
        "composition:create_component",
        &format!(r#"{{"content": "Emit like this: {example}"}}"#),
    );
    let blocks = case(&text, false, &["ok a composition:create_component content=Emit like this: {\"type\": \"ksi_tool_use\", \"id\": \"ex\", \"name\": \"n\", \"input\": {}}"], &[]);
    assert_eq!(blocks.len(), 1);
}

#[test]
fn c18_other_types_are_not_blocks() {
    let text = r#"{"type": "tool_use", "id": "a", "name": "n", "input": {}} {"type": "KSI_TOOL_USE", "id": "b", "name": "n", "input": {}}"#;
    case(text, false, &[], &[]);
}

// ---------------------------------------------------------------------------
// Malformed JSON

#[test]
fn c20_single_quotes() {
    case(
        "{'type': 'ksi_tool_use', 'id': 'a', 'name': 'x', 'input': {}}",
        false,
        &["Malformed"],
        &["not valid JSON at byte 1 (line 1, column 2): expected a key or `}`, found `'`: use double quotes"],
    );
}

#[test]
fn c21_unquoted_keys() {
    case(
        "{type: \"ksi_tool_use\", id: \"a\"}",
        false,
        &["Malformed"],
        &["keys must be in double quotes"],
    );
}

#[test]
fn c22_trailing_comma() {
    let text = r#"{"type": "ksi_tool_use", "id": "a", "name": "x", "input": {"k": 1,},}"#;
    case(
        text,
        false,
        &["Malformed"],
        &["remove the trailing comma before `}`"],
    );
}

#[test]
fn c23_missing_comma() {
    let text = r#"{"type": "ksi_tool_use", "id": "a" "name": "x", "input": {}}"#;
    let blocks = case(
        text,
        false,
        &["Malformed"],
        &["at byte 35 (line 1, column 36): expected `,` or `}`, found `\"`: a comma is missing"],
    );
    // What was read before the error names the block.
    assert_eq!(blocks[0].id.as_deref(), Some("a"));
    assert!(blocks[0].rejection().unwrap().message.contains("[id `a`]"));
}

#[test]
fn c24_unescaped_quote_in_a_string() {
    let text = format!(
        "{} and then {}",
        r#"{"type": "ksi_tool_use", "id": "a", "name": "say", "input": {"text": "he said "hi" loudly"}}"#,
        tool("b", "x", "{}")
    );
    case(&text, false, &["Malformed", "ok b x"], &["expected `,` or `}`, found `h`; near `…me\": \"say\", \"input\": {\"text\": \"he said \"▸hi\" loudly\"}} and th…`"]);
}

#[test]
fn c25_raw_line_break_in_a_string() {
    let text = "{\"type\": \"ksi_tool_use\", \"id\": \"a\", \"name\": \"x\", \"input\": {\"text\": \"two\nlines\"}}";
    case(
        text,
        false,
        &["Malformed"],
        &["a line break inside a string (write it as \\n)"],
    );
}

#[test]
fn c26_truncated_at_the_end() {
    let text = "Sending: {\"type\": \"ksi_tool_use\", \"id\": \"a\", \"name\": \"x\", \"input\": {\"p\": [1, 2";
    case(
        text,
        false,
        &["Malformed"],
        &["the text ends before the block is closed (add `]}}` at the end)"],
    );
    let text = "{\"type\": \"ksi_tool_use\", \"id\": \"a\", \"name\": \"x\", \"input\": {\"p\": \"unfinished";
    case(
        text,
        false,
        &["Malformed"],
        &["the text ends inside a string"],
    );
}

#[test]
fn c27_missing_close_brace_before_the_next_block() {
    let text = format!(
        "{}\n{}",
        r#"{"type": "ksi_tool_use", "id": "a", "name": "x", "input": {"k": 1}"#,
        tool("b", "y", "{}")
    );
    case(
        &text,
        false,
        &["Malformed", "ok b y"],
        &["the block is not closed before the next `{`: add the missing `}`"],
    );
}

#[test]
fn c28_python_literals_and_comments() {
    let text = r#"{"type": "ksi_tool_use", "id": "a", "name": "x", "input": {"done": True}} {"type": "ksi_tool_use", "id": "b", "name": "x", "input": { // params
}}"#;
    case(
        text,
        false,
        &["Malformed", "Malformed"],
        &["JSON literals are lowercase", "JSON has no comments"],
    );
}

#[test]
fn c29_bad_escapes_and_numbers() {
    let text = r#"{"type": "ksi_tool_use", "id": "a", "name": "x", "input": {"p": "C:\temp\x"}}
{"type": "ksi_tool_use", "id": "b", "name": "x", "input": {"n": 007}}
{"type": "ksi_tool_use", "id": "c", "name": "x", "input": {"s": "\ud83d"}}"#;
    case(
        text,
        false,
        &["Malformed", "Malformed", "Malformed"],
        &[
            "`\\` followed by `x` is not a JSON escape",
            "a number with a leading zero",
            "half a UTF-16 surrogate pair",
        ],
    );
}

#[test]
fn c30_legacy_malformed_with_single_quotes() {
    case(
        "{'event': 'ping', 'data': {}}",
        false,
        &["Malformed"],
        &["use double quotes"],
    );
}

#[test]
fn c31_unparsable_prose_braces_are_not_reported() {
    case(
        "Use {name} and {input} placeholders, {like: this}.",
        false,
        &[],
        &[],
    );
}

// ---------------------------------------------------------------------------
// Structure

#[test]
fn c40_missing_fields() {
    let text = r#"{"type": "ksi_tool_use", "name": "x", "input": {}}
{"type": "ksi_tool_use", "id": "b", "input": {}}
{"type": "ksi_tool_use", "id": "c", "name": "x"}
{"event": "", "data": {}} {"data": {}, "event": 3}"#;
    case(
        text,
        false,
        &[
            "MissingField(\"id\")",
            "MissingField(\"name\")",
            "MissingField(\"input\")",
            "InvalidField(\"event\")",
            "InvalidField(\"event\")",
        ],
        &[
            "missing `id`: add a unique id such as \"id\": \"ksiu_001\"",
            "missing `name`",
            "missing `input`: add the event's arguments as \"input\": {...} (or {} for none)",
            "`event` must be a non-empty string, not empty",
            "`event` must be a non-empty string, not a number",
        ],
    );
}

#[test]
fn c41_wrong_kinds_of_fields() {
    let text = r#"{"type": "ksi_tool_use", "id": 7, "name": "x", "input": {}}
{"type": "ksi_tool_use", "id": "b", "name": "  ", "input": {}}
{"type": "ksi_tool_use", "id": "c", "name": "x", "input": "status=done"}
{"event": "e", "data": [1]}"#;
    case(
        text,
        false,
        &[
            "InvalidField(\"id\")",
            "InvalidField(\"name\")",
            "InvalidField(\"input\")",
            "InvalidField(\"data\")",
        ],
        &[
            "`id` must be a non-empty string, not a number",
            "`name` must be a non-empty string",
            "`input` must be an object of arguments",
            "`data` must be an object",
        ],
    );
}

#[test]
fn c42_unexpected_and_duplicate_keys() {
    let text = r#"{"type": "ksi_tool_use", "id": "a", "name": "x", "inputs": {}}
{"type": "ksi_tool_use", "id": "b", "id": "c", "name": "x", "input": {}}
{"type": "ksi_tool_use", "id": "d", "name": "x", "input": {"k": 1, "k": 2}}
{"event": "e", "payload": {}}"#;
    case(
        text,
        false,
        &[
            "UnexpectedKey(\"inputs\")",
            "DuplicateKey(\"id\")",
            "DuplicateArgument(\"k\")",
            "UnexpectedKey(\"payload\")",
        ],
        &[
            "unexpected key `inputs` (did you mean `input`?)",
            "key `id` appears twice",
            "argument `k` appears twice in `input`",
            "a legacy block has `event`",
        ],
    );
}

#[test]
fn c43_duplicate_ids() {
    let text = format!(
        "{} {} {}",
        tool("same", "x", "{}"),
        tool("other", "x", "{}"),
        tool("same", "y", "{}")
    );
    case(
        &text,
        false,
        &["ok same x", "ok other x", "DuplicateId { first: 0 }"],
        &["duplicate id `same`: block 0 already uses it"],
    );
}

#[test]
fn c44_non_string_values_are_json_encoded() {
    let input = r#"{"s": "plain", "n": -1.50e+3, "big": 1e400, "t": true, "f": false, "z": null, "a": [1, "two", {"three": 3}], "o": {"k": "v\n\"q\""}}"#;
    let text = tool("a", "x", input);
    case(
        &text,
        false,
        &[
            r#"ok a x s=plain n=-1.50e+3 big=1e400 t=true f=false z=null a=[1,"two",{"three":3}] o={"k":"v\n\"q\""}"#,
        ],
        &[],
    );
}

// ---------------------------------------------------------------------------
// Declared events

#[test]
fn c50_declared_events_accepted() {
    let text = format!(
        "{STATUS} {}",
        tool(
            "u",
            "state:entity:update",
            r#"{"id": "s1", "properties": {"records_processed": 25000, "completion_percentage": 85}}"#
        )
    );
    case(
        &text,
        true,
        &[
            STATUS_OK,
            r#"ok u state:entity:update id=s1 properties={"records_processed":25000,"completion_percentage":85}"#,
        ],
        &[],
    );
}

#[test]
fn c51_unknown_event() {
    let text = format!(
        "{} {}",
        tool("a", "agent:stats", "{}"),
        tool("b", "booking_requested", "{}")
    );
    case(&text, true, &["UnknownEvent", "UnknownEvent"], &[
        "unknown event `agent:stats` (did you mean `agent:status`?); the events this project accepts: agent:status, state:entity:update",
        "unknown event `booking_requested`; the events",
    ]);
    // Without declared events, any event goes.
    case(
        &text,
        false,
        &["ok a agent:stats", "ok b booking_requested"],
        &[],
    );
}

#[test]
fn c52_arguments_failing_the_schema_are_named() {
    let text = format!(
        "{}\n{}\n{}",
        tool(
            "a",
            "agent:status",
            r#"{"agent_id": "x", "status": "s", "progress": "high"}"#
        ),
        tool("b", "agent:status", r#"{"agent_id": 12, "stauts": "s"}"#),
        tool(
            "c",
            "agent:status",
            r#"{"agent_id": "x", "status": "s", "progress": "0.5", "final": "true", "details": "{\"a\":1}"}"#
        )
    );
    let blocks = case(
        &text,
        true,
        &[
            "Arguments([\"progress\"])",
            "Arguments([\"agent_id\", \"stauts\", \"status\"])",
            r#"ok c agent:status agent_id=x status=s progress=0.5 final=true details={"a":1}"#,
        ],
        &[
            "argument `progress` must be a number, got \"high\"",
            "argument `agent_id` must be a string, got a number `12`; unexpected argument `stauts` (did you mean `status`?); `agent:status` takes agent_id (string, required), status (string, required), progress (number), details (json), final (boolean); missing required argument `status` (string: the status)",
        ],
    );
    assert_eq!(
        blocks[1].rejection().unwrap().problem,
        Problem::Arguments(vec!["agent_id".into(), "stauts".into(), "status".into()])
    );
}

#[test]
fn c53_json_and_boolean_arguments() {
    let text = format!(
        "{} {}",
        tool(
            "a",
            "agent:status",
            r#"{"agent_id": "x", "status": "s", "final": 1, "details": "not json"}"#
        ),
        tool(
            "b",
            "state:entity:update",
            r#"{"id": "s", "properties": [1, 2]}"#
        )
    );
    case(
        &text,
        true,
        &["Arguments([\"final\", \"details\"])", "ok b state:entity:update id=s properties=[1,2]"],
        &["argument `final` must be a boolean (true or false), got a number `1`; argument `details` must be JSON, got \"not json\""],
    );
}

#[test]
fn c54_legacy_block_checked_like_the_other_form() {
    let text = r#"{"event": "agent:status", "data": {"status": "ok"}}"#;
    case(
        text,
        true,
        &["Arguments([\"agent_id\"])"],
        &["missing required argument `agent_id`"],
    );
}

// ---------------------------------------------------------------------------
// Unicode and escapes

#[test]
fn c60_unicode_offsets_are_bytes_columns_are_characters() {
    let text = format!(
        "Größe 😀 日本語 {}",
        tool("ü", "agent:状態", r#"{"msg": "héllo 🌍", "k€y": "ok"}"#)
    );
    let blocks = case(&text, false, &["ok ü agent:状態 msg=héllo 🌍 k€y=ok"], &[]);
    assert_eq!(blocks[0].offset, "Größe 😀 日本語 ".len());
    assert_eq!(blocks[0].column, "Größe 😀 日本語 ".chars().count() + 1);
}

#[test]
fn c61_escapes_are_decoded() {
    let text = tool(
        "a",
        "x",
        r#"{"s": "tab\there \u00e9 \ud83d\ude00 \/ \\ \" \b\f\r\n"}"#,
    );
    case(
        &text,
        false,
        &["ok a x s=tab\there é 😀 / \\ \" \u{8}\u{c}\r\n"],
        &[],
    );
}

#[test]
fn c62_unicode_in_a_malformed_block_message() {
    let text = "Ça va? {\"type\": \"ksi_tool_use\", \"id\": \"é\", \"name\": \"x\", \"input\": {\"m\": «no quotes»}}";
    case(text, false, &["Malformed"], &["[id `é`, event `x`]: not valid JSON at byte 73 (line 1, column 72): expected a value, found `«`"]);
}

#[test]
fn c63_crlf_and_tabs() {
    let text = format!(
        "line one\r\n\tline two\r\n{}\r\n",
        tool("a", "x", "{\r\n\t\"k\":\t\"v\"\r\n}")
    );
    let blocks = case(&text, false, &["ok a x k=v"], &[]);
    assert_eq!((blocks[0].line, blocks[0].column), (3, 1));
}

// ---------------------------------------------------------------------------
// Size and depth

#[test]
fn c70_huge_prose_with_blocks_at_both_ends() {
    let mut text = tool("first", "x", "{}");
    text += &"All work and no play makes Jack a dull boy. ".repeat(24_000); // ~1 MiB
    text += &tool("last", "y", "{}");
    case(&text, false, &["ok first x", "ok last y"], &[]);
}

#[test]
fn c71_hundred_thousand_open_braces() {
    let text = "{".repeat(100_000) + &tool("a", "x", "{}");
    case(&text, false, &["ok a x"], &[]);
    let text = "{\"a\":".repeat(100_000) + &tool("a", "x", "{}");
    case(&text, false, &["ok a x"], &[]);
    let text = "\"{".repeat(100_000) + &tool("a", "x", "{}");
    case(&text, false, &["ok a x"], &[]);
}

#[test]
fn c72_many_malformed_blocks() {
    let text = "{'type': 'ksi_tool_use'} ".repeat(2_000);
    let blocks = extract(&text, &Catalog::new());
    assert_eq!(blocks.len(), 2_000);
    assert!(blocks
        .iter()
        .all(|b| b.rejection().unwrap().problem == Problem::Malformed));
}

#[test]
fn c73_huge_string_value() {
    let big = "x{\\\"}".repeat(200_000);
    let text = tool("a", "x", &format!(r#"{{"blob": "{big}"}}"#));
    let blocks = extract(&text, &Catalog::new());
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].arguments[0].1.len(), 200_000 * 4);
}

#[test]
fn c74_block_in_a_deep_wrapper_is_found() {
    let text = "[{\"a\":".repeat(5_000) + &tool("deep", "x", "{}") + &"}]".repeat(5_000);
    case(&text, false, &["ok deep x"], &[]);
}

#[test]
fn c75_deep_blocks() {
    // The block object counts as level 1: input is level 2.
    let nest = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
    let ok = tool("ok", "x", &format!(r#"{{"k": {}}}"#, nest(126)));
    let deep = tool("deep", "x", &format!(r#"{{"k": {}}}"#, nest(127)));
    let blocks = case(
        &format!("{ok} {deep}"),
        false,
        &[&format!("ok ok x k={}", nest(126)), "TooDeep"],
        &["nested 129 levels deep, more than the 128 allowed"],
    );
    // serde_json reads every argument of an accepted block.
    let arg = &blocks[0].arguments[0].1;
    serde_json::from_str::<serde_json::Value>(arg).expect("serde_json reads it");
}

#[test]
fn c76_a_deep_malformed_block() {
    let text = r#"{"type": "ksi_tool_use", "id": "a", "name": "x", "input": {"k": "#.to_string()
        + &"[".repeat(100_000);
    case(
        &text,
        false,
        &["Malformed"],
        &["the text ends before the block is closed"],
    );
}

// ---------------------------------------------------------------------------
// The seed

#[test]
fn c80_the_seed_document() {
    let seed = include_str!("data/seed.md");
    let blocks = case(
        seed,
        true,
        &[
            "Malformed",
            STATUS_OK,
            "UnknownEvent",
            r#"ok ksiu_state_001 state:entity:update id=analysis_session_123 properties={"records_processed":25000,"insights_found":7,"completion_percentage":85}"#,
        ],
        &["[id `unique_call_id`, event `event_name`]: not valid JSON at byte 524 (line 22, column 5): expected a key or `}`, found `/`: JSON has no comments"],
    );
    assert_eq!(
        blocks[2].name.as_deref(),
        Some("composition:create_component")
    );
    // Without declared events the component block goes too, its content intact.
    let all = extract(seed, &Catalog::new());
    assert!(all[2].is_accepted());
    assert!(all[2].arguments[1]
        .1
        .starts_with("---\ncomponent_type: persona\n"));
}
