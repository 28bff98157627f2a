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
    /// The actor's id (UUID v7), assigned when the host first saw the user.
    pub id: String,
    /// The persona whose flow instances and attributes the actor uses; its own at
    /// first, another's after [`crate::Host::link_actor`].
    pub persona_id: String,
    /// The integration of the channel the user is on.
    pub integration_idn: String,
    /// The connector of the channel the user is on.
    pub connector_idn: String,
    /// The user's id on that channel.
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
    /// The event's id (UUID v7), assigned at acceptance.
    pub id: String,
    /// What kind of event it is, e.g. `user_message`; subscriptions match on it.
    pub idn: String,
    /// Name/value pairs in the order given.
    pub arguments: Vec<(String, String)>,
    /// The integration it came from: the user's channel, `system` for an event a
    /// skill or the host sent, or a command's integration for its results.
    pub integration_idn: String,
    /// The connector it came from (for an event a skill sent, the one it named,
    /// default `system`).
    pub connector_idn: String,
    /// Whose flow instances it goes to.
    pub audience: Audience,
    /// The submitter's id for it, which makes submission idempotent; `None` if not given.
    pub external_event_id: Option<String>,
    /// For a command's result or a timer's firing, the act id of the command;
    /// from outside, whatever the submitter gave.
    pub command_act_id: Option<String>,
    /// An `interrupt`-mode event does not stop a run of this event, nor clear it
    /// from a queue.
    pub uninterruptible: bool,
    /// When the host accepted it.
    pub accepted_at: SystemTime,
    /// The event whose skill run sent this one.
    pub parent: Option<String>,
    /// 0 for an event from outside; parent's depth + 1 otherwise.
    pub depth: u32,
    /// Routes the event only to this agent's flows (its idn); `None`
    /// evaluates every agent's subscriptions.
    pub agent_idn: Option<String>,
}

impl Event {
    /// The value of the first argument named `name`.
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
            agent_idn: s.agent_idn,
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
            agent_idn: None,
        }
    }

    /// Restricts routing to one agent's flows (see [`Event::agent_idn`]).
    pub fn with_agent(mut self, agent_idn: Option<String>) -> Self {
        self.agent_idn = agent_idn;
        self
    }

    /// Replaces the arguments (name/value pairs, in order).
    pub fn with_arguments(mut self, arguments: Vec<(String, String)>) -> Self {
        self.arguments = arguments;
        self
    }

    /// Marks the event as the outcome of a command (a result or a timer).
    pub fn for_command(mut self, act_id: &str) -> Self {
        self.command_act_id = Some(act_id.into());
        self
    }

    /// Sets whether `interrupt`-mode events may stop runs of this event.
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
    /// What kind of event it is, e.g. `user_message`.
    pub idn: String,
    /// The integration it comes from; with an `External` actor, the user's channel.
    pub integration_idn: String,
    /// The connector it comes from; with an `External` actor, the user's channel.
    pub connector_idn: String,
    /// `None` sends the event to the global instances.
    pub actor: Option<ActorRef>,
    /// Name/value pairs in the order given.
    pub arguments: Vec<(String, String)>,
    /// Deduplicates: a second submission with the same id returns the first receipt.
    pub external_event_id: Option<String>,
    /// Passed through to the event (see [`Event::command_act_id`]).
    pub command_act_id: Option<String>,
    /// Whether `interrupt`-mode events may not stop its runs (see [`Event::uninterruptible`]).
    pub uninterruptible: bool,
    /// Route only to this agent's flows (see [`Event::agent_idn`]).
    pub agent_idn: Option<String>,
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

    /// Adds an argument after those already given.
    pub fn arg(mut self, name: &str, value: &str) -> Self {
        self.arguments.push((name.into(), value.into()));
        self
    }

    /// Makes the event uninterruptible (see [`Event::uninterruptible`]).
    pub fn uninterruptible(mut self) -> Self {
        self.uninterruptible = true;
        self
    }
}

/// The acknowledgment of an accepted event: the seed's missing receipt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    /// The accepted event's id (UUID v7).
    pub event_id: String,
    /// Subscriptions matched, summed over the target instances.
    pub matched: u32,
}

/// Why an event's JSON was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event JSON: {message}")]
pub struct SubmissionError {
    /// What is wrong, naming the field.
    pub message: String,
    /// The body is not JSON at all (a syntax error, or cut short), rather
    /// than JSON that does not describe an event: the HTTP API answers 400
    /// for the one and 422 for the other.
    pub not_json: bool,
}

