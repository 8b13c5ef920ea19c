//! casefile's entry point: parse the command line and hand over to the CLI.
use casefile::cli::Command;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    casefile::output::install_panic_hook();
    let cli = match casefile::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_message(&e),
    };
    // The TUI sets up its own logging (to the log file only: the screen is its own).
    let opens_tui = matches!(
        cli.command,
        None | Some(Command::Replay { .. }) | Some(Command::EditPreset { .. })
    );
    if !opens_tui {
        casefile::logging::init(casefile::logging::Sink::Headless);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            casefile::errln!("casefile: cannot start the async runtime: {e}");
            return ExitCode::from(casefile::exit::EXIT_USAGE);
        }
    };
    let outcome = runtime.block_on(casefile::cli::run(cli));
    // Everything casefile owes (snapshot finalised, export done) was awaited above. Dropping
    // the runtime would wait for every blocking task without limit, so a stuck one (a read
    // from a terminal that hung up) could keep the process alive; this bounds the wait.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    casefile::output::exit_code(outcome)
}

/// Help, version and usage errors printed by casefile's output (clap's own printing would echo
/// an argument's escape sequences raw). Status: 0 for help/version, 2 for a usage error.
fn clap_message(e: &clap::Error) -> ExitCode {
    let text = e.render().to_string();
    let text = text.trim_end();
    if e.use_stderr() {
        casefile::errln!("{text}");
    } else {
        casefile::outln!("{text}");
    }
    casefile::output::exit_code(ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)))
}
