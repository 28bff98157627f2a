//! Flow files: the YAML model of a project and its loader.
pub mod lint;
pub mod load;
pub mod model;
pub use load::{load_project, LoadError, LoadErrors};
pub use model::*;
