//! `journal.idx`, the compact index replay opens instead of parsing the journal: it says what the
//! journal says, and since it comes from a snapshot it is untrusted input. A damaged, truncated,
//! stale, unsealed or linked index is never used, never panics, and never makes replay read
//! anything but the stream files the manifest names (each holds one letter here, so a byte from
//! anywhere else would show).
use casefile::model::{CapturePlan, StepAction, StreamSpec, Target};
use casefile::snapshot::journal::{Fd, read_journal};
use casefile::snapshot::journal_index::INDEX_FILE;
use casefile::snapshot::manifest::StreamResult;
use casefile::snapshot::player::{Feed, IndexSource, JournalIndex, Player};
use casefile::snapshot::{CaptureState, JOURNAL_FILE, SnapshotWriter, StreamStatus};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const STREAMS: usize = 3;

fn spec(id: &str) -> StreamSpec {
    StreamSpec::new(
        id,
        0,
        "adhoc",
        id,
        StepAction::Command("true".into()),
        Duration::from_secs(5),
    )
}

/// The letter every line of stream `s`'s output `fd` is made of.
fn letter(s: usize, fd: Fd) -> u8 {
    b'a' + (s * 2 + fd as usize) as u8
}

/// A snapshot written by the real writer: three streams, interleaved lines on stdout and
/// stderr, some sleeps so the chunks spread over time. `finish` false leaves it as a crash does.
fn write_snapshot(parent: &Path, finish: bool) -> PathBuf {
    let plan = CapturePlan {
        incident: None,
        targets: vec![Target::local()],
        streams: (0..STREAMS).map(|i| spec(&format!("0{i}-local"))).collect(),
    };
    let writer = SnapshotWriter::create(
        parent,
        &plan,
        casefile::redact::Redactor::new(&[]),
        "op".into(),
    )
    .expect("writer");
    let mut files: Vec<_> = (0..STREAMS)
        .map(|s| writer.stream_started(s).expect("started"))
        .collect();
    for round in 0..40 {
        for (s, (out, err)) in files.iter_mut().enumerate() {
            let line = |fd| {
                let mut line = vec![letter(s, fd); 1 + (round * 7 + s) % 50];
                line.push(b'\n');
                line
            };
            out.write_chunk(&line(Fd::Out)).expect("out");
            if round % 3 == s % 3 {
                err.write_chunk(&line(Fd::Err)).expect("err");
            }
        }
        if round % 10 == 0 {
            std::thread::sleep(Duration::from_millis(3));
        }
    }
    let dir = writer.dir().to_path_buf();
    if !finish {
        return dir;
    }
    for (s, (out, err)) in files.into_iter().enumerate() {
        let (stdout, _, _) = out.finish().expect("stdout");
        let (stderr, _, _) = err.finish().expect("stderr");
        let result = StreamResult {
            status: StreamStatus::Exited,
            started_at: None,
            ended_at: None,
            duration_ms: Some(1),
            exit_code: Some(0),
            signal: None,
            timed_out: false,
            truncated: false,
            reason: None,
            stdout,
            stderr,
            data: None,
            artifact: None,
            redactions: 0,
        };
        writer.stream_ended(s, result).expect("ended");
    }
    writer.finish(CaptureState::Complete).expect("finish");
    dir
}

/// Plays `player` through a fixed walk of seeks; returns what each pane holds after each, and
/// checks every byte handed out belongs to the stream and output it is said to come from.
fn play(player: &mut Player) -> Vec<Vec<Vec<u8>>> {
    let end = player.duration();
    let mut panes = vec![Vec::new(); STREAMS];
    let mut states = Vec::new();
    for pos in [0, end / 3, end, end / 2, u64::MAX, 0, end] {
        player.seek(pos, &mut |feed| match feed {
            Feed::Reset => panes.iter_mut().for_each(Vec::clear),
            Feed::Bytes { stream, fd, bytes } => {
                assert!(stream < STREAMS, "stream {stream} does not exist");
                assert!(
                    bytes.iter().all(|&b| b == letter(stream, fd) || b == b'\n'),
                    "stream {stream} {fd:?} was handed bytes of another file"
                );
                panes[stream].extend_from_slice(bytes);
            }
        });
        states.push(panes.clone());
    }
    states
}

