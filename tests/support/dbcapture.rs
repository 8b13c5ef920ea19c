//! Runs query steps through the real engine into a snapshot in a temp dir, for database tests.
use casefile::capture::{CaptureControl, Engine, Limits, LiveView, TargetRunner};
use casefile::model::{CapturePlan, Repeat, StepAction, StreamSpec, Target, TargetSpec};
use casefile::redact::Redactor;
use casefile::secret::SecretRef;
use casefile::snapshot::{Manifest, SnapshotWriter};
use std::{path::PathBuf, sync::Arc, time::Duration};

/// A snapshot made by [`capture`].
pub struct Captured {
    pub parent: tempfile::TempDir,
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Captured {
    fn read(&self, rel: &str) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.join(rel)).unwrap_or_default()).into_owned()
    }
    pub fn stdout(&self, stream: usize) -> String {
        self.read(&self.manifest.streams[stream].result.stdout.path)
    }
    pub fn stderr(&self, stream: usize) -> String {
        self.read(&self.manifest.streams[stream].result.stderr.path)
    }
    pub fn jsonl(&self, stream: usize) -> String {
        self.manifest.streams[stream]
            .result
            .data
            .as_ref()
            .map(|d| self.read(&d.path))
            .unwrap_or_default()
    }
    /// Every JSON line of a stream, parsed.
    pub fn json_rows(&self, stream: usize) -> Vec<serde_json::Value> {
        self.jsonl(stream)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
            .collect()
    }
}

pub fn target(url: &str) -> Target {
    let spec = TargetSpec::parse_url(url).expect("target url");
    Target {
        name: "db".into(),
        spec,
        tags: vec![],
        source: "test".into(),
        password_secret: None,
    }
}

/// A query step with a timeout.
pub fn step(name: &str, sql: &str, timeout: Duration) -> StreamSpec {
    StreamSpec::new(
        name.to_string(),
        0,
        "test",
        name,
        StepAction::Query(sql.into()),
        timeout,
    )
}

pub fn repeated(mut spec: StreamSpec, every: Duration, samples: u32) -> StreamSpec {
    spec.repeat = Some(Repeat { every, samples });
    spec
}

/// Runs `streams` on `target`; `password` is handed over as a resolved secret reference
/// (from a file) and registered with the redactor, as the CLI does.
pub async fn capture(target: Target, password: Option<&str>, streams: Vec<StreamSpec>) -> Captured {
    let mut streams = streams;
    for (i, s) in streams.iter_mut().enumerate() {
        s.id = format!("{:02}-{}", i + 1, s.id);
    }
    let plan = CapturePlan {
        incident: None,
        targets: vec![target.clone()],
        streams,
    };
    // The password travels as a secret reference (a file), resolved like the CLI does.
    let secret = password.map(|p| {
        let file = tempfile::NamedTempFile::new().expect("secret file");
        std::fs::write(file.path(), p).expect("write secret");
        let reference = SecretRef {
            env: None,
            file: Some(file.path().display().to_string()),
            command: None,
            always_redact: false,
            timeout: None,
        };
        let value = reference.resolve("db").expect("resolve secret");
        (file, value)
    });
    let secrets: Vec<String> = secret.iter().map(|(_, v)| v.expose().to_string()).collect();
    let redactor = Redactor::new(&secrets);
    let parent = tempfile::tempdir().expect("temp dir");
    let writer = SnapshotWriter::create(parent.path(), &plan, redactor, "test@host".into())
        .expect("snapshot");
    let live = Arc::new(LiveView::new(plan.streams.len(), 100, 1 << 20));
    let control = CaptureControl::new(plan.streams.len());
    let runner = TargetRunner::for_database(&target, secret.as_ref().map(|(_, v)| v.clone()));
    let manifest = Engine {
        limits: Limits::new(Some(8), None),
    }
    .run_with_runners(
        &plan,
        vec![runner],
        Arc::clone(&writer),
        live,
        &control,
        None,
    )
    .await
    .expect("capture runs");
    Captured {
        dir: writer.dir().to_path_buf(),
        parent,
        manifest,
    }
}
