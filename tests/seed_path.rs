//! The seed's path end to end, with real credentials and real servers: a MariaDB account whose
//! password comes from a file secret, an SSH host that takes a password from an env secret;
//! capture with the `mysql` preset and `linux-triage`; export to S3 (s3s, SigV4 checked) and a
//! note on the incident (Prism serving PagerDuty's API description). Neither password appears
//! anywhere: snapshot files, the archive's contents, the S3 objects, the note as sent, the
//! commands' stdout and stderr, casefile.log. And the manifest's own `"password_secret": "…"`
//! (a NAME), or MySQL's "(using password: NO)", does not stop the export.
mod support;

use serde_json::Value;
use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Output, Stdio},
    sync::{Arc, Mutex},
};
use support::cli::{Sandbox, all_files, stderr};
use support::mariadb::MariaDb;
use support::prism::Prism;
use support::s3::{self as s3, ACCESS_KEY, S3sFs, SECRET_KEY};
use support::sshd::{SshKeys, Sshd};

/// The database password (in a file secret) and the SSH password (in an env secret).
const DB_PASSWORD: &str = "Seed-Db-pw-4f7a21c9";
const SSH_PASSWORD: &str = "casefile-test-pw";
const SECRETS: [&str; 2] = [DB_PASSWORD, SSH_PASSWORD];
/// The slow-statement test's own password (the tests run at once; each watches for its own).
const SLOW_PASSWORD: &str = "Slow-Db-pw-8e2b0d11";
const PD_TOKEN: &str = "y_NbAkKc66ryYTWUXYEu";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    for secret in SECRETS {
        assert!(
            !contains(bytes, secret),
            "{secret} found in {what}:\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

fn assert_outputs_clean(what: &str, output: &Output) {
    assert_no_secret(&format!("{what} stdout"), &output.stdout);
    assert_no_secret(&format!("{what} stderr"), &output.stderr);
}

/// A TCP relay in front of a server that keeps every byte the client sent: the note exactly as
/// it went over the wire to Prism.
struct Recorder {
    port: u16,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl Recorder {
    fn start(upstream: u16) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&sent);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                let (mut client_reader, mut server_writer) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                let record = Arc::clone(&record);
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 16 << 10];
                    while let Ok(n) = client_reader.read(&mut buffer) {
                        if n == 0 || server_writer.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                        record.lock().expect("lock").extend_from_slice(&buffer[..n]);
                    }
                    let _ = server_writer.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Recorder { port, sent }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn sent(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().expect("lock")).into_owned()
    }
}

/// Every file in a `.tar.gz`, by name.
fn unpack(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut files = Vec::new();
    for entry in tar.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").display().to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read entry");
        files.push((name, bytes));
    }
    files
}

/// Looks at every process's argv while a capture runs, for a secret that only casefile knows
/// (from its file secret): casefile must pass it to no program.
struct ArgvWatch {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<String>>,
}

impl ArgvWatch {
    fn start(secret: &'static str) -> ArgvWatch {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut found = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let Ok(argv) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    if contains(&argv, secret) {
                        found.push(String::from_utf8_lossy(&argv).replace('\0', " "));
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            found
        });
        ArgvWatch { stop, thread }
    }

    fn stop(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("argv watch")
    }
}

fn log_file(sandbox: &Sandbox) -> PathBuf {
    sandbox.path().join(".local/state/casefile/casefile.log")
}

/// The database with the seed's account, and a session whose statement holds the password
/// (as an operator's `ALTER USER … IDENTIFIED BY` or a connection string would): the
/// processlist captures it, redaction must take it out.
fn database() -> (&'static MariaDb, std::process::Child) {
    // One server for both tests of this file (each has its own account).
    let db = MariaDb::shared();
    db.sql(&format!(
        "CREATE USER 'seed'@'%' IDENTIFIED BY '{DB_PASSWORD}'; GRANT PROCESS, SELECT ON *.* TO 'seed'@'%';"
    ));
    // On stdin, so that no argv holds the password (the test looks for it in every argv).
    let mut holder = db
        .client()
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a session");
    holder
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("SELECT SLEEP(60) AS waiting, '{DB_PASSWORD}' AS pw;\n").as_bytes())
        .expect("send the statement");
    // Until the session shows in the processlist.
    for _ in 0..100 {
        if db.sql("SHOW FULL PROCESSLIST").contains("SLEEP(60)") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (db, holder)
}

