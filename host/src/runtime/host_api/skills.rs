//! `skills`: `call-skill` runs another skill of the run's flow inside the
//! run, as a function; `set-result` is the value it returns.
//!
//! The called skill gets a fresh instance in a store of its own (the
//! caller's store is busy in this very host call), on the engine its
//! component was compiled for, and a [`SkillRun`] made from its caller's:
//! the same event, actor, flow and flow instance, with the call's arguments
//! as the act's arguments and its own skill (so its own `parameter`s). The
//! caller's effect buffer and call records move into it for the call and
//! back out after; the buffer is checkpointed first and rolled back if the
//! call fails. The run's `Shared` (limits, log budget, CPU clock, control)
//! goes along, so the called skill's epoch callback stops it on the run's
//! interrupt or CPU time; it is polled inside the run's metered future, so
//! its CPU time is the run's, under the run's wall-clock timer.
//!
//! What the caller gets:
//! - `Ok(value)`: the called skill returned ok; `value` is the last
//!   `set-result` it made, or "" if it made none.
//! - `Err("skill `X` failed: ...")`: it returned an error, trapped,
//!   panicked or passed a bad host-call argument; its effects are undone.
//! - `Err`: the flow has no such skill (named, with a suggestion), its
//!   component is not loaded, or the host has no instance slot free.
//! - a trap, failing the caller and so on up to the run: a limit exceeded in
//!   the called skill (the limits are the run's), a call over `call_depth`
//!   or `calls_per_run`, or an interrupt.

use std::sync::Arc;

use super::super::bindings::skillhost::skill::{skills, types};
use super::super::sandbox::{describe_failure, limit_exceeded, new_store, Interrupted, RunState};
use super::{check_value, trap, SkillRun, Trappable};
use crate::event::Event;
use crate::flows::Skill;
use crate::limits::{short, BadArgument, Limit, LimitExceeded};
use crate::store::SkillCall;

const CALL: &str = "call-skill";

/// Longest error a call's record keeps.
const MAX_RECORDED_ERROR: usize = 1 << 10;

/// Where a run stands in a stack of skill calls.
#[derive(Debug, Default)]
pub(super) struct CallFrame {
    /// The skills that called this one, the run's own skill first; empty
    /// for the run's own skill.
    callers: Vec<String>,
    /// Every call of the run so far, at any depth, in the order they began.
    calls: Vec<SkillCall>,
    /// The last `set-result` value.
    result: Option<String>,
}

impl SkillRun {
    /// The skills the run called, in the order the calls began (taken out).
    pub fn take_calls(&mut self) -> Vec<SkillCall> {
        std::mem::take(&mut self.call.calls)
    }

    /// How many calls deep this skill runs: 0 for the run's own skill.
    fn call_depth(&self) -> usize {
        self.call.callers.len()
    }

    /// `A → B → C`: the calls from the run's own skill to `callee`.
    fn call_chain(&self, callee: &str) -> String {
        let names = self.call.callers.iter().map(String::as_str);
        let names = names.chain([self.skill.idn.as_str(), callee]);
        names.map(short).collect::<Vec<_>>().join(" → ")
    }

    /// Checks a call against the run's limits and the bad-argument rules:
    /// a failed check traps.
    fn check_call(&self, idn: &str, arguments: &[types::Argument]) -> Trappable<()> {
        BadArgument::check_name(CALL, "skill idn", idn).map_err(trap)?;
        let limits = &self.limits;
        let depth = self.call_depth() + 1;
        if depth > limits.call_depth {
            return Err(trap(LimitExceeded::new(
                Limit::CallDepth,
                limits,
                format!(
                    "skill `{}` tried to call `{}` {depth} calls deep ({})",
                    self.skill.idn,
                    short(idn),
                    self.call_chain(idn)
                ),
            )));
        }
        let made = self.call.calls.len();
        if made >= limits.calls_per_run {
            return Err(trap(LimitExceeded::new(
                Limit::CallsPerRun,
                limits,
                format!(
                    "skill `{}` tried to make call #{} of the run (`{}`)",
                    self.skill.idn,
                    made + 1,
                    short(idn)
                ),
            )));
        }
        let what = format!("the call of skill `{}`", short(idn));
        limits
            .check_arguments_of(
                &what,
                arguments
                    .iter()
                    .map(|a| (a.name.as_str(), a.value.as_str())),
            )
            .map_err(trap)
    }

    /// The error for a skill the flow does not have.
    fn no_such_skill(&self, idn: &str) -> String {
        let skills = self.flow.skills.iter().map(|s| s.idn.as_str());
        let hint = skillhost_emission::did_you_mean(idn, skills)
            .map(|near| format!(" (did you mean `{near}`?)"))
            .unwrap_or_default();
        format!(
            "flow `{}` has no skill `{}`{hint}",
            self.flow.idn,
            short(idn)
        )
    }

