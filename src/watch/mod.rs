//! `casefile watch`: PagerDuty v3 webhooks (and/or polling the REST API) start the incident's
//! runbook headless. Every delivery is checked (signature, size, body), de-duplicated durably
//! (webhook id, one capture per incident per cooldown: see [`state`]), answered 202 at once and
//! queued; a bounded queue and a concurrency limit keep a storm from overrunning the host.
//! SIGTERM stops accepting, lets running captures finish; queued ones stay pending in the state
//! file and run at the next start. One JSON log line per delivery and per capture on stderr.
pub mod event;
pub mod lock;
mod poll;
mod server;
pub mod signature;
pub mod state;
mod tls;

use crate::config::Config;
use crate::runbook::IncidentFacts;
use state::{Admission, JobStatus, State};
use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Largest body accepted (PagerDuty's best-effort limit); larger gets 413.
pub const MAX_BODY: usize = 256 * 1024;

/// What the front end chose.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub listen: Option<SocketAddr>,
    /// Serve HTTPS with these files instead of plain HTTP.
    pub tls: Option<crate::config::TlsFiles>,
    pub poll: Option<Duration>,
    pub out_dir: PathBuf,
    pub state_dir: PathBuf,
}

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What the HTTP handlers and the poller share.
pub(crate) struct Shared {
    config: Config,
    secret: Option<crate::secret::SecretValue>,
    state: Mutex<State>,
    /// Poked after each change of `state`; the flusher writes it (one fsync for many changes).
    dirty: tokio::sync::Notify,
    /// The state version on disk.
    durable: tokio::sync::watch::Sender<u64>,
    queue: mpsc::Sender<IncidentFacts>,
    queued: AtomicUsize,
    running: AtomicUsize,
    draining: CancellationToken,
}

/// One JSON line on stderr (sanitised like every other line).
pub(crate) fn log(line: serde_json::Value) {
    errln!("{}", crate::sanitize::json(&line.to_string()));
}

impl Shared {
    /// Admits a delivery: durable record first, then the queue. `Err` = the queue is full
    /// (the caller answers 429, so PagerDuty retries later; nothing was recorded), or the state
    /// could not be written in time (503; the capture is queued anyway and a retry of the same
    /// webhook is a duplicate, so nothing is lost or run twice while casefile keeps running).
    pub(crate) async fn admit(
        &self,
        webhook_id: Option<&str>,
        incident: &IncidentFacts,
    ) -> Result<Admission, AdmitError> {
        let permit = self
            .queue
            .try_reserve()
            .map_err(|_| AdmitError::QueueFull)?;
        let (admission, changed, version) = {
            let mut state = self.state.lock().map_err(|_| AdmitError::Poisoned)?;
            let (admission, changed) = state.admit_unsaved(webhook_id, incident, state::now());
            (admission, changed, state.version())
        };
        let durable = if changed {
            self.wait_durable(version).await
        } else {
            Ok(())
        };
        if admission == Admission::Queued {
            self.queued.fetch_add(1, Ordering::SeqCst);
            permit.send(incident.clone());
        }
        durable.map(|()| admission)
    }

    /// Waits until the flusher has written `version` (at most 3 s).
    async fn wait_durable(&self, version: u64) -> Result<(), AdmitError> {
        self.dirty.notify_one();
        let mut on_disk = self.durable.subscribe();
        tokio::time::timeout(Duration::from_secs(3), on_disk.wait_for(|v| *v >= version))
            .await
            .map(|_| ())
            .map_err(|_| AdmitError::NotDurable)
    }

    async fn set(&self, incident: &str, status: JobStatus, outcome: Option<String>) {
        let version = match self.state.lock() {
            Ok(mut state) => state.set_unsaved(incident, status, outcome),
            Err(_) => return,
        };
        if self.wait_durable(version).await.is_err() {
            log(
                serde_json::json!({"kind": "error", "incident": incident, "error": "the state file was not written"}),
            );
        }
    }
}

