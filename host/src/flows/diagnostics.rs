//! What the loader reports: [`LoadError`]s, and the [`Report`] that records
//! them for one file as the checks run.

use std::fmt;
use std::path::{Path, PathBuf};

use super::tags::Tags;

/// One problem found while loading a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file (or, for project-wide problems, the directory) at fault.
    pub file: PathBuf,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// Path of the offending field, e.g. `events[2].interrupt_mode`; empty
    /// for problems with a whole file or directory (unreadable, bad YAML).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    /// `<file>:<line>: <field>: <message>`; the line and field parts are
    /// left out when there is none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Every problem of a project, sorted by file and line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// A problem with the project directory as a whole (no line, no field).
pub(super) fn dir_error(dir: &Path, message: &str) -> LoadError {
    LoadError {
        file: dir.to_path_buf(),
        line: None,
        field: String::new(),
        message: message.to_string(),
    }
}

/// `file:line` (or just the file), for messages that point at another place.
pub(super) fn location(file: &Path, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{}:{line}", file.display()),
        None => file.display().to_string(),
    }
}

/// `line N` for messages about an earlier occurrence in the same file.
pub(super) fn line_text(line: Option<usize>) -> String {
    match line {
        Some(line) => format!("line {line}"),
        None => "an earlier line".into(),
    }
}

/// Collects the problems of one file.
pub(super) struct Report<'a> {
    pub(super) file: &'a Path,
    pub(super) errors: &'a mut Vec<LoadError>,
    /// The `!enum` tags of the file, filled in when it is read.
    pub(super) tags: Tags,
}

impl<'a> Report<'a> {
    pub(super) fn new(file: &'a Path, errors: &'a mut Vec<LoadError>) -> Self {
        Report {
            file,
            errors,
            tags: Tags::default(),
        }
    }
}

impl Report<'_> {
    pub(super) fn error(&mut self, line: Option<usize>, field: &str, message: impl Into<String>) {
        self.errors.push(LoadError {
            file: self.file.to_path_buf(),
            line,
            field: field.to_string(),
            message: message.into(),
        });
    }
}

/// The value is unusable and the reason has already been reported.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reported;
pub(super) type Checked<T> = Result<T, Reported>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_errors_one_per_line() {
        let errors = LoadErrors(vec![
            LoadError {
                file: "p/flow.yaml".into(),
                line: Some(7),
                field: "events[2].interrupt_mode".into(),
                message: "invalid value".into(),
            },
            LoadError {
                file: "p".into(),
                line: None,
                field: String::new(),
                message: "no flow files found".into(),
            },
        ]);
        assert_eq!(
            errors.to_string(),
            "p/flow.yaml:7: events[2].interrupt_mode: invalid value\np: no flow files found"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(errors);
        assert!(boxed.to_string().starts_with("p/flow.yaml:7: "));
    }
}
