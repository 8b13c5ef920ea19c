//! Reading a stream's output files for folding and diffing, only through the confined opener:
//! a hostile manifest cannot make `show --group` or `diff` read outside the snapshot.
use crate::snapshot::confined::{ConfinedError, entry_label, open_stream_file, read_range};
use crate::snapshot::{OutputRecord, StreamRecord};
use std::io::{self, Read};
use std::path::Path;

/// Which output of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Stdout,
    Stderr,
}

impl Output {
    pub fn label(self) -> &'static str {
        match self {
            Output::Stdout => "stdout",
            Output::Stderr => "stderr",
        }
    }

    pub fn record(self, stream: &StreamRecord) -> &OutputRecord {
        match self {
            Output::Stdout => &stream.result.stdout,
            Output::Stderr => &stream.result.stderr,
        }
    }
}

/// A stream file that could not be read; names the manifest field it came from.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Confined(#[from] ConfinedError),
    #[error("{entry}: {source}")]
    Io { entry: String, source: io::Error },
}

/// An open output file, or `None` when the stream has no such file (never ran, or the file
/// was not made: an interrupted capture): that output is empty.
pub fn open(
    dir: &Path,
    index: usize,
    stream: &StreamRecord,
    output: Output,
) -> Result<Option<(std::fs::File, String)>, ReadError> {
    let record = output.record(stream);
    if record.path.is_empty() {
        return Ok(None);
    }
    let entry = entry_label(index, &stream.spec.id, output.label());
    match open_stream_file(dir, &record.path, &entry) {
        Ok(file) => Ok(Some((file, entry))),
        Err(e) if e.is_missing() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Feeds the whole output to `sink` in blocks (no more than one block in memory).
pub fn for_each_block(
    dir: &Path,
    index: usize,
    stream: &StreamRecord,
    output: Output,
    mut sink: impl FnMut(&[u8]),
) -> Result<(), ReadError> {
    let Some((mut file, entry)) = open(dir, index, stream, output)? else {
        return Ok(());
    };
    let mut buffer = vec![0u8; 256 << 10];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => sink(&buffer[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => return Err(ReadError::Io { entry, source }),
        }
    }
}

/// The first `cap` bytes of an output, and whether there was more.
pub fn read_capped(
    dir: &Path,
    index: usize,
    stream: &StreamRecord,
    output: Output,
    cap: u64,
) -> Result<(Vec<u8>, bool), ReadError> {
    let Some((file, entry)) = open(dir, index, stream, output)? else {
        return Ok((Vec::new(), false));
    };
    let io_error = |source| ReadError::Io {
        entry: entry.clone(),
        source,
    };
    let size = file.metadata().map_err(io_error)?.len();
    let bytes = read_range(&file, 0, cap).map_err(io_error)?;
    Ok((bytes, size > cap))
}