impl SubmissionError {
    fn invalid(message: impl Into<String>) -> Self {
        SubmissionError {
            message: message.into(),
            not_json: false,
        }
    }
}

impl From<serde_json::Error> for SubmissionError {
    fn from(e: serde_json::Error) -> Self {
        use serde_json::error::Category;
        SubmissionError {
            message: e.to_string(),
            not_json: matches!(e.classify(), Category::Syntax | Category::Eof),
        }
    }
}

/// Longest id a client may give an event (`actor.external_id`, `actor_id`,
/// `external_event_id`, `command_act_id`): ids are bounded like idns, so
/// a client cannot make the host store and index megabytes per event.
pub const MAX_ID_BYTES: usize = crate::limits::MAX_NAME_BYTES;

/// The JSON body of an event from outside (see [`Submission::from_json`]).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmissionBody {
    idn: String,
    #[serde(default)]
    integration_idn: Option<String>,
    #[serde(default)]
    connector_idn: Option<String>,
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
    #[serde(default)]
    agent_idn: Option<String>,
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

/// Event arguments, in the order written: a JSON object of string values,
/// or a list of `{"name", "value"}`. A repeated name or a value that is not
/// a string is an error.
struct Arguments(Vec<(String, String)>);

/// One argument of the list form.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedArgument {
    name: String,
    value: serde_json::Value,
}

/// Collects arguments, refusing a repeated name or a value that is not a string.
#[derive(Default)]
struct ArgumentList {
    out: Vec<(String, String)>,
    seen: std::collections::HashSet<String>,
}

impl ArgumentList {
    fn push(&mut self, name: String, value: serde_json::Value) -> Result<(), String> {
        let value = match value {
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
                return Err(format!(
                    "argument `{}`: expected a string value, found {kind}",
                    crate::limits::short(&name)
                ));
            }
        };
        if !self.seen.insert(name.clone()) {
            return Err(format!(
                "argument `{}` given twice",
                crate::limits::short(&name)
            ));
        }
        self.out.push((name, value));
        Ok(())
    }
}