/// Writes the state whenever it changed: admissions that arrive together share one fsync.
async fn flusher(shared: Arc<Shared>) {
    loop {
        shared.dirty.notified().await;
        let encoded = match shared.state.lock() {
            Ok(state) => state.encode(),
            Err(_) => return,
        };
        let result = match encoded {
            Ok((version, path, bytes)) => tokio::task::spawn_blocking(move || {
                state::write_file(&path, &bytes).map(|()| version)
            })
            .await
            .unwrap_or_else(|e| {
                Err(state::StateError {
                    path: PathBuf::new(),
                    source: std::io::Error::other(e),
                })
            }),
            Err(e) => Err(e),
        };
        match result {
            Ok(version) => {
                shared.durable.send_replace(version);
            }
            Err(e) => log(serde_json::json!({"kind": "error", "error": e.to_string()})),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum AdmitError {
    #[error("the queue is full")]
    QueueFull,
    #[error("the state lock is poisoned")]
    Poisoned,
    #[error("the state file was not written in time")]
    NotDurable,
}

/// Runs until SIGTERM/SIGINT, then drains the captures in progress.
pub async fn run(config: Config, options: WatchOptions) -> Result<(), WatchError> {
    if options.listen.is_none() && options.poll.is_none() {
        return Err(WatchError::Config(
            "nothing to watch: give --listen ADDR:PORT (webhooks) and/or --poll 30s".into(),
        ));
    }
    if config.runbooks.is_empty() {
        return Err(WatchError::Config(
            "casefile.toml has no [[runbooks]]: the watcher would have nothing to run".into(),
        ));
    }
    // Found now, not when the first page arrives at night: unknown presets or targets.
    let problems = crate::runbook::check(
        &config,
        &crate::ssh::SshConfig::load_default(),
        &crate::preset::PresetLibrary::load(config.preset_dir.as_deref()),
    );
    if !problems.is_empty() {
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(WatchError::Config(format!(
            "the runbooks do not check (see `casefile runbooks check`):\n{}",
            listed.join("\n")
        )));
    }
    let secret = match (&options.listen, &config.watch.webhook_secret) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(WatchError::Config(
                "--listen needs the webhook signing secret: set [watch] webhook_secret = \"NAME\" and [secrets.NAME]".into(),
            ));
        }
        (Some(_), Some(name)) => {
            let reference = config.secrets.get(name).ok_or_else(|| {
                WatchError::Config(format!(
                    "watch.webhook_secret names `{name}`, which is not defined"
                ))
            })?;
            Some(
                reference
                    .resolve(name)
                    .map_err(|e| WatchError::Config(e.to_string()))?,
            )
        }
    };
    // SIGTERM drains (below): the temp-folder cleanup must not terminate the process itself.
    crate::snapshot::cleanup::app_handles_signals();
    let state = State::open(&options.state_dir, config.watch.cooldown)?;
    let unfinished = state.unfinished();
    let (queue, mut jobs) = mpsc::channel(config.watch.queue.max(unfinished.len()));
    let shared = Arc::new(Shared {
        secret,
        state: Mutex::new(state),
        dirty: tokio::sync::Notify::new(),
        durable: tokio::sync::watch::Sender::new(0),
        queue,
        queued: AtomicUsize::new(0),
        running: AtomicUsize::new(0),
        draining: CancellationToken::new(),
        config,
    });
    // Accepted before a restart: they run now (their state says pending or running).
    for incident in unfinished {
        log(serde_json::json!({"kind": "resume", "incident": incident.id}));
        shared.queued.fetch_add(1, Ordering::SeqCst);
        let _ = shared.queue.try_send(incident);
    }
    let mut tasks = tokio::task::JoinSet::new();
    // Not in `tasks`: it must outlive the drain (each capture's end is written by it).
    let flush = tokio::spawn(flusher(Arc::clone(&shared)));
    let tls = match (&options.listen, &options.tls) {
        (Some(_), Some(files)) => Some(tls::acceptor(files).map_err(WatchError::Config)?),
        _ => None,
    };
    if let Some(addr) = options.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| WatchError::Listen { addr, source })?;
        let bound = listener.local_addr().unwrap_or(addr);
        let scheme = if tls.is_some() { "https" } else { "http" };
        log(serde_json::json!({"kind": "listening", "addr": bound.to_string(), "scheme": scheme}));
        tasks.spawn(server::serve(listener, Arc::clone(&shared), tls));
    }
    if let Some(every) = options.poll {
        tasks.spawn(poll::poll(every, Arc::clone(&shared)));
    }
    let stop = Arc::clone(&shared);
    tokio::spawn(async move {
        wait_for_stop().await;
        log(
            serde_json::json!({"kind": "draining", "running": stop.running.load(Ordering::SeqCst)}),
        );
        stop.draining.cancel();
    });
    // The dispatcher: at most `concurrency` captures at once; stops taking jobs on SIGTERM.
    let limit = Arc::new(tokio::sync::Semaphore::new(shared.config.watch.concurrency));
    let mut captures = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            _ = shared.draining.cancelled() => break,
            permit = Arc::clone(&limit).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let incident = tokio::select! {
            _ = shared.draining.cancelled() => break,
            job = jobs.recv() => match job {
                Some(job) => job,
                None => break,
            },
        };
        shared.queued.fetch_sub(1, Ordering::SeqCst);
        let shared = Arc::clone(&shared);
        let out_dir = options.out_dir.clone();
        captures.spawn(async move {
            capture(&shared, incident, out_dir).await;
            drop(permit);
        });
    }
    tasks.abort_all();
    while captures.join_next().await.is_some() {}
    flush.abort();
    log(serde_json::json!({"kind": "stopped"}));
    Ok(())
}

