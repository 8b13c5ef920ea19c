//! Unpacking an archive is bounded and tidy: total bytes and entries are limited (the limits
//! are printed and `--max-unpack` / `--max-unpack-entries` raise them), a hostile tar (absolute
//! names, `..`, links, devices, FIFOs, huge declared sizes, many entries) writes nothing outside
//! the destination and is refused by name, and SIGTERM during an unpack leaves no temp folder.
mod support;

use casefile::snapshot::archive::{UnpackLimits, unpack_with};
use flate2::{Compression, GzBuilder};
use proptest::prelude::*;
use std::{
    fs::{self, File},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};
use support::cli::{Sandbox, stderr};

fn show(sandbox: &Sandbox, args: &[&str]) -> std::process::Output {
    sandbox
        .command()
        .env("TMPDIR", sandbox.path().join("tmp"))
        .arg("show")
        .args(args)
        .output()
        .expect("show")
}

fn leftovers(sandbox: &Sandbox) -> Vec<PathBuf> {
    fs::read_dir(sandbox.path().join("tmp"))
        .map(|d| d.map(|e| e.expect("entry").path()).collect())
        .unwrap_or_default()
}

#[test]
fn the_limits_are_printed_and_the_flags_raise_them() {
    let sandbox = Sandbox::new();
    fs::create_dir_all(sandbox.path().join("tmp")).expect("tmp");
    let archive = sandbox.exported_archive("seq 1 100000");
    let path = archive.display().to_string();

    let small = show(&sandbox, &[&path, "--max-unpack", "100KiB"]);
    assert_eq!(small.status.code(), Some(2));
    let text = stderr(&small);
    assert!(text.contains("more than 100.0 KiB"), "{text}");
    assert!(text.contains("--max-unpack SIZE"), "{text}");

    let few = show(&sandbox, &[&path, "--max-unpack-entries", "2"]);
    assert_eq!(few.status.code(), Some(2));
    assert!(
        stderr(&few).contains("more than 2 entries"),
        "{}",
        stderr(&few)
    );
    assert!(
        stderr(&few).contains("--max-unpack-entries N"),
        "{}",
        stderr(&few)
    );

    let raised = show(&sandbox, &[&path, "--max-unpack", "10MiB"]);
    assert_eq!(raised.status.code(), Some(0), "{}", stderr(&raised));
    let default = show(&sandbox, &[&path]);
    assert_eq!(default.status.code(), Some(0), "{}", stderr(&default));
    assert!(leftovers(&sandbox).is_empty(), "{:?}", leftovers(&sandbox));
}

/// One entry of a hand-made tar.
#[derive(Debug, Clone)]
struct Entry {
    name: Vec<u8>,
    kind: tar::EntryType,
    /// Size written in the header.
    declared: u64,
    /// Bytes actually following it.
    data: Vec<u8>,
    link: Option<Vec<u8>>,
}

fn entry(name: &str, kind: tar::EntryType, data: &[u8]) -> Entry {
    Entry {
        name: name.as_bytes().to_vec(),
        kind,
        declared: data.len() as u64,
        data: data.to_vec(),
        link: None,
    }
}

/// Writes the entries as raw headers (the tar crate's builder refuses the hostile ones).
fn hostile_archive(path: &Path, entries: &[Entry]) {
    let file = File::create(path).expect("create");
    let mut gz = GzBuilder::new().write(file, Compression::fast());
    use std::io::Write;
    for e in entries {
        let mut header = tar::Header::new_gnu();
        let name = &e.name[..e.name.len().min(99)];
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        if let Some(link) = &e.link {
            let link = &link[..link.len().min(99)];
            header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        }
        header.set_size(e.declared);
        header.set_mode(0o644);
        header.set_entry_type(e.kind);
        header.set_cksum();
        gz.write_all(header.as_bytes()).expect("header");
        gz.write_all(&e.data).expect("data");
        let pad = (512 - e.data.len() % 512) % 512;
        gz.write_all(&vec![0u8; pad]).expect("pad");
    }
    gz.write_all(&[0u8; 1024]).expect("end");
    gz.finish().expect("gz");
}

