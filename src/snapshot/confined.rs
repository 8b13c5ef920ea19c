//! A snapshot is data, never a path to elsewhere. Every file named by a manifest is opened
//! through [`open_stream_file`]: the name must be relative and plain (no `/…`, no `..`), each
//! folder on the way is opened without following symbolic links, and the file itself must be a
//! regular file (not a link, FIFO, device or folder). It is opened non-blocking, so a FIFO put
//! where a stream file should be cannot hang the reader.
//!
//! Sizes read from a snapshot are not trusted either: [`read_range`] allocates no more than
//! the file actually holds.
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use std::{
    collections::HashMap,
    fs::File,
    io,
    os::fd::{AsFd, OwnedFd},
    os::unix::fs::{FileExt, FileTypeExt},
    path::{Component, Path},
};

/// Why a path named by a snapshot is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    Absolute,
    ParentDir,
    NotPlain,
    SymbolicLink,
    NotRegular(&'static str),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Empty => f.write_str("the path is empty"),
            Refusal::Absolute => f.write_str("it is an absolute path"),
            Refusal::ParentDir => f.write_str("it climbs out with `..`"),
            Refusal::NotPlain => f.write_str("it is not a plain relative name"),
            Refusal::SymbolicLink => f.write_str("it is (or goes through) a symbolic link"),
            Refusal::NotRegular(kind) => write!(f, "it is a {kind}, not a regular file"),
        }
    }
}

/// A file named by a snapshot that could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConfinedError {
    #[error(
        "{entry} = {path:?} is refused: {why}; a snapshot may only name regular files inside its own folder"
    )]
    Refused {
        entry: String,
        path: String,
        why: Refusal,
    },
    #[error("{entry} = {path:?}: the file is missing")]
    Missing { entry: String, path: String },
    #[error("{entry} = {path:?}: {source}")]
    Io {
        entry: String,
        path: String,
        source: io::Error,
    },
}

impl ConfinedError {
    pub fn is_missing(&self) -> bool {
        matches!(self, ConfinedError::Missing { .. })
    }
}

impl From<ConfinedError> for io::Error {
    fn from(e: ConfinedError) -> io::Error {
        let kind = match &e {
            ConfinedError::Missing { .. } => io::ErrorKind::NotFound,
            ConfinedError::Refused { .. } => io::ErrorKind::InvalidData,
            ConfinedError::Io { source, .. } => source.kind(),
        };
        io::Error::new(kind, e.to_string())
    }
}

/// The name of a manifest field, for messages: `manifest.json streams[3] (ID) stdout.path`.
pub fn entry_label(index: usize, stream_id: &str, field: &str) -> String {
    format!("manifest.json streams[{index}] ({stream_id:?}) {field}.path")
}

/// Checks a name from a snapshot without touching the disk: relative, and only plain names.
pub fn check_relative(rel: &str) -> Result<(), Refusal> {
    if rel.is_empty() {
        return Err(Refusal::Empty);
    }
    if rel.contains('\0') {
        return Err(Refusal::NotPlain);
    }
    for component in Path::new(rel).components() {
        match component {
            Component::Normal(_) => {}
            Component::RootDir | Component::Prefix(_) => return Err(Refusal::Absolute),
            Component::ParentDir => return Err(Refusal::ParentDir),
            Component::CurDir => return Err(Refusal::NotPlain),
        }
    }
    Ok(())
}

/// Opens `dir/rel` for reading, confined to `dir` (see the module doc). `entry` names the
/// manifest field the path came from, for the error message. To read many files of one
/// snapshot, open a [`ConfinedDir`] once instead.
pub fn open_stream_file(dir: &Path, rel: &str, entry: &str) -> Result<File, ConfinedError> {
    ConfinedDir::open(dir)
        .map_err(|source| errors(entry, rel).io(source))?
        .open_file(rel, entry)
}

/// Folders a [`ConfinedDir`] keeps open at most: a snapshot has one (`streams`); a manifest
/// naming thousands of folders must not exhaust the descriptors.
const MAX_KEPT_FOLDERS: usize = 16;

/// A snapshot folder opened once for reading many of its files under the rules of
/// [`open_stream_file`]. The folder and the folders files sit in (`streams`) stay open, so each
/// file costs one `openat` and one `fstat` instead of a walk from the top: `show` opens 14,000
/// files for a 500-host capture.
pub struct ConfinedDir {
    root: OwnedFd,
    /// Each folder path walked (`streams`, `a/b`), opened without following links.
    folders: HashMap<String, OwnedFd>,
}

impl ConfinedDir {
    pub fn open(dir: &Path) -> io::Result<ConfinedDir> {
        let root = nix::fcntl::open(dir, base_flags() | OFlag::O_DIRECTORY, Mode::empty())?;
        Ok(ConfinedDir {
            root,
            folders: HashMap::new(),
        })
    }

    /// Opens `rel` inside this folder; `entry` names the manifest field, for the message.
    pub fn open_file(&mut self, rel: &str, entry: &str) -> Result<File, ConfinedError> {
        let errors = errors(entry, rel);
        check_relative(rel).map_err(|why| errors.refused(why))?;
        let components: Vec<_> = Path::new(rel).components().collect();
        let Some((last, folders)) = components.split_last() else {
            return Err(errors.refused(Refusal::Empty));
        };
        let key = folders
            .iter()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let mut walked = None;
        if !folders.is_empty() && !self.folders.contains_key(&key) {
            let fd = self.walk(folders, &errors)?;
            if self.folders.len() < MAX_KEPT_FOLDERS {
                self.folders.insert(key.clone(), fd);
            } else {
                walked = Some(fd);
            }
        }
        let parent = match (&walked, self.folders.get(&key)) {
            (Some(fd), _) | (None, Some(fd)) => fd.as_fd(),
            (None, None) => self.root.as_fd(),
        };
        let fd = openat(
            parent,
            last.as_os_str(),
            base_flags() | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| match e {
            nix::errno::Errno::ELOOP => errors.refused(Refusal::SymbolicLink),
            other => errors.io(other.into()),
        })?;
        let file = File::from(fd);
        let kind = file.metadata().map_err(|e| errors.io(e))?.file_type();
        if kind.is_file() {
            return Ok(file);
        }
        let name = if kind.is_dir() {
            "folder"
        } else if kind.is_fifo() {
            "FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "device"
        } else if kind.is_socket() {
            "socket"
        } else {
            "special file"
        };
        Err(errors.refused(Refusal::NotRegular(name)))
    }

