//! Echo: on any act, replies `<prefix><text>`, where `text` is the act's
//! `text` argument (empty if absent) and `prefix` the skill parameter
//! `prefix` (default `"echo: "`).
use skill_sdk::prelude::*;

skill!(run);

fn run(act: Act) -> Result<()> {
    let prefix = parameter("prefix").unwrap_or_else(|| "echo: ".to_owned());
    reply(&format!("{prefix}{}", act.arg("text").unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use skill_sdk::testing::TestHost;

    #[test]
    fn echoes_with_default_prefix() {
        let done = TestHost::new("echo").arg("text", "hi").run(super::run);
        assert_eq!(done.reply_texts(), ["echo: hi"]);
    }

    #[test]
    fn uses_prefix_parameter() {
        let done = TestHost::new("echo")
            .parameter("prefix", "> ")
            .run(super::run);
        assert_eq!(done.reply_texts(), ["> "]);
    }
}