    /// The run of `callee` for a call with `arguments`: this run's act with
    /// the call's arguments, this run's effects and call records moved in.
    fn enter_call(&mut self, callee: Arc<Skill>, arguments: Vec<(String, String)>) -> SkillRun {
        let event = Event {
            arguments,
            ..(*self.event).clone()
        };
        let mut callers = self.call.callers.clone();
        callers.push(self.skill.idn.clone());
        SkillRun {
            env: self.env.clone(),
            event: Arc::new(event),
            actor: self.actor.clone(),
            flow: self.flow.clone(),
            skill: callee,
            instance: self.instance.clone(),
            buffer: std::mem::take(&mut self.buffer),
            limits: self.limits,
            // The run's deadline and its record of model calls are shared.
            deadline: self.deadline,
            llm_log: self.llm_log.clone(),
            call: CallFrame {
                callers,
                calls: std::mem::take(&mut self.call.calls),
                result: None,
            },
        }
    }

    /// Takes back what [`enter_call`](Self::enter_call) moved out; returns
    /// the called skill's result.
    fn leave_call(&mut self, callee: SkillRun) -> String {
        self.buffer = callee.buffer;
        self.call.calls = callee.call.calls;
        callee.call.result.unwrap_or_default()
    }
}

impl RunState {
    /// Runs `callee` for a call, in an instance of its own; see the module docs.
    async fn run_called(
        &mut self,
        callee: Arc<Skill>,
        arguments: Vec<(String, String)>,
    ) -> Trappable<Result<String, String>> {
        let idn = callee.idn.clone();
        let runtime = self.shared.runtime.clone();
        // A project served with unbound skills allowed: like a dispatch to one.
        let Some(wasm) = callee.wasm.as_deref() else {
            return Ok(Err(format!("skill `{idn}` has no component")));
        };
        let Some((pre, own)) = runtime.component_of(wasm, &callee) else {
            return Ok(Err(format!(
                "skill `{idn}` has no component loaded ({})",
                wasm.display()
            )));
        };
        let Some(_slot) = runtime.call_slot() else {
            return Ok(Err(format!(
                "skill `{idn}` was not called: all {} instances for called skills are in use \
                 (the host's max_concurrent_calls)",
                runtime.config().max_concurrent_calls
            )));
        };
        let at = self.run.buffer.checkpoint();
        let run = self.run.enter_call(callee, arguments);
        let mut store = new_store(pre.engine(), RunState::new(run, &own, &self.shared));
        let ended = async {
            let skill = pre.instantiate_async(&mut store).await?;
            skill.call_run(&mut store).await
        }
        .await;
        let called = store.into_data();
        called.finish_output();
        let (limits, stderr) = (called.limits, called.stderr.clone());
        let result = self.run.leave_call(called.run);
        let reason = match ended {
            Ok(Ok(())) => {
                self.run.buffer.release(at);
                return Ok(Ok(result));
            }
            Ok(Err(reason)) => reason,
            // The whole run stops or fails: its effects go anyway.
            Err(e) if e.downcast_ref::<Interrupted>().is_some() => {
                return Err(trap(Interrupted));
            }
            Err(e) => match limit_exceeded(&e, &limits) {
                Some(limit) => return Err(trap(in_called_skill(limit, &idn))),
                None => describe_failure(&e, &limits, &stderr),
            },
        };
        self.run.buffer.rollback(at);
        Ok(Err(format!("skill `{idn}` failed: {reason}")))
    }
}

/// A limit a called skill exceeded, saying where; the call limits already
/// name the whole chain of calls.
fn in_called_skill(mut limit: LimitExceeded, idn: &str) -> LimitExceeded {
    if !matches!(limit.limit, Limit::CallDepth | Limit::CallsPerRun) {
        limit.detail = format!("{}, in called skill `{idn}`", limit.detail);
    }
    limit
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

impl skills::Host for RunState {
    async fn call_skill(
        &mut self,
        skill_idn: String,
        arguments: Vec<types::Argument>,
    ) -> Trappable<Result<String, String>> {
        self.run.check_call(&skill_idn, &arguments)?;
        let index = self.run.call.calls.len();
        self.run.call.calls.push(SkillCall {
            skill: skill_idn.clone(),
            depth: self.run.call_depth() as u32 + 1,
            error: None,
        });
        let outcome = match self.run.flow.skill(&skill_idn).cloned() {
            Some(callee) => {
                let arguments = arguments.into_iter().map(|a| (a.name, a.value)).collect();
                self.run_called(callee, arguments).await
            }
            None => Ok(Err(self.run.no_such_skill(&skill_idn))),
        };
        let error = match &outcome {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.clone()),
            Err(trapped) => Some(trapped.to_string()),
        };
        if let Some(record) = self.run.call.calls.get_mut(index) {
            record.error = error.map(|e| cut(e, MAX_RECORDED_ERROR));
        }
        outcome
    }

    fn set_result(&mut self, value: String) -> Trappable<()> {
        let idn = self.run.skill.idn.clone();
        check_value(&self.limits, "the result of skill", &idn, &value)?;
        self.run.call.result = Some(value);
        Ok(())
    }
}