/// Runs the incident's runbook and records the outcome.
async fn capture(shared: &Shared, incident: IncidentFacts, out_dir: PathBuf) {
    shared.running.fetch_add(1, Ordering::SeqCst);
    let started = std::time::Instant::now();
    shared.set(&incident.id, JobStatus::Running, None).await;
    let config = &shared.config;
    let line = match crate::runbook::select(&config.runbooks, &incident) {
        None => {
            let outcome = "no runbook matches".to_string();
            shared
                .set(&incident.id, JobStatus::Done, Some(outcome.clone()))
                .await;
            serde_json::json!({"kind": "capture", "incident": incident.id, "outcome": outcome})
        }
        Some(runbook) => 'run: {
            match lock::claim(config, &incident.id, &crate::session::operator()).await {
                lock::Claim::Won => {}
                lock::Claim::HeldElsewhere => {
                    let outcome = "captured by another watcher (S3 lock)".to_string();
                    shared
                        .set(&incident.id, JobStatus::Done, Some(outcome))
                        .await;
                    break 'run serde_json::json!({"kind": "capture", "incident": incident.id, "runbook": runbook.name, "outcome": "locked-elsewhere"});
                }
                lock::Claim::Unknown(error) => log(serde_json::json!({
                    "kind": "lock", "incident": incident.id, "outcome": "unknown", "error": error,
                })),
            }
            let options = crate::session::CaptureOptions {
                out_dir,
                accept_new: false,
            };
            let progress = |_: &str| {};
            let result = crate::autorun::run(
                config,
                runbook,
                Some(&incident),
                &options,
                CancellationToken::new(),
                &progress,
            )
            .await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            match result {
                Ok(done) => {
                    let snapshot = done.snapshot.display().to_string();
                    shared
                        .set(&incident.id, JobStatus::Done, Some(snapshot.clone()))
                        .await;
                    serde_json::json!({
                        "kind": "capture", "incident": incident.id, "runbook": runbook.name,
                        "outcome": if done.incomplete == 0 && done.export_error.is_none() { "ok" } else { "incomplete" },
                        "snapshot": snapshot, "streams": done.streams, "incomplete": done.incomplete,
                        "s3": done.export.as_ref().map(|r| r.s3.iter().map(|s| s.archive.url()).collect::<Vec<_>>()),
                        "note": done.export.as_ref().is_some_and(|r| r.note.is_some()),
                        "export_error": done.export_error, "elapsed_ms": elapsed_ms,
                    })
                }
                Err(e) => {
                    shared
                        .set(&incident.id, JobStatus::Done, Some(format!("failed: {e}")))
                        .await;
                    serde_json::json!({
                        "kind": "capture", "incident": incident.id, "runbook": runbook.name,
                        "outcome": "failed", "error": e.to_string(), "elapsed_ms": elapsed_ms,
                    })
                }
            }
        }
    };
    log(line);
    shared.running.fetch_sub(1, Ordering::SeqCst);
}

/// SIGTERM (systemd stopping the service) or Ctrl-C.
async fn wait_for_stop() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

/// `$XDG_STATE_HOME/casefile` (else the data dir), where the dedupe state lives by default.
pub fn default_state_dir() -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::data_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("casefile")
}
