//! Broadcast: global events.
//!
//! * On `announcement` (delivered to the flow's global, persona-less
//!   instance): appends the argument `text` to the agent-scope state field
//!   `announcements` (one per line, the last 20 kept), increments
//!   `announcement_count`, and logs it. It does not reply: a global instance
//!   has no actor to reply to.
//! * On anything else, e.g. `user_message` or `announce`, it reads the
//!   argument `text`: `announce <text>` (or, on the event `announce`, any
//!   text) sends the GLOBAL event `announcement` with argument `text` and
//!   replies `Announced "<text>" (<n> subscriptions)`; empty text replies
//!   with the announcements so far.
use skill_sdk::prelude::*;

skill!(run);

/// How many announcements the state keeps.
const KEEP: usize = 20;

fn run(act: Act) -> Result<()> {
    if act.idn() == "announcement" {
        return record(&act);
    }
    let text = act.arg("text").unwrap_or_default().trim();
    let text = match text.strip_prefix("announce") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest.trim(),
        _ if act.idn() == "announce" => text,
        _ => return reply("Say \"announce <text>\" to announce something to everyone."),
    };
    if text.is_empty() {
        let so_far = state::get("announcements")?;
        return if so_far.is_empty() {
            reply("No announcements yet.")
        } else {
            reply(&format!("Announcements so far:\n{so_far}"))
        };
    }
    let receipt = Event::new("announcement")
        .arg("text", text)
        .global()
        .send()?;
    reply(&format!(
        "Announced \"{text}\" ({} subscriptions)",
        receipt.matched
    ))
}

/// The global instance records an announcement.
fn record(act: &Act) -> Result<()> {
    let text = act.arg("text").unwrap_or_default().replace('\n', " ");
    let mut lines: Vec<String> = state::get("announcements")?
        .lines()
        .map(str::to_owned)
        .collect();
    lines.push(text.clone());
    let excess = lines.len().saturating_sub(KEEP);
    lines.drain(..excess);
    state::set("announcements", &lines.join("\n"))?;
    let n = state::get("announcement_count")?
        .parse::<u64>()
        .unwrap_or(0)
        + 1;
    state::set("announcement_count", &n.to_string())?;
    log::info!("announcement #{n}: {text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use skill_sdk::testing::TestHost;

    fn host(idn: &str) -> TestHost {
        TestHost::new(idn)
            .field("announcements", "")
            .field("announcement_count", "0")
    }

    #[test]
    fn announce_and_record() {
        let mut user = host("user_message")
            .arg("text", "announce lunch at noon")
            .matches("announcement", 1);
        let sent = user.run(super::run);
        assert_eq!(
            sent.reply_texts(),
            ["Announced \"lunch at noon\" (1 subscriptions)"]
        );
        let event = sent.event("announcement").unwrap();
        assert!(event.global);

        let mut global = host("x").deliver(event);
        assert!(global.act().is_global());
        let recorded = global.run(super::run);
        assert!(recorded.is_ok(), "{:?}", recorded.result);
        assert!(recorded.replies.is_empty());
        assert_eq!(global.value("announcements"), Some("lunch at noon"));
        assert_eq!(global.value("announcement_count"), Some("1"));
        assert_eq!(recorded.logs[0].message, "announcement #1: lunch at noon");
    }

    #[test]
    fn announce_event_takes_plain_text() {
        let done = host("announce").arg("text", "hello").run(super::run);
        assert_eq!(
            done.event("announcement").unwrap().arg("text"),
            Some("hello")
        );
    }

    #[test]
    fn lists_and_hints() {
        let done = host("announce")
            .state("announcements", "a\nb")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["Announcements so far:\na\nb"]);
        let done = host("user_message").arg("text", "hello").run(super::run);
        assert!(done.reply_texts()[0].starts_with("Say"));
    }

    #[test]
    fn keeps_the_last_ones() {
        let mut global = host("announcement").global();
        for i in 0..25 {
            global = global.next("announcement").arg("text", &i.to_string());
            assert!(global.run(super::run).is_ok());
        }
        let kept = global.value("announcements").unwrap();
        assert_eq!(kept.lines().count(), super::KEEP);
        assert!(kept.starts_with("5\n"));
    }
}
