//! `manifest.json`: the record of a capture.
use crate::model::{Incident, StreamSpec, Target};
use serde::{Deserialize, Serialize};

/// Where the capture as a whole stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureState {
    /// Being written (or the writer died: the reader then reports `Interrupted`).
    Running,
    Complete,
    /// Cancelled by the operator; what ran is kept.
    Cancelled,
    /// casefile stopped before finishing (crash, kill); found by the reader.
    Interrupted,
}

/// Where one stream stands. `Exited` covers any exit code: a non-zero exit is data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    Queued,
    Running,
    /// Ran to the end; see `exit_code` / `signal`.
    Exited,
    /// A tool the step needs is missing on the target (exit 127).
    NotAvailable,
    /// Not run on purpose (intrusive step without confirmation).
    Skipped,
    /// Could not run (spawn error, connection failure).
    Failed,
    TimedOut,
    Cancelled,
    /// casefile stopped while it ran; output up to that point is kept.
    Interrupted,
}

impl StreamStatus {
    /// True when the stream ended as planned (exit code is data, a skip was intended).
    pub fn ran_to_end(self) -> bool {
        matches!(
            self,
            StreamStatus::Exited | StreamStatus::NotAvailable | StreamStatus::Skipped
        )
    }

    pub fn is_final(self) -> bool {
        !matches!(self, StreamStatus::Queued | StreamStatus::Running)
    }

    pub fn label(self) -> &'static str {
        match self {
            StreamStatus::Queued => "queued",
            StreamStatus::Running => "running",
            StreamStatus::Exited => "done",
            StreamStatus::NotAvailable => "not available",
            StreamStatus::Skipped => "skipped",
            StreamStatus::Failed => "failed",
            StreamStatus::TimedOut => "timed out",
            StreamStatus::Cancelled => "cancelled",
            StreamStatus::Interrupted => "interrupted",
        }
    }
}

/// One output file of a stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// Relative to the snapshot folder.
    pub path: String,
    /// Bytes in the file (after redaction and the cap).
    pub bytes: u64,
    /// Bytes the target produced, including those dropped by the cap.
    pub received_bytes: u64,
    /// SHA-256 of the file; absent while running or when interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A stream's plan and its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    #[serde(flatten)]
    pub spec: StreamSpec,
    /// Target name, for readers that do not want to index `targets`.
    pub target_name: String,
    #[serde(flatten)]
    pub result: StreamResult,
}

/// What happened when a stream ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamResult {
    pub status: StreamStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub truncated: bool,
    /// Why the stream failed, was skipped or is not available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub stdout: OutputRecord,
    pub stderr: OutputRecord,
    /// A machine-readable copy of the output beside the text (database steps: JSON lines,
    /// `streams/ID.jsonl`). Absent for streams that have none, and in older snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<OutputRecord>,
    /// The file the step fetched from its target (`fetch`), byte-exact, with its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<OutputRecord>,
    /// Secrets replaced in this stream's output (and its recorded command).
    #[serde(default)]
    pub redactions: u64,
}

/// The whole `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub casefile_version: String,
    /// Folder name; also the id an export uses.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<Incident>,
    /// `user@host` of whoever ran the capture.
    pub operator: String,
    pub started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    pub state: CaptureState,
    pub targets: Vec<Target>,
    pub streams: Vec<StreamRecord>,
}

impl Manifest {
    /// Streams that did not run to their end (failed, timed out, cancelled, interrupted).
    pub fn failures(&self) -> impl Iterator<Item = &StreamRecord> {
        self.streams
            .iter()
            .filter(|s| !s.result.status.ran_to_end())
    }
}
