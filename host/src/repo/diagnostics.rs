//! Validation problems, each pointing at `file:line:column` with what is wrong and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_saphyr::Location;

/// One problem found in the definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, relative to the repo.
    pub file: PathBuf,
    /// 1-based line; 0 when the problem has no single place.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A problem at a YAML location.
    pub fn at(file: &Path, loc: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_path_buf(),
            line: loc.line(),
            column: loc.column(),
            message: message.into(),
            help: None,
        }
    }

    /// Adds the advice line.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// A file that is not valid YAML or does not have the definitions' shape.
    pub fn from_yaml(file: &Path, e: &serde_saphyr::Error) -> Diagnostic {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let message = e.without_snippet().to_string();
        let message = message.lines().next().unwrap_or_default();
        // serde-saphyr appends the position to its messages; we print it in front instead.
        let message = match message.rfind(" at line ") {
            Some(i) => &message[..i],
            None => message,
        };
        let help = if message.contains("mapping values are not allowed") {
            "a plain YAML value cannot contain `: `; quote it, e.g. dtype: \"Struct{name: String}\""
        } else {
            "see docs/definitions.md for the shape of each section"
        };
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            message: message.to_string(),
            help: Some(help.to_string()),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: error: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )?;
        } else {
            write!(f, "{}: error: {}", self.file.display(), self.message)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}