    /// Opens each folder of `folders` in turn from the top, never following a link.
    fn walk(
        &self,
        folders: &[Component<'_>],
        errors: &Errors<'_>,
    ) -> Result<OwnedFd, ConfinedError> {
        let mut current: Option<OwnedFd> = None;
        for folder in folders {
            let parent = current.as_ref().map_or(self.root.as_fd(), |fd| fd.as_fd());
            let next = openat(
                parent,
                folder.as_os_str(),
                base_flags() | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
                Mode::empty(),
            )
            .map_err(|e| match e {
                nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR => {
                    errors.refused(Refusal::SymbolicLink)
                }
                other => errors.io(other.into()),
            })?;
            current = Some(next);
        }
        current.ok_or_else(|| errors.refused(Refusal::Empty))
    }
}

fn base_flags() -> OFlag {
    OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_RDONLY
}

/// Builds the errors for one path named by a manifest field.
struct Errors<'a> {
    entry: &'a str,
    rel: &'a str,
}

fn errors<'a>(entry: &'a str, rel: &'a str) -> Errors<'a> {
    Errors { entry, rel }
}

impl Errors<'_> {
    fn refused(&self, why: Refusal) -> ConfinedError {
        ConfinedError::Refused {
            entry: self.entry.to_string(),
            path: self.rel.to_string(),
            why,
        }
    }

    fn io(&self, source: io::Error) -> ConfinedError {
        if source.kind() == io::ErrorKind::NotFound {
            ConfinedError::Missing {
                entry: self.entry.to_string(),
                path: self.rel.to_string(),
            }
        } else {
            ConfinedError::Io {
                entry: self.entry.to_string(),
                path: self.rel.to_string(),
                source,
            }
        }
    }
}

/// Size of `dir/rel` if it is a confined regular file; `Ok(None)` when it does not exist.
pub fn stream_file_size(dir: &Path, rel: &str, entry: &str) -> Result<Option<u64>, ConfinedError> {
    match open_stream_file(dir, rel, entry) {
        Ok(file) => file
            .metadata()
            .map(|m| Some(m.len()))
            .map_err(|source| ConfinedError::Io {
                entry: entry.to_string(),
                path: rel.to_string(),
                source,
            }),
        Err(e) if e.is_missing() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads up to `len` bytes at `offset`, allocating no more than the file holds there (a length
/// read from a journal may be anything, up to 2^64-1).
pub fn read_range(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let size = file.metadata()?.len();
    let available = size.saturating_sub(offset).min(len);
    let want = usize::try_from(available)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "range too large"))?;
    let mut buf = vec![0u8; want];
    let mut filled = 0;
    while filled < want {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn refusal(dir: &Path, rel: &str) -> Option<Refusal> {
        match open_stream_file(dir, rel, "test") {
            Err(ConfinedError::Refused { why, .. }) => Some(why),
            _ => None,
        }
    }

    #[test]
    fn only_regular_files_inside_the_folder_open() {
        let root = tempfile::tempdir().expect("tmp");
        let dir = root.path().join("snap");
        fs::create_dir_all(dir.join("streams")).expect("dirs");
        fs::write(dir.join("streams/a.out"), b"hello").expect("write");
        fs::write(root.path().join("outside"), b"secret").expect("write");
        std::os::unix::fs::symlink(root.path().join("outside"), dir.join("streams/link"))
            .expect("link");
        std::os::unix::fs::symlink(root.path(), dir.join("up")).expect("dir link");
        nix::unistd::mkfifo(&dir.join("streams/fifo"), Mode::from_bits_truncate(0o600))
            .expect("fifo");

        let file = open_stream_file(&dir, "streams/a.out", "test").expect("open");
        assert_eq!(read_range(&file, 1, u64::MAX).expect("read"), b"ello");
        assert_eq!(read_range(&file, u64::MAX, u64::MAX).expect("read"), b"");
        assert_eq!(refusal(&dir, "/etc/passwd"), Some(Refusal::Absolute));
        assert_eq!(refusal(&dir, "../outside"), Some(Refusal::ParentDir));
        assert_eq!(
            refusal(&dir, "streams/../../outside"),
            Some(Refusal::ParentDir)
        );
        assert_eq!(refusal(&dir, "streams/link"), Some(Refusal::SymbolicLink));
        assert_eq!(refusal(&dir, "up/outside"), Some(Refusal::SymbolicLink));
        assert_eq!(
            refusal(&dir, "streams/fifo"),
            Some(Refusal::NotRegular("FIFO"))
        );
        assert_eq!(
            refusal(&dir, "streams"),
            Some(Refusal::NotRegular("folder"))
        );
        assert_eq!(refusal(&dir, ""), Some(Refusal::Empty));
        assert!(
            open_stream_file(&dir, "streams/none", "test")
                .expect_err("missing")
                .is_missing()
        );
    }
}
