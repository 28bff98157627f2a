//! Profile: who the user is, what the agent remembers, and a project-wide
//! visit counter. It answers `user_message` acts by their `text` argument
//! (trimmed; the commands are matched ignoring ASCII case):
//!
//! | text | effect | reply |
//! |------|--------|-------|
//! | `my name is <name>` | sets the persona attribute `name` (the name trimmed, a trailing `.` or `!` dropped) | `Nice to meet you, <name>.` |
//! | `my name is` (no name) | nothing | `Tell me your name: "my name is <name>".` |
//! | `who am i` | nothing | `You are <name>; I remember <n> messages.` (the name from `identity::user`, `n` the turns of `memory::get(50)`, this message included; `1 message` for one), or without a name `I don't know your name yet; I remember <n> messages.` |
//! | `visits` | increments the project attribute `visits` (unset or not a number counts as 0) | `visit #<n>` |
//! | anything else | nothing | `Say "my name is <name>", "who am i" or "visits".` |
//!
//! Other events are ignored (the run succeeds and does nothing).
use skill_sdk::prelude::*;

skill!(run);

/// How many turns `who am i` asks the memory for.
const MEMORY: u32 = 50;

fn run(act: Act) -> Result<()> {
    if act.idn() != "user_message" {
        log::debug!("profile: ignoring `{}`", act.idn());
        return Ok(());
    }
    let text = act.arg("text").unwrap_or_default().trim();
    if let Some(name) = strip_prefix_ignore_case(text, "my name is") {
        return remember_name(name);
    }
    match text.to_ascii_lowercase().as_str() {
        "who am i" | "who am i?" => who_am_i(),
        "visits" => visit(),
        _ => reply("Say \"my name is <name>\", \"who am i\" or \"visits\"."),
    }
}

/// `my name is <name>`: the persona attribute `name`.
fn remember_name(name: &str) -> Result<()> {
    let name = name.trim().trim_end_matches(['.', '!']).trim_end();
    if name.is_empty() {
        return reply("Tell me your name: \"my name is <name>\".");
    }
    attributes::set_persona("name", name)?;
    reply(&format!("Nice to meet you, {name}."))
}

/// `who am i`: the user's name and the size of the conversation so far.
fn who_am_i() -> Result<()> {
    let name = identity::user().and_then(|u| u.name);
    let n = memory::get(MEMORY).len();
    let remembered = match n {
        1 => "1 message".to_owned(),
        n => format!("{n} messages"),
    };
    reply(&match name {
        Some(name) => format!("You are {name}; I remember {remembered}."),
        None => format!("I don't know your name yet; I remember {remembered}."),
    })
}

/// `visits`: the project-wide counter.
fn visit() -> Result<()> {
    let stored = attributes::project("visits").unwrap_or_default();
    let n = stored.trim().parse::<u64>().unwrap_or_else(|_| {
        if !stored.is_empty() {
            log::warn!("profile: project attribute `visits` is {stored:?}, not a number; from 0");
        }
        0
    }) + 1;
    attributes::set_project("visits", &n.to_string())?;
    reply(&format!("visit #{n}"))
}

/// `text` without `prefix` (compared ignoring ASCII case) if the prefix is
/// followed by whitespace or the end.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    let rest = &text[prefix.len()..];
    (head.eq_ignore_ascii_case(prefix)
        && (rest.is_empty() || rest.starts_with(char::is_whitespace)))
    .then_some(rest)
}

#[cfg(test)]
mod tests {
    use skill_sdk::memory::Turn;
    use skill_sdk::testing::TestHost;

    fn say(text: &str) -> TestHost {
        TestHost::new("user_message").arg("text", text)
    }

    /// The next user message to the same host.
    fn then(host: TestHost, text: &str) -> TestHost {
        host.next("user_message").arg("text", text)
    }

    #[test]
    fn remembers_the_name_as_a_persona_attribute() {
        let mut host = say("My name is Ada Lovelace.");
        let done = host.run(super::run);
        assert!(done.is_ok(), "{:?}", done.result);
        assert_eq!(done.reply_texts(), ["Nice to meet you, Ada Lovelace."]);
        assert_eq!(done.persona_writes("persona-1"), [("name", "Ada Lovelace")]);
        assert_eq!(
            host.persona_value("persona-1", "name"),
            Some("Ada Lovelace")
        );
    }

