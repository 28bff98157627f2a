//! How the durable stores spell values in their rows, the same in SQLite
//! and PostgreSQL: times as milliseconds since the epoch, attribute owners
//! as text.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::AttributeOwner;

pub(super) fn owner_text(owner: &AttributeOwner) -> String {
    match owner {
        AttributeOwner::Project => "project".into(),
        AttributeOwner::Customer => "customer".into(),
        AttributeOwner::Persona(p) => format!("persona:{p}"),
    }
}

pub(super) fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(super) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}
