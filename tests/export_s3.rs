//! `casefile export --to s3://…` against real S3-compatible servers started here: s3s-fs in
//! process (checks SigV4) and moto's server mode (a separate process). The real binary runs with
//! credentials and endpoint from the environment, as a user would run it.
mod support;

use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};
use support::cli::{Sandbox, stderr, stdout};
use support::s3::{self as s3, ACCESS_KEY, Moto, S3sFs, SECRET_KEY};

const BUCKET: &str = "incidents";

/// Captures `runs` (shell commands) into a new snapshot; returns its folder.
fn capture(sandbox: &Sandbox, runs: &[&str]) -> PathBuf {
    let captures = sandbox.captures();
    // A generous timeout: the debug binary redacts tens of MiB slowly on a busy machine.
    let mut args = vec![
        "capture".to_string(),
        "--json".into(),
        "--timeout".into(),
        "10m".into(),
        "--out".into(),
        captures.display().to_string(),
    ];
    for run in runs {
        args.push("--run".into());
        args.push(run.to_string());
    }
    let output = sandbox.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("capture json");
    PathBuf::from(summary["snapshot"].as_str().expect("snapshot path"))
}

/// `casefile export` with AWS settings in the environment only.
fn export_command(sandbox: &Sandbox, endpoint: &str, secret: &str) -> Command {
    let mut command = sandbox.command();
    command
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_SESSION_TOKEN");
    command.arg("export");
    command
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: stdout {} stderr {}", stdout(output), stderr(output)))
}

fn snapshot_id(dir: &Path) -> String {
    dir.file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned()
}

