//! SSH targets against a real OpenSSH sshd (started by the harness on loopback): key, agent and
//! password logins; known_hosts match, unknown, changed; ProxyJump; exit codes, signals,
//! stdout/stderr; streaming; remote kill on timeout; silent and refusing hosts; binary artifacts.
mod support;

use casefile::snapshot::Manifest;
use casefile::snapshot::journal::{Fd, JournalEvent, read_journal};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::cli::{Sandbox, stderr};
use support::sshd::{Agent, SshKeys, Sshd, free_port, pgrep};

/// The remote user: the `casefile-test` account from scripts/setup/ssh.sh (shell /bin/sh, so no
/// shell start-up files slow sessions down); root where a test is about root logins.
const USER: &str = "casefile-test";

/// A temp dir the remote user may write to (the tests run as root, the remote user is not).
fn shared_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("shared dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

/// A sandboxed casefile with a `~/.ssh` of its own.
struct Env {
    sandbox: Sandbox,
}

impl Env {
    fn new() -> Env {
        let sandbox = Sandbox::new();
        std::fs::create_dir_all(sandbox.path().join(".ssh")).expect("~/.ssh");
        Env { sandbox }
    }

    fn ssh_dir(&self) -> PathBuf {
        self.sandbox.path().join(".ssh")
    }

    fn known_hosts(&self) -> PathBuf {
        self.ssh_dir().join("known_hosts")
    }

    fn trust(&self, sshd: &Sshd, key: &str) {
        let mut text = std::fs::read_to_string(self.known_hosts()).unwrap_or_default();
        text.push_str(&sshd.known_hosts_lines(key));
        std::fs::write(self.known_hosts(), text).expect("known_hosts");
    }

    /// Installs the user key as `~/.ssh/id_ed25519` (OpenSSH's default identity).
    fn default_identity(&self, keys: &SshKeys) {
        std::fs::copy(keys.user_key(), self.ssh_dir().join("id_ed25519")).expect("id_ed25519");
    }

    fn command(&self) -> Command {
        let mut cmd = self.sandbox.command();
        cmd.env_remove("SSH_AUTH_SOCK");
        cmd
    }

    fn capture(&self, args: &[&str]) -> (Output, Option<Capture>) {
        let out_dir = self.sandbox.captures();
        let output = self
            .command()
            .arg("capture")
            .args(["--out", out_dir.to_str().expect("utf8")])
            .args(args)
            .output()
            .expect("run casefile");
        (output, Capture::latest(&out_dir))
    }
}

struct Capture {
    dir: PathBuf,
    manifest: Manifest,
}

impl Capture {
    fn latest(out_dir: &Path) -> Option<Capture> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(out_dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        dirs.sort();
        let dir = dirs.pop()?;
        let manifest =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).ok()?).ok()?;
        Some(Capture { dir, manifest })
    }

    fn stream(&self, step: &str) -> &casefile::snapshot::StreamRecord {
        self.manifest
            .streams
            .iter()
            .find(|s| s.spec.step == step)
            .unwrap_or_else(|| panic!("no stream {step}"))
    }

    fn stdout(&self, step: &str) -> String {
        String::from_utf8_lossy(
            &std::fs::read(self.dir.join(&self.stream(step).result.stdout.path)).expect("stdout"),
        )
        .into_owned()
    }

    fn stderr(&self, step: &str) -> String {
        String::from_utf8_lossy(
            &std::fs::read(self.dir.join(&self.stream(step).result.stderr.path)).expect("stderr"),
        )
        .into_owned()
    }
}

