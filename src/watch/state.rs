//! The watcher's durable memory: webhook ids seen, and one job per incident (pending, running,
//! done). Written atomically (temp file 0600, fsync, rename) *before* a 202 goes out, so after
//! a crash or restart an accepted capture is still pending (it runs then) and a finished one
//! is never run again. A job that was running when the watcher died runs again from the start
//! (its first snapshot is incomplete; both stay on disk).
use crate::runbook::IncidentFacts;
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// Webhook ids older than this are forgotten (PagerDuty retries for about 20 minutes).
const KEEP_WEBHOOK_IDS: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Pending,
    Running,
    Done,
}

/// One incident's capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub status: JobStatus,
    pub accepted_at: u64,
    #[serde(default)]
    pub finished_at: Option<u64>,
    pub incident: IncidentFacts,
    /// Where it went, or why nothing ran.
    #[serde(default)]
    pub outcome: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    /// Webhook id → when it arrived (unix seconds).
    webhooks: BTreeMap<String, u64>,
    /// Incident id → its latest job.
    incidents: BTreeMap<String, Job>,
}

/// What happened to a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Queued,
    DuplicateWebhook,
    /// A capture for this incident is pending, running, or finished within the cooldown.
    DuplicateIncident,
}

impl Admission {
    pub fn label(self) -> &'static str {
        match self {
            Admission::Queued => "queued",
            Admission::DuplicateWebhook => "duplicate-webhook",
            Admission::DuplicateIncident => "duplicate-incident",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("watch state {path}: {source}")]
pub struct StateError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// The state file and its contents (one writer: the watcher holds it behind a mutex).
#[derive(Debug)]
pub struct State {
    path: PathBuf,
    file: StateFile,
    cooldown: Duration,
    /// Bumped on every change; the watcher's flusher writes and reports the version on disk.
    version: u64,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl State {
    /// Opens `dir/watch-state.json` (made 0700/0600), or starts empty.
    pub fn open(dir: &Path, cooldown: Duration) -> Result<State, StateError> {
        let path = dir.join("watch-state.json");
        let error = |source| StateError {
            path: path.clone(),
            source,
        };
        crate::snapshot::private::create_private_dir_all(dir).map_err(error)?;
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| error(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFile::default(),
            Err(e) => return Err(error(e)),
        };
        Ok(State {
            path,
            file,
            cooldown,
            version: 0,
        })
    }

    /// Jobs accepted but not finished (to run at start-up), oldest first.
    pub fn unfinished(&self) -> Vec<IncidentFacts> {
        let mut jobs: Vec<&Job> = self
            .file
            .incidents
            .values()
            .filter(|j| j.status != JobStatus::Done)
            .collect();
        jobs.sort_by_key(|j| j.accepted_at);
        jobs.into_iter().map(|j| j.incident.clone()).collect()
    }

    /// Decides on a delivery and, when it is new, records it durably before returning.
    pub fn admit(
        &mut self,
        webhook_id: Option<&str>,
        incident: &IncidentFacts,
        at: u64,
    ) -> Result<Admission, StateError> {
        let (admission, changed) = self.admit_unsaved(webhook_id, incident, at);
        if changed {
            self.save()?;
        }
        Ok(admission)
    }

    /// [`State::admit`] in memory only, and whether anything changed (then the caller makes it
    /// durable, e.g. by the watcher's flusher, which writes many admissions with one fsync).
    pub fn admit_unsaved(
        &mut self,
        webhook_id: Option<&str>,
        incident: &IncidentFacts,
        at: u64,
    ) -> (Admission, bool) {
        if let Some(id) = webhook_id {
            if self.file.webhooks.contains_key(id) {
                return (Admission::DuplicateWebhook, false);
            }
            self.file.webhooks.insert(id.to_string(), at);
        }
        let busy = self.file.incidents.get(&incident.id).is_some_and(|job| {
            job.status != JobStatus::Done
                || at.saturating_sub(job.accepted_at) < self.cooldown.as_secs()
        });
        let admission = if busy {
            Admission::DuplicateIncident
        } else {
            self.file.incidents.insert(
                incident.id.clone(),
                Job {
                    status: JobStatus::Pending,
                    accepted_at: at,
                    finished_at: None,
                    incident: incident.clone(),
                    outcome: None,
                },
            );
            Admission::Queued
        };
        let keep_after = at.saturating_sub(KEEP_WEBHOOK_IDS.as_secs());
        self.file.webhooks.retain(|_, seen| *seen >= keep_after);
        let changed = webhook_id.is_some() || admission == Admission::Queued;
        if changed {
            self.version += 1;
        }
        (admission, changed)
    }

    /// The current version and its bytes, to write with [`write_file`].
    pub fn encode(&self) -> Result<(u64, PathBuf, Vec<u8>), StateError> {
        let bytes = serde_json::to_vec(&self.file).map_err(|e| StateError {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        Ok((self.version, self.path.clone(), bytes))
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Marks a job running or done, durably.
    pub fn set(
        &mut self,
        incident: &str,
        status: JobStatus,
        outcome: Option<String>,
    ) -> Result<(), StateError> {
        self.set_unsaved(incident, status, outcome);
        self.save()
    }

    /// [`State::set`] in memory only (returns the new version).
    pub fn set_unsaved(
        &mut self,
        incident: &str,
        status: JobStatus,
        outcome: Option<String>,
    ) -> u64 {
        if let Some(job) = self.file.incidents.get_mut(incident) {
            job.status = status;
            if status == JobStatus::Done {
                job.finished_at = Some(now());
                job.outcome = outcome;
            }
        }
        self.version += 1;
        self.version
    }

    fn save(&self) -> Result<(), StateError> {
        let (_, path, bytes) = self.encode()?;
        write_file(&path, &bytes)
    }
}

/// Temp file (0600) in the same folder, fsync, rename over: never a half-written state.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let error = |source| StateError {
        path: path.to_path_buf(),
        source,
    };
    let temp = path.with_extension("json.tmp");
    let mut file = crate::snapshot::private::create_private_file(&temp).map_err(error)?;
    file.write_all(bytes).map_err(error)?;
    file.sync_all().map_err(error)?;
    std::fs::rename(&temp, path).map_err(error)?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn facts(id: &str) -> IncidentFacts {
        IncidentFacts {
            id: id.into(),
            ..IncidentFacts::default()
        }
    }

    #[test]
    fn dedupes_webhooks_and_incidents_across_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let mut state = State::open(dir.path(), Duration::from_secs(600)).expect("open");
        assert_eq!(
            state.admit(Some("w1"), &facts("P1"), 1000).expect("admit"),
            Admission::Queued
        );
        assert_eq!(
            state.admit(Some("w1"), &facts("P1"), 1001).expect("admit"),
            Admission::DuplicateWebhook
        );
        assert_eq!(
            state.admit(Some("w2"), &facts("P1"), 1002).expect("admit"),
            Admission::DuplicateIncident
        );
        assert_eq!(
            state.admit(Some("w3"), &facts("P2"), 1003).expect("admit"),
            Admission::Queued
        );
        state.set("P2", JobStatus::Done, None).expect("done");
        let mode = std::fs::metadata(dir.path().join("watch-state.json"))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A restart: P1 is still pending (it will run), P2 is done (it will not).
        let mut state = State::open(dir.path(), Duration::from_secs(600)).expect("reopen");
        assert_eq!(state.unfinished(), vec![facts("P1")]);
        assert_eq!(
            state.admit(Some("w1"), &facts("P1"), 1100).expect("admit"),
            Admission::DuplicateWebhook
        );
        assert_eq!(
            state.admit(None, &facts("P2"), 1200).expect("admit"),
            Admission::DuplicateIncident,
            "within the cooldown"
        );
        assert_eq!(
            state.admit(None, &facts("P2"), 1003 + 600).expect("admit"),
            Admission::Queued,
            "after the cooldown"
        );
    }
}
