//! Events: what happened, to whom, and where it came from.
//!
//! An [`Event`] is immutable once accepted. It carries Newo's fields (idn,
//! string arguments, integration and connector, external id, command act id,
//! uninterruptible) plus what skillhost adds to close the seed's gaps: an id
//! assigned at acceptance, the parent event and the chain depth.

use std::time::SystemTime;

/// Integration and connector of events sent with `send-system-event`.
pub const SYSTEM: &str = "system";

/// A user on a channel. Several actors may share one persona, which owns the
/// flow instances: the same person on chat and on the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub persona_id: String,
    pub integration_idn: String,
    pub connector_idn: String,
    pub external_id: String,
}

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// These actors' flow instances (one instance per persona and flow).
    Actors(Vec<Actor>),
    /// The global, persona-less instance of every subscribed flow.
    Global,
}

/// An accepted event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub idn: String,
    /// Name/value pairs in the order given.
    pub arguments: Vec<(String, String)>,
    pub integration_idn: String,
    pub connector_idn: String,
    pub audience: Audience,
    pub external_event_id: Option<String>,
    pub command_act_id: Option<String>,
    pub uninterruptible: bool,
    pub accepted_at: SystemTime,
    /// The event whose skill run sent this one.
    pub parent: Option<String>,
    /// 0 for an event from outside; parent's depth + 1 otherwise.
    pub depth: u32,
}

impl Event {
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.arguments
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// An event from outside the host: the root of a causation tree.
    pub fn from_outside(s: Submission, audience: Audience) -> Event {
        Event {
            id: new_id(),
            idn: s.idn,
            arguments: s.arguments,
            integration_idn: s.integration_idn,
            connector_idn: s.connector_idn,
            audience,
            external_event_id: s.external_event_id,
            command_act_id: s.command_act_id,
            uninterruptible: s.uninterruptible,
            accepted_at: SystemTime::now(),
            parent: None,
            depth: 0,
        }
    }

    /// An event another one led to (sent by its run, a command's result, a
    /// timer's firing): a child of `parent` at chain depth `depth`, with no
    /// arguments yet.
    pub fn child(
        parent: &str,
        depth: u32,
        idn: &str,
        integration_idn: &str,
        connector_idn: &str,
        audience: Audience,
    ) -> Event {
        Event {
            id: new_id(),
            idn: idn.into(),
            arguments: Vec::new(),
            integration_idn: integration_idn.into(),
            connector_idn: connector_idn.into(),
            audience,
            external_event_id: None,
            command_act_id: None,
            uninterruptible: false,
            accepted_at: SystemTime::now(),
            parent: Some(parent.into()),
            depth,
        }
    }

    pub fn with_arguments(mut self, arguments: Vec<(String, String)>) -> Self {
        self.arguments = arguments;
        self
    }

    /// Marks the event as the outcome of a command (a result or a timer).
    pub fn for_command(mut self, act_id: &str) -> Self {
        self.command_act_id = Some(act_id.into());
        self
    }

    pub fn with_uninterruptible(mut self, uninterruptible: bool) -> Self {
        self.uninterruptible = uninterruptible;
        self
    }

    /// RFC 3339 UTC acceptance time, as skills see it.
    pub fn timestamp(&self) -> String {
        humantime::format_rfc3339_millis(self.accepted_at).to_string()
    }
}

/// A new, time-ordered, globally unique id (UUID v7), so ids from several
/// hosts can share one log later.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// How an event from outside names its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorRef {
    /// The user's id on the event's integration and connector; the host finds
    /// or creates the actor and its persona.
    External(String),
    /// An actor the host already knows.
    Id(String),
}

/// An event submitted from outside the host.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    pub idn: String,
    pub integration_idn: String,
    pub connector_idn: String,
    /// `None` sends the event to the global instances.
    pub actor: Option<ActorRef>,
    pub arguments: Vec<(String, String)>,
    /// Deduplicates: a second submission with the same id returns the first receipt.
    pub external_event_id: Option<String>,
    pub command_act_id: Option<String>,
    pub uninterruptible: bool,
}

