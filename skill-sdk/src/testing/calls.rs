//! Skills that call skills, on the test host: the skills a run may call
//! are registered by idn ([`TestHost::callee`]) and run inside the same
//! session, as on the real host: with the call's arguments as their act's
//! arguments and their own parameters, reading the caller's uncommitted
//! writes, their effects undone if they fail, within the host's call limits.

use std::fmt;
use std::sync::Arc;

use crate::act::Act;
use crate::{Argument, Result};

use super::session::{with, Session};
use super::TestHost;

/// A skill function a run may call.
pub(super) type SkillFn = Arc<dyn Fn(Act) -> Result<()> + Send + Sync>;

/// The real host's default `call_depth` and `calls_per_run`.
pub(super) const CALL_DEPTH: usize = 8;
pub(super) const CALLS_PER_RUN: usize = 256;

/// A skill of the flow that runs may call.
#[derive(Clone)]
pub(super) struct Callee {
    idn: String,
    parameters: Vec<(String, String)>,
    run: SkillFn,
}

impl fmt::Debug for Callee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callee")
            .field("idn", &self.idn)
            .field("parameters", &self.parameters)
            .finish_non_exhaustive()
    }
}

/// Where the session stands in a stack of calls.
#[derive(Clone, Debug, Default)]
pub(super) struct CallState {
    /// The skills that called the one running, the run's own first.
    callers: Vec<String>,
    /// Calls made so far in the run.
    made: usize,
    /// The running skill's last `ret`.
    result: Option<String>,
}

/// A skill a run called, and what the call returned.
///
/// ```
/// use skill_sdk::prelude::*;
/// use skill_sdk::testing::{CalledSkill, TestHost};
///
/// let done = TestHost::new("x")
///     .callee("Outer", |_| call_skill("Inner").arg("k", "v").call().map(drop))
///     .callee("Inner", |_| Err("nope".into()))
///     .run(|_| call_skill("Outer").call().map(drop));
/// assert_eq!(done.error(), Some("skill `Outer` failed: skill `Inner` failed: nope"));
/// assert_eq!(done.calls[1], CalledSkill {
///     skill: "Inner".into(),
///     depth: 2,
///     arguments: vec![Argument::new("k", "v")],
///     result: Err("skill `Inner` failed: nope".into()),
/// });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalledSkill {
    /// The idn of the skill called.
    pub skill: String,
    /// 1 for a call by the run's own skill, 2 for a call by a skill it
    /// called, and so on.
    pub depth: u32,
    /// The call's arguments.
    pub arguments: Vec<Argument>,
    /// What the call returned to its caller.
    pub result: core::result::Result<String, String>,
}

impl TestHost {
    /// Adds a skill of the flow that runs may call with
    /// [`call_skill`](crate::call_skill): `skill` runs for each call, with
    /// the caller's act but the call's arguments and skill idn `idn`, and
    /// its own parameters ([`callee_parameter`](TestHost::callee_parameter)).
    /// To let the skill under test call itself, add it under its own idn.
    /// A callee that panics makes the run panic.
    ///
    /// ```
    /// use skill_sdk::prelude::*;
    /// use skill_sdk::testing::TestHost;
    ///
    /// fn countdown(act: Act) -> Result<()> {
    ///     let n: u32 = act.arg("n").unwrap_or("3").parse()?;
    ///     reply(&n.to_string())?;
    ///     if n > 0 {
    ///         call_skill("Countdown").arg("n", &(n - 1).to_string()).call()?;
    ///     }
    ///     Ok(())
    /// }
    /// let done = TestHost::new("x").skill("Countdown").callee("Countdown", countdown).run(countdown);
    /// assert_eq!(done.reply_texts(), ["3", "2", "1", "0"]);
    /// ```
    pub fn callee(
        mut self,
        idn: &str,
        skill: impl Fn(Act) -> Result<()> + Send + Sync + 'static,
    ) -> Self {
        let run: SkillFn = Arc::new(skill);
        match self.callees.iter_mut().find(|c| c.idn == idn) {
            Some(c) => c.run = run,
            None => self.callees.push(Callee {
                idn: idn.to_owned(),
                parameters: Vec::new(),
                run,
            }),
        }
        self
    }

