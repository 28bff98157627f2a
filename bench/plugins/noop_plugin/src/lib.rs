//! The trivial Extism plugin of the bench's row 7: `run` does nothing, like
//! the skill `noop`.
use extism_pdk::*;

#[plugin_fn]
pub fn run() -> FnResult<()> {
    Ok(())
}
