//! `casefile doctor [--json] [--only KIND,…] [--timeout D]`: the checks of [`crate::doctor`],
//! one line each on stdout (or one JSON object), then a count. Exit 0 when nothing failed,
//! 1 when a check failed (the config's own check included), 2 for a usage error.
use crate::doctor::{DoctorOptions, Kind, Report, Status};
use crate::exit::{EXIT_INCOMPLETE, EXIT_USAGE};
use crate::model::HumanDuration;
use clap::Args;
use std::{path::Path, process::ExitCode};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print one JSON object: {"ok": bool, "checks": [{name, target, status, detail, fix}]}
    #[arg(long)]
    pub json: bool,
    /// Run only these checks (comma-separated): config, secrets, ssh, db, s3, pagerduty, capture_dir
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub only: Vec<String>,
    /// How long each network check may take (default 10s)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<HumanDuration>,
}

pub async fn run(config: Option<&Path>, args: &DoctorArgs) -> ExitCode {
    let only = match args
        .only
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| Kind::parse(s))
        .collect::<Result<Vec<Kind>, String>>()
    {
        Ok(only) => only,
        Err(e) => {
            errln!("casefile: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let options = DoctorOptions {
        config: config.map(Path::to_path_buf),
        only,
        timeout: args.timeout.map_or(crate::doctor::DEFAULT_TIMEOUT, |t| t.0),
        ..DoctorOptions::default()
    };
    let report = crate::doctor::run(&options).await;
    if args.json {
        print_json(&report);
    } else {
        print_text(&report);
    }
    if report.failed() {
        ExitCode::from(EXIT_INCOMPLETE)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_json(report: &Report) {
    let value = serde_json::json!({
        "ok": !report.failed(),
        "checks": report.checks,
    });
    match serde_json::to_string_pretty(&value) {
        Ok(text) => outln!("{text}"),
        Err(e) => errln!("casefile: cannot write the report as JSON: {e}"),
    }
}

/// `ok   ssh         web1: user@host:22: reachable, host key known, logged in`, and for a
/// failure the fix on the same line.
fn print_text(report: &Report) {
    for check in &report.checks {
        let fix = match (&check.fix, check.status) {
            (Some(fix), Status::Fail) => format!(" — fix: {fix}"),
            _ => String::new(),
        };
        // A multi-line detail (a config error's hint) stays on this check's one line.
        let detail = check.detail.replace('\n', " ");
        outln!(
            "{:<4} {:<11} {}: {detail}{fix}",
            check.status.as_str(),
            check.kind.as_str(),
            check.target
        );
    }
    outln!(
        "{} ok, {} failed, {} skipped",
        report.count(Status::Ok),
        report.count(Status::Fail),
        report.count(Status::Skip)
    );
}
