//! Counter: increments the state field `count` (an unset or non-numeric
//! value counts as 0) and replies `count is N`.
use skill_sdk::prelude::*;

skill!(run);

fn run(_act: Act) -> Result<()> {
    let n = state::get("count")?.trim().parse::<u64>().unwrap_or(0) + 1;
    state::set("count", &n.to_string())?;
    reply(&format!("count is {n}"))
}

#[cfg(test)]
mod tests {
    use skill_sdk::testing::TestHost;

    #[test]
    fn counts_across_runs() {
        let mut host = TestHost::new("count").field("count", "0");
        assert_eq!(host.run(super::run).reply_texts(), ["count is 1"]);
        assert_eq!(host.run(super::run).reply_texts(), ["count is 2"]);
        assert_eq!(host.value("count"), Some("2"));
    }

    #[test]
    fn needs_the_field() {
        let done = TestHost::new("count").run(super::run);
        assert!(done.error().unwrap().contains("count"));
    }
}
