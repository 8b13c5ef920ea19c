//! The manifest and journal readers take any bytes: no panic, no allocation beyond a fixed
//! bound, and every file a manifest names is either refused or inside the snapshot folder.
//! Property tests (proptest, a modest case count so the default `cargo test` stays quick).
use casefile::snapshot::{
    Snapshot, confined,
    journal::{JournalEvent, MAX_LINE, read_journal, read_journal_from},
    reader::MAX_MANIFEST_BYTES,
};
use proptest::prelude::*;
use std::{fs, path::Path};

/// A real journal line of each kind, to mutate.
const LINES: [&str; 5] = [
    r#"{"ev":"begin","started_at":"2026-11-28T05:47:01.782Z","schema_version":1}"#,
    r#"{"ev":"start","t":100,"s":0}"#,
    r#"{"ev":"chunk","t":2000,"s":0,"fd":"out","off":0,"len":6}"#,
    r#"{"ev":"end","t":3000,"s":0,"result":{"status":"exited","stdout":{"path":"streams/a.out","bytes":6,"received_bytes":6},"stderr":{"path":"streams/a.err","bytes":0,"received_bytes":0}}}"#,
    r#"{"ev":"finish","t":300000}"#,
];

/// Numbers a hostile journal would try.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("18446744073709551615".to_string()),
        Just("18446744073709551616".to_string()),
        Just("-1".to_string()),
        Just("1e300".to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (0u64..100).prop_map(|n| n.to_string()),
    ]
}

fn chunk_line() -> impl Strategy<Value = String> {
    (number(), number(), number(), number()).prop_map(|(t, s, off, len)| {
        format!(r#"{{"ev":"chunk","t":{t},"s":{s},"fd":"out","off":{off},"len":{len}}}"#)
    })
}

fn journal_bytes() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        prop::sample::select(LINES.to_vec()).prop_map(|l| l.as_bytes().to_vec()),
        chunk_line().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..200),
        // A real line cut anywhere (a torn write).
        (
            prop::sample::select(LINES.to_vec()),
            any::<prop::sample::Index>()
        )
            .prop_map(|(l, at)| l.as_bytes()[..at.index(l.len())].to_vec()),
    ];
    prop::collection::vec(line, 0..24).prop_map(|lines| lines.join(&b'\n'))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any bytes: the journal reader returns events or an error naming a line, never panics,
    /// and every chunk it returns has an end that fits in 64 bits; reading that chunk from a
    /// small file allocates no more than the file holds.
    #[test]
    fn the_journal_reader_takes_any_bytes(bytes in journal_bytes()) {
        match read_journal_from(&bytes[..], "journal.jsonl") {
            Ok(events) => {
                let dir = tempfile::tempdir().expect("tmp");
                fs::write(dir.path().join("a.out"), b"hello\n").expect("write");
                let file = confined::open_stream_file(dir.path(), "a.out", "a").expect("open");
                for event in events {
                    if let JournalEvent::Chunk { off, len, .. } = event {
                        prop_assert!(off.checked_add(len).is_some());
                        let read = confined::read_range(&file, off, len).expect("read");
                        prop_assert!(read.len() <= 6);
                    }
                }
            }
            Err(e) => prop_assert!(e.to_string().starts_with("journal.jsonl:"), "{e}"),
        }
    }

    /// Any bytes as manifest.json: an error or a snapshot, never a panic.
    #[test]
    fn the_manifest_reader_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().expect("tmp");
        fs::write(dir.path().join("manifest.json"), &bytes).expect("write");
        let _ = Snapshot::open(dir.path());
    }

    /// Any path in a manifest: the snapshot is refused, or every path it names resolves inside
    /// the folder (and a running capture's recovery reads only there).
    #[test]
    fn every_manifest_path_stays_inside_or_is_refused(
        path in prop_oneof![
            prop::sample::select(vec![
                "/etc/passwd", "../../etc/passwd", "streams/../../x", "/dev/zero", ".",
                "streams", "streams/./a.out", "streams//a.out", "", "link/passwd", "streams/a.out",
            ]).prop_map(str::to_string),
            "[a-z./]{0,12}",
        ],
        running in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("tmp");
        fs::create_dir(dir.path().join("streams")).expect("streams");
        fs::write(dir.path().join("streams/a.out"), b"hello\n").expect("write");
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).expect("link");
        let manifest = manifest_with_path(&path, running);
        fs::write(dir.path().join("manifest.json"), manifest).expect("write");
        if let Ok(snapshot) = Snapshot::open(dir.path()) {
            for stream in &snapshot.manifest.streams {
                let rel = &stream.result.stdout.path;
                if rel.is_empty() {
                    continue;
                }
                match confined::open_stream_file(&snapshot.dir, rel, "stdout") {
                    Ok(_) => {
                        let real = fs::canonicalize(snapshot.dir.join(rel)).expect("real path");
                        let root = fs::canonicalize(dir.path()).expect("root");
                        prop_assert!(real.starts_with(&root), "{} escapes", real.display());
                    }
                    Err(e) => prop_assert!(e.is_missing(), "opened a snapshot naming {rel:?}: {e}"),
                }
            }
        }
    }
}

fn manifest_with_path(path: &str, running: bool) -> String {
    serde_json::json!({
        "schema_version": 1, "casefile_version": "0.1.0", "id": "fuzz",
        "operator": "t@h", "started_at": "2026-11-28T05:47:01.782Z",
        "state": if running { "running" } else { "complete" },
        "targets": [{"name": "local", "spec": {"type": "local"}, "source": "built-in"}],
        "streams": [{
            "id": "01", "target": 0, "preset": "adhoc", "step": "run",
            "action": {"command": "echo"}, "timeout_ms": 1000, "sudo": false, "intrusive": false,
            "target_name": "local", "status": if running { "running" } else { "exited" },
            "timed_out": false, "truncated": false,
            "stdout": {"path": path, "bytes": 6, "received_bytes": 6, "sha256": "00"},
            "stderr": {"path": "streams/a.err", "bytes": 0, "received_bytes": 0},
            "redactions": 0
        }]
    })
    .to_string()
}

#[test]
fn a_journal_line_longer_than_the_bound_is_refused_before_it_is_read_whole() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("journal.jsonl");
    let mut bytes = LINES[0].as_bytes().to_vec();
    bytes.push(b'\n');
    bytes.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
    fs::write(&path, bytes).expect("write");
    let error = read_journal(&path).expect_err("too long");
    assert!(
        error
            .to_string()
            .contains("journal.jsonl:2: line longer than"),
        "{error}"
    );
}

#[test]
fn a_manifest_larger_than_the_bound_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = fs::File::create(dir.path().join("manifest.json")).expect("create");
    // Sparse: no disk used, and reading it would allocate far over the bound.
    file.set_len(MAX_MANIFEST_BYTES + 1).expect("sparse");
    let error = Snapshot::open(dir.path()).expect_err("too large");
    assert!(
        error.to_string().contains("larger than any manifest"),
        "{error}"
    );
    assert!(Path::new(dir.path()).exists());
}
