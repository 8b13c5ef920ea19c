//! casefile's entry point: parse the command line and hand over to the CLI.
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = casefile::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("casefile: cannot start the async runtime: {e}");
            return ExitCode::from(casefile::exit::EXIT_USAGE);
        }
    };
    runtime.block_on(casefile::cli::run(cli))
}