#[test]
fn a_finished_capture_is_replayed_from_its_index_exactly_as_from_its_journal() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = write_snapshot(parent.path(), true);
    let mut cached = Player::open(&dir).expect("open");
    assert_eq!(cached.index_source(), IndexSource::Cache);
    let journal = JournalIndex::build(
        read_journal(&dir.join(JOURNAL_FILE)).expect("journal"),
        STREAMS,
    );
    assert_eq!(cached.index, journal);
    assert!(cached.index.chunks().len() > 100);
    let with_index = play(&mut cached);

    std::fs::remove_file(dir.join(INDEX_FILE)).expect("remove index");
    let mut read = Player::open(&dir).expect("open without index");
    assert_eq!(read.index_source(), IndexSource::Journal);
    assert_eq!(play(&mut read), with_index);
    let last = with_index.last().expect("states");
    assert!(
        last.iter().all(|pane| !pane.is_empty()),
        "every pane shows output at the end"
    );
}

#[test]
fn an_unsealed_or_stale_index_is_not_used() {
    let parent = tempfile::tempdir().expect("tempdir");
    // Killed mid-capture: the index was never sealed.
    let crashed = write_snapshot(parent.path(), false);
    let player = Player::open(&crashed).expect("open crashed");
    assert_eq!(player.index_source(), IndexSource::Journal);
    assert!(!player.index.chunks().is_empty());

    // Sealed, then the journal grew: the index no longer describes it.
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = write_snapshot(parent.path(), true);
    let mut journal = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(JOURNAL_FILE))
        .expect("journal");
    std::io::Write::write_all(&mut journal, b"{\"ev\":\"finish\",\"t\":99999999}\n")
        .expect("append");
    let player = Player::open(&dir).expect("open");
    assert_eq!(player.index_source(), IndexSource::Journal);
    assert_eq!(player.duration(), 99_999_999);
}

#[test]
fn an_index_linked_from_elsewhere_is_not_followed() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = write_snapshot(parent.path(), true);
    // A valid index, but outside the folder and reached through a link.
    let outside = parent.path().join("elsewhere.idx");
    std::fs::rename(dir.join(INDEX_FILE), &outside).expect("move");
    std::os::unix::fs::symlink(&outside, dir.join(INDEX_FILE)).expect("link");
    let mut player = Player::open(&dir).expect("open");
    assert_eq!(player.index_source(), IndexSource::Journal);
    play(&mut player);
}

/// A way to damage an index.
#[derive(Debug, Clone)]
enum Damage {
    Flip {
        at: usize,
        byte: u8,
    },
    Truncate(usize),
    Append(Vec<u8>),
    /// Overwrites a header or record field with a hostile number.
    Field {
        at: usize,
        value: u64,
    },
}

fn damage() -> impl Strategy<Value = Damage> {
    let hostile = prop_oneof![
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(1u64 << 63),
        Just(0u64),
        any::<u64>(),
        0u64..4096,
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Damage::Flip { at, byte }),
        any::<usize>().prop_map(Damage::Truncate),
        prop::collection::vec(any::<u8>(), 1..70).prop_map(Damage::Append),
        (0usize..64, hostile).prop_map(|(field, value)| Damage::Field {
            at: field * 8,
            value
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any damage to the index: opening never panics, and whatever index replay ends up with,
    /// it reads only the manifest's stream files, each byte from the output it claims.
    #[test]
    fn a_damaged_index_never_panics_and_never_reads_elsewhere(damages in prop::collection::vec(damage(), 1..4)) {
        let parent = tempfile::tempdir().expect("tempdir");
        let dir = write_snapshot(parent.path(), true);
        let path = dir.join(INDEX_FILE);
        let mut bytes = std::fs::read(&path).expect("index");
        for d in &damages {
            match d {
                Damage::Flip { at, byte } => {
                    let n = bytes.len();
                    if n > 0 { bytes[at % n] ^= byte | 1; }
                }
                Damage::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
                Damage::Append(more) => bytes.extend_from_slice(more),
                Damage::Field { at, value } => {
                    if at + 8 <= bytes.len() {
                        bytes[*at..at + 8].copy_from_slice(&value.to_le_bytes());
                    }
                }
            }
        }
        std::fs::write(&path, &bytes).expect("write damaged index");
        if let Ok(mut player) = Player::open(&dir) {
            play(&mut player);
        }
    }
}
