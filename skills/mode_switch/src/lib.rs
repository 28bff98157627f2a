//! Mode switch: the demo of `skill_selector: skill_idn_from_state`. One crate
//! serves three skills of a flow, told apart by the skill parameter `style`:
//!
//! * on the event `set_mode` (argument `mode`, or else `text`, being `casual`
//!   or `formal`), or on any act whose `text` is `mode casual` / `mode
//!   formal`: sets the state field `reply_skill` to `CasualReply` or
//!   `FormalReply` (the skill idns the flow's selector reads) and confirms;
//! * otherwise replies to `text` in the style of the parameter `style`
//!   (`formal`, the default, or `casual`).
use skill_sdk::prelude::*;

skill!(run);

fn run(act: Act) -> Result<()> {
    let text = act.arg("text").unwrap_or_default().trim();
    let mode = if act.idn() == "set_mode" {
        Some(act.arg("mode").unwrap_or(text).trim())
    } else {
        text.strip_prefix("mode ").map(str::trim)
    };
    if let Some(mode) = mode {
        return set_mode(mode);
    }
    let style = parameter("style").unwrap_or_default();
    if style == "casual" {
        reply(&format!("hey! you said \"{text}\" :)"))
    } else {
        reply(&format!(
            "Good day. You said: \"{text}\". How may I assist you further?"
        ))
    }
}

fn set_mode(mode: &str) -> Result<()> {
    let (skill, confirmation) = match mode.to_ascii_lowercase().as_str() {
        "casual" => ("CasualReply", "ok, going casual from now on!"),
        "formal" => (
            "FormalReply",
            "Very well. I shall reply formally from now on.",
        ),
        other => {
            return reply(&format!(
                "Unknown mode \"{other}\": say \"mode casual\" or \"mode formal\"."
            ))
        }
    };
    state::set("reply_skill", skill)?;
    reply(confirmation)
}

#[cfg(test)]
mod tests {
    use skill_sdk::testing::TestHost;

    fn host(idn: &str) -> TestHost {
        TestHost::new(idn).field("reply_skill", "FormalReply")
    }

    #[test]
    fn replies_in_style() {
        let done = host("chat").arg("text", "hi").run(super::run);
        assert!(done.reply_texts()[0].starts_with("Good day."));
        let done = host("chat")
            .arg("text", "hi")
            .parameter("style", "casual")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["hey! you said \"hi\" :)"]);
    }

    #[test]
    fn switches_mode() {
        let mut h = host("set_mode").arg("mode", "casual");
        assert!(h.run(super::run).is_ok());
        assert_eq!(h.value("reply_skill"), Some("CasualReply"));
        let mut h = h.next("chat").arg("text", "mode formal");
        assert!(h.run(super::run).is_ok());
        assert_eq!(h.value("reply_skill"), Some("FormalReply"));
        let mut h = h.next("set_mode").arg("mode", "loud");
        let done = h.run(super::run);
        assert!(done.reply_texts()[0].starts_with("Unknown mode"));
        assert!(done.writes.is_empty());
    }
}