    #[test]
    fn asks_for_a_missing_name() {
        let mut host = say("my name is  ");
        let done = host.run(super::run);
        assert_eq!(
            done.reply_texts(),
            ["Tell me your name: \"my name is <name>\"."]
        );
        assert!(done.attribute_writes.is_empty());
        // `my name isn't` is not the command.
        let done = say("my name isn't important").run(super::run);
        assert!(done.attribute_writes.is_empty());
    }

    #[test]
    fn who_am_i_names_the_user_and_counts_the_conversation() {
        let mut host = say("my name is Ada");
        assert!(host.run(super::run).is_ok());
        let mut host = then(host, "who am i");
        let done = host.run(super::run);
        // my name is Ada / Nice to meet you, Ada. / who am i
        assert_eq!(done.reply_texts(), ["You are Ada; I remember 3 messages."]);
        let mut host = then(host, "Who am I?");
        let done = host.run(super::run);
        assert_eq!(done.reply_texts(), ["You are Ada; I remember 5 messages."]);
    }

    #[test]
    fn who_am_i_without_a_name() {
        let done = say("who am i").run(super::run);
        assert_eq!(
            done.reply_texts(),
            ["I don't know your name yet; I remember 1 message."]
        );
        let done = say("who am i")
            .user_turn("hello")
            .agent_turn("Hi!")
            .run(super::run);
        assert_eq!(
            done.reply_texts(),
            ["I don't know your name yet; I remember 3 messages."]
        );
    }

    #[test]
    fn who_am_i_uses_a_name_set_elsewhere_and_only_this_actors_turns() {
        let other = Turn {
            kind: "user_message".into(),
            actor_id: "someone-else".into(),
            text: "hi".into(),
            ..Turn::default()
        };
        let done = say("who am i")
            .user_name("Grace")
            .turn(other)
            .run(super::run);
        assert_eq!(done.reply_texts(), ["You are Grace; I remember 1 message."]);
    }

    #[test]
    fn memory_holds_at_most_fifty_turns() {
        let mut host = say("who am i").user_name("Ada");
        for i in 0..60 {
            host = host.user_turn(&format!("message {i}"));
        }
        let done = host.run(super::run);
        assert_eq!(done.reply_texts(), ["You are Ada; I remember 50 messages."]);
    }

    #[test]
    fn counts_visits_in_a_project_attribute() {
        let mut host = say("visits");
        assert_eq!(host.run(super::run).reply_texts(), ["visit #1"]);
        let mut host = then(host, "VISITS");
        let done = host.run(super::run);
        assert_eq!(done.reply_texts(), ["visit #2"]);
        assert_eq!(done.project_writes(), [("visits", "2")]);
        assert_eq!(host.project_value("visits"), Some("2"));
        // Shared by every persona: another user continues the count.
        let mut host = then(host, "visits").actor("user-2").persona("persona-2");
        assert_eq!(host.run(super::run).reply_texts(), ["visit #3"]);
    }

    #[test]
    fn visits_start_from_an_existing_or_broken_value() {
        let mut host = say("visits").project_attribute("visits", "41");
        assert_eq!(host.run(super::run).reply_texts(), ["visit #42"]);
        let mut host = say("visits").project_attribute("visits", "lots");
        let done = host.run(super::run);
        assert_eq!(done.reply_texts(), ["visit #1"]);
        assert_eq!(done.logs.len(), 1);
    }

    #[test]
    fn anything_else_gets_help_and_other_events_nothing() {
        let done = say("hello").run(super::run);
        assert_eq!(
            done.reply_texts(),
            ["Say \"my name is <name>\", \"who am i\" or \"visits\"."]
        );
        let done = TestHost::new("tick").global().run(super::run);
        assert!(done.is_ok());
        assert!(done.replies.is_empty() && done.attribute_writes.is_empty());
    }

    #[test]
    fn a_global_message_cannot_set_a_name() {
        let done = say("my name is Ada").global().run(super::run);
        assert_eq!(
            done.error(),
            Some("no persona: this run handles a global event; pass a persona id")
        );
    }
}
