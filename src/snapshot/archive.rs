//! Packs a snapshot folder into one `ID.tar.gz` that GNU tar reads (`tar -xzf`), with a
//! `ID.tar.gz.sha256` sidecar in `sha256sum -c` format.
//!
//! Redaction was applied when the bytes reached disk; packing checks it again on every byte
//! that goes into the archive (the same patterns plus the secrets resolved for the export).
//! A match that redaction would still change stops the pack and the archive is deleted: nothing
//! unredacted leaves the machine. The archive is deterministic for a given snapshot (sorted
//! entries, file mtimes, gzip header time 0), so re-exporting yields the same bytes and hash.
use super::{MANIFEST_FILE, Snapshot};
use crate::redact::Redactor;
use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};
use std::{
    fs::{self, File},
    io::{self, BufWriter, Read, Write},
    path::{Path, PathBuf},
};

/// Read size while packing; also the scan window (plus the overlap).
const BLOCK: usize = 1 << 20;

/// Largest manifest checked field by field (in memory); a larger one gets the byte scan.
const JSON_CHECK_LIMIT: u64 = 64 << 20;

/// Why a pack failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{archive}: refusing to unpack: {detail}")]
    Limit { archive: PathBuf, detail: String },
    #[error("{archive}: refusing to unpack: {detail}")]
    NoSpace { archive: PathBuf, detail: String },
    #[error(
        "{archive}: refusing to unpack entry {entry:?}: it is {why}; a casefile archive holds only folders and regular files inside one snapshot folder"
    )]
    UnsafeEntry {
        archive: PathBuf,
        entry: String,
        why: String,
    },
    #[error(
        "refusing to export: {file} holds text that looks like an unredacted secret at byte {offset} \
         (pattern match of {len} bytes); remove or redact it (or capture again with the secret registered) and retry"
    )]
    Unredacted {
        file: String,
        offset: u64,
        len: usize,
    },
    #[error(
        "refusing to export: {file} holds what looks like an unredacted secret in the field `{field}`; \
         remove or redact it (or capture again with the secret registered) and retry"
    )]
    UnredactedField { file: String, field: String },
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The archive written by [`pack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedArchive {
    pub path: PathBuf,
    pub sha256_path: PathBuf,
    /// Hex SHA-256 of the archive file.
    pub sha256: String,
    pub bytes: u64,
    /// Files packed (manifest, journal, stream files).
    pub files: usize,
    /// Bytes of those files before compression.
    pub input_bytes: u64,
}

/// File name of a snapshot's archive.
pub fn archive_name(snapshot_id: &str) -> String {
    format!("{snapshot_id}.tar.gz")
}

/// Packs `snapshot` into `out_dir/ID.tar.gz` (+ `.sha256`), checking every byte with `redactor`.
/// `level` is the gzip level (0–9; 6 is gzip's default). Blocking: run it off the async runtime.
pub fn pack(
    snapshot: &Snapshot,
    out_dir: &Path,
    redactor: &Redactor,
    level: u32,
) -> Result<PackedArchive, ArchiveError> {
    super::private::create_private_dir_all(out_dir).map_err(at(out_dir))?;
    let id = &snapshot.manifest.id;
    let name = archive_name(id);
    let path = out_dir.join(&name);
    let partial = out_dir.join(format!("{name}.partial"));
    // Removed on any failure, and by the signal cleanup if casefile is stopped mid-pack.
    let guard = super::cleanup::RemoveOnExit::new(partial.clone());
    let (sha256, bytes, files, input_bytes) = write_archive(snapshot, &partial, redactor, level)?;
    fs::rename(&partial, &path).map_err(at(&path))?;
    guard.disarm();
    let sha256_path = out_dir.join(format!("{name}.sha256"));
    super::private::create_fresh_private_file(&sha256_path)
        .and_then(|mut file| file.write_all(format!("{sha256}  {name}\n").as_bytes()))
        .map_err(at(&sha256_path))?;
    Ok(PackedArchive {
        path,
        sha256_path,
        sha256,
        bytes,
        files,
        input_bytes,
    })
}

/// Every regular file under the snapshot folder, relative and sorted; leftovers of atomic
/// writes (`*.tmp`) are not part of the snapshot.
pub fn snapshot_files(dir: &Path) -> Result<Vec<PathBuf>, ArchiveError> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let absolute = dir.join(&relative);
        for entry in fs::read_dir(&absolute).map_err(at(&absolute))? {
            let entry = entry.map_err(at(&absolute))?;
            let kind = entry.file_type().map_err(at(&entry.path()))?;
            let child = relative.join(entry.file_name());
            if kind.is_dir() {
                stack.push(child);
            } else if kind.is_file() && !child.to_string_lossy().ends_with(".tmp") {
                found.push(child);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn write_archive(
    snapshot: &Snapshot,
    partial: &Path,
    redactor: &Redactor,
    level: u32,
) -> Result<(String, u64, usize, u64), ArchiveError> {
    let file = super::private::create_fresh_private_file(partial).map_err(at(partial))?;
    let hashing = HashingWriter {
        inner: BufWriter::with_capacity(BLOCK, file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let gz = GzBuilder::new()
        .mtime(0)
        .write(hashing, Compression::new(level.min(9)));
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    let files = snapshot_files(&snapshot.dir)?;
    let mut input_bytes = 0;
    for relative in &files {
        let source = snapshot.dir.join(relative);
        let file = super::confined::open_stream_file(
            &snapshot.dir,
            &relative.to_string_lossy(),
            "a file of the snapshot folder",
        )
        .map_err(|e| ArchiveError::Io {
            path: source.clone(),
            source: e.into(),
        })?;
        let meta = file.metadata().map_err(at(&source))?;
        let entry_name = Path::new(&snapshot.manifest.id).join(relative);
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
        header.set_mtime(
            meta.modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs()),
        );
        header.set_size(meta.len());
        if let Some(bytes) = read_checked_json(relative, &source, meta.len(), redactor)? {
            tar.append_data(&mut header, &entry_name, bytes.as_slice())
                .map_err(at(&source))?;
            input_bytes += meta.len();
            continue;
        }
        let mut reader = ScanningReader::new(file, redactor, meta.len());
        let appended = tar.append_data(&mut header, &entry_name, &mut reader);
        if let Some((offset, len)) = reader.finding {
            return Err(ArchiveError::Unredacted {
                file: relative.display().to_string(),
                offset,
                len,
            });
        }
        appended.map_err(at(&source))?;
        input_bytes += meta.len();
    }
    let gz = tar.into_inner().map_err(at(partial))?;
    let hashing = gz.finish().map_err(at(partial))?;
    let HashingWriter {
        inner,
        hasher,
        bytes,
    } = hashing;
    let file = inner.into_inner().map_err(|e| ArchiveError::Io {
        path: partial.to_path_buf(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(at(partial))?;
    Ok((
        hex::encode(hasher.finalize()),
        bytes,
        files.len(),
        input_bytes,
    ))
}

/// Hashes what it writes, so the archive is hashed without reading it back.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads a file in blocks and scans each block (with an overlap carried from the previous one,
/// so a match across two blocks is seen whole) before handing the bytes on. The first finding
/// stops reading with an error.
pub struct ScanningReader<'a, R: Read> {
    inner: R,
    redactor: &'a Redactor,
    /// Carried tail of the previous block, then the current block.
    window: Vec<u8>,
    /// Offset in the file of `window[0]`.
    window_start: u64,
    /// Where in `window` the bytes not yet handed on start.
    pos: usize,
    /// Bytes the caller may still take: the file size given in the header, no more.
    remaining: u64,
    eof: bool,
    /// Offset and length of the first unredacted match.
    pub finding: Option<(u64, usize)>,
}

impl<'a, R: Read> ScanningReader<'a, R> {
    pub fn new(inner: R, redactor: &'a Redactor, size: u64) -> Self {
        ScanningReader {
            inner,
            redactor,
            window: Vec::with_capacity(BLOCK + redactor.max_match_len()),
            window_start: 0,
            pos: 0,
            remaining: size,
            eof: false,
            finding: None,
        }
    }

    /// Reads the next block and scans it; returns false at end of file.
    fn refill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let keep = self.redactor.max_match_len().min(self.window.len());
        let drop = self.window.len() - keep;
        self.window.drain(..drop);
        self.window_start += drop as u64;
        let fresh_from = self.window.len();
        self.pos = fresh_from;
        let want = (BLOCK as u64).min(self.remaining) as usize;
        self.window.resize(fresh_from + want, 0);
        let mut filled = fresh_from;
        while filled < self.window.len() {
            let n = self.inner.read(&mut self.window[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        self.window.truncate(filled);
        let at_end = filled - fresh_from < want || self.remaining == (filled - fresh_from) as u64;
        self.eof = at_end;
        if filled == fresh_from {
            return Ok(false);
        }
        // A match that reaches the end of a non-final window may be cut short; the next window
        // sees it whole (it starts within the carried overlap), so only judge it there.
        let mut from = 0;
        while let Some(range) = self.redactor.find_unredacted(&self.window[from..]) {
            let (start, end) = (from + range.start, from + range.end);
            if end == self.window.len() && !self.eof {
                break;
            }
            // Matches ending inside the carried overlap were judged with the previous window,
            // except one that reached its end (skipped above): that one ends at `fresh_from`.
            if end >= fresh_from {
                self.finding = Some((self.window_start + start as u64, end - start));
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "unredacted secret found while packing",
                ));
            }
            from = end;
        }
        Ok(true)
    }
}

impl<R: Read> Read for ScanningReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.finding.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "unredacted secret found while packing",
            ));
        }
        if self.pos >= self.window.len() && !self.refill()? {
            return Ok(0);
        }
        let available = &self.window[self.pos..];
        let n = available.len().min(buf.len()).min(self.remaining as usize);
        buf[..n].copy_from_slice(&available[..n]);
        self.pos += n;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// The manifest is checked field by field (`Redactor::find_unredacted_json`): its own structure
/// names secret references (`"password_secret": "pw"`), which a free-text scan takes for leaks.
/// Returns its bytes once checked; `None` for other files, and for a manifest that is not JSON
/// or is too large to hold in memory (those get the byte scan).
fn read_checked_json(
    relative: &Path,
    source: &Path,
    size: u64,
    redactor: &Redactor,
) -> Result<Option<Vec<u8>>, ArchiveError> {
    if relative != Path::new(MANIFEST_FILE) || size > JSON_CHECK_LIMIT {
        return Ok(None);
    }
    let bytes = fs::read(source).map_err(at(source))?;
    match redactor.find_unredacted_json(&bytes) {
        Ok(None) => Ok(Some(bytes)),
        Ok(Some(field)) => Err(ArchiveError::UnredactedField {
            file: relative.display().to_string(),
            field,
        }),
        Err(_) => Ok(None),
    }
}

/// Checks a whole file the same way packing does (used for the files uploaded beside the archive).
pub fn scan_file(path: &Path, redactor: &Redactor) -> Result<(), ArchiveError> {
    let file = File::open(path).map_err(at(path))?;
    let size = file.metadata().map_err(at(path))?.len();
    if let Some(name) = path.file_name()
        && read_checked_json(Path::new(name), path, size, redactor)?.is_some()
    {
        return Ok(());
    }
    let mut reader = ScanningReader::new(file, redactor, size);
    let copied = io::copy(&mut reader, &mut io::sink());
    if let Some((offset, len)) = reader.finding {
        return Err(ArchiveError::Unredacted {
            file: path.display().to_string(),
            offset,
            len,
        });
    }
    copied.map_err(at(path))?;
    Ok(())
}

/// True for names `casefile export` gives archives (`*.tar.gz`, `*.tgz`).
pub fn is_archive(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.is_file() && (name.ends_with(".tar.gz") || name.ends_with(".tgz"))
}

/// Unpacks an exported archive into `dest` (0700 folders, 0600 files) within the process-wide
/// limits; see [`unpack_with`].
pub fn unpack(archive: &Path, dest: &Path) -> Result<PathBuf, ArchiveError> {
    unpack_with(archive, dest, &UnpackLimits::current())
}

/// Unpacks an exported archive into `dest` and returns the snapshot folder inside it. When the
/// `.sha256` sidecar sits beside the archive, the archive must match it (a truncated download is
/// refused, not half-replayed). An archive casefile wrote holds folders and regular files with
/// plain relative names; anything else (`..`, absolute paths, links, devices, FIFOs) is refused.
/// Limits on bytes and entries are checked before each file is written, and so is the free
/// space. Blocking.
pub fn unpack_with(
    archive: &Path,
    dest: &Path,
    limits: &UnpackLimits,
) -> Result<PathBuf, ArchiveError> {
    let sidecar = PathBuf::from(format!("{}.sha256", archive.display()));
    if let Some(text) = read_sidecar(&sidecar).map_err(at(&sidecar))? {
        let expected = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let actual = super::reader::sha256_file(archive).map_err(at(archive))?;
        if !expected.eq_ignore_ascii_case(&actual) {
            return Err(ArchiveError::Io {
                path: archive.to_path_buf(),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "SHA-256 {actual} does not match {} ({expected}); the archive is damaged or incomplete, download it again",
                        sidecar.display()
                    ),
                ),
            });
        }
    }
    let file = File::open(archive).map_err(at(archive))?;
    // Tar headers and GNU long names are read into memory by the tar crate: the whole
    // decompressed stream is bounded too, so a hostile header cannot grow without limit.
    let stream_budget = limits
        .max_bytes
        .saturating_add(limits.max_entries.saturating_mul(3 * 512))
        .saturating_add(1 << 20);
    let decoded = BoundedRead {
        inner: flate2::read::GzDecoder::new(io::BufReader::new(file)),
        left: stream_budget,
    };
    let mut tar = tar::Archive::new(decoded);
    let mut top = None;
    let mut entries = 0u64;
    let mut bytes = 0u64;
    for entry in tar.entries().map_err(at(archive))? {
        let mut entry = entry.map_err(|e| unpack_io(archive, dest, e, limits))?;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        entries += 1;
        if entries > limits.max_entries {
            return Err(ArchiveError::Limit {
                archive: archive.to_path_buf(),
                detail: format!(
                    "it holds more than {} entries; raise the limit with --max-unpack-entries N if you trust it",
                    limits.max_entries
                ),
            });
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let unsafe_entry = |why: &str| ArchiveError::UnsafeEntry {
            archive: archive.to_path_buf(),
            entry: name.clone(),
            why: why.to_string(),
        };
        let relative = plain_relative(&name).map_err(unsafe_entry)?;
        let what = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => None,
            tar::EntryType::Directory => Some("folder"),
            tar::EntryType::Symlink => return Err(unsafe_entry("a symbolic link")),
            tar::EntryType::Link => return Err(unsafe_entry("a hard link")),
            tar::EntryType::Char | tar::EntryType::Block => return Err(unsafe_entry("a device")),
            tar::EntryType::Fifo => return Err(unsafe_entry("a FIFO")),
            _ => return Err(unsafe_entry("not a regular file or folder")),
        };
        if top.is_none()
            && let Some(std::path::Component::Normal(first)) = relative.components().next()
        {
            top = Some(first.to_os_string());
        }
        let target = dest.join(&relative);
        if what == Some("folder") {
            make_folders(dest, &relative).map_err(|e| unpack_io(archive, dest, e, limits))?;
            continue;
        }
        let size = entry.size();
        if bytes.saturating_add(size) > limits.max_bytes {
            return Err(ArchiveError::Limit {
                archive: archive.to_path_buf(),
                detail: format!(
                    "its files hold more than {} (at {name:?}, {size} bytes); raise the limit with --max-unpack SIZE if you trust it",
                    crate::model::size::human_bytes(limits.max_bytes)
                ),
            });
        }
        if let Some(parent) = relative.parent() {
            make_folders(dest, parent).map_err(|e| unpack_io(archive, dest, e, limits))?;
        }
        if let Some(free) = free_bytes(dest)
            && size > free
        {
            return Err(no_space(archive, dest, size, free));
        }
        let mut out = super::private::create_new_private_file(&target).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                unsafe_entry("a second entry with the same name")
            } else {
                unpack_io(archive, dest, e, limits)
            }
        })?;
        let copied = io::copy(&mut (&mut entry).take(size), &mut out)
            .map_err(|e| unpack_io(archive, dest, e, limits))?;
        bytes += copied;
    }
    let candidates = [top.map(|t| dest.join(t)), Some(dest.to_path_buf())];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join(super::MANIFEST_FILE).is_file())
        .ok_or_else(|| ArchiveError::Io {
            path: archive.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                "no manifest.json inside: not a casefile snapshot archive",
            ),
        })
}

/// The `.sha256` sidecar's first line, when there is one. It sits beside a downloaded archive,
/// so it is read like snapshot data: a regular file (a FIFO cannot hang us), at most 4 KiB.
fn read_sidecar(sidecar: &Path) -> io::Result<Option<String>> {
    let dir = sidecar
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = sidecar
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match super::confined::open_stream_file(dir, &name, "the archive's .sha256 sidecar") {
        Ok(file) => {
            let mut text = String::new();
            file.take(4096).read_to_string(&mut text)?;
            Ok(Some(text))
        }
        Err(e) if e.is_missing() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// How much an unpack may write. Defaults: 4 GiB in 100 000 entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    pub max_bytes: u64,
    pub max_entries: u64,
}

impl UnpackLimits {
    pub const DEFAULT: UnpackLimits = UnpackLimits {
        max_bytes: 4 << 30,
        max_entries: 100_000,
    };

    /// The limits set for this process by the command line (`--max-unpack`), else the defaults.
    pub fn current() -> UnpackLimits {
        CURRENT_LIMITS
            .get()
            .copied()
            .unwrap_or(UnpackLimits::DEFAULT)
    }

    /// Sets the process-wide limits once (the front end does, from its flags); later calls are ignored.
    pub fn set_current(limits: UnpackLimits) {
        let _ = CURRENT_LIMITS.set(limits);
    }
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits::DEFAULT
    }
}

static CURRENT_LIMITS: std::sync::OnceLock<UnpackLimits> = std::sync::OnceLock::new();

/// A name from an archive as a plain relative path (`./` prefixes and a trailing `/` allowed).
fn plain_relative(name: &str) -> Result<PathBuf, &'static str> {
    let mut clean = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            std::path::Component::Normal(part) => clean.push(part),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => return Err("a name that climbs out with `..`"),
            std::path::Component::RootDir | std::path::Component::Prefix(_) => {
                return Err("an absolute path");
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err("an empty name");
    }
    Ok(clean)
}

/// Creates `dest/relative` folder by folder (0700); an existing one must be a real folder.
fn make_folders(dest: &Path, relative: &Path) -> io::Result<()> {
    let mut current = dest.to_path_buf();
    for part in relative.components() {
        current.push(part);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} is a file where a folder is needed", current.display()),
                ));
            }
            Err(_) => super::private::create_private_dir(&current)?,
        }
    }
    Ok(())
}

/// Bytes free for this user on the disk holding `dir`, when the system says.
fn free_bytes(dir: &Path) -> Option<u64> {
    let stats = nix::sys::statvfs::statvfs(dir).ok()?;
    (stats.blocks_available() as u64).checked_mul(stats.fragment_size() as u64)
}

fn no_space(archive: &Path, dest: &Path, need: u64, free: u64) -> ArchiveError {
    ArchiveError::NoSpace {
        archive: archive.to_path_buf(),
        detail: format!(
            "No space left on device: a file of {} does not fit in the {} free in {}; free space there or point TMPDIR at a bigger disk",
            crate::model::size::human_bytes(need),
            crate::model::size::human_bytes(free),
            dest.display()
        ),
    }
}

/// An I/O error while unpacking; "No space left" and the stream bound are said as such.
fn unpack_io(archive: &Path, dest: &Path, error: io::Error, limits: &UnpackLimits) -> ArchiveError {
    if super::diskfull::is_disk_full(&error) {
        return ArchiveError::NoSpace {
            archive: archive.to_path_buf(),
            detail: format!(
                "No space left on device while writing into {}; free space there or point TMPDIR at a bigger disk",
                dest.display()
            ),
        };
    }
    if error
        .get_ref()
        .is_some_and(|e| e.is::<StreamBoundExceeded>())
    {
        return ArchiveError::Limit {
            archive: archive.to_path_buf(),
            detail: format!(
                "it unpacks to more than {} of data; raise the limit with --max-unpack SIZE if you trust it",
                crate::model::size::human_bytes(limits.max_bytes)
            ),
        };
    }
    ArchiveError::Io {
        path: archive.to_path_buf(),
        source: error,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the archive's decompressed stream is larger than the unpack limit allows")]
struct StreamBoundExceeded;

/// Reads at most `left` bytes, then fails (a decompression bomb is stopped, not truncated).
struct BoundedRead<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for BoundedRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(StreamBoundExceeded)),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(bytes: &[u8], secrets: &[String]) -> Option<(u64, usize)> {
        let redactor = Redactor::new(secrets);
        let mut reader = ScanningReader::new(bytes, &redactor, bytes.len() as u64);
        let mut out = Vec::new();
        let result = reader.read_to_end(&mut out);
        if reader.finding.is_none() {
            assert_eq!(out, bytes, "a clean file passes through unchanged");
            assert!(result.is_ok());
        }
        reader.finding
    }

    #[test]
    fn redacted_text_passes_and_a_secret_across_a_block_boundary_is_found() {
        let mut clean = vec![b'x'; BLOCK - 5];
        clean.extend_from_slice(b"\npassword=[REDACTED] and mysql://a:[REDACTED]@h\n");
        clean.extend(std::iter::repeat_n(b'y', BLOCK));
        assert_eq!(scan(&clean, &[]), None);

        let secret = "correct-horse-battery-staple".to_string();
        let mut leaky = vec![b'x'; BLOCK - 10];
        leaky.extend_from_slice(secret.as_bytes());
        leaky.extend_from_slice(b" tail\n");
        assert_eq!(
            scan(&leaky, std::slice::from_ref(&secret)),
            Some(((BLOCK - 10) as u64, secret.len()))
        );
        // A pattern match, not a registered value, is found too.
        assert_eq!(scan(b"line\nAKIAIOSFODNN7EXAMPLE\n", &[]), Some((5, 20)));
    }

    #[test]
    fn unpack_never_writes_outside_the_destination() {
        let dir = tempfile::tempdir().expect("dir");
        let archive = dir.path().join("evil.tar.gz");
        let file = File::create(&archive).expect("create");
        let mut tar = tar::Builder::new(GzBuilder::new().write(file, Compression::fast()));
        for name in [&b"../escaped.txt"[..], b"/tmp/absolute-casefile-test.txt"] {
            let mut header = tar::Header::new_old();
            header.as_old_mut().name[..name.len()].copy_from_slice(name);
            header.set_size(4);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            tar.append(&header, &b"evil"[..]).expect("append");
        }
        tar.into_inner().expect("tar").finish().expect("gz");
        let dest = dir.path().join("dest");
        fs::create_dir_all(&dest).expect("dest");
        let error = unpack(&archive, &dest).expect_err("an entry climbs out");
        assert!(
            error
                .to_string()
                .contains("refusing to unpack entry \"../escaped.txt\""),
            "{error}"
        );
        assert!(!dir.path().join("escaped.txt").exists());
        assert!(!Path::new("/tmp/absolute-casefile-test.txt").exists());
    }
}
