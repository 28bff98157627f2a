//! Host-side bindings generated from `wit/skill.wit`.
//!
//! Host calls are synchronous (they touch only in-memory run state and the
//! store) and trappable, so a host call can stop a misbehaving skill; the
//! export is async so runs can yield at epoch ticks. `call-skill` is the one
//! async import: it runs the called skill's instance inside the call.
wasmtime::component::bindgen!({
    path: "../wit",
    world: "skill",
    imports: {
        "skillhost:skill/skills.call-skill": async | trappable,
        default: trappable,
    },
    exports: { default: async },
});
