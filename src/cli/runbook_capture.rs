//! `casefile capture --incident ID` (no targets, presets or steps, a PagerDuty token set) and
//! `casefile capture --runbook NAME [--incident ID]`: the runbook picks the plan and the export.
use super::{CaptureArgs, usage_error, wait_for_interrupt};
use crate::autorun::{AutoCapture, AutorunError};
use crate::config::Config;
use crate::exit::EXIT_INCOMPLETE;
use crate::runbook::IncidentFacts;
use std::process::ExitCode;

/// True when the runbook picks the plan: `--runbook`, or `--incident` alone with a token.
pub(super) fn applies(config: &Config, args: &CaptureArgs) -> bool {
    let nothing_picked = args.targets.is_empty()
        && args.presets.is_empty()
        && args.runs.is_empty()
        && args.queries.is_empty();
    args.runbook.is_some()
        || (nothing_picked
            && args.incident.is_some()
            && crate::incidents::pagerduty_configured(config))
}

pub(super) async fn run(config: &Config, args: CaptureArgs) -> ExitCode {
    if !(args.targets.is_empty()
        && args.presets.is_empty()
        && args.runs.is_empty()
        && args.queries.is_empty())
    {
        return usage_error(
            "--runbook picks the targets and steps: drop --target/--preset/--run/--query, or drop --runbook",
        );
    }
    // The incident's facts: from PagerDuty when a token is set, else just its id.
    let facts = match &args.incident {
        None => None,
        Some(id) if crate::incidents::pagerduty_configured(config) => {
            let client = match crate::autorun::pagerduty_client(config).await {
                Ok(c) => c,
                Err(e) => return usage_error(e),
            };
            match crate::autorun::fetch_facts(&client, id.as_str()).await {
                Ok(facts) => Some(facts),
                Err(e) => return usage_error(e),
            }
        }
        Some(id) => Some(IncidentFacts {
            id: id.to_string(),
            ..IncidentFacts::default()
        }),
    };
    let runbook = match (&args.runbook, &facts) {
        (Some(name), _) => crate::runbook::by_name(&config.runbooks, name),
        (None, Some(facts)) => crate::runbook::select(&config.runbooks, facts)
            .ok_or_else(|| AutorunError::NoRunbook(facts.id.clone()).to_string()),
        (None, None) => Err("give --incident ID or --runbook NAME".to_string()),
    };
    let runbook = match runbook {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    errln!("casefile: incident → runbook `{}`", runbook.name);
    let options = crate::session::CaptureOptions {
        out_dir: args.out.unwrap_or_else(|| config.capture_dir.clone()),
        accept_new: args.accept_new,
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    // A signal stops the streams, then the snapshot is finished and exported: not a kill.
    crate::snapshot::cleanup::app_handles_signals();
    let interrupt = wait_for_interrupt();
    let stop = cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        interrupt.await;
        errln!("casefile: interrupted: stopping every stream and finishing the snapshot");
        stop.cancel();
    });
    let progress = |line: &str| errln!("casefile: {line}");
    let result =
        crate::autorun::run(config, runbook, facts.as_ref(), &options, cancel, &progress).await;
    ctrl_c.abort();
    match result {
        Ok(outcome) => report(&outcome, args.json),
        Err(e @ (AutorunError::Plan(_) | AutorunError::Setup(_))) => usage_error(e),
        Err(e) => {
            errln!("casefile: {e}");
            ExitCode::from(EXIT_INCOMPLETE)
        }
    }
}

fn report(outcome: &AutoCapture, json: bool) -> ExitCode {
    if json {
        let export = outcome
            .export
            .as_ref()
            .map(|r| super::export::report_json(r, outcome.export_error.clone()));
        let summary = serde_json::json!({
            "snapshot": outcome.snapshot.display().to_string(),
            "runbook": outcome.runbook,
            "streams": outcome.streams,
            "incomplete": outcome.incomplete,
            "export": export,
            "export_error": outcome.export_error,
        });
        outln!("{}", crate::sanitize::json(&summary.to_string()));
    } else {
        outln!("{}", outcome.snapshot.display());
        if let Some(report) = &outcome.export {
            for s3 in &report.s3 {
                outln!("{}", s3.archive.url());
            }
            if let Some(note) = &report.note {
                match note {
                    crate::export::NoteOutcome::Created { incident, .. } => {
                        outln!("note added to incident {incident}")
                    }
                    crate::export::NoteOutcome::AlreadyPresent { incident, .. } => {
                        outln!("note already on incident {incident}")
                    }
                }
            }
        }
    }
    if let Some(error) = &outcome.export_error {
        errln!("casefile: export failed: {error}");
    }
    if outcome.incomplete > 0 || outcome.export_error.is_some() {
        ExitCode::from(EXIT_INCOMPLETE)
    } else {
        ExitCode::SUCCESS
    }
}
