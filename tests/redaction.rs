//! Secrets never reach disk: a planted secret, split across two chunks of output and also
//! present in the command line, appears in no file of the snapshot.
mod support;

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
