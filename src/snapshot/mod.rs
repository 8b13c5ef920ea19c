//! The snapshot: a folder per capture that cat/less/grep can read.
//!
//! ```text
//! manifest.json        what ran where, statuses, sizes, SHA-256 (rewritten atomically as it goes)
//! journal.jsonl        timestamped chunk index and stream events, appended as they happen
//! journal.idx          the same events as fixed-size binary records, sealed at the end (a cache)
//! streams/ID.out|.err  raw (redacted) stdout and stderr of each stream
//! streams/ID.artifact   a file a step fetched from its target (`fetch = "PATH"`), byte-exact
//! ```
//! The journal makes the snapshot crash-safe: after a `kill -9` the reader rebuilds each
//! stream's state from it, and marks streams that never ended as interrupted.
pub mod archive;
pub mod artifact;
pub mod asciicast;
pub mod cleanup;
pub mod compress;
pub mod confined;
pub mod diskfull;
pub mod hashing; // SHA-256 of an output, on a helper thread once it is bulky
pub mod journal;
pub mod journal_index; // journal.idx: the journal in fixed-size records, for replay
pub mod manifest;
pub mod player; // playback: journal index, seek, chunk reads (used by replay)
pub mod private;
pub mod reader;
pub mod writer;

pub use manifest::{CaptureState, Manifest, OutputRecord, StreamRecord, StreamStatus};
pub use reader::{OpenedSnapshot, Snapshot, VerifyResult, open_folder_or_archive};
pub use writer::{OutputFile, SnapshotWriter};

/// Version of the manifest and journal format; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
pub const JOURNAL_FILE: &str = "journal.jsonl";
pub const STREAMS_DIR: &str = "streams";