fn config(sandbox: &Sandbox, db: &MariaDb, sshd: &Sshd) -> PathBuf {
    let secret_file = sandbox.path().join("db-password");
    std::fs::write(&secret_file, format!("{DB_PASSWORD}\n")).expect("secret file");
    sandbox.write_config(&format!(
        "[secrets.dbpw]\nfile = \"{}\"\n\
         [secrets.sshpw]\nenv = \"CF_SEED_SSH_PW\"\n\
         [targets.orders-db]\nurl = \"mysql://seed@127.0.0.1:{}/\"\npassword_secret = \"dbpw\"\n\
         [targets.web1]\nurl = \"{}\"\npassword_secret = \"sshpw\"\n",
        secret_file.display(),
        db.port,
        sshd.url("casefile-test"),
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn password_targets_capture_and_export_to_s3_and_the_incident_with_no_secret_anywhere() {
    let (db, mut holder) = database();
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.path().join(".ssh")).expect("~/.ssh");
    std::fs::write(
        sandbox.path().join(".ssh/known_hosts"),
        sshd.known_hosts_lines(&keys.host_public()),
    )
    .expect("known_hosts");
    config(&sandbox, db, &sshd);
    let command = || {
        let mut command = sandbox.command();
        // Debug level: every library's log lines reach casefile.log too.
        command
            .env("CF_SEED_SSH_PW", SSH_PASSWORD)
            .env("CASEFILE_LOG", "debug")
            .env_remove("SSH_AUTH_SOCK");
        command
    };

    // Capture: the mysql preset on the password database, linux-triage on the password host,
    // an ad-hoc step that prints both passwords, and an account that sends no password (MySQL
    // answers "(using password: NO)", which is no secret).
    let nopw = format!("mysql://nobody@127.0.0.1:{}/", db.port);
    // The database password in a file the SSH user can read: the host prints it, no argv holds it.
    let remote_copy = tempfile::tempdir().expect("dir");
    std::fs::write(remote_copy.path().join("pw"), format!("{DB_PASSWORD}\n")).expect("write");
    {
        use std::os::unix::fs::PermissionsExt;
        let open = |path: &std::path::Path, mode| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
        };
        open(remote_copy.path(), 0o755);
        open(&remote_copy.path().join("pw"), 0o644);
    }
    let argv_watch = ArgvWatch::start(DB_PASSWORD);
    let capture = command()
        .args([
            "capture",
            "--json",
            "--incident",
            "PT4KHLK",
            "--target",
            "orders-db",
            "--target",
            &nopw,
            "--target",
            "web1",
            "--preset",
            "mysql",
            "--preset",
            "linux-triage",
            "--run",
            &format!(
                "id -un; echo {SSH_PASSWORD}; cat {}",
                remote_copy.path().join("pw").display()
            ),
        ])
        .output()
        .expect("capture");
    assert_eq!(
        argv_watch.stop(),
        Vec::<String>::new(),
        "processes whose argv held the database password"
    );
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(
        matches!(capture.status.code(), Some(0 | 1)),
        "{}",
        stderr(&capture)
    );
    assert_outputs_clean("capture", &capture);
    let summary: Value = serde_json::from_slice(&capture.stdout).expect("capture json");
    let snapshot = PathBuf::from(summary["snapshot"].as_str().expect("snapshot"));
    let id = summary["id"].as_str().expect("id").to_string();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(snapshot.join("manifest.json")).expect("manifest"))
            .expect("manifest json");
    let stream = |target: &str, step: &str| -> Value {
        manifest["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .find(|s| s["target_name"] == target && s["step"] == step)
            .unwrap_or_else(|| panic!("no stream {target} {step}"))
            .clone()
    };
    let read = |record: &Value| -> String {
        let path = record["path"].as_str().expect("path");
        String::from_utf8_lossy(&std::fs::read(snapshot.join(path)).expect("stream file"))
            .into_owned()
    };
    // The password logins worked, and the secret the processlist held was redacted.
    let processlist = stream("orders-db", "processlist");
    assert_eq!(processlist["status"], "exited", "{processlist}");
    let text = read(&processlist["stdout"]);
    assert!(
        text.contains("SLEEP(60)") && text.contains("[REDACTED]"),
        "{text}"
    );
    let adhoc = stream("web1", "run");
    assert_eq!(adhoc["status"], "exited", "{adhoc}");
    assert_eq!(
        read(&adhoc["stdout"]),
        "casefile-test\n[REDACTED]\n[REDACTED]\n"
    );
    assert_eq!(stream("web1", "uptime")["status"], "exited");
    let denied = manifest["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .find(|s| s["step"] == "processlist" && s["target_name"] != "orders-db")
        .expect("the no-password target's processlist")
        .clone();
    assert!(
        denied["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("(using password: NO)"),
        "{denied}"
    );
    // The manifest names the secret references, never their values.
    let targets = manifest["targets"].as_array().expect("targets");
    assert!(targets.iter().any(|t| t["password_secret"] == "dbpw"));
    assert!(targets.iter().any(|t| t["password_secret"] == "sshpw"));
    let files = all_files(&snapshot);
    assert!(files.len() > 20, "{} files", files.len());
    for (path, bytes) in &files {
        assert_no_secret(&path.display().to_string(), bytes);
    }

    // Export: S3 and a note on the incident, through a relay that records what was sent.
    let server = S3sFs::start();
    server.create_bucket("incidents");
    let prism = Prism::start();
    let relay = Recorder::start(prism.port);
    let export = command()
        .env("PAGERDUTY_TOKEN", PD_TOKEN)
        .env("PAGERDUTY_FROM", "responder@example.com")
        .env("PAGERDUTY_API_URL", relay.url())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", server.endpoint())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args([
            "export",
            &snapshot.display().to_string(),
            "--to",
            "s3://incidents/seed/",
            "--incident",
            "PT4KHLK",
            "--json",
        ])
        .output()
        .expect("export");
    assert_eq!(
        export.status.code(),
        Some(0),
        "{}\n{}",
        stderr(&export),
        prism.log()
    );
    assert_outputs_clean("export", &export);
    assert!(!contains(&export.stdout, PD_TOKEN) && !contains(&export.stderr, PD_TOKEN));
    let report: Value = serde_json::from_slice(&export.stdout).expect("export json");
    assert_eq!(report["note"]["created"], true, "{report}");

    // The S3 objects, and every file inside the archive.
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    let keys = s3::list_keys(&client, "incidents").await;
    let archive_key = format!("seed/{id}/{id}.tar.gz");
    assert!(keys.contains(&archive_key), "{keys:?}");
    assert_eq!(keys.len(), 3, "archive, sha256 and manifest: {keys:?}");
    for key in &keys {
        assert_no_secret(key, &s3::get_bytes(&client, "incidents", key).await);
    }
    let unpacked = unpack(&s3::get_bytes(&client, "incidents", &archive_key).await);
    assert_eq!(unpacked.len(), files.len(), "every snapshot file is packed");
    for (name, bytes) in &unpacked {
        assert_no_secret(name, bytes);
    }
    let packed_manifest = &unpacked
        .iter()
        .find(|(name, _)| name.ends_with("/manifest.json"))
        .expect("manifest in the archive")
        .1;
    assert!(contains(packed_manifest, "\"password_secret\": \"dbpw\""));

    // The note as it went to PagerDuty's API, which found it valid.
    let sent = relay.sent();
    assert!(sent.contains("POST /incidents/PT4KHLK/notes"), "{sent}");
    assert!(sent.contains(&format!("casefile snapshot {id}")), "{sent}");
    assert_no_secret("the note sent", sent.as_bytes());
    assert!(!prism.log().contains("Violation"), "{}", prism.log());

    // casefile.log: written, private, and clean.
    let log = log_file(&sandbox);
    let log_bytes = std::fs::read(&log).expect("casefile.log");
    assert_no_secret("casefile.log", &log_bytes);
    assert!(
        !contains(&log_bytes, PD_TOKEN),
        "the PagerDuty token is in casefile.log"
    );
    assert!(
        contains(&log_bytes, "DEBUG"),
        "debug lines were logged: {} bytes",
        log_bytes.len()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).expect("log").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// sqlx logs a slow statement (over 1 s) as a warning with its full text, literals included;
/// a literal that is a secret must reach neither stderr nor casefile.log.
#[test]
fn a_slow_statement_with_a_secret_literal_reaches_neither_stderr_nor_the_log() {
    let db = MariaDb::shared();
    db.sql(&format!(
        "CREATE USER 'slow'@'%' IDENTIFIED BY '{SLOW_PASSWORD}'; GRANT SELECT ON *.* TO 'slow'@'%';"
    ));
    let sandbox = Sandbox::new();
    let secret_file = sandbox.path().join("db-password");
    std::fs::write(&secret_file, SLOW_PASSWORD).expect("secret file");
    sandbox.write_config(&format!(
        "[secrets.dbpw]\nfile = \"{}\"\n[targets.db]\nurl = \"mysql://slow@127.0.0.1:{}/\"\npassword_secret = \"dbpw\"\n",
        secret_file.display(),
        db.port
    ));
    let output = sandbox
        .command()
        .env("CASEFILE_LOG", "debug")
        .args([
            "capture",
            "--target",
            "db",
            "--query",
            &format!(
                "SELECT SLEEP(1.3) AS slow, '{SLOW_PASSWORD}' AS registered, 'password=Literal-pw-31' AS pattern"
            ),
        ])
        .output()
        .expect("capture");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = std::fs::read(log_file(&sandbox)).expect("casefile.log");
    for (what, bytes) in [("stderr", &output.stderr), ("casefile.log", &log)] {
        for secret in [SLOW_PASSWORD, "Literal-pw-31"] {
            assert!(
                !contains(bytes, secret),
                "{secret} in {what}:\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert!(
            !contains(bytes, "\x1b["),
            "no colours when not a terminal: {what}"
        );
    }
}
