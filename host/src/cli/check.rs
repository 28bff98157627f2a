//! `skillhost check`: the project loads, its unbound skills are summed up,
//! and every component passes the same preparation a start does.

use std::sync::Arc;

use anyhow::Result;
use skillhost::components::{prepare, Problems};
use skillhost::flows::unbound::{summarize, unbound_skills};
use skillhost::flows::{lint, Binding, Layout, Project};
use skillhost::runtime::{Runtime, RuntimeConfig};

use super::CheckArgs;

pub async fn run(args: CheckArgs) -> Result<()> {
    let project = super::load(&args.project.project, args.project.select.as_deref())?;
    if let Some(line) = what_was_found(&project) {
        println!("{line}");
    }
    if args.bindings {
        print!("{}", bindings(&project));
    }
    let mut problems = Vec::new();
    let mut warnings = 0;
    let unbound = unbound_skills(&project);
    if !unbound.is_empty() {
        let all: Vec<_> = unbound.iter().collect();
        let summary = summarize("skill(s) have no component", &all);
        if args.allow_unbound || project.allow_unbound {
            println!("warning: {summary} (allowed: dispatches to them fail)");
            warnings += 1;
        } else {
            problems.push(format!(
                "{summary}; bind them with `components:` in skillhost.yaml (e.g. \
                 `components: {{\"*\": {{wasm: stub.wasm}}}}`) or `crate:`/`wasm:` on the \
                 skill, or allow them with --allow-unbound"
            ));
        }
    }
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        max_concurrent_runs: 1,
        compilation_cache: args.cache.directory()?,
        ..Default::default()
    })?);
    let components: Vec<Vec<u8>> = match prepare(&runtime, &project, |_, _, _| false).await {
        Ok(prepared) => prepared.into_iter().map(|c| c.bytes).collect(),
        Err(Problems(more)) => {
            problems.extend(more);
            Vec::new()
        }
    };
    if !problems.is_empty() {
        return Err(Problems(problems).into());
    }
    let lints = lint::event_warnings(&project, &components);
    for warning in &lints {
        println!("warning: {warning}");
    }
    let subs: usize = project.flows.iter().map(|f| f.subscriptions.len()).sum();
    let skills: usize = project.flows.iter().map(|f| f.skills.len()).sum();
    let events = project.declared_events.iter().count();
    println!(
        "ok: {} flows, {skills} skills, {subs} subscriptions, {events} declared events, {} warning(s)",
        project.flows.len(),
        lints.len() + warnings
    );
    Ok(())
}

/// For a Newo export: which project, with its agents and their flows.
fn what_was_found(project: &Project) -> Option<String> {
    if project.layout == Layout::Plain {
        return None;
    }
    let agents: Vec<String> = project
        .agents
        .iter()
        .map(|a| {
            let flows = project
                .flows
                .iter()
                .filter(|f| f.agent.idn == a.idn)
                .count();
            format!("{} ({flows} flows)", a.idn)
        })
        .collect();
    Some(format!(
        "project {} ({}, {}): {} agent(s): {}",
        project.name.as_deref().unwrap_or("?"),
        project.layout.describe(),
        project.root.display(),
        agents.len(),
        agents.join(", ")
    ))
}

/// One line per skill: its key, its component and what bound it.
fn bindings(project: &Project) -> String {
    let mut out = String::from("bindings:\n");
    for (flow, skill) in project.skills() {
        let component = match &skill.component {
            Some(skillhost::flows::ComponentSource::Crate { name, .. }) => format!("crate {name}"),
            Some(skillhost::flows::ComponentSource::File(path)) => {
                format!("wasm {}", path.display())
            }
            None => "no component".into(),
        };
        let by = match &skill.binding {
            Binding::Entry => format!("its entry, {}:{}", skill.file.display(), skill.line),
            Binding::Map { key, line } => format!("components `{key}` (skillhost.yaml:{line})"),
            Binding::Unbound => "unbound".into(),
        };
        out.push_str(&format!(
            "  {}/{} -> {component} ({by})\n",
            flow.key(),
            skill.idn
        ));
    }
    out
}
