//! Host-side bindings generated from `wit/skill.wit`.
//!
//! Host calls are synchronous (they touch only in-memory run state and the
//! store) and trappable, so a host call can stop a misbehaving skill; the
//! `llm` calls are async too, since they wait on a model's answer, and so is
//! `call-skill`, which runs the called skill's instance inside the call. The
//! export is async so runs can yield at epoch ticks.
wasmtime::component::bindgen!({
    path: "../wit",
    world: "skill",
    imports: {
        "skillhost:skill/llm": async | trappable,
        "skillhost:skill/skills.call-skill": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    with: {
        "skillhost:skill/llm.generation": super::host_api::Generation,
    },
});
