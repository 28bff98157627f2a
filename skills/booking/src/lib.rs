//! Booking: a workflow across two flows, chained by custom events. What it
//! does depends on the act's event idn:
//!
//! * `booking_requested` (the desk flow): records the request in the desk's
//!   state (`last_item`, `last_reference`, and `bookings`, a counter), then
//!   sends `booking_confirmed` back to the same actor with arguments `item`
//!   and `reference`. The reference is derived from the event id alone
//!   (`BK-` and eight hex digits of its FNV-1a hash), so it is deterministic.
//! * `booking_confirmed` (the customer's flow): sets
//!   `booking_status=confirmed` and replies `Booked <item>, reference <ref>`.
//! * anything else, e.g. `user_message`, is user text (argument `text`):
//!   `book <what>` sets `booking_status=requested` and sends the system
//!   event `booking_requested` with argument `item`; other text gets a hint.
use skill_sdk::prelude::*;

skill!(run);

/// The reply to text that is not a booking request.
const HINT: &str = "To make a booking, say \"book <what>\", e.g. \"book a table for two\".";

fn run(act: Act) -> Result<()> {
    match act.idn() {
        "booking_requested" => desk(&act),
        "booking_confirmed" => confirmed(&act),
        _ => request(&act),
    }
}

/// The customer asks for a booking.
fn request(act: &Act) -> Result<()> {
    let text = act.arg("text").unwrap_or_default().trim();
    let item = match split_command(text, "book") {
        Some(item) if !item.is_empty() => item,
        _ => return reply(HINT),
    };
    state::set("booking_status", "requested")?;
    Event::new("booking_requested").arg("item", item).send()?;
    log::info!("booking requested: {item}");
    Ok(())
}

/// The desk handles a request and confirms it.
fn desk(act: &Act) -> Result<()> {
    let item = act.arg("item").ok_or("booking_requested without an item")?;
    let reference = reference(act.event_id());
    let n = state::get("bookings")?.parse::<u64>().unwrap_or(0) + 1;
    state::set("bookings", &n.to_string())?;
    state::set("last_item", item)?;
    state::set("last_reference", &reference)?;
    Event::new("booking_confirmed")
        .arg("item", item)
        .arg("reference", &reference)
        .send()?;
    log::info!("desk confirmed {item} as {reference} (booking #{n})");
    Ok(())
}

/// The customer's flow learns the booking is confirmed.
fn confirmed(act: &Act) -> Result<()> {
    let item = act.arg("item").unwrap_or("your booking");
    let reference = act.arg("reference").unwrap_or("?");
    state::set("booking_status", "confirmed")?;
    reply(&format!("Booked {item}, reference {reference}"))
}

/// `word rest` (the word in any case) → `Some(rest)`; `word` alone →
/// `Some("")`; anything else → `None`.
fn split_command<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    if !head.eq_ignore_ascii_case(word) {
        return None;
    }
    if rest.is_empty() {
        return Some("");
    }
    rest.starts_with(char::is_whitespace).then(|| rest.trim())
}

/// `BK-` and the 32-bit FNV-1a hash of the event id in hex.
fn reference(event_id: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in event_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("BK-{h:08X}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use skill_sdk::testing::TestHost;

    #[test]
    fn full_chain() {
        let mut customer = TestHost::new("user_message")
            .arg("text", "Book a table for two")
            .flow("BookingFlow")
            .field("booking_status", "none");
        let asked = customer.run(run);
        assert!(asked.is_ok(), "{:?}", asked.result);
        assert!(asked.replies.is_empty());
        assert_eq!(customer.value("booking_status"), Some("requested"));
        let request = asked.event("booking_requested").unwrap();
        assert_eq!(request.arg("item"), Some("a table for two"));

        let mut desk = TestHost::new("user_message")
            .flow("BookingDeskFlow")
            .field("bookings", "0")
            .field("last_item", "")
            .field("last_reference", "")
            .deliver(request);
        let handled = desk.run(run);
        assert!(handled.is_ok(), "{:?}", handled.result);
        let confirm = handled.event("booking_confirmed").unwrap();
        let reference = confirm.arg("reference").unwrap().to_owned();
        assert_eq!(reference, super::reference(&request.event_id));
        assert_eq!(desk.value("last_reference"), Some(reference.as_str()));
        assert_eq!(desk.value("bookings"), Some("1"));

        let mut customer = customer.deliver(confirm);
        let done = customer.run(run);
        assert_eq!(
            done.reply_texts(),
            [format!("Booked a table for two, reference {reference}")]
        );
        assert_eq!(customer.value("booking_status"), Some("confirmed"));
    }

    #[test]
    fn hint_for_other_text() {
        for text in ["hello", "booking", "book", "book   "] {
            let done = TestHost::new("user_message")
                .arg("text", text)
                .field("booking_status", "")
                .run(run);
            assert_eq!(done.reply_texts(), [HINT], "{text}");
            assert!(done.events.is_empty());
        }
    }

    #[test]
    fn references_are_stable() {
        assert_eq!(reference("evt-1"), reference("evt-1"));
        assert_ne!(reference("evt-1"), reference("evt-2"));
        assert_eq!(reference("").len(), 11);
    }
}