#[test]
fn default_key_runs_steps_with_exit_codes_signals_and_separate_output() {
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let env = Env::new();
    env.trust(&sshd, &keys.host_public());
    env.default_identity(&keys);
    let (output, capture) = env.capture(&[
        "--target",
        &sshd.url(USER),
        "--run",
        "echo to-out; echo to-err >&2; exit 3",
        "--run",
        "echo before; kill -KILL $$",
        "--run",
        "printf 'a\\000b'",
        "--run",
        "(sleep 4246 &); echo left-behind",
    ]);
    let capture = capture.expect("snapshot");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let first = capture.stream("run-1");
    assert_eq!(first.result.exit_code, Some(3));
    assert_eq!(capture.stdout("run-1"), "to-out\n");
    assert_eq!(capture.stderr("run-1"), "to-err\n");
    let second = capture.stream("run-2");
    assert_eq!(
        (second.result.exit_code, second.result.signal),
        (None, Some(9)),
        "{:?}",
        second.result
    );
    assert_eq!(capture.stdout("run-2"), "before\n");
    assert_eq!(
        std::fs::read(
            capture
                .dir
                .join(&capture.stream("run-3").result.stdout.path)
        )
        .expect("bytes"),
        b"a\0b"
    );
    // A background process the step left behind is stopped with it, and is no error.
    let fourth = &capture.stream("run-4").result;
    assert_eq!(fourth.exit_code, Some(0), "{fourth:?}");
    assert!(fourth.reason.is_none(), "{fourth:?}");
    assert_eq!(capture.stdout("run-4"), "left-behind\n");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !pgrep("^sleep 4246").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        pgrep("^sleep 4246").is_empty(),
        "a process the step left behind survived"
    );
}

