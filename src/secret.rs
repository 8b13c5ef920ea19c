//! Secret references: where a secret lives (environment variable, file, or a command such as a
//! vault CLI). Values are resolved at run time, registered with the redactor, and never stored.
use crate::model::HumanDuration;
use serde::Deserialize;
use std::{
    fmt,
    io::Read,
    os::unix::process::CommandExt,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

/// How long a secret command may run before it is killed: a vault CLI that waits for a login
/// prompt would otherwise hang the capture (and, before, the TUI).
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of a failing command's stderr kept in the error message.
const STDERR_IN_MESSAGE: usize = 2000;

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
    /// How long `command` may run (default 10s); it is killed after that.
    #[serde(default)]
    pub timeout: Option<HumanDuration>,
}

/// Why a secret could not be resolved. Messages name the secret and its source, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{name}`: environment variable {var} is not set")]
    EnvUnset { name: String, var: String },
    #[error("secret `{name}`: cannot read {path}: {reason}")]
    File {
        name: String,
        path: String,
        reason: String,
    },
    #[error("secret `{name}`: cannot run its command: {reason}")]
    Spawn { name: String, reason: String },
    #[error("secret `{name}`: its command failed ({status}){}", stderr_suffix(.stderr))]
    CommandFailed {
        name: String,
        status: String,
        stderr: String,
    },
    #[error(
        "secret `{name}`: its command did not finish within {}s and was stopped (it may be waiting for input: it runs without a terminal, so log in to the vault first){}",
        .waited.as_secs_f32(),
        stderr_suffix(.stderr)
    )]
    TimedOut {
        name: String,
        waited: Duration,
        stderr: String,
    },
    #[error("secret `{name}`: its command printed invalid UTF-8")]
    InvalidUtf8 { name: String },
    #[error("secret `{name}` resolved to an empty value")]
    Empty { name: String },
    #[error("secret `{name}` has no source")]
    NoSource { name: String },
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

/// Callers that report errors as text keep using `?`.
impl From<SecretError> for String {
    fn from(e: SecretError) -> String {
        e.to_string()
    }
}

/// A resolved secret value. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a value obtained another way (an environment variable read by the caller).
    pub fn new(value: String) -> SecretValue {
        SecretValue(value)
    }

    /// The non-empty value of environment variable `var`, if set.
    pub fn from_env(var: &str) -> Option<SecretValue> {
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretValue)
    }

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
            1 => {}
            0 => {
                return Err(
                    "a secret needs one of env = \"VAR\", file = \"PATH\" or command = \"CMD\""
                        .into(),
                );
            }
            _ => return Err("a secret takes only one of env, file and command".into()),
        }
        if self.timeout.is_some() && self.command.is_none() {
            return Err("timeout applies to command secrets only".into());
        }
        Ok(())
    }

    /// Resolves the value now. Errors name the source, never the value. A command runs without
    /// a terminal (stdin closed), its stderr goes into the error, and it is killed after its
    /// timeout; this blocks, so the TUI calls it off its loop.
    pub fn resolve(&self, name: &str) -> Result<SecretValue, SecretError> {
        let value = if let Some(var) = &self.env {
            std::env::var(var).map_err(|_| SecretError::EnvUnset {
                name: name.into(),
                var: var.clone(),
            })?
        } else if let Some(path) = &self.file {
            let text = std::fs::read_to_string(path).map_err(|e| SecretError::File {
                name: name.into(),
                path: path.clone(),
                reason: e.to_string(),
            })?;
            text.trim_end_matches(['\n', '\r']).to_string()
        } else if let Some(command) = &self.command {
            let timeout = self.timeout.map_or(DEFAULT_COMMAND_TIMEOUT, |t| t.0);
            run_command(name, command, timeout)?
        } else {
            return Err(SecretError::NoSource { name: name.into() });
        };
        if value.is_empty() {
            return Err(SecretError::Empty { name: name.into() });
        }
        Ok(SecretValue(value))
    }
}

