//! Values shared across flow instances (agent-scope state, attributes)
//! when several hosts write them: a run's commit checks, in its own
//! transaction, that each shared value it read is still the value in the
//! database, under a transaction-level advisory lock per key that every
//! writer of the key takes too, so no other host's write slips between the
//! check and the commit (a row lock could not cover a value not yet set).
//! A changed value refuses the commit ([`SharedChanged`]) and the run is
//! done again. Comparing values rather than versions is enough: a run whose
//! reads all equal the database's values under the lock did what it would
//! do if run at that moment.
//!
//! After committing writes of shared values a host announces the keys
//! (`NOTIFY`), so the others drop what they remember of them before their
//! next run reads a stale value and has to be done again.

use anyhow::Result;

use super::rows::{execute, owner_text, persona_text, query, Conn};
use crate::flows::Scope;
use crate::store::{AttributeOwner, RunEffects, SharedChanged, StateKey};
use crate::versions::SharedKey;

/// The channel shared keys written are announced on; the payload is the
/// writing host's id, a space, and [`key_text`].
pub(super) const SHARED_CHANNEL: &str = "skillhost_shared";

/// Locks the shared keys a commit reads or writes and checks its reads
/// (see the module docs); beside other hosts only.
pub(super) async fn check(c: &Conn, effects: &RunEffects) -> Result<()> {
    let mut keys: Vec<String> = effects
        .shared_reads
        .iter()
        .map(|(k, _)| key_text(k))
        .chain(effects.shared_writes().map(|(k, _)| key_text(&k)))
        .collect();
    // In one order, so two commits of one host never wait on each other
    // crosswise (across hosts a deadlock is detected and the batch retried).
    keys.sort_unstable();
    keys.dedup();
    for key in &keys {
        execute(
            c,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[key],
        )
        .await?;
    }
    for (key, seen) in &effects.shared_reads {
        if current(c, key).await? != *seen {
            return Err(SharedChanged { key: key.clone() }.into());
        }
    }
    Ok(())
}

/// Announces the shared keys a commit writes (delivered at commit).
pub(super) async fn announce(c: &Conn, host_id: &str, effects: &RunEffects) -> Result<()> {
    for (key, _) in effects.shared_writes() {
        let payload = format!("{host_id} {}", key_text(&key));
        execute(c, "SELECT pg_notify($1, $2)", &[&SHARED_CHANNEL, &payload]).await?;
    }
    Ok(())
}

async fn current(c: &Conn, key: &SharedKey) -> Result<Option<String>> {
    let rows =
        match key {
            SharedKey::State(k) => query(
                c,
                "SELECT value FROM state WHERE flow = $1 AND persona = $2 AND agent_scope = $3 \
                 AND field = $4",
                &[
                    &k.flow,
                    &persona_text(k.persona.as_deref()),
                    &(k.scope == Scope::Agent),
                    &k.field,
                ],
            )
            .await?,
            SharedKey::Attribute(owner, field) => {
                query(
                    c,
                    "SELECT value FROM attributes WHERE owner = $1 AND field = $2",
                    &[&owner_text(owner), field],
                )
                .await?
            }
        };
    Ok(rows.first().map(|r| r.get(0)))
}

/// A shared key as text: a JSON array, for the lock's hash and the
/// announcement's payload.
pub(super) fn key_text(key: &SharedKey) -> String {
    let parts: Vec<&str> = match key {
        SharedKey::State(k) => vec![
            "state",
            &k.flow,
            persona_text(k.persona.as_deref()),
            if k.scope == Scope::Agent {
                "agent"
            } else {
                "user"
            },
            &k.field,
        ],
        SharedKey::Attribute(owner, field) => {
            return serde_json::json!(["attribute", owner_text(owner), field]).to_string();
        }
    };
    serde_json::to_string(&parts).unwrap_or_default()
}

/// The key an announcement names, unless `me` wrote it (its own writes
/// are what this host remembers already).
pub(super) fn announced_by_other(payload: &str, me: &str) -> Option<SharedKey> {
    let (host, key) = payload.split_once(' ')?;
    if host == me {
        return None;
    }
    parse_key(key)
}

/// The key [`key_text`] spelled; `None` for anything else.
fn parse_key(text: &str) -> Option<SharedKey> {
    let parts: Vec<String> = serde_json::from_str(text).ok()?;
    match parts.as_slice() {
        [kind, flow, persona, scope, field] if kind == "state" => {
            Some(SharedKey::State(StateKey {
                flow: flow.clone(),
                persona: (!persona.is_empty()).then(|| persona.clone()),
                scope: if scope == "agent" {
                    Scope::Agent
                } else {
                    Scope::User
                },
                field: field.clone(),
            }))
        }
        [kind, owner, field] if kind == "attribute" => {
            let owner = match owner.as_str() {
                "project" => AttributeOwner::Project,
                "customer" => AttributeOwner::Customer,
                other => AttributeOwner::Persona(other.strip_prefix("persona:")?.to_string()),
            };
            Some(SharedKey::Attribute(owner, field.clone()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_from_their_text() {
        let keys = [
            SharedKey::State(StateKey {
                flow: "Counter".into(),
                persona: None,
                scope: Scope::Agent,
                field: "total \"all\"".into(),
            }),
            SharedKey::Attribute(AttributeOwner::Project, "greeting".into()),
            SharedKey::Attribute(AttributeOwner::Customer, "plan".into()),
            SharedKey::Attribute(AttributeOwner::Persona("p-1".into()), "name".into()),
        ];
        for key in keys {
            assert_eq!(parse_key(&key_text(&key)), Some(key.clone()), "{key:?}");
        }
        assert_eq!(parse_key("[\"attribute\", \"nobody\", \"x\"]"), None);
        assert_eq!(parse_key("not json"), None);
        let payload = format!(
            "host-a {}",
            key_text(&SharedKey::Attribute(AttributeOwner::Project, "x".into()))
        );
        assert!(announced_by_other(&payload, "host-a").is_none());
        assert!(announced_by_other(&payload, "host-b").is_some());
    }
}
