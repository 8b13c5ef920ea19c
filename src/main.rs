//! casefile's entry point: parse the command line and hand over to the CLI.
use casefile::cli::Command;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = casefile::cli::Cli::parse();
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
            eprintln!("casefile: cannot start the async runtime: {e}");
            return ExitCode::from(casefile::cli::EXIT_USAGE);
        }
    };
    runtime.block_on(casefile::cli::run(cli))
}