impl Submission {
    /// A user's event on a channel, e.g. `Submission::from_user("user_message", "sandbox", "sandbox", "alice")`.
    pub fn from_user(idn: &str, integration: &str, connector: &str, external_id: &str) -> Self {
        Submission {
            idn: idn.into(),
            integration_idn: integration.into(),
            connector_idn: connector.into(),
            actor: Some(ActorRef::External(external_id.into())),
            ..Default::default()
        }
    }

    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.arguments.push((name.into(), value.into()));
        self
    }

    pub fn uninterruptible(mut self) -> Self {
        self.uninterruptible = true;
        self
    }
}

/// The acknowledgment of an accepted event: the seed's missing receipt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    pub event_id: String,
    /// Subscriptions matched, summed over the target instances.
    pub matched: u32,
}

/// Why an event's JSON was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event JSON: {0}")]
pub struct SubmissionError(pub String);

/// The JSON body of an event from outside (see [`Submission::from_json`]).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmissionBody {
    idn: String,
    integration_idn: String,
    connector_idn: String,
    #[serde(default)]
    actor: Option<Object<ActorBody>>,
    #[serde(default)]
    actor_id: Option<String>,
    #[serde(default)]
    arguments: Option<Arguments>,
    #[serde(default)]
    external_event_id: Option<String>,
    #[serde(default)]
    command_act_id: Option<String>,
    #[serde(default)]
    uninterruptible: Option<bool>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ActorBody {
    external_id: String,
}

/// A struct read only from a JSON object (serde would also take an array
/// of its fields in order, which no client means).
struct Object<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Object<T>, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Object)
            }
        }
        d.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

/// A JSON object of string values, in the order written; a repeated name
/// or a value that is not a string is an error.
struct Arguments(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for Arguments {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Arguments;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of string arguments, e.g. {\"text\": \"hi\"}")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Arguments, A::Error> {
                use serde::de::Error;
                let mut out: Vec<(String, String)> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let value = match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::String(s) => s,
                        other => {
                            let kind = match other {
                                serde_json::Value::Null => "null",
                                serde_json::Value::Bool(_) => "a boolean",
                                serde_json::Value::Number(_) => "a number",
                                serde_json::Value::Array(_) => "an array",
                                serde_json::Value::Object(_) => "an object",
                                serde_json::Value::String(_) => "a string",
                            };
                            return Err(A::Error::custom(format!(
                                "argument `{}`: expected a string value, found {kind}",
                                crate::limits::short(&name)
                            )));
                        }
                    };
                    if out.iter().any(|(n, _)| *n == name) {
                        return Err(A::Error::custom(format!(
                            "argument `{}` given twice",
                            crate::limits::short(&name)
                        )));
                    }
                    out.push((name, value));
                }
                Ok(Arguments(out))
            }
        }
        d.deserialize_map(Visitor)
    }
}

