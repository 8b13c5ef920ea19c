//! Runs an export chosen on the Export screen in the background: the same `crate::export::export`
//! as `casefile export`, with its progress lines and the bytes the store has acknowledged sent to
//! the app loop, so the screen shows progress and the app never blocks.
use crate::config::Config;
use crate::export::setup::{ExportChoice, ExportSetup, S3Overrides, prepare_export};
use crate::export::{Destination, ExportReport};
use crate::s3::{S3Location, S3Uploader};
use crate::tui::app::AppEvent;
use crate::tui::screens::export::{ExportJob, ExportOutcome};
use std::time::Duration;
use tokio::sync::mpsc;

/// How often the upload counter is reported.
const UPLOAD_REPORT_EVERY: Duration = Duration::from_millis(250);

/// Runs `job` and reports its end as [`AppEvent::ExportFinished`].
pub fn spawn(config: Config, job: ExportJob, tx: mpsc::Sender<AppEvent>) {
    tokio::spawn(async move {
        let outcome = run(&config, &job, &tx).await;
        let _ = tx.send(AppEvent::ExportFinished(outcome)).await;
    });
}

fn failed(message: impl ToString) -> ExportOutcome {
    ExportOutcome {
        report: ExportReport::default(),
        error: Some(message.to_string()),
    }
}

async fn run(config: &Config, job: &ExportJob, tx: &mpsc::Sender<AppEvent>) -> ExportOutcome {
    let mut destinations = Vec::new();
    if let Some(dir) = &job.archive_dir {
        destinations.push(Destination::Dir(dir.clone()));
    }
    if let Some(url) = &job.s3 {
        match S3Location::parse(url) {
            Ok(location) => destinations.push(Destination::S3(location)),
            Err(e) => return failed(format!("destinations.s3: {e}")),
        }
    }
    let choice = ExportChoice {
        snapshot: job.snapshot.clone(),
        destinations,
        incident: job.incident.clone(),
        asciicast: None,
        gzip_level: 6,
        format: Default::default(),
    };
    // The PagerDuty token may come from a secret command: resolved on a blocking thread.
    let setup_config = config.clone();
    let setup = tokio::task::spawn_blocking(move || {
        prepare_export(&setup_config, choice, &S3Overrides::default())
    })
    .await
    .unwrap_or_else(|e| Err(format!("preparing the export failed: {e}")));
    let ExportSetup {
        request,
        pagerduty,
        extra_secrets,
    } = match setup {
        Ok(setup) => setup,
        Err(e) => return failed(e),
    };
    let mut uploader = None;
    if job.s3.is_some() {
        match S3Uploader::from_env(request.s3.clone()).await {
            Ok(u) => uploader = Some(u),
            Err(e) => return failed(e),
        }
    }
    let counter = uploader.clone().map(|u| {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(UPLOAD_REPORT_EVERY);
            loop {
                every.tick().await;
                // A full channel only delays the next figure.
                let _ = tx.try_send(AppEvent::ExportUploaded(u.bytes_acknowledged()));
            }
        })
    });
    let progress = |line: &str| {
        tracing::info!("export: {line}");
        let _ = tx.try_send(AppEvent::ExportProgress(line.to_string()));
    };
    let result = crate::export::export(
        config,
        &request,
        pagerduty.as_ref(),
        uploader.as_ref(),
        &extra_secrets,
        &progress,
    )
    .await;
    if let Some(counter) = counter {
        counter.abort();
    }
    match result {
        Ok(report) => ExportOutcome {
            report,
            error: None,
        },
        Err((report, error)) => ExportOutcome {
            report,
            error: Some(error.to_string()),
        },
    }
}