#[test]
fn agent_login_and_a_failure_that_names_the_methods_tried() {
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let env = Env::new();
    env.trust(&sshd, &keys.host_public());
    let agent = Agent::start(&[&keys.user_key()]);
    let out_dir = env.sandbox.captures();
    let output = env
        .command()
        .env("SSH_AUTH_SOCK", &agent.socket)
        .args([
            "capture",
            "--out",
            out_dir.to_str().expect("utf8"),
            "--target",
            &sshd.url(USER),
            "--run",
            "whoami",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        Capture::latest(&out_dir).expect("snapshot").stdout("run"),
        "casefile-test\n"
    );

    // No agent, no identity file, no password: fails, saying what was tried and what the server takes.
    let (output, capture) = env.capture(&["--target", &sshd.url(USER), "--run", "whoami"]);
    assert_eq!(output.status.code(), Some(1));
    let reason = capture
        .expect("snapshot")
        .stream("run")
        .result
        .reason
        .clone()
        .unwrap_or_default();
    assert!(
        reason.contains("authentication failed")
            && reason.contains("tried: nothing")
            && reason.contains("publickey"),
        "{reason}"
    );
}

#[test]
fn password_from_a_secret_and_it_is_redacted() {
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let env = Env::new();
    env.trust(&sshd, &keys.host_public());
    env.sandbox.write_config(&format!(
        "[secrets.pw]\nenv = \"CF_TEST_SSH_PW\"\n[targets.pwhost]\nurl = \"{}\"\npassword_secret = \"pw\"\n",
        sshd.url("casefile-test")
    ));
    let out_dir = env.sandbox.captures();
    let output = env
        .command()
        .env("CF_TEST_SSH_PW", "casefile-test-pw")
        .args([
            "capture",
            "--out",
            out_dir.to_str().expect("utf8"),
            "--target",
            "pwhost",
            "--run",
            "id -un; echo casefile-test-pw",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let capture = Capture::latest(&out_dir).expect("snapshot");
    let out = capture.stdout("run");
    assert!(out.starts_with("casefile-test\n"), "{out}");
    assert!(
        !out.contains("casefile-test-pw"),
        "password must be redacted: {out}"
    );
}

#[test]
fn unknown_host_refused_then_learned_with_accept_new_then_matched_hashed() {
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let env = Env::new();
    env.default_identity(&keys);
    let shared = shared_dir();
    let marker = shared.path().join("marker-unknown");
    let touch = format!("touch {}", marker.display());
    let (output, capture) = env.capture(&["--target", &sshd.url(USER), "--run", &touch]);
    assert_eq!(output.status.code(), Some(1));
    let reason = capture
        .expect("snapshot")
        .stream("run")
        .result
        .reason
        .clone()
        .unwrap_or_default();
    assert!(
        reason.contains("not in known_hosts")
            && reason.contains("SHA256:")
            && reason.contains("--accept-new"),
        "{reason}"
    );
    assert!(!marker.exists(), "nothing may run on an unknown host");

    let (output, _) = env.capture(&["--accept-new", "--target", &sshd.url(USER), "--run", &touch]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(marker.exists());
    let learned = std::fs::read_to_string(env.known_hosts()).expect("known_hosts");
    assert!(
        learned.contains(&format!("[127.0.0.1]:{}", sshd.port))
            && learned.contains(&keys.host_public()),
        "{learned}"
    );

    // Hash the file as `HashKnownHosts yes` would: still matched, no flag needed.
    let status = Command::new("ssh-keygen")
        .arg("-q")
        .arg("-H")
        .arg("-f")
        .arg(env.known_hosts())
        .output()
        .expect("ssh-keygen -H");
    assert!(status.status.success());
    let hashed = std::fs::read_to_string(env.known_hosts()).expect("kh");
    assert!(
        hashed.trim_start().starts_with("|1|"),
        "{hashed} / {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let (output, capture) = env.capture(&["--target", &sshd.url(USER), "--run", "echo matched"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(capture.expect("snapshot").stdout("run"), "matched\n");
}

#[test]
fn changed_host_key_is_refused_even_with_accept_new_and_nothing_runs() {
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let env = Env::new();
    env.default_identity(&keys);
    env.trust(&sshd, &keys.other_host_public());
    let shared = shared_dir();
    let marker = shared.path().join("marker-changed");
    let (output, capture) = env.capture(&[
        "--accept-new",
        "--target",
        &sshd.url(USER),
        "--run",
        &format!("touch {}", marker.display()),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let capture = capture.expect("snapshot");
    let reason = capture
        .stream("run")
        .result
        .reason
        .clone()
        .unwrap_or_default();
    assert!(
        reason.contains("HOST KEY CHANGED")
            && reason.contains("SHA256:")
            && reason.contains("known_hosts:1"),
        "{reason}"
    );
    assert!(
        !marker.exists(),
        "nothing may run on a host whose key changed"
    );
    assert!(
        !std::fs::read_to_string(env.known_hosts())
            .expect("kh")
            .contains(&keys.host_public()),
        "the new key must not be learned"
    );
}

/// A jump host that logs in with a password from a secret reference: the secret is resolved for
/// the hop (not only for the capture's own targets) and redacted from the output.
#[test]
fn jump_host_password_from_a_secret_is_used_and_redacted() {
    let keys = SshKeys::generate();
    let bastion = Sshd::start(&keys);
    let inner = Sshd::start_on(&keys, &["127.0.0.3"], "");
    let env = Env::new();
    env.trust(&bastion, &keys.host_public());
    env.trust(&inner, &keys.host_public());
    env.sandbox.write_config(&format!(
        "[secrets.bastion_pw]\nenv = \"CF_TEST_SSH_PW\"\n\
         [targets.bastion]\nurl = \"{}\"\npassword_secret = \"bastion_pw\"\n\
         [targets.inner]\nurl = \"ssh://casefile-test@127.0.0.3:{}\"\njump = \"bastion\"\nidentity_file = \"{}\"\n",
        bastion.url("casefile-test"),
        inner.port,
        keys.user_key().display()
    ));
    let out_dir = env.sandbox.captures();
    let output = env
        .command()
        .env("CF_TEST_SSH_PW", "casefile-test-pw")
        .args([
            "capture",
            "--out",
            out_dir.to_str().expect("utf8"),
            "--target",
            "inner",
            "--run",
            "echo $SSH_CONNECTION; echo casefile-test-pw",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let capture = Capture::latest(&out_dir).expect("snapshot");
    let out = capture.stdout("run");
    assert!(out.contains(&format!("127.0.0.3 {}", inner.port)), "{out}");
    assert!(
        !out.contains("casefile-test-pw"),
        "the jump host's password is redacted: {out}"
    );
    let log = bastion.log();
    assert!(
        log.contains("Accepted password") && log.contains("direct-tcpip"),
        "the bastion took the password and forwarded: {log}"
    );
}

#[test]
fn proxy_jump_from_ssh_config_reaches_a_host_through_the_bastion() {
    let keys = SshKeys::generate();
    let bastion = Sshd::start(&keys);
    let inner = Sshd::start_on(&keys, &["127.0.0.3", "127.0.0.4"], "");
    let env = Env::new();
    env.default_identity(&keys);
    env.trust(&bastion, &keys.host_public());
    env.trust(&inner, &keys.host_public());
    std::fs::write(
        env.ssh_dir().join("config"),
        format!(
            "Host behind\n  HostName 127.0.0.3\n  Port {}\n  User casefile-test\n  ProxyJump casefile-test@127.0.0.1:{}\n  ForwardX11 no\n",
            inner.port, bastion.port
        ),
    )
    .expect("ssh config");
    let list = env
        .command()
        .args(["targets", "list"])
        .output()
        .expect("targets list");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("behind") && l.ends_with("~/.ssh/config")),
        "{listed}"
    );
    assert!(
        stderr(&list).contains("ForwardX11") && stderr(&list).contains(":6:"),
        "unsupported keywords are reported: {}",
        stderr(&list)
    );

    // A second host behind the same bastion, named in casefile.toml with `jump = "bastion"`.
    env.sandbox.write_config(&format!(
        "[targets.bastion]\nurl = \"{}\"\n[targets.inner2]\nurl = \"ssh://casefile-test@127.0.0.4:{}\"\njump = \"bastion\"\n",
        bastion.url(USER),
        inner.port
    ));
    let (output, capture) = env.capture(&[
        "-t",
        "behind",
        "-t",
        "inner2",
        "--run",
        "echo $SSH_CONNECTION",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let capture = capture.expect("snapshot");
    let outputs: Vec<String> = capture
        .manifest
        .streams
        .iter()
        .map(|s| std::fs::read_to_string(capture.dir.join(&s.result.stdout.path)).expect("out"))
        .collect();
    assert!(
        outputs[0].contains(&format!("127.0.0.3 {}", inner.port)),
        "{outputs:?}"
    );
    assert!(
        outputs[1].contains(&format!("127.0.0.4 {}", inner.port)),
        "{outputs:?}"
    );
    let log = bastion.log();
    assert!(
        log.contains("direct-tcpip")
            && log.contains(&format!("127.0.0.3 port {}", inner.port))
            && log.contains(&format!("127.0.0.4 port {}", inner.port)),
        "bastion log: {log}"
    );
    assert_eq!(
        log.matches("Accepted publickey").count(),
        1,
        "both hosts share one bastion connection: {log}"
    );
}

#[test]
fn first_chunk_is_on_disk_before_the_command_ends() {
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let env = Env::new();
    env.trust(&sshd, &keys.host_public());
    env.default_identity(&keys);
    let (output, capture) = env.capture(&[
        "--target",
        &sshd.url(USER),
        "--run",
        "echo first; sleep 2; echo second",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let capture = capture.expect("snapshot");
    let events = read_journal(&capture.dir.join("journal.jsonl")).expect("journal");
    let first_chunk = events.iter().find_map(|e| match e {
        JournalEvent::Chunk { t, fd: Fd::Out, .. } => Some(*t),
        _ => None,
    });
    let end = events.iter().find_map(|e| match e {
        JournalEvent::End { t, .. } => Some(*t),
        _ => None,
    });
    let (first_chunk, end) = (first_chunk.expect("a chunk"), end.expect("end"));
    assert!(
        end - first_chunk >= 1_500_000,
        "first chunk at {first_chunk}µs, end at {end}µs: output was not streamed"
    );
    assert_eq!(capture.stdout("run"), "first\nsecond\n");
}

#[test]
fn a_timeout_kills_the_remote_process_group() {
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let env = Env::new();
    env.trust(&sshd, &keys.host_public());
    env.default_identity(&keys);
    let started = Instant::now();
    let (output, capture) = env.capture(&[
        "--timeout",
        "5s",
        "--target",
        // root: sshd refuses `signal` requests for root logins, so this covers the stdin-EOF stop.
        &sshd.url("root"),
        "--run",
        "echo started; (sleep 4243; echo never) & sleep 4242; echo never",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(1));
    let capture = capture.expect("snapshot");
    let result = &capture.stream("run").result;
    assert!(result.timed_out, "{result:?}");
    assert_eq!(capture.stdout("run"), "started\n");
    let deadline = Instant::now() + Duration::from_secs(3);
    while (!pgrep("sleep 424[23]").is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log: String = sshd
        .log()
        .lines()
        .filter(|l| l.contains("signal") || l.contains("killpg"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        pgrep("sleep 424[23]").is_empty(),
        "the remote sleeps survived the timeout; sshd log: {log}"
    );
}

#[test]
fn silent_refusing_and_healthy_hosts_in_one_capture() {
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let env = Env::new();
    env.trust(&sshd, &keys.host_public());
    env.default_identity(&keys);
    // Accepts TCP and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let refused_port = free_port();
    env.sandbox.write_config(&format!(
        "[targets.good]\nurl = \"{}\"\n[targets.silent]\nurl = \"ssh://casefile-test@127.0.0.1:{silent_port}\"\n[targets.refused]\nurl = \"ssh://casefile-test@127.0.0.1:{refused_port}\"\n",
        sshd.url(USER)
    ));
    let started = Instant::now();
    let (output, capture) = env.capture(&[
        "--timeout",
        "3s",
        "-t",
        "good",
        "-t",
        "silent",
        "-t",
        "refused",
        "--run",
        "echo ok",
        "--run",
        "sleep 1; echo ok2",
    ]);
    let elapsed = started.elapsed();
    drop(silent);
    assert!(
        elapsed < Duration::from_secs(8),
        "a bad host held up the capture: {elapsed:?}"
    );
    assert_eq!(output.status.code(), Some(1));
    let capture = capture.expect("snapshot");
    for stream in &capture.manifest.streams {
        let reason = stream.result.reason.clone().unwrap_or_default();
        match stream.target_name.as_str() {
            "good" => assert_eq!(stream.result.exit_code, Some(0), "{:?}", stream.result),
            "silent" => assert!(
                reason.contains("still connecting") || reason.contains("never spoke SSH"),
                "{reason}"
            ),
            _ => assert!(
                reason.contains("cannot connect") && reason.contains("refused"),
                "{reason}"
            ),
        }
    }
    let good: Vec<String> = capture
        .manifest
        .streams
        .iter()
        .filter(|s| s.target_name == "good")
        .map(|s| std::fs::read_to_string(capture.dir.join(&s.result.stdout.path)).expect("out"))
        .collect();
    assert_eq!(good, vec!["ok\n".to_string(), "ok2\n".to_string()]);
}

#[test]
fn a_fetched_10_mib_binary_artifact_is_byte_exact() {
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let env = Env::new();
    env.trust(&sshd, &keys.host_public());
    env.default_identity(&keys);
    let remote = shared_dir();
    let remote_file = remote.path().join("dump.bin");
    let preset_dir = env
        .sandbox
        .path()
        .join("config")
        .join("casefile")
        .join("presets");
    std::fs::create_dir_all(&preset_dir).expect("preset dir");
    std::fs::write(
        preset_dir.join("dump.toml"),
        r#"name = "dump"
description = "Writes a binary file on the host and fetches it"
target = "shell"
[params.path]
description = "where"
kind = "path"
[[steps]]
name = "make"
command = "head -c 10485760 /dev/urandom > {{path}}; echo made"
fetch = "{{path}}"
max_bytes = "20MiB"
"#,
    )
    .expect("preset");
    let (output, capture) = env.capture(&[
        "--target",
        &sshd.url(USER),
        "--preset",
        "dump",
        "--param",
        &format!("path={}", remote_file.display()),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let capture = capture.expect("snapshot");
    let record = capture
        .stream("make")
        .result
        .artifact
        .clone()
        .expect("artifact record");
    let fetched = std::fs::read(capture.dir.join(&record.path)).expect("artifact file");
    let original = std::fs::read(&remote_file).expect("remote file");
    assert_eq!(fetched.len(), 10 << 20);
    assert!(fetched == original, "artifact differs from the remote file");
    use sha2::Digest;
    assert_eq!(
        record.sha256.as_deref(),
        Some(hex::encode(sha2::Sha256::digest(&original)).as_str())
    );
    assert_eq!(capture.stdout("make"), "made\n");
    let show = env
        .command()
        .arg("show")
        .arg(&capture.dir)
        .output()
        .expect("show");
    assert_eq!(
        show.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&show.stdout)
    );
}

#[test]
fn cancel_stops_the_remote_process_and_keeps_its_output() {
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let env = Env::new();
    env.trust(&sshd, &keys.host_public());
    env.default_identity(&keys);
    let out_dir = env.sandbox.captures();
    let child = env
        .command()
        .args([
            "capture",
            "--out",
            out_dir.to_str().expect("utf8"),
            "--target",
            &sshd.url(USER),
            "--run",
            "echo begun; sleep 4245",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pgrep("^sleep 4245").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!pgrep("^sleep 4245").is_empty(), "the step never started");
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(1));
    let capture = Capture::latest(&out_dir).expect("snapshot");
    assert_eq!(
        capture.stream("run").result.status,
        casefile::snapshot::StreamStatus::Cancelled
    );
    assert_eq!(capture.stdout("run"), "begun\n");
    let deadline = Instant::now() + Duration::from_secs(3);
    while !pgrep("^sleep 4245").is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        pgrep("^sleep 4245").is_empty(),
        "the remote sleep survived the cancel"
    );
}

#[test]
fn encrypted_identity_file_with_a_passphrase_secret() {
    let keys = SshKeys::generate();
    let sshd = Sshd::start(&keys);
    let env = Env::new();
    env.trust(&sshd, &keys.host_public());
    let key = env.sandbox.path().join("encrypted_key");
    std::fs::copy(keys.user_key(), &key).expect("copy key");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-p", "-N", "open-sesame-42", "-P", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen -p");
    assert!(status.success());
    let config = format!(
        "[secrets.kp]\nenv = \"CF_TEST_KEY_PASS\"\n[targets.enc]\nurl = \"{}\"\nidentity_file = \"{}\"\npassphrase_secret = \"kp\"\n",
        sshd.url(USER),
        key.display()
    );
    env.sandbox.write_config(&config);
    let (output, capture) = env.capture(&["--target", "enc", "--run", "echo in"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "no passphrase in the environment: the secret cannot resolve, nothing runs"
    );
    assert!(
        capture.is_none() && stderr(&output).contains("CF_TEST_KEY_PASS"),
        "{}",
        stderr(&output)
    );
    let out_dir = env.sandbox.captures();
    let output = env
        .command()
        .env("CF_TEST_KEY_PASS", "open-sesame-42")
        .args([
            "capture",
            "--out",
            out_dir.to_str().expect("utf8"),
            "--target",
            "enc",
            "--run",
            "echo in",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        Capture::latest(&out_dir).expect("snapshot").stdout("run"),
        "in\n"
    );
}

#[test]
fn a_host_that_freezes_mid_command_ends_its_stream_with_a_reason() {
    let keys = SshKeys::generate();
    let frozen = Sshd::start(&keys);
    let healthy = Sshd::start_on(&keys, &["127.0.0.2"], "");
    let env = Env::new();
    env.trust(&frozen, &keys.host_public());
    env.trust(&healthy, &keys.host_public());
    env.default_identity(&keys);
    let out_dir = env.sandbox.captures();
    let started = Instant::now();
    let child = env
        .command()
        .args([
            "capture",
            "--out",
            out_dir.to_str().expect("utf8"),
            "--timeout",
            "4s",
        ])
        .args([
            "-t",
            &frozen.url(USER),
            "-t",
            &healthy.url(USER),
            "--run",
            "echo a; sleep 2; echo b",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Once the step runs, freeze every process of the frozen sshd's connections (not the listener).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stopped = Vec::new();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        stopped = descendants(frozen.pid());
        let sleeping = stopped.iter().any(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep\0"))
        });
        if sleeping {
            break;
        }
    }
    assert!(!stopped.is_empty(), "no session on the frozen sshd");
    for pid in &stopped {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGSTOP,
        );
    }
    let output = child.wait_with_output().expect("wait");
    let elapsed = started.elapsed();
    for pid in &stopped {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGCONT,
        );
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert_eq!(output.status.code(), Some(1));
    assert!(elapsed < Duration::from_secs(12), "took {elapsed:?}");
    let capture = Capture::latest(&out_dir).expect("snapshot");
    for stream in &capture.manifest.streams {
        if stream.spec.target == 0 {
            assert!(stream.result.timed_out, "{:?}", stream.result);
            assert!(
                stream
                    .result
                    .reason
                    .clone()
                    .unwrap_or_default()
                    .contains("may still run"),
                "{:?}",
                stream.result
            );
        } else {
            assert_eq!(stream.result.exit_code, Some(0));
            assert_eq!(
                std::fs::read_to_string(capture.dir.join(&stream.result.stdout.path)).expect("out"),
                "a\nb\n"
            );
        }
    }
}

/// Every process below `pid` (children, grandchildren, …).
fn descendants(pid: u32) -> Vec<i32> {
    let mut found = Vec::new();
    let mut stack = vec![pid.to_string()];
    while let Some(parent) = stack.pop() {
        let out = Command::new("pgrep")
            .args(["-P", &parent])
            .output()
            .expect("pgrep -P");
        for child in String::from_utf8_lossy(&out.stdout).lines() {
            found.push(child.parse().expect("pid"));
            stack.push(child.to_string());
        }
    }
    found
}