impl<'de> serde::Deserialize<'de> for Arguments {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Arguments;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "an object of string arguments, e.g. {\"text\": \"hi\"}, \
                     or a list of {\"name\": ..., \"value\": ...}",
                )
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Arguments, A::Error> {
                let mut args = ArgumentList::default();
                while let Some(name) = map.next_key::<String>()? {
                    let value = map.next_value::<serde_json::Value>()?;
                    args.push(name, value).map_err(serde::de::Error::custom)?;
                }
                Ok(Arguments(args.out))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Arguments, A::Error> {
                let mut args = ArgumentList::default();
                while let Some(Object(a)) = seq.next_element::<Object<NamedArgument>>()? {
                    args.push(a.name, a.value)
                        .map_err(serde::de::Error::custom)?;
                }
                Ok(Arguments(args.out))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// A name or id from the body: not blank, at most `max` bytes.
fn check_name(field: &str, value: &str, max: usize) -> Result<(), SubmissionError> {
    if value.trim().is_empty() {
        return Err(SubmissionError::invalid(format!(
            "`{field}` must not be empty"
        )));
    }
    if value.len() > max {
        return Err(SubmissionError::invalid(format!(
            "`{field}` is {} bytes long, over the limit of {max}",
            value.len()
        )));
    }
    Ok(())
}

/// An optional name: absent, null and `""` all mean not given.
fn optional_name(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, SubmissionError> {
    match value.filter(|v| !v.is_empty()) {
        Some(v) => check_name(field, &v, max).map(|()| Some(v)),
        None => Ok(None),
    }
}

impl Submission {
    /// Parses the JSON body of an event from outside, as `POST /v1/events`
    /// takes it:
    ///
    /// ```json
    /// {"idn": "user_message",
    ///  "integration_idn": "sandbox", "connector_idn": "web", // needed with `actor`;
    ///                                           // with `actor_id`, the actor's own
    ///  "actor": {"external_id": "ann"},          // or "actor_id": "<a known actor id>";
    ///                                           // neither: a global event
    ///  "arguments": {"text": "hi"},              // optional; string values, order kept;
    ///                                           // or [{"name": "text", "value": "hi"}]
    ///  "external_event_id": "msg-1",             // optional; makes submission idempotent
    ///  "command_act_id": "...",                  // optional
    ///  "uninterruptible": false,                 // optional
    ///  "agent_idn": "Sales"}                     // optional; only this agent's flows
    /// ```
    ///
    /// Strict: a body that is not an object, unknown or repeated keys,
    /// repeated argument names, wrong types, non-string argument values, an
    /// empty idn, both `actor` and `actor_id`, an `actor` without
    /// `integration_idn` and `connector_idn` are errors that say which. The
    /// idn and channel are at most [`crate::limits::MAX_NAME_BYTES`] long,
    /// the ids at most [`MAX_ID_BYTES`]. Whether an `actor_id` is known, and
    /// the host's size limits (arguments per event, bytes per argument), are
    /// checked by [`crate::Host::submit`].
    ///
    /// ```
    /// use skillhost::{ActorRef, Submission};
    /// let s = Submission::from_json(br#"{"idn":"ping","integration_idn":"sandbox",
    ///     "connector_idn":"web","actor":{"external_id":"ann"},"arguments":{"b":"1","a":"2"}}"#)
    ///     .unwrap();
    /// assert_eq!(s.actor, Some(ActorRef::External("ann".into())));
    /// assert_eq!(s.arguments, [("b".to_string(), "1".to_string()), ("a".into(), "2".into())]);
    /// let e = Submission::from_json(br#"{"idn":""}"#).unwrap_err();
    /// assert!(e.to_string().contains("`idn` must not be empty"), "{e}");
    /// ```
    pub fn from_json(body: &[u8]) -> Result<Submission, SubmissionError> {
        use crate::limits::MAX_NAME_BYTES;
        let Object(body): Object<SubmissionBody> = serde_json::from_slice(body)?;
        check_name("idn", &body.idn, MAX_NAME_BYTES)?;
        let integration = optional_name("integration_idn", body.integration_idn, MAX_NAME_BYTES)?;
        let connector = optional_name("connector_idn", body.connector_idn, MAX_NAME_BYTES)?;
        let actor = match (body.actor, body.actor_id) {
            (Some(_), Some(_)) => {
                return Err(SubmissionError::invalid(
                    "give one of `actor` and `actor_id`, not both",
                ))
            }
            (Some(Object(a)), None) => {
                check_name("actor.external_id", &a.external_id, MAX_ID_BYTES)?;
                if integration.is_none() || connector.is_none() {
                    return Err(SubmissionError::invalid(
                        "an event from a user (`actor`) needs `integration_idn` and `connector_idn`",
                    ));
                }
                Some(ActorRef::External(a.external_id))
            }
            (None, Some(id)) => {
                check_name("actor_id", &id, MAX_ID_BYTES)?;
                Some(ActorRef::Id(id))
            }
            (None, None) => None,
        };
        let external_event_id =
            optional_name("external_event_id", body.external_event_id, MAX_ID_BYTES)?;
        if let Some(id) = &body.command_act_id {
            check_name("command_act_id", id, MAX_ID_BYTES)?;
        }
        let agent_idn = optional_name("agent_idn", body.agent_idn, MAX_NAME_BYTES)?;
        Ok(Submission {
            idn: body.idn,
            integration_idn: integration.unwrap_or_default(),
            connector_idn: connector.unwrap_or_default(),
            actor,
            arguments: body.arguments.map(|a| a.0).unwrap_or_default(),
            external_event_id,
            command_act_id: body.command_act_id,
            uninterruptible: body.uninterruptible.unwrap_or(false),
            agent_idn,
        })
    }

    /// The JSON body [`Submission::from_json`] reads back as this submission
    /// (a global submission has no actor key).
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
        if let Some(agent) = &self.agent_idn {
            body.insert("agent_idn".into(), agent.clone().into());
        }
        let rest = serde_json::Value::Object(body).to_string();
        format!("{{\"arguments\":{{{}}},{}", args.join(","), &rest[1..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANNEL: &str = r#""integration_idn":"i","connector_idn":"c""#;

    fn refused(body: &str) -> SubmissionError {
        match Submission::from_json(body.as_bytes()) {
            Ok(s) => panic!("{body}: accepted as {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn repeated_argument_names_are_refused_in_either_form() {
        for args in [
            r#"{"n":"1","m":"2","n":"3"}"#,
            r#"[{"name":"n","value":"1"},{"name":"n","value":"2"}]"#,
        ] {
            let e = refused(&format!(r#"{{"idn":"e","arguments":{args}}}"#));
            assert!(e.message.contains("argument `n` given twice"), "{e}");
            assert!(!e.not_json);
        }
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        for body in [
            r#"["e","i","c"]"#,
            r#""e""#,
            "1",
            "null",
            &format!(r#"{{"idn":"e",{CHANNEL},"actor":["ann"]}}"#),
            r#"{"idn":"e","arguments":[["n","1"]]}"#,
        ] {
            let e = refused(body);
            assert!(e.message.contains("expected a JSON object"), "{body}: {e}");
            assert!(!e.not_json, "{body}");
        }
    }

    #[test]
    fn ids_are_bounded() {
        let long = "x".repeat(MAX_ID_BYTES + 1);
        for (field, body) in [
            (
                "actor.external_id",
                format!(r#"{{"idn":"e",{CHANNEL},"actor":{{"external_id":"{long}"}}}}"#),
            ),
            ("actor_id", format!(r#"{{"idn":"e","actor_id":"{long}"}}"#)),
            (
                "external_event_id",
                format!(r#"{{"idn":"e","external_event_id":"{long}"}}"#),
            ),
            (
                "command_act_id",
                format!(r#"{{"idn":"e","command_act_id":"{long}"}}"#),
            ),
        ] {
            let e = refused(&body);
            let expect = format!(
                "`{field}` is {} bytes long, over the limit of 1024",
                long.len()
            );
            assert_eq!(e.message, expect);
        }
        // At the limit is fine.
        let id = "x".repeat(MAX_ID_BYTES);
        let s = Submission::from_json(
            format!(r#"{{"idn":"e","external_event_id":"{id}","command_act_id":"{id}"}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(s.external_event_id.as_deref(), Some(id.as_str()));
    }

    #[test]
    fn what_the_http_api_takes_is_read() {
        // Global: no actor, no channel.
        let s = Submission::from_json(br#"{"idn":"tick"}"#).unwrap();
        assert_eq!((s.actor, s.integration_idn.as_str()), (None, ""));
        // A known actor, its channel left to the host; list-form arguments in order.
        let s = Submission::from_json(
            br#"{"idn":"e","actor_id":"a1","integration_idn":"","external_event_id":"",
                "arguments":[{"name":"b","value":"1"},{"name":"a","value":"2"}],
                "uninterruptible":true,"agent_idn":"Sales"}"#,
        )
        .unwrap();
        assert_eq!(s.actor, Some(ActorRef::Id("a1".into())));
        assert_eq!(s.integration_idn, "");
        assert_eq!(s.external_event_id, None);
        assert_eq!(
            s.arguments,
            [("b".into(), "1".into()), ("a".into(), "2".into())]
        );
        assert!(s.uninterruptible);
        assert_eq!(s.agent_idn.as_deref(), Some("Sales"));
        let again = Submission::from_json(s.to_json().as_bytes()).unwrap();
        assert_eq!(format!("{s:?}"), format!("{again:?}"));
    }

    #[test]
    fn errors_say_what_is_wrong_and_whether_it_is_json_at_all() {
        for body in ["{not json", "{\"idn\": ", ""] {
            assert!(refused(body).not_json, "{body}");
        }
        for (body, expect) in [
            (r#"{"idn":" "}"#.to_string(), "`idn` must not be empty"),
            (
                r#"{"idn":"e","actor":{"external_id":"ann"}}"#.to_string(),
                "needs `integration_idn` and `connector_idn`",
            ),
            (
                format!(r#"{{"idn":"e",{CHANNEL},"actor":{{"external_id":"a"}},"actor_id":"b"}}"#),
                "not both",
            ),
            (
                r#"{"idn":"e","arguments":[{"name":"n","value":1}]}"#.to_string(),
                "argument `n`: expected a string value, found a number",
            ),
            (
                r#"{"idn":"e","command_act_id":""}"#.to_string(),
                "`command_act_id` must not be empty",
            ),
            (
                r#"{"idn":"e","colour":1}"#.to_string(),
                "unknown field `colour`",
            ),
        ] {
            let e = refused(&body);
            assert!(e.message.contains(expect), "{body}: {e}");
            assert!(!e.not_json, "{body}");
        }
    }
}
