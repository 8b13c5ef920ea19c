//! `casefile runbooks list|check`: the `[[runbooks]]` of casefile.toml.
use crate::config::{Config, RunbookExport};
use crate::exit::EXIT_USAGE;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum RunbooksCommand {
    /// Every runbook in match order of ties (file order), with what it matches and captures
    List,
    /// Check runbooks against the presets, the inventory and ~/.ssh/config; errors name file:line:col
    Check,
}

pub fn run(config: &Config, command: RunbooksCommand) -> ExitCode {
    match command {
        RunbooksCommand::List => {
            outln!(
                "{:<20} {:<40} {:<28} {:<24} EXPORT",
                "NAME",
                "MATCHES",
                "TARGETS",
                "CAPTURES"
            );
            for runbook in &config.runbooks {
                let targets: Vec<&str> = runbook.targets.iter().map(|(t, _)| t.as_str()).collect();
                let mut captures: Vec<String> =
                    runbook.presets.iter().map(|(p, _)| p.clone()).collect();
                if !runbook.runs.is_empty() {
                    captures.push(format!("{} run", runbook.runs.len()));
                }
                if !runbook.queries.is_empty() {
                    captures.push(format!("{} query", runbook.queries.len()));
                }
                let export: Vec<&str> = runbook
                    .export
                    .iter()
                    .map(|e| match e {
                        RunbookExport::S3 => "s3",
                        RunbookExport::Incident => "incident",
                    })
                    .collect();
                outln!(
                    "{:<20} {:<40} {:<28} {:<24} {}",
                    runbook.name,
                    crate::runbook::criteria(runbook),
                    if targets.is_empty() {
                        "local".to_string()
                    } else {
                        targets.join(",")
                    },
                    captures.join(","),
                    if export.is_empty() {
                        "-".to_string()
                    } else {
                        export.join(",")
                    }
                );
            }
            ExitCode::SUCCESS
        }
        RunbooksCommand::Check => {
            let ssh_config = crate::ssh::SshConfig::load_default();
            let library = crate::preset::PresetLibrary::load(config.preset_dir.as_deref());
            let problems = crate::runbook::check(config, &ssh_config, &library);
            for problem in &problems {
                errln!("{problem}");
            }
            if problems.is_empty() {
                outln!("{} runbook(s) ok", config.runbooks.len());
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_USAGE)
            }
        }
    }
}
