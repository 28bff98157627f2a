//! Flow files: the YAML model of a project and its loader.
pub mod model;
pub use model::*;
