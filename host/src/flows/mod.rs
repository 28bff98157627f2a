//! Flow files: the YAML model of a project and its loader.
//!
//! [`load`] is the entry point: it reads `project_file` (with
//! `component_map`), lets `layout` find the project's files (flow files by
//! `discover`, Newo exports by `newo_layout`, their descriptors by
//! `descriptors`) and loads each flow (`flow_file`, `subscription`,
//! `skill_entry`) through `yaml` (with `tags`) and `typed_yaml`, then runs
//! `cross_flow_checks`. Every problem becomes a [`LoadError`]
//! (`diagnostics`). [`unbound`] says which skills have no component.
mod attributes_file;
mod component_map;
mod cross_flow_checks;
mod descriptors;
mod diagnostics;
mod discover;
mod flow_file;
mod layout;
pub mod lint;
pub mod load;
#[cfg(test)]
mod load_tests;
pub mod model;
mod model_keys;
mod newo_layout;
mod project_file;
mod skill_entry;
mod subscription;
mod tags;
#[cfg(test)]
mod test_support;
mod typed_yaml;
pub mod unbound;
mod yaml;
pub use load::{load_project, load_project_with, LoadError, LoadErrors};
pub use model::*;

/// The project in force: routing, runs and commands read it without a lock;
/// only the [`crate::reload::Reloader`] swaps it.
pub type ProjectCell = std::sync::Arc<arc_swap::ArcSwap<Project>>;