/// Runs `command` with `/bin/sh -c` in its own process group (so a timeout kills what it
/// started too), stdin closed, stdout and stderr captured; returns stdout without its
/// trailing newline.
fn run_command(name: &str, command: &str, timeout: Duration) -> Result<String, SecretError> {
    let mut child = std::process::Command::new("/bin/sh")
        .args(["-c", command])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| SecretError::Spawn {
            name: name.into(),
            reason: e.to_string(),
        })?;
    let stdout = read_in_background(child.stdout.take());
    let stderr = read_in_background(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                kill_group(&mut child);
                return Err(SecretError::Spawn {
                    name: name.into(),
                    reason: e.to_string(),
                });
            }
        }
    };
    let Some(status) = status else {
        kill_group(&mut child);
        return Err(SecretError::TimedOut {
            name: name.into(),
            waited: timeout,
            stderr: stderr_text(stderr.join().unwrap_or_default()),
        });
    };
    // Whatever the shell left running in its group would keep the pipes open.
    kill_group(&mut child);
    let out = stdout.join().unwrap_or_default();
    let err = stderr_text(stderr.join().unwrap_or_default());
    if !status.success() {
        return Err(SecretError::CommandFailed {
            name: name.into(),
            status: status.to_string(),
            stderr: err,
        });
    }
    Ok(String::from_utf8(out)
        .map_err(|_| SecretError::InvalidUtf8 { name: name.into() })?
        .trim_end_matches(['\n', '\r'])
        .to_string())
}

fn read_in_background<R: Read + Send + 'static>(
    pipe: Option<R>,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Stops the command's whole process group and reaps the shell.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A command's stderr as one line for a message: lossy, control characters replaced, capped.
fn stderr_text(bytes: Vec<u8>) -> String {
    let text = String::from_utf8_lossy(&bytes);
    let mut line: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.len() > STDERR_IN_MESSAGE {
        let mut cut = STDERR_IN_MESSAGE;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line
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
            timeout: None,
        };
        assert_eq!(by_file.resolve("f").expect("file").expose(), "from-file");
        let by_command = SecretRef {
            env: None,
            file: None,
            command: Some("echo from-cmd".into()),
            always_redact: false,
            timeout: None,
        };
        let value = by_command.resolve("c").expect("command");
        assert_eq!(value.expose(), "from-cmd");
        assert!(!format!("{value:?}").contains("from-cmd"));
        let missing = SecretRef {
            env: Some("CASEFILE_TEST_UNSET_VAR".into()),
            file: None,
            command: None,
            always_redact: false,
            timeout: None,
        };
        assert!(
            missing
                .resolve("m")
                .expect_err("unset")
                .to_string()
                .contains("CASEFILE_TEST_UNSET_VAR")
        );
        assert!(
            SecretRef {
                env: None,
                file: None,
                command: None,
                always_redact: false,
                timeout: None
            }
            .validate()
            .is_err()
        );
    }

    fn command(text: &str, timeout: Option<Duration>) -> SecretRef {
        SecretRef {
            env: None,
            file: None,
            command: Some(text.into()),
            always_redact: false,
            timeout: timeout.map(HumanDuration),
        }
    }

    #[test]
    fn a_failing_command_says_what_it_printed_on_stderr() {
        let err = command("echo oops >&2; exit 3", None)
            .resolve("vault")
            .expect_err("fails");
        assert!(
            matches!(&err, SecretError::CommandFailed { stderr, .. } if stderr == "oops"),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("secret `vault`"), "{text}");
        assert!(text.contains("exit status: 3"), "{text}");
        assert!(text.ends_with(": oops"), "{text}");
    }

    #[test]
    fn a_command_waiting_for_input_fails_at_once_because_stdin_is_closed() {
        // `read` gets end-of-file at once: stdin is /dev/null, never the terminal.
        let started = Instant::now();
        let err = command("read x || { echo 'no input' >&2; exit 4; }; echo $x", None)
            .resolve("prompt")
            .expect_err("no input");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains("no input"), "{err}");
    }

    #[test]
    fn a_command_that_hangs_is_killed_after_its_timeout_and_says_so() {
        let started = Instant::now();
        let err = command(
            "echo 'waiting for login' >&2; sleep 30",
            Some(Duration::from_millis(300)),
        )
        .resolve("slow")
        .expect_err("times out");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        // The `sleep` child is killed with the shell, or reading its pipes would wait 30s.
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        let text = err.to_string();
        assert!(matches!(err, SecretError::TimedOut { .. }), "{text}");
        assert!(text.contains("did not finish within 0.3s"), "{text}");
        assert!(text.contains("waiting for input"), "{text}");
        assert!(text.contains("waiting for login"), "{text}");
    }

    #[test]
    fn stderr_in_the_message_has_no_control_characters() {
        let err = command("printf 'bad\\033]0;title\\007\\n' >&2; exit 1", None)
            .resolve("esc")
            .expect_err("fails")
            .to_string();
        assert!(!err.chars().any(char::is_control), "{err:?}");
        assert!(err.contains("bad"), "{err}");
    }
}
