//! A full disk, for real: a 2 MiB tmpfs (mounting needs root, as on the CI machines).
//! A capture of 5 MiB into it ends with a clear message, still prints its JSON summary, leaves
//! no `manifest.json.tmp`, and `show` reports the bytes that are on disk. Unpacking an archive
//! into a full temp folder says "No space left on device" and leaves nothing behind.
mod support;

use serde_json::Value;
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};
use support::cli::{Sandbox, stderr, stdout};

/// A small tmpfs, unmounted on drop.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> SmallDisk {
        fs::create_dir_all(dir).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("mount");
        assert!(
            mounted.status.success(),
            "this test needs root to mount a tmpfs: {}",
            String::from_utf8_lossy(&mounted.stderr)
        );
        SmallDisk {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

#[test]
fn a_capture_that_fills_the_disk_ends_cleanly_and_keeps_what_fits() {
    let sandbox = Sandbox::new();
    let disk = SmallDisk::mount(&sandbox.path().join("small"), "2m");
    let output = sandbox.run(&[
        "capture",
        "--json",
        "--out",
        &disk.dir.display().to_string(),
        "--run",
        "head -c 5M /dev/urandom",
        "--run",
        "echo small",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("No space left on device: the disk holding the snapshot is full"),
        "{text}"
    );
    assert!(!text.contains("finishing the snapshot failed"), "{text}");
    let summary: Value =
        serde_json::from_slice(&output.stdout).expect("the JSON summary is printed");
    let snapshot = PathBuf::from(summary["snapshot"].as_str().expect("snapshot"));
    let big = summary["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|s| s["id"].as_str().is_some_and(|id| id.ends_with("-1")))
        .expect("the 5M stream")
        .clone();
    assert_eq!(big["status"], "failed");
    let on_disk =
        fs::metadata(snapshot.join(format!("streams/{}.out", big["id"].as_str().expect("id"))))
            .expect("stream file")
            .len();
    assert!(
        on_disk > 1 << 20,
        "most of the 2 MiB holds output: {on_disk}"
    );
    assert_eq!(
        big["stdout_bytes"].as_u64(),
        Some(on_disk),
        "the summary counts what is on disk"
    );
    let human = casefile::model::size::human_bytes(on_disk);
    assert!(
        text.contains(&format!("({human})")),
        "the progress line counts it too: {text}"
    );

    let names: Vec<String> = fs::read_dir(&snapshot)
        .expect("snapshot")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    let manifest: Value =
        serde_json::from_slice(&fs::read(snapshot.join("manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(
        manifest["state"], "complete",
        "the final manifest was written"
    );

    let show = sandbox.run(&["show", &snapshot.display().to_string()]);
    let shown = stdout(&show);
    assert!(shown.contains(&human), "show says {human}: {shown}");
    assert!(shown.contains("No space left on device"), "{shown}");
}

#[test]
fn unpacking_into_a_full_temp_folder_says_no_space_left() {
    let sandbox = Sandbox::new();
    let archive = sandbox.exported_archive("head -c 3M /dev/urandom");

    let disk = SmallDisk::mount(&sandbox.path().join("tmp"), "1m");
    let show = sandbox
        .command()
        .env("TMPDIR", &disk.dir)
        .args(["show", &archive.display().to_string()])
        .output()
        .expect("show");
    assert_eq!(show.status.code(), Some(2));
    assert!(
        stderr(&show).contains("No space left on device"),
        "{}",
        stderr(&show)
    );
    let left: Vec<_> = fs::read_dir(&disk.dir).expect("tmp").collect();
    assert!(left.is_empty(), "temp folders left: {left:?}");
}
