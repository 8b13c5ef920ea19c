//! Secrets never reach disk: a planted secret, split across two chunks of output and also
//! present in the command line, appears in no file of the snapshot.
mod support;

use casefile::redact::Redactor;
use proptest::prelude::*;
use std::sync::Arc;
use support::cli::{Sandbox, all_files, stderr};

const SECRET: &str = "s3cr3t-Pl4nted-Value-9f8e7d";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_planted_secret_split_across_chunks_appears_in_no_file() {
    let sandbox = Sandbox::new();
    sandbox.write_config("[secrets.api]\nenv = \"CASEFILE_TEST_API_KEY\"\nalways_redact = true\n");
    let (head, tail) = SECRET.split_at(11);
    // The sleep makes the two halves arrive as separate reads from the pipe.
    let split = format!(
        "printf 'key is {head}'; sleep 0.3; printf '{tail} and more\\n'; printf 'err {SECRET}\\n' >&2"
    );
    let output = sandbox
        .command()
        .env("CASEFILE_TEST_API_KEY", SECRET)
        .args([
            "capture",
            "--json",
            "--run",
            &split,
            "--run",
            &format!("echo {SECRET}; echo password=hunter22 AKIAIOSFODNN7EXAMPLE"),
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!contains(&output.stdout, SECRET) && !contains(&output.stderr, SECRET));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let dir = std::path::PathBuf::from(summary["snapshot"].as_str().expect("path"));
    let files = all_files(&dir);
    assert!(files.len() >= 6, "manifest, journal and four stream files");
    for (path, bytes) in &files {
        for secret in [SECRET, "hunter22", "AKIAIOSFODNN7EXAMPLE"] {
            assert!(
                !contains(bytes, secret),
                "{secret} found in {}",
                path.display()
            );
        }
    }
    let out = std::fs::read_to_string(dir.join("streams/01-local-adhoc-run-1.out")).expect("out");
    assert_eq!(out, "key is [REDACTED] and more\n");
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("json");
    // Stream 1: the split secret in stdout, the whole one in stderr, and the one in its command.
    assert_eq!(manifest["streams"][0]["redactions"], 3);
    assert!(
        manifest["streams"][1]["redactions"]
            .as_u64()
            .expect("count")
            >= 4
    );
}

/// Redacts `text` whole and returns the result; also checks that the export's re-check finds
/// nothing left in it (redacting redacted text changes nothing).
fn redacted(text: &str) -> String {
    let rules = Redactor::patterns_only();
    let (out, _) = rules.redact_text(text);
    assert_eq!(
        rules.find_unredacted(out.as_bytes()),
        None,
        "the re-check would refuse: {out}"
    );
    out
}

fn assert_redacted(text: &str, secret: &str, expected: &str) {
    let out = redacted(text);
    assert!(!out.contains(secret), "{secret} leaked: {out}");
    assert_eq!(out, expected);
}

#[test]
fn mysql_pwd_and_pgpassword_in_the_environment() {
    assert_redacted(
        "MYSQL_PWD=Sql-pw-123 mysqldump app\n",
        "Sql-pw-123",
        "MYSQL_PWD=[REDACTED] mysqldump app\n",
    );
    assert_redacted(
        "env PGPASSWORD='Pg pw 9' psql\n",
        "Pg pw 9",
        "env PGPASSWORD='[REDACTED] pw 9' psql\n",
    );
    assert_redacted(
        "PGPASSWORD=pg-pw-456\n",
        "pg-pw-456",
        "PGPASSWORD=[REDACTED]\n",
    );
    // `PWD=` is the working directory, not a password.
    assert_eq!(
        redacted("PWD=/root\nOLDPWD=/tmp\n"),
        "PWD=/root\nOLDPWD=/tmp\n"
    );
}

#[test]
fn authorization_and_x_api_key_headers() {
    assert_redacted(
        "> Authorization: Basic dXNlcjpwYXNzd29yZA==\r\n> Host: x\r\n",
        "dXNlcjpwYXNzd29yZA",
        "> Authorization: Basic [REDACTED]\r\n> Host: x\r\n",
    );
    assert_redacted(
        "authorization: AWS4-HMAC-SHA256 Credential=AK/2026, Signature=abc123\n",
        "Signature=abc123",
        "authorization: AWS4-HMAC-SHA256 [REDACTED]\n",
    );
    assert_redacted(
        r#"{"headers": {"Authorization": "Token token=pd-token-xyz"}}"#,
        "pd-token-xyz",
        r#"{"headers": {"Authorization": "Token [REDACTED]"}}"#,
    );
    assert_redacted(
        "X-API-Key: k-123456789\nx-api-key:k-987\n",
        "k-",
        "X-API-Key: [REDACTED]\nx-api-key:[REDACTED]\n",
    );
}

#[test]
fn github_and_slack_tokens() {
    let classic = format!("ghp_{}", "a1B2c3D4e5".repeat(4).get(..36).expect("36"));
    let fine = format!("github_pat_11ABCDEFG0123456789_{}", "x".repeat(59));
    let slack_bot = "xoxb-1234567890-0987654321-AbCdEfGhIjKl";
    let slack_user = "xoxp-1234567890-abcdefghij";
    let slack_app = "xoxa-2-1234567890-abcdef";
    for token in [classic.as_str(), &fine, slack_bot, slack_user, slack_app] {
        assert_redacted(
            &format!("GITHUB_TOKEN={token} and {token}\n"),
            token,
            "GITHUB_TOKEN=[REDACTED] and [REDACTED]\n",
        );
    }
    // Too short to be a token: left alone.
    assert_eq!(redacted("ghp_short xoxb-1\n"), "ghp_short xoxb-1\n");
}

#[test]
fn curl_user_and_password() {
    assert_redacted(
        "root  812  curl -s -u admin:Curl-pw-1 https://api/x\n",
        "Curl-pw-1",
        "root  812  curl -s -u admin:[REDACTED] https://api/x\n",
    );
    assert_redacted(
        "curl --user 'deploy:Curl pw' -X POST\n",
        "Curl",
        "curl --user 'deploy:[REDACTED] pw' -X POST\n",
    );
    assert_redacted(
        "curl -uops:hunter2x x\n",
        "hunter2x",
        "curl -uops:[REDACTED] x\n",
    );
    // docker's `-u uid:gid` is no password.
    assert_eq!(
        redacted("docker run -u 1000:1000 img\n"),
        "docker run -u 1000:1000 img\n"
    );
}

/// Binary output (a core file, a pcap, random bytes) that happens to hold `\n-u` is no
/// `curl -u`: user and password are printable ASCII, so the bytes are kept whole and the
/// export's re-check does not refuse them.
#[test]
fn binary_bytes_after_dash_u_are_not_a_curl_password() {
    let rules = Redactor::new(&[]);
    let mut input = b"\x00\n-u{&B\x81\xfe\x90:\xc3\x28\x9f\x01z\xff".to_vec();
    input.extend((0u8..=255).cycle().take(4096));
    let mut out = Vec::new();
    assert_eq!(rules.redact_into(&input, &mut out), 0);
    assert_eq!(out, input);
    assert!(rules.find_unredacted(&input).is_none());
}

const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\n\
MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n\
aFDrBz9vFqU4yRKbKJjuC5dIq2NDl2dO3JL3ZQzAhx8Q9i+XYZpEXAMPLEonly==\n\
-----END RSA PRIVATE KEY-----\n";

#[test]
fn pem_private_key_blocks_across_lines() {
    let text = format!("key file:\n{PEM}done\n");
    assert_redacted(
        &text,
        "MIIEowIBAAKCAQEA",
        "key file:\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\ndone\n",
    );
    // JSON with escaped line breaks (a GCP service account file).
    let json = format!(
        r#"{{"private_key": "{}", "client_email": "a@b"}}"#,
        PEM.replace('\n', "\\n")
    );
    let out = redacted(&json);
    assert!(!out.contains("MIIEowIBAAKCAQEA"), "{out}");
    assert!(out.contains(r#""client_email": "a@b""#), "{out}");
    // An OpenSSH key, and a block cut short: everything after BEGIN that can be key is dropped.
    let cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE\n";
    assert_redacted(
        cut,
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE",
        "-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]",
    );
    // A public key or certificate is not secret.
    let public = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n";
    assert_eq!(redacted(public), public);
}

#[test]
fn pem_private_key_split_at_every_offset_across_chunks() {
    let rules = Redactor::patterns_only();
    let text = format!("before\n{PEM}after\n");
    let bytes = text.as_bytes();
    let expected =
        "before\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\nafter\n";
    for split in 0..bytes.len() {
        let out = redact_chunks(&rules, &[&bytes[..split], &bytes[split..]]);
        assert_eq!(String::from_utf8_lossy(&out), expected, "split at {split}");
    }
    // Byte by byte.
    let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(
        String::from_utf8_lossy(&redact_chunks(&rules, &chunks)),
        expected
    );
}

/// MySQL's access-denied message says whether a password was sent, not what it was.
#[test]
fn using_password_yes_or_no_is_not_a_secret() {
    for text in [
        "Access denied for user 'cf'@'localhost' (using password: YES)",
        "Access denied for user 'cf'@'localhost' (using password: NO)",
    ] {
        assert_eq!(redacted(text), text);
    }
    // A registered secret inside the phrase is still replaced.
    let rules = Redactor::new(&["using pass".to_string()]);
    let (out, n) = rules.redact_text("(using password: YES)");
    assert_eq!((out.as_str(), n), ("([REDACTED]word: YES)", 1));
}

/// A registered secret in the part of a pattern match that is kept (a URL's user) is replaced.
#[test]
fn a_registered_secret_in_the_kept_part_of_a_match_is_replaced() {
    let rules = Redactor::new(&["Kept-Part-User".to_string()]);
    let (out, _) = rules.redact_text("https://Kept-Part-User:pw@host/");
    assert_eq!(out, "https://[REDACTED]:[REDACTED]@host/");
    assert!(
        rules
            .find_unredacted(b"https://Kept-Part-User:[REDACTED]@host/")
            .is_some()
    );
}

fn redact_chunks(rules: &Arc<Redactor>, chunks: &[&[u8]]) -> Vec<u8> {
    let mut stream = rules.stream();
    let mut out = Vec::new();
    for chunk in chunks {
        stream.push(chunk, &mut out);
    }
    stream.finish(&mut out);
    out
}

/// Cuts `bytes` at the given offsets (taken modulo the length, sorted, deduplicated).
fn chunked(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::new();
    let mut from = 0;
    for cut in cuts {
        chunks.push(bytes[from..cut].to_vec());
        from = cut;
    }
    chunks.push(bytes[from..].to_vec());
    chunks
}

/// Streams `bytes` in the given chunks, and also split in two at every offset in `splits`;
/// the secret appears in none of the outputs, and the re-check finds nothing in them.
fn assert_never_appears(rules: &Arc<Redactor>, bytes: &[u8], secret: &str, chunks: &[Vec<u8>]) {
    let chunk_refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let mut outputs = vec![redact_chunks(rules, &chunk_refs)];
    let at = bytes
        .windows(secret.len())
        .position(|w| w == secret.as_bytes())
        .unwrap_or(0);
    for split in at..=(at + secret.len()).min(bytes.len()) {
        outputs.push(redact_chunks(rules, &[&bytes[..split], &bytes[split..]]));
    }
    for out in outputs {
        assert!(
            !contains(&out, secret),
            "{secret:?} appears in {:?}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(
            rules.find_unredacted(&out),
            None,
            "re-check finding in {:?}",
            String::from_utf8_lossy(&out)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A registered secret, in any text, split at every offset and across any chunking.
    #[test]
    fn a_registered_secret_never_appears(
        secret in "[A-Za-z0-9_.+-]{4,40}",
        before in "[ -~\n]{0,300}",
        after in "[ -~\n]{0,300}",
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let rules = Redactor::new(std::slice::from_ref(&secret));
        let text = format!("{before}{secret}{after}");
        let chunks = chunked(text.as_bytes(), &cuts);
        assert_never_appears(&rules, text.as_bytes(), &secret, &chunks);
    }

    /// The secret part of each built-in pattern, in any text, split at every offset and
    /// across any chunking.
    #[test]
    fn a_pattern_secret_never_appears(
        form in 0usize..10,
        value in "[A-Za-z0-9]{12,40}",
        before in "[ -~\n]{0,200}",
        after in "[ -~\n]{0,200}",
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let upper = value.to_ascii_uppercase();
        let (line, secret) = match form {
            0 => (format!("export AWS_ACCESS_KEY_ID=AKIA{}", &upper[..12].repeat(2)[..16]), format!("AKIA{}", &upper[..12].repeat(2)[..16])),
            1 => (format!("password={value}"), value.clone()),
            2 => (format!("MYSQL_PWD={value} mysql"), value.clone()),
            3 => (format!("Authorization: Basic {value}"), value.clone()),
            4 => (format!("x-api-key: {value}"), value.clone()),
            5 => (format!("GITHUB_TOKEN=ghp_{}", value.repeat(4).get(..36).unwrap_or_default()), value.repeat(4)[..36].to_string()),
            6 => (format!("xoxb-{value}"), value.clone()),
            7 => (format!("curl -u admin:{value} https://x/"), value.clone()),
            8 => (format!("mysql://app:{value}@db:3306/x"), value.clone()),
            _ => (format!("-----BEGIN PRIVATE KEY-----\n{value}\n{value}\n-----END PRIVATE KEY-----"), value.clone()),
        };
        static RULES: std::sync::OnceLock<Arc<Redactor>> = std::sync::OnceLock::new();
        let rules = RULES.get_or_init(Redactor::patterns_only);
        let text = format!("{before}\n{line}\n{after}");
        let chunks = chunked(text.as_bytes(), &cuts);
        assert_never_appears(rules, text.as_bytes(), &secret, &chunks);
    }
}

/// The leak forms through a real capture: a PEM key arriving in two reads, headers, tokens.
#[test]
fn leak_forms_in_captured_output_reach_no_file() {
    let sandbox = Sandbox::new();
    let (head, tail) = PEM.split_at(90);
    let script = format!(
        "printf '%s' '{head}'; sleep 0.3; printf '%s' '{tail}'; \
         echo 'MYSQL_PWD=Leak-1-mysql PGPASSWORD=Leak-2-pg'; \
         echo 'Authorization: Basic Leak-3-basic'; echo 'x-api-key: Leak-4-key'; \
         echo 'curl -u ops:Leak-5-curl https://x'; echo 'xoxb-Leak-6-slack-000'"
    );
    let output = sandbox
        .command()
        .args(["capture", "--json", "--run", &script])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let dir = std::path::PathBuf::from(summary["snapshot"].as_str().expect("path"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let stdout_path = manifest["streams"][0]["stdout"]["path"]
        .as_str()
        .expect("path");
    let out = std::fs::read_to_string(dir.join(stdout_path)).expect("out");
    assert!(
        out.starts_with("-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\n"),
        "{out}"
    );
    for (path, bytes) in all_files(&dir) {
        for secret in ["MIIEowIBAAKCAQEA", "EXAMPLEonly", "Leak-"] {
            assert!(!contains(&bytes, secret), "{secret} in {}", path.display());
        }
    }
}

/// The export reads the manifest by field: a secret reference's NAME passes, while a secret
/// VALUE in any field (a registered one, or a `password`-like key with its value) is refused,
/// naming the field, and no archive is left.
#[test]
fn the_export_refuses_a_secret_value_in_any_manifest_field_but_not_a_reference_name() {
    let sandbox = Sandbox::new();
    sandbox.write_config("[secrets.api]\nenv = \"CASEFILE_TEST_API_KEY\"\nalways_redact = true\n");
    let output = sandbox
        .command()
        .env("CASEFILE_TEST_API_KEY", SECRET)
        .args(["capture", "--json", "--run", "echo ok"])
        .output()
        .expect("capture");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let dir = std::path::PathBuf::from(summary["snapshot"].as_str().expect("path"));
    let manifest_path = dir.join("manifest.json");
    let original: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("manifest")).expect("json");
    let export = |manifest: &serde_json::Value| {
        std::fs::write(
            &manifest_path,
            serde_json::to_vec_pretty(manifest).expect("json"),
        )
        .expect("write manifest");
        let out = sandbox.path().join("out");
        let _ = std::fs::remove_dir_all(&out);
        let output = sandbox
            .command()
            .env("CASEFILE_TEST_API_KEY", SECRET)
            .args([
                "export",
                &dir.display().to_string(),
                "--to",
                &format!("file:{}", out.display()),
            ])
            .output()
            .expect("export");
        let archives = std::fs::read_dir(&out).map_or(0, |d| d.count());
        (output, archives)
    };
    // A reference name: exported.
    let mut named = original.clone();
    named["targets"][0]["password_secret"] = "api".into();
    let (output, archives) = export(&named);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(archives, 2, "archive and sidecar");
    // The value of a registered secret there, or a password in another field: refused.
    let mut registered = original.clone();
    registered["targets"][0]["password_secret"] = SECRET.into();
    let mut pattern = original.clone();
    pattern["operator"] = "ops password=hunter22".into();
    for (manifest, field) in [
        (registered, "targets[0].password_secret"),
        (pattern, "operator"),
    ] {
        let (output, archives) = export(&manifest);
        let text = stderr(&output);
        assert_ne!(output.status.code(), Some(0), "{text}");
        assert!(
            text.contains("unredacted secret") && text.contains(field),
            "{text}"
        );
        assert!(
            !text.contains(SECRET) && !text.contains("hunter22"),
            "{text}"
        );
        assert_eq!(archives, 0, "no archive left: {text}");
    }
}

/// Error lines on stderr pass the redactor like log lines: an error that quotes what the
/// operator typed (here a path holding a token) never prints the secret form.
#[test]
fn error_lines_on_stderr_are_redacted() {
    let sandbox = Sandbox::new();
    let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
    let out = sandbox.run(&["show", &format!("/nonexistent/{token}")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("[REDACTED]"), "{err}");
    assert!(!err.contains(token), "{err}");
}

/// An incident title is free text written into the manifest: one that reads like a secret
/// ("DB password: …") is redacted when the snapshot is created, so the manifest never holds it
/// and the export's re-check packs the snapshot instead of refusing it.
#[test]
fn an_incident_title_that_looks_like_a_secret_is_redacted_and_the_snapshot_exports() {
    use casefile::model::{CapturePlan, Incident, IncidentId, Target};
    use casefile::snapshot::{Snapshot, SnapshotWriter, archive};
    let tmp = tempfile::tempdir().expect("tmp");
    let mut incident = Incident::with_id(IncidentId::new("PT4KHLK").expect("id"));
    incident.title = Some("DB password: Title-pw-77 rejected on orders".into());
    let plan = CapturePlan {
        incident: Some(incident),
        targets: vec![Target::local()],
        streams: vec![],
    };
    let rules = Redactor::patterns_only();
    let writer = SnapshotWriter::create(tmp.path(), &plan, Arc::clone(&rules), "ops".into())
        .expect("writer");
    writer
        .finish(casefile::snapshot::CaptureState::Complete)
        .expect("finish");
    let manifest = std::fs::read(writer.dir().join("manifest.json")).expect("manifest");
    assert!(!contains(&manifest, "Title-pw-77"));
    assert!(contains(&manifest, "[REDACTED]"));
    let snapshot = Snapshot::open(writer.dir()).expect("open");
    let out = tempfile::tempdir().expect("out");
    archive::pack(&snapshot, out.path(), &rules, 6).expect("the export packs the snapshot");
}
