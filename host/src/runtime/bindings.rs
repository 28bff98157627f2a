//! Host-side bindings generated from `wit/skill.wit`.
//!
//! Host calls are synchronous (they touch only in-memory run state and the
//! store) and trappable, so a host call can stop a misbehaving skill; the
//! export is async so runs can yield at epoch ticks.
wasmtime::component::bindgen!({
    path: "../wit",
    world: "skill",
    imports: { default: trappable },
    exports: { default: async },
});
