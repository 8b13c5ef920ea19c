//! `casefile watch`: real HTTP requests to the real binary, signed as PagerDuty signs (HMAC-SHA256
//! over the raw body, written here in Rust). Good signature → 202 and a snapshot; bad or missing
//! → 401 and nothing; a replayed webhook id or a second delivery for the incident → one capture;
//! a restart keeps the de-duplication and runs what was accepted but not yet run; 413; 400.
#![allow(clippy::print_stderr)] // the elapsed time goes to the test log
mod support;

use hmac::{KeyInit, Mac};
use std::{
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::{Duration, Instant},
};
use support::cli::Sandbox;
use support::prism::Prism;
use support::s3::{self as s3, ACCESS_KEY, Moto, S3sFs, SECRET_KEY};

const SECRET: &str = "whsec-casefile-test";

/// The fixture payload with this event type and incident id.
fn payload(event: &str, incident: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/pagerduty/example-incident-triggered.json"),
    )
    .expect("fixture");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("json");
    value["event"]["event_type"] = event.into();
    value["event"]["data"]["id"] = incident.into();
    serde_json::to_vec(&value).expect("json")
}

fn sign(key: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2_hmac::Sha256>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

struct Watcher {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Watcher {
    fn start(sandbox: &Sandbox, port: u16, tag: &str) -> Watcher {
        let listen = format!("127.0.0.1:{port}");
        Watcher::start_with(
            sandbox,
            port,
            tag,
            &["--listen", &listen],
            &[],
            "\"listening\"",
        )
    }

    /// `casefile watch ARGS` with `env`, ready once its log shows `ready`.
    fn start_with(
        sandbox: &Sandbox,
        port: u16,
        tag: &str,
        args: &[&str],
        env: &[(&str, String)],
        ready: &str,
    ) -> Watcher {
        let log = sandbox.path().join(format!("watch-{tag}.log"));
        let file = std::fs::File::create(&log).expect("log");
        let mut command = sandbox.command();
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .env("CASEFILE_WEBHOOK_SECRET", SECRET)
            .arg("watch")
            .args(args)
            .arg("--out")
            .arg(sandbox.captures())
            .arg("--state-dir")
            .arg(sandbox.path().join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start casefile watch");
        let watcher = Watcher { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !watcher.log().contains(ready) {
            assert!(
                Instant::now() < deadline,
                "not listening: {}",
                watcher.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        watcher
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn post(&self, body: Vec<u8>, signature: Option<String>, hook: &str) -> u16 {
        let mut request = reqwest::Client::new()
            .post(self.url("/webhook"))
            .header("content-type", "application/json")
            .header("x-webhook-id", hook)
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-pagerduty-signature", signature);
        }
        request.send().await.expect("POST").status().as_u16()
    }

    /// SIGTERM, then wait for it to drain and exit.
    fn stop(mut self) -> String {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "{status:?}: {}", self.log());
        self.log()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn config(sandbox: &Sandbox, step: &str, concurrency: usize) {
    sandbox.write_config(&format!(
        r#"
[secrets.hook]
env = "CASEFILE_WEBHOOK_SECRET"

[watch]
webhook_secret = "hook"
cooldown = "1h"
concurrency = {concurrency}

[[runbooks]]
name = "mail"
service = "My Mail Service"
runs = ["{step}"]
"#
    ));
}

/// Snapshot folders (each with its manifest) for an incident.
fn snapshots(dir: &Path, incident: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            std::fs::read_to_string(p.join("manifest.json"))
                .is_ok_and(|m| m.contains(&format!("\"{incident}\"")) && m.contains("\"ended_at\""))
        })
        .collect()
}

fn wait_for_snapshots(dir: &Path, incident: &str, count: usize, log: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while snapshots(dir, incident).len() < count {
        assert!(
            Instant::now() < deadline,
            "no snapshot for {incident}: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_deliveries_capture_once_and_bad_ones_run_nothing() {
    let sandbox = Sandbox::new();
    config(&sandbox, "echo watched", 2);
    let watcher = Watcher::start(&sandbox, free_port(), "a");
    let health = reqwest::get(watcher.url("/health")).await.expect("health");
    assert_eq!(health.status().as_u16(), 200);

    let body = payload("incident.triggered", "PBAD001");
    assert_eq!(watcher.post(body.clone(), None, "h-none").await, 401);
    assert_eq!(
        watcher
            .post(body.clone(), Some(sign("not-the-secret", &body)), "h-bad")
            .await,
        401
    );
    let oversized = vec![b' '; 256 * 1024 + 1];
    let signature = sign(SECRET, &oversized);
    assert_eq!(watcher.post(oversized, Some(signature), "h-big").await, 413);
    let garbage = b"{\"event\": nope".to_vec();
    assert_eq!(
        watcher
            .post(garbage.clone(), Some(sign(SECRET, &garbage)), "h-garbage")
            .await,
        400
    );
    let annotated = payload("incident.annotated", "PANNO01");
    assert_eq!(
        watcher
            .post(annotated.clone(), Some(sign(SECRET, &annotated)), "h-anno")
            .await,
        202
    );

    let started = Instant::now();
    let body = payload("incident.triggered", "PGOOD01");
    // A rotation: the second v1 entry is the one that matches.
    let rotated = format!("v1=00ab,{}", sign(SECRET, &body));
    assert_eq!(
        watcher.post(body.clone(), Some(rotated), "h-good").await,
        202
    );
    assert!(started.elapsed() < Duration::from_secs(2), "202 at once");
    // Replayed webhook id, then a second delivery (new id) for the same incident.
    let signature = sign(SECRET, &body);
    assert_eq!(
        watcher
            .post(body.clone(), Some(signature.clone()), "h-good")
            .await,
        202
    );
    assert_eq!(watcher.post(body, Some(signature), "h-good-2").await, 202);
    let captures = sandbox.captures();
    wait_for_snapshots(&captures, "PGOOD01", 1, &|| watcher.log());
    eprintln!(
        "webhook accepted → snapshot on disk: {:.2}s",
        started.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        snapshots(&captures, "PGOOD01").len(),
        1,
        "{}",
        watcher.log()
    );
    assert!(snapshots(&captures, "PBAD001").is_empty());
    assert!(snapshots(&captures, "PANNO01").is_empty());
    let log = watcher.stop();
    for outcome in [
        "\"outcome\":\"bad-signature\"",
        "\"outcome\":\"too-large\"",
        "\"outcome\":\"malformed\"",
        "\"outcome\":\"ignored\"",
        "\"outcome\":\"queued\"",
        "\"outcome\":\"duplicate-webhook\"",
        "\"outcome\":\"duplicate-incident\"",
    ] {
        assert!(log.contains(outcome), "{outcome} missing from:\n{log}");
    }
    assert_eq!(
        log.matches("\"kind\":\"capture\"").count(),
        1,
        "one capture line: {log}"
    );

    // A restart keeps the de-duplication: the same webhook and incident run nothing.
    let watcher = Watcher::start(&sandbox, free_port(), "b");
    let body = payload("incident.triggered", "PGOOD01");
    let signature = sign(SECRET, &body);
    assert_eq!(
        watcher
            .post(body.clone(), Some(signature.clone()), "h-good")
            .await,
        202
    );
    assert_eq!(watcher.post(body, Some(signature), "h-good-3").await, 202);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(snapshots(&captures, "PGOOD01").len(), 1);
    let log = watcher.stop();
    assert!(!log.contains("\"kind\":\"capture\""), "{log}");
    let state = sandbox.path().join("state/watch-state.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&state)
        .expect("state")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_the_running_capture_and_a_restart_runs_what_was_accepted() {
    let sandbox = Sandbox::new();
    // One capture at a time, each taking 2 s: the second incident waits in the queue.
    config(&sandbox, "sleep 2; echo slow", 1);
    let watcher = Watcher::start(&sandbox, free_port(), "a");
    for (incident, hook) in [("PSLOW01", "s1"), ("PSLOW02", "s2")] {
        let body = payload("incident.triggered", incident);
        let signature = sign(SECRET, &body);
        assert_eq!(watcher.post(body, Some(signature), hook).await, 202);
    }
    std::thread::sleep(Duration::from_millis(500));
    let log = watcher.stop();
    let captures = sandbox.captures();
    assert_eq!(
        snapshots(&captures, "PSLOW01").len(),
        1,
        "the running capture finished before exit: {log}"
    );
    assert!(snapshots(&captures, "PSLOW02").is_empty(), "{log}");
    // Restarted: the accepted PSLOW02 runs; PSLOW01 does not run again.
    let watcher = Watcher::start(&sandbox, free_port(), "b");
    wait_for_snapshots(&captures, "PSLOW02", 1, &|| watcher.log());
    let log = watcher.stop();
    assert!(
        log.contains("\"kind\":\"resume\",") || log.contains("\"resume\""),
        "{log}"
    );
    assert_eq!(snapshots(&captures, "PSLOW01").len(), 1, "{log}");
    assert_eq!(snapshots(&captures, "PSLOW02").len(), 1, "{log}");
}

/// PagerDuty token, S3 credentials and endpoint for the export, as a user would set them.
fn export_env(prism: &Prism, s3_endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PAGERDUTY_TOKEN", "y_NbAkKc66ryYTWUXYEu".into()),
        ("PAGERDUTY_API_URL", prism.url()),
        ("PAGERDUTY_FROM", "responder@example.com".into()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL", s3_endpoint.into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

fn exporting_config(sandbox: &Sandbox) {
    sandbox.write_config(
        r#"
[secrets.hook]
env = "CASEFILE_WEBHOOK_SECRET"
[destinations]
s3 = "s3://evidence/casefile/"
[watch]
webhook_secret = "hook"
[[runbooks]]
name = "mail"
service = "My Mail Service"
runs = ["echo watched", "uname -a"]
export = ["s3", "incident"]
"#,
    );
}

fn wait_for_log(watcher: &Watcher, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = watcher.log();
        if log.contains(needle) {
            return log;
        }
        assert!(Instant::now() < deadline, "{needle} never logged: {log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_triggered_webhook_ends_in_s3_and_a_note_on_the_incident() {
    let prism = Prism::start();
    let server = S3sFs::start();
    server.create_bucket("evidence");
    let sandbox = Sandbox::new();
    exporting_config(&sandbox);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let watcher = Watcher::start_with(
        &sandbox,
        port,
        "e2e",
        &["--listen", &listen],
        &export_env(&prism, &server.endpoint()),
        "\"listening\"",
    );
    let body = payload("incident.triggered", "PT4KHLK");
    let started = Instant::now();
    assert_eq!(
        watcher
            .post(body.clone(), Some(sign(SECRET, &body)), "e2e-1")
            .await,
        202
    );
    let log = wait_for_log(&watcher, "\"kind\":\"capture\"");
    eprintln!(
        "webhook accepted → snapshot in S3 and note posted: {:.2}s",
        started.elapsed().as_secs_f64()
    );
    assert!(log.contains("\"note\":true"), "{log}");
    assert!(log.contains("\"outcome\":\"ok\""), "{log}");
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    let keys = s3::list_keys(&client, "evidence").await;
    assert!(keys.iter().any(|k| k.ends_with(".tar.gz")), "{keys:?}");
    assert!(!prism.log().contains("Violation"), "{}", prism.log());
    watcher.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn poll_mode_feeds_triggered_incidents_into_the_same_pipeline_once() {
    let prism = Prism::start();
    let server = S3sFs::start();
    server.create_bucket("evidence");
    let sandbox = Sandbox::new();
    exporting_config(&sandbox);
    let watcher = Watcher::start_with(
        &sandbox,
        0,
        "poll",
        &["--poll", "1s"],
        &export_env(&prism, &server.endpoint()),
        "\"kind\":\"poll\"",
    );
    wait_for_snapshots(&sandbox.captures(), "PT4KHLK", 1, &|| watcher.log());
    // Later polls still list the incident: the cooldown keeps it to one capture.
    let log = wait_for_log(&watcher, "\"outcome\":\"duplicate-incident\"");
    assert!(!log.contains("\"outcome\":\"failed\""), "{log}");
    let log = watcher.stop();
    assert_eq!(log.matches("\"kind\":\"capture\"").count(), 1, "{log}");
    assert_eq!(snapshots(&sandbox.captures(), "PT4KHLK").len(), 1);
    assert!(!prism.log().contains("Violation"), "{}", prism.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_watchers_sharing_the_store_capture_an_incident_once() {
    let prism = Prism::start();
    // moto one request at a time: conditional writes decided atomically, as on AWS S3
    // (tests/watch_lock.rs races many more watchers at the lock itself).
    let server = Moto::start_serial();
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    client
        .create_bucket()
        .bucket("evidence")
        .send()
        .await
        .expect("bucket");
    let env = export_env(&prism, &server.endpoint());
    let (first, second) = (Sandbox::new(), Sandbox::new());
    let mut watchers = Vec::new();
    for (sandbox, tag) in [(&first, "one"), (&second, "two")] {
        exporting_config(sandbox);
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        watchers.push(Watcher::start_with(
            sandbox,
            port,
            tag,
            &["--listen", &listen],
            &env,
            "\"listening\"",
        ));
    }
    // Each watcher gets its own delivery (own subscription, own webhook id), at the same time.
    let body = payload("incident.triggered", "PT4KHLK");
    let signature = sign(SECRET, &body);
    let (a, b) = tokio::join!(
        watchers[0].post(body.clone(), Some(signature.clone()), "sub-a"),
        watchers[1].post(body.clone(), Some(signature), "sub-b"),
    );
    assert_eq!((a, b), (202, 202));
    let logs = [
        wait_for_log(&watchers[0], "\"kind\":\"capture\""),
        wait_for_log(&watchers[1], "\"kind\":\"capture\""),
    ];
    let won = logs
        .iter()
        .filter(|l| l.contains("\"outcome\":\"ok\""))
        .count();
    let lost = logs
        .iter()
        .filter(|l| l.contains("\"outcome\":\"locked-elsewhere\""))
        .count();
    assert_eq!((won, lost), (1, 1), "{logs:?}");
    let captured = snapshots(&first.captures(), "PT4KHLK").len()
        + snapshots(&second.captures(), "PT4KHLK").len();
    assert_eq!(captured, 1, "one snapshot across both watchers");
    let keys = s3::list_keys(&client, "evidence").await;
    assert!(
        keys.contains(&"casefile/locks/PT4KHLK".to_string()),
        "{keys:?}"
    );
    assert_eq!(
        keys.iter().filter(|k| k.ends_with(".tar.gz")).count(),
        1,
        "{keys:?}"
    );
}

#[test]
fn the_watcher_refuses_to_start_on_runbooks_that_do_not_check_or_without_a_secret() {
    let sandbox = Sandbox::new();
    sandbox.write_config(
        "[secrets.hook]\nenv = \"CASEFILE_WEBHOOK_SECRET\"\n[watch]\nwebhook_secret = \"hook\"\n[[runbooks]]\nname = \"a\"\npresets = [\"no-such-preset\"]\n",
    );
    let output = sandbox.run(&["watch", "--listen", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(2));
    let errors = support::cli::stderr(&output);
    assert!(
        errors.contains("casefile.toml:7:12: runbook `a`") && errors.contains("no-such-preset"),
        "{errors}"
    );
    sandbox.write_config("[[runbooks]]\nname = \"a\"\nruns = [\"true\"]\n");
    let output = sandbox.run(&["watch", "--listen", "127.0.0.1:0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        support::cli::stderr(&output).contains("[watch] webhook_secret"),
        "{}",
        support::cli::stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_never_arrives_is_cut_off_and_runs_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let sandbox = Sandbox::new();
    config(&sandbox, "echo watched", 1);
    let watcher = Watcher::start(&sandbox, free_port(), "slow");
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", watcher.port))
        .await
        .expect("connect");
    stream
        .write_all(b"POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"event\":")
        .await
        .expect("write");
    let started = Instant::now();
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(15), stream.read(&mut answer))
        .await
        .expect("answered before 15 s")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let log = watcher.stop();
    assert!(log.contains("\"outcome\":\"body-timeout\""), "{log}");
    assert!(!log.contains("\"kind\":\"capture\""), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_certificate_the_listener_speaks_https_and_still_checks_signatures() {
    let sandbox = Sandbox::new();
    config(&sandbox, "echo over-tls", 1);
    let certs = sandbox.path().join("certs");
    std::fs::create_dir_all(&certs).expect("certs dir");
    support::certs::make_certs(&certs, "unused");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (cert, key) = (certs.join("server.crt"), certs.join("server.key"));
    let watcher = Watcher::start_with(
        &sandbox,
        port,
        "tls",
        &[
            "--listen",
            &listen,
            "--tls-cert",
            &cert.display().to_string(),
            "--tls-key",
            &key.display().to_string(),
        ],
        &[],
        "\"scheme\":\"https\"",
    );
    let ca = reqwest::Certificate::from_pem(&std::fs::read(certs.join("ca.pem")).expect("CA"))
        .expect("CA certificate");
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .build()
        .expect("client");
    let url = format!("https://localhost:{port}/webhook");
    let post = |body: Vec<u8>, signature: Option<String>, hook: &'static str| {
        let mut request = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-webhook-id", hook)
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-pagerduty-signature", signature);
        }
        async move {
            request
                .send()
                .await
                .expect("POST over TLS")
                .status()
                .as_u16()
        }
    };
    let body = payload("incident.triggered", "PTLS001");
    assert_eq!(post(body.clone(), None, "tls-unsigned").await, 401);
    assert_eq!(
        post(body.clone(), Some(sign(SECRET, &body)), "tls-signed").await,
        202
    );
    wait_for_snapshots(&sandbox.captures(), "PTLS001", 1, &|| watcher.log());
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await;
    assert!(plain.is_err(), "{plain:?}");
    watcher.stop();
}

#[test]
fn a_certificate_without_its_key_or_a_bad_pem_is_refused_at_start() {
    let sandbox = Sandbox::new();
    config(&sandbox, "echo never", 1);
    let bogus = sandbox.path().join("bogus.pem");
    std::fs::write(&bogus, "not a certificate\n").expect("write");
    let bogus = bogus.display().to_string();
    let out = sandbox
        .command()
        .env("CASEFILE_WEBHOOK_SECRET", SECRET)
        .args([
            "watch",
            "--listen",
            "127.0.0.1:1",
            "--tls-cert",
            &bogus,
            "--tls-key",
            &bogus,
        ])
        .output()
        .expect("run casefile watch");
    assert_eq!(out.status.code(), Some(2));
    let err = support::cli::stderr(&out);
    assert!(
        err.contains("TLS certificate") && err.contains("bogus.pem"),
        "{err}"
    );
    let out = sandbox.run(&["watch", "--listen", "127.0.0.1:1", "--tls-cert", &bogus]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap: --tls-cert requires --tls-key"
    );
}
