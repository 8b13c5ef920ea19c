//! Evidence is private whatever the umask: every folder casefile makes for a snapshot, an
//! archive or an unpack is 0700, every file it writes there is 0600.
//!
//! The mode is given at creation (so the file is never readable by others, not even for an
//! instant) and then set again explicitly, because the umask only ever removes bits and an
//! odd umask (e.g. 0o200) would otherwise leave a file the owner cannot write.
use std::{
    fs::{self, DirBuilder, File, OpenOptions, Permissions},
    io,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::Path,
};

/// Mode of every folder casefile creates for evidence.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file casefile writes as evidence.
pub const FILE_MODE: u32 = 0o600;

/// Creates `path` (which must not exist) as a 0700 folder.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().mode(DIR_MODE).create(path)?;
    fs::set_permissions(path, Permissions::from_mode(DIR_MODE))
}

/// Creates `path` and any missing parents as 0700 folders. Folders that already exist are
/// left as they are: they belong to the user (`--out /tmp` must not change /tmp).
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cursor = Some(path);
    while let Some(dir) = cursor {
        if dir.as_os_str().is_empty() || dir.is_dir() {
            break;
        }
        missing.push(dir);
        cursor = dir.parent();
    }
    for dir in missing.into_iter().rev() {
        match create_private_dir(dir) {
            Ok(()) => {}
            // Another process made it meanwhile: fine, it is theirs (or ours) to keep.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Options that create a 0600 file and never follow a symbolic link at its name.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .write(true)
        .mode(FILE_MODE)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits());
    options
}

/// Opens `path` for writing as a 0600 file, created or truncated.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let file = private_options().create(true).truncate(true).open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Creates `path`, which must not exist yet, as a 0600 file opened for appending.
pub fn create_new_private_file(path: &Path) -> io::Result<File> {
    let file = private_options().create_new(true).append(true).open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Creates `path`, which must not exist yet, as a 0600 file for positioned writes (no append
/// mode: Linux ignores `pwrite`'s offset on an append-mode file).
pub fn create_new_private_file_positioned(path: &Path) -> io::Result<File> {
    let file = private_options().create_new(true).open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Replaces whatever is at `path` with a new, empty 0600 file. For folders casefile does not
/// own (`file:/tmp/exports`): a file someone else put there first is removed, never written
/// into (in a sticky folder it cannot be removed, and the create fails instead).
pub fn create_fresh_private_file(path: &Path) -> io::Result<File> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let file = private_options().create_new(true).open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Writes `bytes` to `path` as a 0600 file (created or replaced in place).
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = create_private_file(path)?;
    file.write_all(bytes)?;
    file.flush()
}

/// A 0700 temporary folder named `PREFIX…` under the system temp dir, removed on drop and
/// registered for removal if casefile is stopped by a signal first.
pub fn private_tempdir(prefix: &str) -> io::Result<super::cleanup::TempArea> {
    super::cleanup::TempArea::new(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path)
            .expect("stat")
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn modes_are_exact_and_existing_folders_are_left_alone() {
        let root = tempfile::tempdir().expect("tmp");
        fs::set_permissions(root.path(), Permissions::from_mode(0o755)).expect("chmod");
        let nested = root.path().join("a/b/c");
        create_private_dir_all(&nested).expect("dirs");
        for dir in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&root.path().join(dir)), DIR_MODE, "{dir}");
        }
        assert_eq!(
            mode(root.path()),
            0o755,
            "an existing folder keeps its mode"
        );

        let file = nested.join("f");
        fs::write(&file, b"old").expect("write");
        fs::set_permissions(&file, Permissions::from_mode(0o644)).expect("chmod");
        write_private(&file, b"new").expect("private write");
        assert_eq!(mode(&file), FILE_MODE, "a replaced file becomes private");
        assert_eq!(fs::read(&file).expect("read"), b"new");
    }

    #[test]
    fn never_writes_through_a_symbolic_link() {
        let root = tempfile::tempdir().expect("tmp");
        let target = root.path().join("target");
        fs::write(&target, b"keep").expect("write");
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert!(create_private_file(&link).is_err());
        assert_eq!(fs::read(&target).expect("read"), b"keep");
    }
}
