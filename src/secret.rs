//! Secret references: where a secret lives (environment variable, file, or a command such as a
//! vault CLI). Values are resolved at run time, registered with the redactor, and never stored.
use serde::Deserialize;
use std::{fmt, process::Stdio};

/// A reference to a secret, as written in casefile.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Read the value from this environment variable.
    #[serde(default)]
    pub env: Option<String>,
    /// Read the value from this file (a trailing newline is dropped).
    #[serde(default)]
    pub file: Option<String>,
    /// Run this command with `/bin/sh -c`; its stdout (trimmed) is the value.
    #[serde(default)]
    pub command: Option<String>,
    /// Redact this value from every capture, even when no target uses it.
    #[serde(default)]
    pub always_redact: bool,
}

/// A resolved secret value. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

impl SecretRef {
    /// Checks that exactly one source is given; the message says how to fix it.
    pub fn validate(&self) -> Result<(), String> {
        let sources = [
            self.env.is_some(),
            self.file.is_some(),
            self.command.is_some(),
        ];
        match sources.iter().filter(|s| **s).count() {
            1 => Ok(()),
            0 => Err(
                "a secret needs one of env = \"VAR\", file = \"PATH\" or command = \"CMD\"".into(),
            ),
            _ => Err("a secret takes only one of env, file and command".into()),
        }
    }

    /// Resolves the value now. Errors name the source, never the value.
    pub fn resolve(&self, name: &str) -> Result<SecretValue, String> {
        let value = if let Some(var) = &self.env {
            std::env::var(var)
                .map_err(|_| format!("secret `{name}`: environment variable {var} is not set"))?
        } else if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("secret `{name}`: cannot read {path}: {e}"))?;
            text.trim_end_matches(['\n', '\r']).to_string()
        } else if let Some(command) = &self.command {
            let output = std::process::Command::new("/bin/sh")
                .args(["-c", command])
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| format!("secret `{name}`: cannot run its command: {e}"))?;
            if !output.status.success() {
                return Err(format!(
                    "secret `{name}`: its command failed ({})",
                    output.status
                ));
            }
            String::from_utf8(output.stdout)
                .map_err(|_| format!("secret `{name}`: its command printed invalid UTF-8"))?
                .trim_end_matches(['\n', '\r'])
                .to_string()
        } else {
            return Err(format!("secret `{name}` has no source"));
        };
        if value.is_empty() {
            return Err(format!("secret `{name}` resolved to an empty value"));
        }
        Ok(SecretValue(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_each_source_and_hides_the_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").expect("write");
        let by_file = SecretRef {
            env: None,
            file: Some(file.display().to_string()),
            command: None,
            always_redact: false,
        };
        assert_eq!(by_file.resolve("f").expect("file").expose(), "from-file");
        let by_command = SecretRef {
            env: None,
            file: None,
            command: Some("echo from-cmd".into()),
            always_redact: false,
        };
        let value = by_command.resolve("c").expect("command");
        assert_eq!(value.expose(), "from-cmd");
        assert!(!format!("{value:?}").contains("from-cmd"));
        let missing = SecretRef {
            env: Some("CASEFILE_TEST_UNSET_VAR".into()),
            file: None,
            command: None,
            always_redact: false,
        };
        assert!(
            missing
                .resolve("m")
                .expect_err("unset")
                .contains("CASEFILE_TEST_UNSET_VAR")
        );
        assert!(
            SecretRef {
                env: None,
                file: None,
                command: None,
                always_redact: false
            }
            .validate()
            .is_err()
        );
    }
}