    /// Sets a parameter of a callee added with [`callee`](TestHost::callee).
    ///
    /// # Panics
    ///
    /// If no callee `idn` was added.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let done = TestHost::new("x")
    ///     .parameter("tone", "caller's")
    ///     .callee("Tone", |_| {
    ///         ret(&parameter("tone").unwrap_or_default());
    ///         Ok(())
    ///     })
    ///     .callee_parameter("Tone", "tone", "its own")
    ///     .run(|_| reply(&call_skill("Tone").call()?));
    /// assert_eq!(done.reply_texts(), ["its own"]);
    /// ```
    pub fn callee_parameter(mut self, idn: &str, name: &str, value: &str) -> Self {
        let callee = self
            .callees
            .iter_mut()
            .find(|c| c.idn == idn)
            .unwrap_or_else(|| {
                panic!("TestHost::callee_parameter: no callee `{idn}`; add it with callee first")
            });
        match callee.parameters.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value.to_owned(),
            None => callee.parameters.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Sets the call limits, `call_depth` and `calls_per_run` (the real
    /// host's defaults: 8 and 256). Going over one panics with the real
    /// host's reason, as the real host fails the whole run.
    ///
    /// ```
    /// # use skill_sdk::prelude::*;
    /// # use skill_sdk::testing::TestHost;
    /// let mut host = TestHost::new("x").skill("Loop").call_limits(2, 10);
    /// host = host.callee("Loop", |_| call_skill("Loop").call().map(drop));
    /// let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     host.run(|_| call_skill("Loop").call().map(drop))
    /// }));
    /// let message = *panicked.unwrap_err().downcast::<String>().unwrap();
    /// assert!(message.starts_with("limit `call_depth` (2) exceeded"), "{message}");
    /// ```
    pub fn call_limits(mut self, call_depth: usize, calls_per_run: usize) -> Self {
        self.call_depth = call_depth;
        self.calls_per_run = calls_per_run;
        self
    }
}

/// What a call changed in the session, to put back when it returns.
struct Frame {
    act: Act,
    parameters: Vec<(String, String)>,
    result: Option<String>,
    /// Index of the call's record in `run.calls`.
    record: usize,
    undo: Undo,
}

/// The session's effects as they were before a call, to undo it.
struct Undo {
    values: std::collections::BTreeMap<String, String>,
    persona_attributes: std::collections::BTreeMap<(String, String), String>,
    project_attributes: std::collections::BTreeMap<String, String>,
    replies: usize,
    events: usize,
    writes: usize,
    attribute_writes: usize,
    commands: usize,
}

impl Undo {
    fn of(s: &Session) -> Undo {
        Undo {
            values: s.host.values.clone(),
            persona_attributes: s.host.persona_attributes.clone(),
            project_attributes: s.host.project_attributes.clone(),
            replies: s.run.replies.len(),
            events: s.run.events.len(),
            writes: s.run.writes.len(),
            attribute_writes: s.run.attribute_writes.len(),
            commands: s.run.commands.len(),
        }
    }

    fn apply(self, s: &mut Session) {
        s.host.values = self.values;
        s.host.persona_attributes = self.persona_attributes;
        s.host.project_attributes = self.project_attributes;
        s.run.replies.truncate(self.replies);
        s.run.events.truncate(self.events);
        s.run.writes.truncate(self.writes);
        s.run.attribute_writes.truncate(self.attribute_writes);
        s.run.commands.truncate(self.commands);
    }
}

pub fn call_skill(idn: &str, arguments: &[Argument]) -> core::result::Result<String, String> {
    let (skill, frame) = with(|s| enter(s, idn, arguments))?;
    // Outside the session's borrow: the callee makes host calls of its own.
    let outcome = crate::__private::run(|act| skill(act));
    with(|s| leave(s, frame, outcome))
}

pub fn set_result(value: &str) {
    with(|s| s.call.result = Some(value.to_owned()))
}

/// Starts a call: checks the limits (a panic, as the real host's trap),
/// records it, and switches the session to the callee.
fn enter(
    s: &mut Session,
    idn: &str,
    arguments: &[Argument],
) -> core::result::Result<(SkillFn, Frame), String> {
    let own = s.host.act.skill_idn.clone();
    let depth = s.call.callers.len() + 1;
    if depth > s.host.call_depth {
        let chain: Vec<&str> = s
            .call
            .callers
            .iter()
            .map(String::as_str)
            .chain([own.as_str(), idn])
            .collect();
        panic!(
            "limit `call_depth` ({}) exceeded: skill `{own}` tried to call `{idn}` {depth} calls deep ({})",
            s.host.call_depth,
            chain.join(" → ")
        );
    }
    if s.call.made >= s.host.calls_per_run {
        panic!(
            "limit `calls_per_run` ({}) exceeded: skill `{own}` tried to make call #{} of the run (`{idn}`)",
            s.host.calls_per_run,
            s.call.made + 1
        );
    }
    s.call.made += 1;
    let record = s.run.calls.len();
    s.run.calls.push(super::CalledSkill {
        skill: idn.to_owned(),
        depth: depth as u32,
        arguments: arguments.to_vec(),
        result: Ok(String::new()),
    });
    let callee = s.host.callees.iter().find(|c| c.idn == idn).cloned();
    if callee.is_none() && idn == own {
        panic!(
            "TestHost: skill `{own}` calls itself: add it as a callee too, \
             with .callee(\"{own}\", its function)"
        );
    }
    let Some(callee) = callee else {
        let known = s.host.callees.iter().map(|c| c.idn.as_str());
        let hint = skillhost_emission::did_you_mean(idn, known.chain([own.as_str()]))
            .map(|near| format!(" (did you mean `{near}`?)"))
            .unwrap_or_default();
        let error = format!("flow `{}` has no skill `{idn}`{hint}", s.host.act.flow_idn);
        s.run.calls[record].result = Err(error.clone());
        return Err(error);
    };
    let frame = Frame {
        act: s.host.act.clone(),
        parameters: std::mem::replace(&mut s.host.parameters, callee.parameters),
        result: s.call.result.take(),
        record,
        undo: Undo::of(s),
    };
    s.host.act.arguments = arguments.to_vec();
    s.host.act.skill_idn = idn.to_owned();
    s.call.callers.push(own);
    Ok((callee.run, frame))
}

/// Ends a call: back to the caller, the callee's effects undone if it failed.
fn leave(
    s: &mut Session,
    frame: Frame,
    outcome: core::result::Result<(), String>,
) -> core::result::Result<String, String> {
    let idn = std::mem::replace(&mut s.host.act, frame.act).skill_idn;
    s.host.parameters = frame.parameters;
    s.call.callers.pop();
    let result = std::mem::replace(&mut s.call.result, frame.result);
    let returned = match outcome {
        Ok(()) => Ok(result.unwrap_or_default()),
        Err(e) => {
            frame.undo.apply(s);
            Err(format!("skill `{idn}` failed: {e}"))
        }
    };
    s.run.calls[frame.record].result = returned.clone();
    returned
}