/// Paths under `dir`, with whether each is a plain file or folder at 0600/0700.
fn tree(dir: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in fs::read_dir(&next).expect("read dir") {
            let path = entry.expect("entry").path();
            let meta = fs::symlink_metadata(&path).expect("stat");
            if meta.is_dir() {
                stack.push(path.clone());
            }
            found.push((path, meta));
        }
    }
    found
}

fn assert_clean(root: &Path, dest: &Path, limits: &UnpackLimits) {
    let mut bytes = 0;
    for (path, meta) in tree(root) {
        assert!(
            path.starts_with(dest) || path == dest,
            "{} written outside",
            path.display()
        );
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
        } else {
            assert!(meta.is_file(), "{} is not a regular file", path.display());
            if path.starts_with(dest) {
                assert_eq!(mode, 0o600, "{}", path.display());
                bytes += meta.len();
            }
        }
    }
    assert!(
        bytes <= limits.max_bytes,
        "{bytes} bytes written over the limit"
    );
}

fn unpack_hostile(entries: &[Entry], limits: &UnpackLimits) -> (tempfile::TempDir, String) {
    let root = tempfile::tempdir().expect("tmp");
    let archive = root.path().join("archive").join("hostile.tar.gz");
    fs::create_dir_all(archive.parent().expect("parent")).expect("dir");
    hostile_archive(&archive, entries);
    let dest = root.path().join("dest");
    casefile::snapshot::private::create_private_dir(&dest).expect("dest");
    let message = match unpack_with(&archive, &dest, limits) {
        Ok(dir) => format!("ok {}", dir.display()),
        Err(e) => e.to_string(),
    };
    fs::remove_dir_all(root.path().join("archive")).expect("rm archive");
    assert_clean(root.path(), &dest, limits);
    (root, message)
}

#[test]
fn each_hostile_entry_is_refused_by_name_and_nothing_lands_outside() {
    let limits = UnpackLimits {
        max_bytes: 1 << 20,
        max_entries: 50,
    };
    let manifest = entry("snap/manifest.json", tar::EntryType::Regular, b"{}");
    let cases: Vec<(Entry, &str)> = vec![
        (
            entry("/tmp/casefile-absolute", tar::EntryType::Regular, b"evil"),
            "an absolute path",
        ),
        (
            entry("snap/../../escaped", tar::EntryType::Regular, b"evil"),
            "climbs out with `..`",
        ),
        (
            Entry {
                link: Some(b"/etc/passwd".to_vec()),
                ..entry("snap/streams/a.out", tar::EntryType::Symlink, b"")
            },
            "a symbolic link",
        ),
        (
            Entry {
                link: Some(b"/etc/passwd".to_vec()),
                ..entry("snap/streams/b.out", tar::EntryType::Link, b"")
            },
            "a hard link",
        ),
        (entry("snap/zero", tar::EntryType::Char, b""), "a device"),
        (entry("snap/disk", tar::EntryType::Block, b""), "a device"),
        (entry("snap/fifo", tar::EntryType::Fifo, b""), "a FIFO"),
        (
            Entry {
                declared: 5 << 30,
                ..entry("snap/streams/huge.out", tar::EntryType::Regular, b"")
            },
            "more than 1.0 MiB",
        ),
        (
            entry("snap/manifest.json", tar::EntryType::Regular, b"{}"),
            "the same name",
        ),
    ];
    for (bad, expected) in cases {
        let (_root, message) = unpack_hostile(&[manifest.clone(), bad.clone()], &limits);
        assert!(message.contains(expected), "{bad:?}: {message}");
        assert!(!Path::new("/tmp/casefile-absolute").exists());
    }
    let many: Vec<Entry> = (0..51)
        .map(|i| entry(&format!("snap/f{i}"), tar::EntryType::Regular, b"x"))
        .collect();
    let (_root, message) = unpack_hostile(&many, &limits);
    assert!(message.contains("more than 50 entries"), "{message}");
}

