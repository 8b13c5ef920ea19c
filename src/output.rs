//! The only way casefile writes text to stdout and stderr (`outln!`, `errln!`).
//!
//! Every line goes through [`crate::sanitize::text`], so a manifest field, URL, preset or
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
    let text = line(args);
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

/// Writes one sanitised line to stderr; a failure silences stderr (there is nowhere to say it).
pub fn err_line(args: fmt::Arguments) {
    if STDERR_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let text = line(args);
    let mut stderr = io::stderr().lock();
    if stderr.write_all(text.as_bytes()).is_err() {
        STDERR_CLOSED.store(true, Ordering::Relaxed);
    }
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
