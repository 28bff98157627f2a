//! skillhost: runs event-driven agent skills as sandboxed WebAssembly components.
pub mod flows;
