//! Errors that point at a place in a file a user wrote: `file:line:col: message` plus a hint.
use std::{fmt, ops::Range};

/// A problem in a TOML file a user can open and fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl SourceError {
    /// Locates `span` (byte offsets into `source`) as 1-based line and column.
    pub fn at(
        file: &str,
        source: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = span.map(|s| line_col(source, s.start)).unwrap_or((1, 1));
        SourceError {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Converts a TOML/serde error, adding a hint for the usual mistakes.
    pub fn from_toml(file: &str, source: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim().to_string();
        let hint = if message.starts_with("unknown field") {
            Some(
                "remove the key or fix its spelling; the expected keys are listed above"
                    .to_string(),
            )
        } else if message.starts_with("missing field") {
            Some("add the key; see the format in the README".to_string())
        } else if message.contains("unknown variant") {
            Some("use one of the values listed above".to_string())
        } else {
            None
        };
        SourceError {
            hint,
            ..SourceError::at(file, source, err.span(), message)
        }
    }
}

/// 1-based (line, column) of a byte offset, counting columns in characters.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SourceError {}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn finds_line_and_column() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 8), (2, 3));
    }
}
