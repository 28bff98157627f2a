//! Flow files: the YAML model of a project and its loader.
//!
//! [`load`] is the entry point: it reads `project_file`, lets `discover` find
//! the flow files and loads each (`flow_file`, `skill_entry`) through `yaml`
//! and `typed_yaml`, then runs `cross_flow_checks`. Every problem becomes a
//! [`LoadError`] (`diagnostics`).
mod cross_flow_checks;
mod diagnostics;
mod discover;
mod flow_file;
pub mod lint;
pub mod load;
pub mod model;
mod model_keys;
mod project_file;
mod skill_entry;
#[cfg(test)]
mod test_support;
mod typed_yaml;
mod yaml;
pub use load::{load_project, LoadError, LoadErrors};
pub use model::*;

/// The project in force: routing, runs and commands read it without a lock;
/// only the [`crate::reload::Reloader`] swaps it.
pub type ProjectCell = std::sync::Arc<arc_swap::ArcSwap<Project>>;
