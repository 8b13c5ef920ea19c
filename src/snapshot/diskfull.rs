//! A full disk must not cost the snapshot its ending. When a capture starts, a small reserve
//! file is written beside the manifest. The first "No space left on device" while writing a
//! stream marks the disk full: stream files stop taking bytes (so nothing eats the freed room),
//! the reserve is deleted, and the journal's last lines and the final manifest fit in its place.
use std::{
    fs, io,
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

/// Name of the reserve file; `*.tmp` files are never packed into an archive.
pub const RESERVE_FILE: &str = ".space-reserve.tmp";

/// Shared by the writer and every output file of one capture.
#[derive(Debug, Default)]
pub struct DiskGuard {
    full: AtomicBool,
    reserve: Mutex<Option<PathBuf>>,
}

impl DiskGuard {
    /// Reserves `bytes` in `dir` (a 0600 file; allocated without writing where the file system
    /// can, else written as zeros). A disk already too full for it is not an error: the
    /// capture still runs and keeps what fits.
    pub fn with_reserve(dir: &Path, bytes: usize) -> DiskGuard {
        let path = dir.join(RESERVE_FILE);
        let reserve = match reserve_file(&path, bytes) {
            Ok(()) => Some(path),
            Err(_) => {
                let _ = fs::remove_file(&path);
                None
            }
        };
        DiskGuard {
            full: AtomicBool::new(false),
            reserve: Mutex::new(reserve),
        }
    }

    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::SeqCst)
    }

    /// Looks at a write error: "No space left" marks the disk full and frees the reserve.
    /// Returns the error, reworded so the operator reads what happened and what was kept.
    pub fn on_error(&self, error: io::Error, what: &str) -> io::Error {
        if !is_disk_full(&error) {
            return error;
        }
        self.full.store(true, Ordering::SeqCst);
        self.release();
        disk_full_error(what)
    }

    /// The error a stream write gets once the disk was found full.
    pub fn refusal(&self, what: &str) -> io::Error {
        disk_full_error(what)
    }

    /// Deletes the reserve (at the end of a capture, or when the disk is full).
    pub fn release(&self) {
        let taken = self.reserve.lock().map(|mut r| r.take()).unwrap_or(None);
        if let Some(path) = taken {
            let _ = fs::remove_file(path);
        }
    }
}

fn reserve_file(path: &Path, bytes: usize) -> io::Result<()> {
    use std::io::Write;
    let mut file = super::private::create_private_file(path)?;
    let len = i64::try_from(bytes).map_err(io::Error::other)?;
    if nix::fcntl::fallocate(&file, nix::fcntl::FallocateFlags::empty(), 0, len).is_ok() {
        return Ok(());
    }
    file.write_all(&vec![0u8; bytes])
}

/// True for ENOSPC and EDQUOT (a quota is a full disk for this user).
pub fn is_disk_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || error.raw_os_error() == Some(nix::libc::ENOSPC)
}

fn disk_full_error(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::StorageFull,
        format!(
            "{what}: No space left on device: the disk holding the snapshot is full; \
             what was written up to then is kept (free space, then capture again)"
        ),
    )
}

impl Drop for DiskGuard {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_full_disk_error_frees_the_reserve_and_stops_stream_writes() {
        let dir = tempfile::tempdir().expect("tmp");
        let guard = DiskGuard::with_reserve(dir.path(), 64 << 10);
        let reserve = dir.path().join(RESERVE_FILE);
        assert_eq!(fs::metadata(&reserve).expect("reserve").len(), 64 << 10);

        let other = guard.on_error(io::Error::other("boom"), "streams/a.out");
        assert_eq!(other.to_string(), "boom", "other errors pass unchanged");
        assert!(!guard.is_full() && reserve.exists());

        let full = guard.on_error(
            io::Error::from_raw_os_error(nix::libc::ENOSPC),
            "streams/a.out",
        );
        assert!(guard.is_full());
        assert!(!reserve.exists(), "the reserve makes room for the manifest");
        assert_eq!(full.kind(), io::ErrorKind::StorageFull);
        assert!(
            full.to_string().starts_with(
                "streams/a.out: No space left on device: the disk holding the snapshot is full"
            ),
            "{full}"
        );
    }
}
