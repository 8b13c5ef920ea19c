//! A file fetched from a target by a step (`fetch = "PATH"`: a pcap, a heap dump, a core), kept
//! byte-exact next to the step's output: no redaction (it is binary), capped at the step's
//! `max_bytes`, SHA-256 recorded in the manifest like stdout and stderr.
use super::manifest::OutputRecord;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Write};

pub struct ArtifactFile {
    file: File,
    relative_path: String,
    hasher: Sha256,
    written: u64,
    received: u64,
    cap: Option<u64>,
    truncated: bool,
    disk: std::sync::Arc<super::diskfull::DiskGuard>,
}

impl ArtifactFile {
    pub fn new(
        file: File,
        relative_path: String,
        cap: Option<u64>,
        disk: std::sync::Arc<super::diskfull::DiskGuard>,
    ) -> ArtifactFile {
        ArtifactFile {
            file,
            relative_path,
            hasher: Sha256::new(),
            written: 0,
            received: 0,
            cap,
            truncated: false,
            disk,
        }
    }

    /// Appends bytes as they arrive, up to the cap.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.received += data.len() as u64;
        let mut len = data.len();
        if let Some(cap) = self.cap {
            let room = cap.saturating_sub(self.written) as usize;
            if len > room {
                len = room;
                self.truncated = true;
            }
        }
        if len > 0 {
            if self.disk.is_full() {
                return Err(self.disk.refusal(&self.relative_path));
            }
            self.file
                .write_all(&data[..len])
                .map_err(|e| self.disk.on_error(e, &self.relative_path))?;
            self.hasher.update(&data[..len]);
            self.written += len as u64;
        }
        Ok(())
    }

    /// Closes the file: its record (with SHA-256) and whether the cap cut it.
    pub fn finish(mut self) -> io::Result<(OutputRecord, bool)> {
        self.file.flush()?;
        self.file.sync_data()?;
        let record = OutputRecord {
            path: self.relative_path,
            bytes: self.written,
            received_bytes: self.received,
            sha256: Some(hex::encode(self.hasher.finalize())),
        };
        Ok((record, self.truncated))
    }
}
