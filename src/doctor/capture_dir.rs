//! The capture folder check: it exists (or is created, 0700, as a capture would create it),
//! belongs to you, is private (no access for group or others: snapshots hold evidence), and a
//! 0600 file can be created in it and removed again, through `snapshot::private` like every
//! evidence file.
use super::{Check, Kind};
use crate::snapshot::private::{FILE_MODE, create_new_private_file, create_private_dir_all};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

pub fn check(dir: &Path) -> Check {
    let shown = dir.display().to_string();
    let created = !dir.exists();
    if let Err(e) = create_private_dir_all(dir) {
        return Check::fail(
            Kind::CaptureDir,
            shown,
            format!("cannot create it: {e}"),
            "set capture_dir in casefile.toml to a folder you can write, or create this one (mkdir -m 700)",
        );
    }
    let meta = match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => meta,
        Ok(_) => {
            return Check::fail(
                Kind::CaptureDir,
                shown,
                "is not a folder",
                "set capture_dir in casefile.toml to a folder",
            );
        }
        Err(e) => {
            return Check::fail(
                Kind::CaptureDir,
                shown,
                format!("cannot read it: {e}"),
                "set capture_dir in casefile.toml to a folder you can write",
            );
        }
    };
    let mode = meta.permissions().mode() & 0o7777;
    let me = nix::unistd::getuid().as_raw();
    if meta.uid() != me {
        return Check::fail(
            Kind::CaptureDir,
            shown.clone(),
            format!("belongs to uid {}, not to you (uid {me})", meta.uid()),
            format!(
                "use a folder of your own for capture_dir, or chown it: chown $(id -u) {shown}"
            ),
        );
    }
    if mode & 0o077 != 0 {
        return Check::fail(
            Kind::CaptureDir,
            shown.clone(),
            format!("mode {mode:04o}: others can read or enter it, and snapshots are evidence"),
            format!("chmod 700 {shown}"),
        );
    }
    if let Err(e) = probe(dir) {
        return Check::fail(
            Kind::CaptureDir,
            shown.clone(),
            format!("cannot write in it: {e}"),
            format!("give yourself write access: chmod u+rwx {shown}"),
        );
    }
    Check::ok(
        Kind::CaptureDir,
        shown,
        format!(
            "{}private ({mode:04o}) and writable",
            if created { "created; " } else { "" }
        ),
    )
}

/// Creates a 0600 file, writes to it, checks its mode, removes it (also when a step failed).
fn probe(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(format!(".casefile-doctor-{}", std::process::id()));
    let written = (|| {
        let mut file = create_new_private_file(&path)?;
        file.write_all(b"casefile doctor\n")?;
        file.sync_all()?;
        let mode = file.metadata()?.permissions().mode() & 0o7777;
        if mode != FILE_MODE {
            return Err(std::io::Error::other(format!(
                "a new evidence file got mode {mode:04o}, not {FILE_MODE:04o}"
            )));
        }
        Ok(())
    })();
    let removed = std::fs::remove_file(&path);
    written?;
    removed
}