impl Submission {
    /// Parses the JSON body of an event from outside:
    ///
    /// ```json
    /// {"idn": "user_message", "integration_idn": "sandbox", "connector_idn": "web",
    ///  "actor": {"external_id": "ann"},          // or "actor_id": "<a known actor id>"
    ///  "arguments": {"text": "hi"},              // optional; string values, order kept
    ///  "external_event_id": "msg-1",             // optional; makes submission idempotent
    ///  "command_act_id": "...",                  // optional
    ///  "uninterruptible": false}                 // optional
    /// ```
    ///
    /// Strict: unknown or repeated keys, wrong types, non-string argument
    /// values, an empty idn, both or neither of `actor` and `actor_id` are
    /// errors that say which. Size limits (arguments per event, bytes per
    /// argument) are the host's and are checked by [`crate::Host::submit`].
    ///
    /// ```
    /// use skillhost::{ActorRef, Submission};
    /// let s = Submission::from_json(br#"{"idn":"ping","integration_idn":"sandbox",
    ///     "connector_idn":"web","actor":{"external_id":"ann"},"arguments":{"b":"1","a":"2"}}"#)
    ///     .unwrap();
    /// assert_eq!(s.actor, Some(ActorRef::External("ann".into())));
    /// assert_eq!(s.arguments, [("b".to_string(), "1".to_string()), ("a".into(), "2".into())]);
    /// let e = Submission::from_json(br#"{"idn":""}"#).unwrap_err();
    /// assert!(e.to_string().contains("missing field `integration_idn`"), "{e}");
    /// ```
    pub fn from_json(body: &[u8]) -> Result<Submission, SubmissionError> {
        let Object(body): Object<SubmissionBody> =
            serde_json::from_slice(body).map_err(|e| SubmissionError(e.to_string()))?;
        let bad = |m: &str| Err(SubmissionError(m.to_string()));
        let name = |field: &str, value: &str| -> Result<(), SubmissionError> {
            if value.trim().is_empty() {
                return Err(SubmissionError(format!("`{field}` must not be empty")));
            }
            if value.len() > crate::limits::MAX_NAME_BYTES {
                return Err(SubmissionError(format!(
                    "`{field}` is {} bytes long, over the limit of {}",
                    value.len(),
                    crate::limits::MAX_NAME_BYTES
                )));
            }
            Ok(())
        };
        name("idn", &body.idn)?;
        name("integration_idn", &body.integration_idn)?;
        name("connector_idn", &body.connector_idn)?;
        let actor = match (body.actor, body.actor_id) {
            (Some(_), Some(_)) => return bad("give one of `actor` and `actor_id`, not both"),
            (None, None) => {
                return bad("missing the user: give `actor` ({\"external_id\": ...}) or `actor_id`")
            }
            (Some(Object(a)), None) => {
                name("actor.external_id", &a.external_id)?;
                ActorRef::External(a.external_id)
            }
            (None, Some(id)) => {
                name("actor_id", &id)?;
                ActorRef::Id(id)
            }
        };
        if let Some(ext) = &body.external_event_id {
            name("external_event_id", ext)?;
        }
        if let Some(id) = &body.command_act_id {
            name("command_act_id", id)?;
        }
        Ok(Submission {
            idn: body.idn,
            integration_idn: body.integration_idn,
            connector_idn: body.connector_idn,
            actor: Some(actor),
            arguments: body.arguments.map(|a| a.0).unwrap_or_default(),
            external_event_id: body.external_event_id,
            command_act_id: body.command_act_id,
            uninterruptible: body.uninterruptible.unwrap_or(false),
        })
    }

    /// The JSON body [`Submission::from_json`] reads back as this submission
    /// (a global submission, which JSON cannot express, has no actor key).
    pub fn to_json(&self) -> String {
        let mut body = serde_json::Map::new();
        body.insert("idn".into(), self.idn.clone().into());
        body.insert(
            "integration_idn".into(),
            self.integration_idn.clone().into(),
        );
        body.insert("connector_idn".into(), self.connector_idn.clone().into());
        match &self.actor {
            Some(ActorRef::External(ext)) => {
                body.insert("actor".into(), serde_json::json!({ "external_id": ext }));
            }
            Some(ActorRef::Id(id)) => {
                body.insert("actor_id".into(), id.clone().into());
            }
            None => {}
        }
        // Written by hand: serde_json's map may not keep insertion order.
        let args: Vec<String> = self
            .arguments
            .iter()
            .map(|(n, v)| {
                format!(
                    "{}:{}",
                    serde_json::Value::from(n.as_str()),
                    serde_json::Value::from(v.as_str())
                )
            })
            .collect();
        if let Some(ext) = &self.external_event_id {
            body.insert("external_event_id".into(), ext.clone().into());
        }
        if let Some(id) = &self.command_act_id {
            body.insert("command_act_id".into(), id.clone().into());
        }
        if self.uninterruptible {
            body.insert("uninterruptible".into(), true.into());
        }
        let rest = serde_json::Value::Object(body).to_string();
        format!("{{\"arguments\":{{{}}},{}", args.join(","), &rest[1..])
    }
}
