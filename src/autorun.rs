//! A runbook run without a person: plan → session → engine → export, as the runbook says.
//! Used by `casefile capture --incident ID` (no targets or presets) / `--runbook NAME` and by
//! `casefile watch`. No command-line or terminal types here: progress goes to a callback.
use crate::capture::{CaptureControl, Engine, Limits, LiveView};
use crate::config::{Config, Runbook, RunbookExport};
use crate::export::setup::{ExportChoice, S3Overrides, prepare_export};
use crate::export::{Destination, ExportReport};
use crate::pagerduty::{PagerDuty, PagerDutyError};
use crate::runbook::IncidentFacts;
use crate::session::CaptureOptions;
use std::{path::PathBuf, sync::Arc};
use tokio_util::sync::CancellationToken;

/// Why a runbook run stopped before a snapshot was written (nothing ran), or why no runbook.
#[derive(Debug, thiserror::Error)]
pub enum AutorunError {
    #[error("fetching incident {id}: {source}")]
    Incident {
        id: String,
        source: Box<PagerDutyError>,
    },
    #[error("no runbook matches incident {0} (see `casefile runbooks list`)")]
    NoRunbook(String),
    #[error("{0}")]
    Plan(String),
    #[error("setting up the capture: {0}")]
    Setup(String),
    #[error("finishing the snapshot failed: {0}")]
    Snapshot(std::io::Error),
}

/// What a run did. The snapshot exists; the export may have failed part-way.
#[derive(Debug)]
pub struct AutoCapture {
    pub runbook: String,
    pub snapshot: PathBuf,
    pub streams: usize,
    /// Streams that failed, timed out or were cancelled.
    pub incomplete: usize,
    /// `None` when the runbook exports nowhere.
    pub export: Option<ExportReport>,
    pub export_error: Option<String>,
}

/// The incident's facts from PagerDuty's REST API.
pub async fn fetch_facts(pagerduty: &PagerDuty, id: &str) -> Result<IncidentFacts, AutorunError> {
    let incident = pagerduty
        .get_incident(id)
        .await
        .map_err(|source| AutorunError::Incident {
            id: id.to_string(),
            source: Box::new(source),
        })?;
    Ok(IncidentFacts::from_pagerduty(&incident))
}

/// Builds a PagerDuty client from the config (may run a secret command: blocking).
pub async fn pagerduty_client(config: &Config) -> Result<PagerDuty, PagerDutyError> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || PagerDuty::from_config(&config))
        .await
        .map_err(|e| PagerDutyError::Config(format!("setup thread failed: {e}")))?
}

/// Runs `runbook` for `incident` into `options.out_dir`, then exports as it says. Cancelling
/// `cancel` stops every stream and still finishes the snapshot (and its export).
pub async fn run(
    config: &Config,
    runbook: &Runbook,
    incident: Option<&IncidentFacts>,
    options: &CaptureOptions,
    cancel: CancellationToken,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<AutoCapture, AutorunError> {
    let prepared = {
        let (config, runbook, incident, options) = (
            config.clone(),
            runbook.clone(),
            incident.cloned(),
            options.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let ssh_config = crate::ssh::SshConfig::load_default();
            let request =
                crate::runbook::plan_request(&runbook, incident.as_ref(), &config, &ssh_config)
                    .map_err(|e| AutorunError::Plan(e.to_string()))?;
            let library = if request.presets.is_empty() {
                crate::preset::PresetLibrary::default()
            } else {
                crate::preset::PresetLibrary::load(config.preset_dir.as_deref())
            };
            let plan = crate::planner::build_plan(&request, &library)
                .map_err(|e| AutorunError::Plan(format!("runbook `{}`: {e}", runbook.name)))?;
            crate::session::prepare(&config, plan, ssh_config, &options)
                .map_err(|failed| AutorunError::Setup(failed.to_string()))
        })
        .await
        .map_err(|e| AutorunError::Setup(format!("setup thread failed: {e}")))??
    };
    for warning in &prepared.warnings {
        progress(&format!("warning: {warning}"));
    }
    let crate::session::PreparedCapture {
        plan,
        runners,
        writer,
        ..
    } = prepared;
    let dir = writer.dir().to_path_buf();
    progress(&format!(
        "runbook `{}`: capturing {} streams into {}",
        runbook.name,
        plan.streams.len(),
        dir.display()
    ));
    let control = CaptureControl::new(plan.streams.len());
    let stopper = {
        let control = control.clone();
        tokio::spawn(async move {
            cancel.cancelled().await;
            control.cancel_all();
        })
    };
    let live = Arc::new(LiveView::new(plan.streams.len(), 16, 4 << 10));
    let engine = Engine {
        limits: Limits::new(config.concurrency, config.per_host),
    };
    let result = engine
        .run_with_runners(&plan, runners, writer, live, &control, None)
        .await;
    stopper.abort();
    let manifest = result.map_err(AutorunError::Snapshot)?;
    let mut outcome = AutoCapture {
        runbook: runbook.name.clone(),
        snapshot: dir.clone(),
        streams: manifest.streams.len(),
        incomplete: manifest.failures().count(),
        export: None,
        export_error: None,
    };
    if !runbook.export.is_empty() {
        match export(config, runbook, incident, dir, progress).await {
            Ok(report) => outcome.export = Some(report),
            Err((report, error)) => {
                outcome.export = report;
                outcome.export_error = Some(error);
            }
        }
    }
    Ok(outcome)
}

/// The runbook's `export`: `s3` → `destinations.s3`, `incident` → a note on the incident.
async fn export(
    config: &Config,
    runbook: &Runbook,
    incident: Option<&IncidentFacts>,
    snapshot: PathBuf,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<ExportReport, (Option<ExportReport>, String)> {
    let mut destinations = Vec::new();
    let mut note_on = None;
    for kind in &runbook.export {
        match kind {
            RunbookExport::S3 => {
                let text = config.destinations.s3.clone().unwrap_or_default();
                destinations.push(Destination::parse(&text).map_err(|e| (None, e))?);
            }
            RunbookExport::Incident => match incident {
                Some(facts) => note_on = Some(facts.id.clone()),
                None => progress("no incident: the note is skipped"),
            },
        }
    }
    if destinations.is_empty() && note_on.is_none() {
        return Ok(ExportReport::default());
    }
    let choice = ExportChoice {
        snapshot,
        destinations,
        incident: note_on,
        asciicast: None,
        gzip_level: 6,
        format: Default::default(),
    };
    let setup = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            prepare_export(&config, choice, &S3Overrides::default())
        })
        .await
        .map_err(|e| (None, format!("export setup thread failed: {e}")))?
        .map_err(|e| (None, e))?
    };
    crate::export::export(
        config,
        &setup.request,
        setup.pagerduty.as_ref(),
        None,
        &setup.extra_secrets,
        progress,
    )
    .await
    .map_err(|(report, error)| (Some(report), error.to_string()))
}
