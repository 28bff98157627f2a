//! The in-memory part of the store: state, attributes and actors, loaded at
//! open and updated after each commit.

use std::collections::HashMap;

use parking_lot::RwLock;

use anyhow::Result;
use rusqlite::Connection;

use super::rows::{actor_from_row, owner_from_text};
use crate::event::Actor;
use crate::flows::Scope;
use crate::store::{AttributeOwner, StateKey};

/// A change to the in-memory caches, applied once its transaction committed.
pub(super) enum CacheChange {
    State(StateKey, String),
    Attribute(AttributeOwner, String, String),
    Actor(Actor),
}

#[derive(Default)]
pub(super) struct Cache {
    pub(super) state: RwLock<HashMap<StateKey, String>>,
    pub(super) attributes: RwLock<HashMap<(AttributeOwner, String), String>>,
    pub(super) actors: RwLock<HashMap<String, Actor>>,
    pub(super) actors_by_external: RwLock<HashMap<(String, String, String), String>>,
}

impl Cache {
    pub(super) fn apply(&self, change: CacheChange) {
        match change {
            CacheChange::State(k, v) => {
                self.state.write().insert(k, v);
            }
            CacheChange::Attribute(o, f, v) => {
                self.attributes.write().insert((o, f), v);
            }
            CacheChange::Actor(a) => {
                self.actors_by_external.write().insert(
                    (
                        a.integration_idn.clone(),
                        a.connector_idn.clone(),
                        a.external_id.clone(),
                    ),
                    a.id.clone(),
                );
                self.actors.write().insert(a.id.clone(), a);
            }
        }
    }
}

pub(super) fn load_cache(conn: &Connection) -> Result<Cache> {
    let cache = Cache::default();
    let mut stmt = conn.prepare("SELECT flow, persona, agent_scope, field, value FROM state")?;
    let rows = stmt.query_map([], |r| {
        let persona: String = r.get(1)?;
        Ok((
            StateKey {
                flow: r.get(0)?,
                persona: (!persona.is_empty()).then_some(persona),
                scope: if r.get(2)? { Scope::Agent } else { Scope::User },
                field: r.get(3)?,
            },
            r.get::<_, String>(4)?,
        ))
    })?;
    for row in rows {
        let (k, v) = row?;
        cache.apply(CacheChange::State(k, v));
    }
    let mut stmt = conn.prepare("SELECT owner, field, value FROM attributes")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (owner, field, value) = row?;
        cache.apply(CacheChange::Attribute(
            owner_from_text(&owner),
            field,
            value,
        ));
    }
    let mut stmt = conn.prepare(
        "SELECT id, persona_id, integration_idn, connector_idn, external_id FROM actors",
    )?;
    let rows = stmt.query_map([], actor_from_row)?;
    for row in rows {
        cache.apply(CacheChange::Actor(row?));
    }
    Ok(cache)
}