fn curl(url: &str) -> Vec<u8> {
    let output = Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "60", url])
        .output()
        .expect("run curl");
    assert!(
        output.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Small and multipart exports to one store: the three objects, bytes equal to the local archive,
/// the presigned link works with plain curl, and a second export sends nothing again.
async fn round_trip(endpoint: &str, sandbox: &Sandbox) {
    let client = s3::client(endpoint, ACCESS_KEY, SECRET_KEY).await;
    let small = capture(sandbox, &["echo hello from the incident; uname -a"]);
    // 16 MiB of incompressible output: a 16 MiB archive in 5 MiB parts = 4 parts.
    let big = capture(sandbox, &["head -c 16777216 /dev/urandom"]);
    for (snapshot, min_parts) in [(&small, 1), (&big, 3)] {
        let id = snapshot_id(snapshot);
        let local = sandbox.path().join("local").join(&id);
        let output = export_command(sandbox, endpoint, SECRET_KEY)
            .arg(snapshot)
            .args([
                "--to",
                &format!("s3://{BUCKET}/cases/2026/"),
                "--to",
                &format!("file:{}", local.display()),
            ])
            .args([
                "--part-size",
                "5MiB",
                "--multipart-threshold",
                "5MiB",
                "--expires-in",
                "1h",
                "--json",
            ])
            .output()
            .expect("run export");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let report = json_of(&output);
        let upload = &report["s3"][0];
        let key = format!("cases/2026/{id}/{id}.tar.gz");
        assert_eq!(upload["key"], key.as_str());
        assert!(
            upload["parts"].as_u64().expect("parts") >= min_parts,
            "{report}"
        );
        assert_eq!(upload["already_present"], false);
        let keys = s3::list_keys(&client, BUCKET).await;
        for expected in [
            key.clone(),
            format!("{key}.sha256"),
            format!("cases/2026/{id}/manifest.json"),
        ] {
            assert!(keys.contains(&expected), "{expected} missing from {keys:?}");
        }
        let local_archive =
            std::fs::read(local.join(format!("{id}.tar.gz"))).expect("local archive");
        let uploaded = s3::get_bytes(&client, BUCKET, &key).await;
        assert_eq!(uploaded.len(), local_archive.len());
        assert!(
            uploaded == local_archive,
            "uploaded bytes differ from the packed archive"
        );
        let sidecar =
            String::from_utf8(s3::get_bytes(&client, BUCKET, &format!("{key}.sha256")).await)
                .expect("utf8");
        assert_eq!(
            sidecar.split_whitespace().next(),
            report["archive"]["sha256"].as_str()
        );
        let manifest =
            s3::get_bytes(&client, BUCKET, &format!("cases/2026/{id}/manifest.json")).await;
        assert_eq!(
            manifest,
            std::fs::read(snapshot.join("manifest.json")).expect("manifest")
        );
        // The presigned link, fetched by plain curl, serves the same bytes.
        let link = upload["presigned_url"].as_str().expect("link");
        assert!(link.contains("X-Amz-Expires=3600"), "{link}");
        assert!(curl(link) == local_archive, "presigned download differs");

        // Exporting again: same key, identical object, not sent again.
        let again = export_command(sandbox, endpoint, SECRET_KEY)
            .arg(snapshot)
            .args([
                "--to",
                &format!("s3://{BUCKET}/cases/2026/"),
                "--part-size",
                "5MiB",
                "--multipart-threshold",
                "5MiB",
                "--json",
            ])
            .output()
            .expect("run export");
        assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
        let again = json_of(&again);
        assert_eq!(again["s3"][0]["key"], key.as_str());
        assert_eq!(again["s3"][0]["already_present"], true, "{again}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn s3s_fs_small_and_multipart_uploads_round_trip_and_presigned_links_work() {
    let server = S3sFs::start();
    server.create_bucket(BUCKET);
    let sandbox = Sandbox::new();
    round_trip(&server.endpoint(), &sandbox).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_small_and_multipart_uploads_round_trip_and_presigned_links_work() {
    let server = Moto::start();
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    client
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create bucket");
    let sandbox = Sandbox::new();
    round_trip(&server.endpoint(), &sandbox).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_key_is_refused_and_nothing_is_stored() {
    let server = S3sFs::start();
    server.create_bucket(BUCKET);
    let sandbox = Sandbox::new();
    let snapshot = capture(&sandbox, &["echo data"]);
    // The default attempts, not one: the server may refuse the signature before it has read
    // the body and close the connection, which the client sees as a broken pipe and retries
    // (as it would for a user). A refused signature itself is not retried.
    let output = export_command(&sandbox, &server.endpoint(), "not-the-secret-key-at-all")
        .arg(&snapshot)
        .args(["--to", &format!("s3://{BUCKET}/x/")])
        .output()
        .expect("run export");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    assert!(err.contains("check the credentials"), "{err}");
    assert!(
        !err.contains("not-the-secret-key-at-all"),
        "the secret must not be printed: {err}"
    );
    assert!(
        stdout(&output).trim().is_empty(),
        "nothing reported as uploaded: {}",
        stdout(&output)
    );
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    assert!(s3::list_keys(&client, BUCKET).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_upload_gives_a_clear_error_and_a_retry_succeeds() {
    let mut server = S3sFs::start();
    server.create_bucket(BUCKET);
    let sandbox = Sandbox::new();
    let snapshot = capture(&sandbox, &["head -c 41943040 /dev/urandom"]);
    let id = snapshot_id(&snapshot);
    let key = format!("cut/{id}/{id}.tar.gz");
    let args = [
        "--to",
        &format!("s3://{BUCKET}/cut/"),
        "--part-size",
        "5MiB",
        "--multipart-threshold",
        "5MiB",
        "--upload-concurrency",
        "2",
    ];
    let child = export_command(&sandbox, &server.endpoint(), SECRET_KEY)
        .arg(&snapshot)
        .args(args)
        .args(["--max-attempts", "2", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start export");
    // Stop the server once the first part has landed, while the rest are in flight.
    let deadline = Instant::now() + Duration::from_secs(120);
    while server.pending_parts() == 0 {
        assert!(Instant::now() < deadline, "no part ever reached the server");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.stop();
    let output = child.wait_with_output().expect("wait export");
    assert_eq!(
        output.status.code(),
        Some(1),
        "the export must fail: {}",
        stderr(&output)
    );
    let err = stderr(&output);
    assert!(err.contains("export failed") && err.contains(&key), "{err}");
    assert!(
        err.contains("did not answer") || err.contains("run the same export again"),
        "{err}"
    );
    let report = json_of(&output);
    assert_eq!(
        report["s3"].as_array().map(Vec::len),
        Some(0),
        "nothing may be reported as uploaded: {report}"
    );
    assert!(report["error"].is_string());

    // The store comes back: no half object under the key, and the same command finishes the job.
    server.start_again();
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    assert!(
        !s3::list_keys(&client, BUCKET).await.contains(&key),
        "a half-uploaded object is visible"
    );
    let retry = export_command(&sandbox, &server.endpoint(), SECRET_KEY)
        .arg(&snapshot)
        .args(args)
        .args([
            "--to",
            &format!("file:{}", sandbox.path().join("local").display()),
            "--json",
        ])
        .output()
        .expect("run export again");
    assert_eq!(retry.status.code(), Some(0), "{}", stderr(&retry));
    assert_eq!(json_of(&retry)["s3"][0]["key"], key.as_str());
    let local = std::fs::read(sandbox.path().join("local").join(format!("{id}.tar.gz")))
        .expect("local archive");
    assert!(
        s3::get_bytes(&client, BUCKET, &key).await == local,
        "the retried upload differs from the archive"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_planted_secret_never_reaches_the_store_and_an_unredacted_file_is_refused() {
    const SECRET: &str = "pl4nted-S3cret-Value-4242";
    let server = S3sFs::start();
    server.create_bucket(BUCKET);
    let sandbox = Sandbox::new();
    sandbox.write_config("[secrets.api]\nenv = \"CASEFILE_TEST_API_KEY\"\nalways_redact = true\n");
    let captures = sandbox.captures();
    let output = sandbox
        .command()
        .env("CASEFILE_TEST_API_KEY", SECRET)
        .args([
            "capture",
            "--json",
            "--out",
            &captures.display().to_string(),
        ])
        .args([
            "--run",
            &format!(
                "echo key={SECRET}; echo {SECRET} >&2; echo password=hunter22 AKIAIOSFODNN7EXAMPLE"
            ),
        ])
        .output()
        .expect("capture");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let snapshot = PathBuf::from(json_of(&output)["snapshot"].as_str().expect("path"));
    let id = snapshot_id(&snapshot);
    let export = export_command(&sandbox, &server.endpoint(), SECRET_KEY)
        .env("CASEFILE_TEST_API_KEY", SECRET)
        .arg(&snapshot)
        .args(["--to", &format!("s3://{BUCKET}/clean/"), "--json"])
        .output()
        .expect("export");
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    let keys = s3::list_keys(&client, BUCKET).await;
    assert_eq!(keys.len(), 3, "{keys:?}");
    let mut seen_redaction_mark = false;
    for key in &keys {
        let mut bytes = s3::get_bytes(&client, BUCKET, key).await;
        if key.ends_with(".tar.gz") {
            let mut tar = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
                &mut tar,
            )
            .expect("gunzip");
            bytes = tar;
        }
        seen_redaction_mark |= contains(&bytes, b"[REDACTED]");
        for secret in [SECRET, "hunter22", "AKIAIOSFODNN7EXAMPLE"] {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{secret} found in uploaded {key}"
            );
        }
    }
    assert!(seen_redaction_mark, "the archive holds the redacted output");

    // A file changed after capture so that it holds a secret: export refuses and sends nothing.
    let stream_file = std::fs::read_dir(snapshot.join("streams"))
        .expect("streams")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "out"))
        .expect("a stdout file");
    let stream_name = format!(
        "streams/{}",
        stream_file.file_name().expect("name").to_string_lossy()
    );
    let mut text = std::fs::read(&stream_file).expect("stream file");
    text.extend_from_slice(format!("late line {SECRET}\n").as_bytes());
    std::fs::write(&stream_file, text).expect("tamper");
    let refused = export_command(&sandbox, &server.endpoint(), SECRET_KEY)
        .env("CASEFILE_TEST_API_KEY", SECRET)
        .arg(&snapshot)
        .args(["--to", &format!("s3://{BUCKET}/refused/")])
        .output()
        .expect("export");
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(
        err.contains("refusing to export") && err.contains(&stream_name),
        "{err}"
    );
    assert!(
        !err.contains(SECRET),
        "the message must not quote the secret: {err}"
    );
    let keys = s3::list_keys(&client, BUCKET).await;
    assert!(
        keys.iter().all(|k| !k.starts_with("refused/")),
        "nothing may be uploaded: {keys:?}"
    );
    assert!(!keys.iter().any(|k| k.contains(&format!("refused/{id}"))));
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_keeps_server_side_encryption_and_storage_class_on_single_and_multipart_uploads() {
    let server = Moto::start();
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    client
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("create bucket");
    let sandbox = Sandbox::new();
    let snapshot = capture(&sandbox, &["echo encrypted please"]);
    let id = snapshot_id(&snapshot);
    // A threshold of one byte sends even this small archive as a (one-part) multipart upload.
    for (prefix, threshold) in [("single", "1GiB"), ("multi", "1")] {
        let output = export_command(&sandbox, &server.endpoint(), SECRET_KEY)
            .arg(&snapshot)
            .args([
                "--to",
                &format!("s3://{BUCKET}/{prefix}/"),
                "--multipart-threshold",
                threshold,
            ])
            .args([
                "--sse",
                "AES256",
                "--storage-class",
                "STANDARD_IA",
                "--json",
            ])
            .output()
            .expect("export");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let report = json_of(&output);
        assert_eq!(report["s3"][0]["parts"], 1);
        let key = format!("{prefix}/{id}/{id}.tar.gz");
        let head = client
            .head_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .expect("head");
        assert_eq!(
            head.server_side_encryption().map(|s| s.as_str()),
            Some("AES256"),
            "{prefix}"
        );
        assert_eq!(
            head.storage_class().map(|s| s.as_str()),
            Some("STANDARD_IA"),
            "{prefix}"
        );
        assert_eq!(
            head.metadata()
                .and_then(|m| m.get("casefile-sha256"))
                .map(String::as_str),
            report["archive"]["sha256"].as_str(),
            "{prefix}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_named_profile_and_the_s3_endpoint_variable_are_used() {
    let server = S3sFs::start();
    server.create_bucket(BUCKET);
    let sandbox = Sandbox::new();
    let snapshot = capture(&sandbox, &["echo via profile"]);
    // HOME is the sandbox: ~/.aws holds a wrong default and the right `incident` profile.
    let aws = sandbox.path().join(".aws");
    std::fs::create_dir_all(&aws).expect("aws dir");
    std::fs::write(
        aws.join("credentials"),
        format!("[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = wrong-default-secret\n\n[incident]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"),
    )
    .expect("credentials");
    std::fs::write(
        aws.join("config"),
        "[default]\nregion = us-east-1\n\n[profile incident]\nregion = us-east-1\n",
    )
    .expect("config");
    let run = |profile: Option<&str>| {
        let mut command = sandbox.command();
        command
            .env("AWS_ENDPOINT_URL_S3", server.endpoint())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .args([
                "export",
                &snapshot.display().to_string(),
                "--to",
                &format!("s3://{BUCKET}/p/"),
            ]);
        // Default attempts, as a user runs it: the server may refuse the wrong signature and
        // close before reading the body, which the client sees as a broken pipe and retries;
        // a refused signature itself is not retried.
        if let Some(profile) = profile {
            command.args(["--profile", profile]);
        }
        command.output().expect("export")
    };
    let default = run(None);
    assert_eq!(
        default.status.code(),
        Some(1),
        "the default profile's secret is wrong: {}",
        stderr(&default)
    );
    assert!(
        stderr(&default).contains("SignatureDoesNotMatch"),
        "{}",
        stderr(&default)
    );
    let named = run(Some("incident"));
    assert_eq!(named.status.code(), Some(0), "{}", stderr(&named));
    let client = s3::client(&server.endpoint(), ACCESS_KEY, SECRET_KEY).await;
    let id = snapshot_id(&snapshot);
    assert!(
        s3::list_keys(&client, BUCKET)
            .await
            .contains(&format!("p/{id}/{id}.tar.gz"))
    );
}
