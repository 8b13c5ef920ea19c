//! Logging for every front end: one tracing subscriber whose every line passes the redactor
//! (the built-in patterns and every secret a redactor of this process was built with, see
//! [`crate::redact::for_logs`]) before it reaches stderr or `casefile.log`. Libraries log too
//! (sqlx, russh, the AWS SDK), and they do not know what is secret; so redaction sits in the
//! writer, where nothing can go around it.
//!
//! The log file is private: created 0600 in a 0700 folder, whatever the umask.
use std::{
    fs::{self, OpenOptions},
    io::{self, Write},
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::PathBuf,
    sync::{Arc, Mutex},
};
use tracing_subscriber::{
    EnvFilter, Layer, fmt::MakeWriter, layer::SubscriberExt, util::SubscriberInitExt,
};

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Headless commands: warnings to stderr (with the progress lines), info to `casefile.log`.
    Headless,
    /// The TUI owns the screen: only `casefile.log`.
    Tui,
}

/// `$XDG_STATE_HOME/casefile/casefile.log` (else the data dir).
pub fn log_path() -> Option<PathBuf> {
    Some(
        dirs::state_dir()
            .or_else(dirs::data_dir)?
            .join("casefile")
            .join("casefile.log"),
    )
}

/// Installs the subscriber; returns the log file when one could be opened. `CASEFILE_LOG`
/// (an `EnvFilter`, e.g. `debug` or `casefile=debug`) overrides the levels. Safe to call twice:
/// the second call changes nothing.
pub fn init(sink: Sink) -> Option<PathBuf> {
    let path = log_path();
    let file = path.as_deref().and_then(|p| open_private(p).ok());
    let file_layer = file.map(|file| {
        tracing_subscriber::fmt::layer()
            .with_writer(Redacting::new(file))
            .with_ansi(false)
            .with_filter(filter("info"))
    });
    let stderr_layer = (sink == Sink::Headless).then(|| {
        tracing_subscriber::fmt::layer()
            // Redacted, then sanitised on its way to the terminal (a message may quote captured
            // text); no colours, which the sanitiser would show as `\e[…` escapes.
            .with_writer(Redacting::new(crate::output::stderr_writer()))
            .with_ansi(false)
            .without_time()
            .with_filter(filter("warn"))
    });
    let opened = file_layer.is_some();
    tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init()
        .ok()?;
    path.filter(|_| opened)
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("CASEFILE_LOG").unwrap_or_else(|_| EnvFilter::new(default))
}

/// Opens the log for appending, 0600 in a 0700 folder (also when they existed with wider modes).
pub fn open_private(path: &std::path::Path) -> io::Result<fs::File> {
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// A `MakeWriter` whose writers hold one event's text and write it redacted when dropped.
#[derive(Clone)]
pub struct Redacting {
    target: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl Redacting {
    pub fn new(target: impl Write + Send + 'static) -> Redacting {
        Redacting {
            target: Arc::new(Mutex::new(Box::new(target))),
        }
    }
}

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = RedactedEvent;

    fn make_writer(&'a self) -> RedactedEvent {
        RedactedEvent {
            text: Vec::new(),
            target: Arc::clone(&self.target),
        }
    }
}

/// One event's text, redacted and written as a whole when dropped (the formatter writes an
/// event in pieces; a secret split between two pieces is still seen whole).
pub struct RedactedEvent {
    text: Vec<u8>,
    target: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl Write for RedactedEvent {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedEvent {
    fn drop(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let mut redacted = Vec::with_capacity(self.text.len());
        crate::redact::for_logs().redact_into(&self.text, &mut redacted);
        let mut target = self.target.lock().unwrap_or_else(|e| e.into_inner());
        // A log line that cannot be written has nowhere else to go.
        let _ = target.write_all(&redacted);
        let _ = target.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_event_is_redacted_of_patterns_and_registered_secrets() {
        let _rules = crate::redact::Redactor::new(&["Log-Registered-77x".to_string()]);
        let seen = Shared::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(Redacting::new(seen.clone()))
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                sql = "SELECT 'Log-Registered-77x'",
                "slow statement: password=hunter22 AKIAIOSFODNN7EXAMPLE"
            );
        });
        let text = String::from_utf8(seen.0.lock().expect("lock").clone()).expect("utf8");
        assert!(text.contains("slow statement"), "{text}");
        for secret in ["Log-Registered-77x", "hunter22", "AKIAIOSFODNN7EXAMPLE"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn the_log_file_is_private_whatever_was_there() {
        let dir = tempfile::tempdir().expect("dir");
        let folder = dir.path().join("state/casefile");
        fs::create_dir_all(&folder).expect("mkdir");
        fs::set_permissions(&folder, fs::Permissions::from_mode(0o755)).expect("chmod");
        let path = folder.join("casefile.log");
        fs::write(&path, "old\n").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        open_private(&path).expect("open");
        let mode =
            |p: &std::path::Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!((mode(&folder), mode(&path)), (0o700, 0o600));
        let fresh = dir.path().join("new/casefile/casefile.log");
        open_private(&fresh).expect("open");
        assert_eq!(
            (mode(fresh.parent().expect("dir")), mode(&fresh)),
            (0o700, 0o600)
        );
    }
}
