//! Temporary folders (an unpacked archive, an archive packed only for upload) are removed on
//! every exit path: on drop, and when SIGTERM, SIGINT or SIGHUP stops casefile while one exists.
//!
//! Every [`TempArea`] registers its path in one process-wide registry. The first one installs a
//! signal thread (signal-hook; no `unsafe` here) that, on a signal, removes every registered
//! folder and then lets the signal do what it would have done (terminate), unless a front end
//! said it handles these signals itself ([`app_handles_signals`]: the TUI finalises a capture
//! and drops its temp folders on the way out).
use std::{
    io,
    path::{Path, PathBuf},
    sync::{
        Mutex, Once,
        atomic::{AtomicBool, Ordering},
    },
};

static REGISTRY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();
static APP_HANDLES_SIGNALS: AtomicBool = AtomicBool::new(false);

/// Signals after which registered folders are removed.
const SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGHUP,
];

/// Called by a front end that stops gracefully on SIGTERM/SIGINT/SIGHUP itself: temp folders
/// are still removed on a signal, but the process is not terminated by the cleanup thread.
pub fn app_handles_signals() {
    APP_HANDLES_SIGNALS.store(true, Ordering::SeqCst);
}

/// A 0700 temporary folder, removed on drop or on a terminating signal.
#[derive(Debug)]
pub struct TempArea {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl TempArea {
    /// Creates `$TMPDIR/PREFIXxxxxxx` (0700) and registers it for removal.
    pub fn new(prefix: &str) -> io::Result<TempArea> {
        install_signal_cleanup();
        // Held while creating, so a signal cannot slip between creation and registration.
        let mut registry = lock();
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(
                super::private::DIR_MODE,
            ))
            .tempdir()?;
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(super::private::DIR_MODE),
        )?;
        let path = dir.path().to_path_buf();
        registry.push(path.clone());
        Ok(TempArea {
            dir: Some(dir),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempArea {
    fn drop(&mut self) {
        let mut registry = lock();
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
        registry.retain(|p| p != &self.path);
    }
}

/// A file being written that must not survive a failure or a signal (an archive's `.partial`):
/// removed on drop unless [`RemoveOnExit::disarm`]ed, and by the signal cleanup.
#[derive(Debug)]
pub struct RemoveOnExit {
    path: Option<PathBuf>,
}

impl RemoveOnExit {
    pub fn new(path: PathBuf) -> RemoveOnExit {
        install_signal_cleanup();
        lock().push(path.clone());
        RemoveOnExit { path: Some(path) }
    }

    /// The file is finished (renamed into place): keep it.
    pub fn disarm(mut self) {
        if let Some(path) = self.path.take() {
            lock().retain(|p| p != &path);
        }
    }
}

impl Drop for RemoveOnExit {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let mut registry = lock();
            let _ = std::fs::remove_file(&path);
            registry.retain(|p| p != &path);
        }
    }
}

/// Paths registered now (for tests and diagnostics).
pub fn registered() -> Vec<PathBuf> {
    lock().clone()
}

fn lock() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A panic while holding the lock leaves a list of paths that is still valid.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn install_signal_cleanup() {
    INSTALL.call_once(|| {
        let mut signals = match signal_hook::iterator::Signals::new(SIGNALS) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("temp folders will not be removed on a signal: {e}");
                return;
            }
        };
        let spawned = std::thread::Builder::new()
            .name("casefile-cleanup".into())
            .spawn(move || {
                for signal in signals.forever() {
                    // The lock stays held until exit, so no new folder appears meanwhile.
                    let mut registry = lock();
                    for path in registry.drain(..) {
                        match std::fs::symlink_metadata(&path) {
                            Ok(meta) if meta.is_dir() => {
                                let _ = std::fs::remove_dir_all(&path);
                            }
                            Ok(_) => {
                                let _ = std::fs::remove_file(&path);
                            }
                            Err(_) => {}
                        }
                    }
                    if APP_HANDLES_SIGNALS.load(Ordering::SeqCst) {
                        continue;
                    }
                    let _ = signal_hook::low_level::emulate_default_handler(signal);
                    // SIGINT/SIGTERM/SIGHUP terminate by default; this is only reached if not.
                    std::process::exit(128 + signal);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("temp folders will not be removed on a signal: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_temp_area_is_private_registered_and_removed_on_drop() {
        let area = TempArea::new("casefile-test-").expect("temp");
        let path = area.path().to_path_buf();
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(registered().contains(&path));
        drop(area);
        assert!(!path.exists());
        assert!(!registered().contains(&path));
    }

    #[test]
    fn a_partial_file_is_removed_unless_disarmed() {
        let dir = tempfile::tempdir().expect("tmp");
        let (failed, kept) = (dir.path().join("failed"), dir.path().join("kept"));
        for path in [&failed, &kept] {
            std::fs::write(path, b"x").expect("write");
        }
        drop(RemoveOnExit::new(failed.clone()));
        RemoveOnExit::new(kept.clone()).disarm();
        assert!(!failed.exists());
        assert!(kept.exists());
        assert!(!registered().contains(&kept));
    }
}
