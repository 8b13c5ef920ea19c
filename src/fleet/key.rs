//! What makes two streams of a step "the same": their outcome (status, exit code, signal,
//! truncation) and the SHA-256 of their stdout, stderr and failure reason. Exit status is part
//! of the key because two hosts that print the same thing but exit differently are not alike.
//!
//! Exact mode takes the hashes the manifest recorded as the bytes went to disk (no file is
//! read; a stream without a recorded hash, e.g. interrupted, is hashed from its file). Shape
//! mode reads each output once and hashes its masked form ([`super::shape`]).
use super::read::{self, Output, ReadError};
use super::shape::{self, ShapeHasher};
use crate::snapshot::StreamRecord;
use sha2::{Digest as _, Sha256};
use std::path::Path;

/// How outputs are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FoldMode {
    /// Byte for byte (the recorded SHA-256).
    #[default]
    Exact,
    /// With volatile tokens masked (numbers, hex ids, UUIDs, addresses, times).
    Shape,
}

/// The identity of a stream's result within its step; equal keys fold into one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FoldKey {
    status: u8,
    exit_code: Option<i32>,
    signal: Option<i32>,
    truncated: bool,
    stdout: [u8; 32],
    stderr: [u8; 32],
    reason: [u8; 32],
}

/// One finished stream, ready for [`super::Folder::add`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldItem {
    /// Index of the stream in the manifest (and the plan).
    pub stream: usize,
    pub target: String,
    pub preset: String,
    pub step: String,
    pub key: FoldKey,
    /// Bytes of stdout.
    pub bytes: u64,
    /// SHA-256 of stdout (hex), as recorded, or computed in exact mode when none was.
    pub sha256: Option<String>,
}

/// A stream whose key could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum FoldError {
    /// `stream` is `TARGET PRESET/STEP`.
    #[error("cannot fold {stream}: {source}")]
    Read {
        stream: String,
        source: Box<ReadError>,
    },
}

impl FoldItem {
    /// The item for stream `index` (`stream` = `manifest.streams[index]`) of the snapshot in
    /// `dir`. Exact mode reads a file only when no hash was recorded; shape mode reads both
    /// outputs. Blocking: a live view calls it off its UI loop.
    pub fn from_record(
        mode: FoldMode,
        dir: &Path,
        index: usize,
        stream: &StreamRecord,
    ) -> Result<FoldItem, FoldError> {
        let wrap = |source| FoldError::Read {
            stream: format!(
                "{} {}/{}",
                stream.target_name, stream.spec.preset, stream.spec.step
            ),
            source: Box::new(source),
        };
        let digest = |output| output_digest(mode, dir, index, stream, output).map_err(wrap);
        let (stdout, stdout_hex) = digest(Output::Stdout)?;
        let (stderr, _) = digest(Output::Stderr)?;
        let reason = stream
            .result
            .reason
            .as_deref()
            .unwrap_or_default()
            .as_bytes();
        let reason = match mode {
            FoldMode::Exact => Sha256::digest(reason).into(),
            FoldMode::Shape => shape::shape_digest(reason),
        };
        let result = &stream.result;
        Ok(FoldItem {
            stream: index,
            target: stream.target_name.clone(),
            preset: stream.spec.preset.clone(),
            step: stream.spec.step.clone(),
            key: FoldKey {
                status: result.status as u8,
                exit_code: result.exit_code,
                signal: result.signal,
                truncated: result.truncated,
                stdout,
                stderr,
                reason,
            },
            bytes: result.stdout.bytes,
            sha256: result.stdout.sha256.clone().or(stdout_hex),
        })
    }
}

impl FoldItem {
    /// As [`FoldItem::from_record`], from what a live capture has when a stream ends: its plan
    /// entry, its target's name and the result (`StreamEvent::Ended`). Blocking.
    pub fn from_result(
        mode: FoldMode,
        dir: &Path,
        index: usize,
        spec: &crate::model::StreamSpec,
        target_name: &str,
        result: &crate::snapshot::manifest::StreamResult,
    ) -> Result<FoldItem, FoldError> {
        let record = StreamRecord {
            spec: spec.clone(),
            target_name: target_name.to_string(),
            result: result.clone(),
        };
        FoldItem::from_record(mode, dir, index, &record)
    }
}

/// The digest of one output for `mode`, plus its plain SHA-256 (hex) when it was computed here.
fn output_digest(
    mode: FoldMode,
    dir: &Path,
    index: usize,
    stream: &StreamRecord,
    output: Output,
) -> Result<([u8; 32], Option<String>), ReadError> {
    match mode {
        FoldMode::Exact => {
            if let Some(digest) = output
                .record(stream)
                .sha256
                .as_deref()
                .and_then(decode_sha256)
            {
                return Ok((digest, None));
            }
            let mut hasher = Sha256::new();
            read::for_each_block(dir, index, stream, output, |block| hasher.update(block))?;
            let digest: [u8; 32] = hasher.finalize().into();
            Ok((digest, Some(hex::encode(digest))))
        }
        FoldMode::Shape => {
            let mut hasher = ShapeHasher::new();
            read::for_each_block(dir, index, stream, output, |block| hasher.update(block))?;
            Ok((hasher.finish(), None))
        }
    }
}

/// A recorded hash as bytes; anything but 64 hex digits counts as not recorded.
fn decode_sha256(text: &str) -> Option<[u8; 32]> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(text, &mut digest).ok()?;
    Some(digest)
}

impl FoldKey {
    /// What differs between two keys, for people: `status`, `exit code`, `signal`,
    /// `truncated`, `stdout`, `stderr`, `reason` (empty when the keys are equal).
    pub fn differences(&self, other: &FoldKey) -> Vec<&'static str> {
        let checks = [
            ("status", self.status != other.status),
            ("exit code", self.exit_code != other.exit_code),
            ("signal", self.signal != other.signal),
            ("truncated", self.truncated != other.truncated),
            ("stdout", self.stdout != other.stdout),
            ("stderr", self.stderr != other.stderr),
            ("reason", self.reason != other.reason),
        ];
        checks
            .into_iter()
            .filter(|(_, differs)| *differs)
            .map(|(what, _)| what)
            .collect()
    }
}
