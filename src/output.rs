//! The only way casefile writes text to stdout and stderr (`outln!`, `errln!`).
//!
//! Every line goes through [`crate::sanitize::text`] (stderr lines through the redactor first), so a manifest field, URL, preset or
//! error message can never drive the operator's terminal. `print!`/`eprintln!` and friends are
//! denied by clippy (`print_stdout`, `print_stderr` in Cargo.toml) so no print site bypasses it.
//!
//! A closed pipe is not an error a person needs to read about (`casefile targets list | head
//! -1`): the first write that fails with EPIPE makes later writes to that stream no-ops, with no
//! message and no panic. The command still finishes its work (a capture still completes its
//! snapshot, an unpacked archive's temp folder is still removed) and exits with its usual status.
//! Any other stdout failure (a full disk behind `> file`) is said once on stderr, and
//! [`exit_code`] turns a successful status into 1 so a script notices the output is missing.
use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout failed: later writes are skipped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Set when stdout failed for a reason other than a closed pipe.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);
/// Set once a write to stderr failed: later writes are skipped.
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// One sanitised line (the formatted text plus `\n`).
fn line(args: fmt::Arguments) -> String {
    let formatted = fmt::format(args);
    let mut line = crate::sanitize::text(&formatted).into_owned();
    line.push('\n');
    line
}

/// Writes one sanitised line to stdout; see the module comment for what a failure does.
pub fn out_line(args: fmt::Arguments) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    write_stdout(&line(args));
}

/// Writes text that is already safe (sanitised, or our own codes) to stdout.
fn write_stdout(text: &str) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            STDOUT_FAILED.store(true, Ordering::Relaxed);
            err_line(format_args!("casefile: cannot write to stdout: {e}"));
        }
    }
}

/// A colour casefile itself adds to a line it prints. Only these fixed SGR codes can be
/// written: the line's text is sanitised first ([`out_painted`]), so captured bytes never
/// carry an escape of their own to the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    Red,
    Green,
    Cyan,
    Bold,
}

impl Paint {
    fn sgr(self) -> &'static str {
        match self {
            Paint::Red => "\x1b[31m",
            Paint::Green => "\x1b[32m",
            Paint::Cyan => "\x1b[36m",
            Paint::Bold => "\x1b[1m",
        }
    }
}

/// Writes one line to stdout in a colour: the text is sanitised like [`out_line`]'s, then
/// wrapped in the colour's code and a reset (`casefile diff` on a terminal).
pub fn out_painted(paint: Paint, args: fmt::Arguments) {
    let sanitised = line(args);
    let body = sanitised.strip_suffix('\n').unwrap_or(&sanitised);
    write_stdout(&format!("{}{body}\x1b[0m\n", paint.sgr()));
}

/// Writes one line to stderr, redacted (like every log line: an error message may quote a
/// server's answer or a command's output) and then sanitised; a failure silences stderr
/// (there is nowhere to say it). Stdout is left unredacted: it carries data the operator asked
/// for (paths, JSON summaries), read from snapshots that were redacted when written.
pub fn err_line(args: fmt::Arguments) {
    if STDERR_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let formatted = fmt::format(args);
    let (redacted, _) = crate::redact::for_logs().redact_text(&formatted);
    let text = line(format_args!("{redacted}"));
    let mut stderr = io::stderr().lock();
    if stderr.write_all(text.as_bytes()).is_err() {
        STDERR_CLOSED.store(true, Ordering::Relaxed);
    }
}

/// An `io::Write` to stderr that sanitises what it is given, for writers that format whole
/// lines themselves: `tracing_subscriber::fmt().with_writer(output::stderr_writer)` (with
/// `.with_ansi(false)`: colour codes would be shown as `\e[…`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrWriter;

/// Makes a [`StderrWriter`] (the shape `tracing_subscriber`'s `MakeWriter` takes).
pub fn stderr_writer() -> StderrWriter {
    StderrWriter
}

impl Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !STDERR_CLOSED.load(Ordering::Relaxed)
            && Inert(io::stderr().lock()).write_all(buf).is_err()
        {
            STDERR_CLOSED.store(true, Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An `io::Write` adapter that passes each buffer through [`crate::sanitize::bytes`] (newline
/// and tab kept) before writing it to the inner writer. Give it whole lines: a character
/// split across two writes would be shown as `\xNN` escapes.
#[derive(Debug)]
pub struct Inert<W>(pub W);

impl<W: Write> Write for Inert<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(crate::sanitize::bytes(buf).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Panic messages go through the sanitiser too (a message may quote data). The TUI's own
/// hook (restore the terminal first) calls this one after it.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        err_line(format_args!("casefile: internal error: {info}"));
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            err_line(format_args!("{backtrace}"));
        } else {
            err_line(format_args!(
                "note: run with RUST_BACKTRACE=1 to see where; please report this"
            ));
        }
    }));
}

/// The process status to return: `code`, except that a successful run whose stdout could not
/// be written (for a reason other than a closed pipe) is reported as 1.
pub fn exit_code(code: std::process::ExitCode) -> std::process::ExitCode {
    if STDOUT_FAILED.load(Ordering::Relaxed) && code == std::process::ExitCode::SUCCESS {
        std::process::ExitCode::FAILURE
    } else {
        code
    }
}

/// Prints a sanitised line to stdout (like `println!`), quietly stopping on a closed pipe.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::out_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::out_line(format_args!($($arg)*))
    };
}

/// Prints a sanitised line to stderr (like `eprintln!`), quietly stopping on a closed pipe.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::err_line(format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

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

    /// The headless log path: a library's warning quoting hostile text is redacted, then
    /// made inert, as `logging.rs` wires it for stderr.
    #[test]
    fn log_lines_are_redacted_then_inert() {
        let seen = Shared::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(crate::logging::Redacting::new(Inert(seen.clone())))
            .with_ansi(false)
            .without_time()
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                host = "db\u{1b}]52;c;ZXZpbA==\u{7}",
                "cannot reach \u{1b}[2J\u{9b}31m\r password=hunter22"
            );
        });
        let text = String::from_utf8(seen.0.lock().expect("lock").clone()).expect("utf8");
        // tracing-subscriber already shows ESC in messages as `\x1b`; C1 and CR are ours.
        assert!(
            text.contains(r"[2J\u{9b}31m\r password"),
            "shown as escapes: {text}"
        );
        assert!(!text.contains("hunter22"), "redacted: {text}");
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && crate::sanitize::needs_escape(c)),
            "{text:?}"
        );
    }
}