/// A decompression bomb in a header (a GNU long name of many MiB) stops at the stream bound.
#[test]
fn a_huge_long_name_stops_at_the_bound() {
    let limits = UnpackLimits {
        max_bytes: 64 << 10,
        max_entries: 10,
    };
    let bomb = Entry {
        ..entry(
            "././@LongLink",
            tar::EntryType::GNULongName,
            &vec![b'a'; 8 << 20],
        )
    };
    let (_root, message) = unpack_hostile(&[bomb], &limits);
    assert!(
        message.contains("unpacks to more than 64.0 KiB of data"),
        "{message}"
    );
}

fn arbitrary_entry() -> impl Strategy<Value = Entry> {
    let names = prop::sample::select(vec![
        "snap/manifest.json",
        "snap/streams/a.out",
        "snap/streams",
        "/etc/casefile-test",
        "../up",
        "snap/../../up",
        "./snap/x",
        "snap//y",
        "",
        "snap/streams/a.out/inner",
    ]);
    let kinds = prop::sample::select(vec![
        tar::EntryType::Regular,
        tar::EntryType::Directory,
        tar::EntryType::Symlink,
        tar::EntryType::Link,
        tar::EntryType::Char,
        tar::EntryType::Fifo,
        tar::EntryType::GNUSparse,
        tar::EntryType::XHeader,
    ]);
    (names, kinds, 0usize..3000, any::<bool>()).prop_map(|(name, kind, len, lie)| Entry {
        name: name.as_bytes().to_vec(),
        kind,
        declared: if lie { u64::MAX >> 20 } else { len as u64 },
        data: vec![b'z'; len],
        link: Some(b"/etc/passwd".to_vec()),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any mix of hostile entries: no panic, nothing outside the destination, nothing but
    /// 0600 files and 0700 folders inside it, never more bytes than the limit.
    #[test]
    fn any_hostile_tar_stays_inside_and_bounded(entries in prop::collection::vec(arbitrary_entry(), 0..8)) {
        let limits = UnpackLimits { max_bytes: 4096, max_entries: 6 };
        let _ = unpack_hostile(&entries, &limits);
    }
}

#[test]
fn sigterm_during_an_unpack_removes_the_temp_folder() {
    let sandbox = Sandbox::new();
    let tmp = sandbox.path().join("tmp");
    fs::create_dir_all(&tmp).expect("tmp");
    // 400 MiB of zeros: small as an archive, slow enough to unpack that the signal lands mid-way.
    let src = sandbox.path().join("src/snap");
    fs::create_dir_all(src.join("streams")).expect("src");
    fs::write(src.join("manifest.json"), "{}").expect("manifest");
    let zeros = File::create(src.join("streams/zeros.out")).expect("zeros");
    zeros.set_len(400 << 20).expect("sparse");
    let archive = sandbox.path().join("big.tar.gz");
    let packed = Command::new("tar")
        .args(["--sort=name", "-I", "gzip -1", "-cf"])
        .arg(&archive)
        .arg("-C")
        .arg(sandbox.path().join("src"))
        .arg("snap")
        .status()
        .expect("tar");
    assert!(packed.success());

    let mut child = sandbox
        .command()
        .env("TMPDIR", &tmp)
        .args(["show", &archive.display().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = None;
    while Instant::now() < deadline && seen.is_none() {
        seen = leftovers(&sandbox)
            .into_iter()
            .find(|p| p.join("snap/streams/zeros.out").exists());
        std::thread::sleep(Duration::from_millis(5));
    }
    let seen = seen.expect("the unpack started writing");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let status = child.wait().expect("wait");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(15), "ended by the signal: {status:?}");
    assert!(!seen.exists(), "{} left behind", seen.display());
    assert!(leftovers(&sandbox).is_empty(), "{:?}", leftovers(&sandbox));
}
