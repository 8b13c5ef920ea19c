//! Fleets: many SSH hosts at once, against real OpenSSH sshds listening on many loopback
//! addresses (127.0.3.x, one "host" each). Each host runs at most `per_host` steps at once
//! (observed on the host itself), handshakes in flight stay within sshd's `MaxStartups`, a
//! server allowing fewer sessions than `per_host` makes streams wait instead of fail, and a
//! dead or silent host fails only its own streams (time queued behind its handshake does not
//! count against the others' timeouts). 500 hosts × 3 steps run in `benches/ssh_fanout.rs`
//! (over a minute in a debug build on 2 cores).
mod support;

use casefile::snapshot::{Manifest, StreamStatus};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::cli::{Sandbox, stderr};
use support::sshd::{SshKeys, Sshd, free_port};

/// The remote user from scripts/setup/ssh.sh (shell /bin/sh: no start-up files to wait for).
const USER: &str = "casefile-test";

/// A sandboxed casefile that trusts `servers` and logs in with the test user key.
struct Fleet {
    sandbox: Sandbox,
    /// `name = "ssh://…"` lines for casefile.toml, in order.
    targets: Vec<(String, String)>,
}

impl Fleet {
    fn new(keys: &SshKeys, servers: &[&Sshd]) -> Fleet {
        let sandbox = Sandbox::new();
        let ssh_dir = sandbox.path().join(".ssh");
        std::fs::create_dir_all(&ssh_dir).expect("~/.ssh");
        let known: String = servers
            .iter()
            .map(|s| s.known_hosts_lines(&keys.host_public()))
            .collect();
        std::fs::write(ssh_dir.join("known_hosts"), known).expect("known_hosts");
        std::fs::copy(keys.user_key(), ssh_dir.join("id_ed25519")).expect("id_ed25519");
        let targets = servers
            .iter()
            .flat_map(|s| s.addresses.iter().map(move |a| (a.clone(), s.port)))
            .map(|(a, p)| (host_name(&a), format!("ssh://{USER}@{a}:{p}")))
            .collect();
        Fleet { sandbox, targets }
    }

    fn add(&mut self, name: &str, url: String) {
        self.targets.push((name.to_string(), url));
    }

    /// Writes casefile.toml (`settings` first, then the targets, all tagged `fleet`) and runs
    /// `casefile capture -t tag:fleet ARGS`.
    fn capture(&self, settings: &str, args: &[&str]) -> (Output, Manifest, PathBuf) {
        let mut config = format!("{settings}\n");
        for (name, url) in &self.targets {
            config.push_str(&format!(
                "[targets.{name}]\nurl = \"{url}\"\ntags = [\"fleet\"]\n"
            ));
        }
        self.sandbox.write_config(&config);
        let out = self.sandbox.captures();
        let output = self
            .sandbox
            .command()
            .env_remove("SSH_AUTH_SOCK")
            .args([
                "capture",
                "--out",
                out.to_str().expect("utf8"),
                "-t",
                "tag:fleet",
            ])
            .args(args)
            .output()
            .expect("run casefile");
        let dir = std::fs::read_dir(&out)
            .expect("captures")
            .map(|e| e.expect("entry").path())
            .max()
            .unwrap_or_else(|| panic!("no snapshot; stderr:\n{}", stderr(&output)));
        let manifest =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
                .expect("manifest json");
        (output, manifest, dir)
    }
}

fn host_name(address: &str) -> String {
    format!("h{}", address.replace('.', "_"))
}

fn addresses(third: u8, count: u8) -> Vec<String> {
    (1..=count).map(|i| format!("127.0.{third}.{i}")).collect()
}

fn start(keys: &SshKeys, addresses: &[String], extra: &str) -> Sshd {
    let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
    Sshd::start_on(keys, &refs, extra)
}

/// A temp dir the remote user may write to (tests run as root, the remote user is not).
fn shared_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("shared dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    dir
}

/// A step that records, on the host, how many steps of that host (the address the connection
/// came in on) run at the moment it starts: a marker file per running step, counted, kept for
/// `hold` seconds, removed. A count never exceeds the steps really running at once.
fn counting_step(shared: &Path, hold: &str) -> String {
    format!(
        "d={}/$(echo \"$SSH_CONNECTION\" | cut -d' ' -f3); mkdir -p \"$d\"; touch \"$d/run.$$\"; \
         ls \"$d\" | grep -c '^run\\.' >> \"$d/seen\"; sleep {hold}; rm -f \"$d/run.$$\"; echo ok",
        shared.display()
    )
}

/// Per host address: the most steps seen running at once.
fn peaks(shared: &Path) -> BTreeMap<String, u32> {
    std::fs::read_dir(shared)
        .expect("shared dir")
        .map(|e| e.expect("entry").path())
        .map(|dir| {
            let seen = std::fs::read_to_string(dir.join("seen")).expect("seen");
            let peak = seen
                .lines()
                .map(|l| l.trim().parse::<u32>().expect("count"))
                .max()
                .expect("a count");
            let name = dir
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, peak)
        })
        .collect()
}

fn by_target(manifest: &Manifest) -> BTreeMap<String, Vec<&casefile::snapshot::StreamRecord>> {
    let mut map: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for stream in &manifest.streams {
        map.entry(stream.target_name.clone())
            .or_default()
            .push(stream);
    }
    map
}

#[test]
fn each_host_runs_at_most_per_host_steps_and_bad_hosts_fail_alone() {
    let keys = SshKeys::generate();
    let hosts = addresses(3, 16);
    let sshd = start(&keys, &hosts, "LogLevel ERROR");
    let shared = shared_dir();
    let mut fleet = Fleet::new(&keys, &[&sshd]);
    // Nothing listens on this port: connection refused at once.
    fleet.add("dead", format!("ssh://{USER}@127.0.3.200:{}", free_port()));
    // Accepts TCP (the kernel completes it) and never speaks SSH; ~/.ssh/config gives it a
    // connect timeout far past the steps' timeout, so a handshake slot it kept would starve the
    // others. It keeps the only slot for 3 s, longer than the steps' timeout (2 s): the hosts
    // queued behind it must not count that wait against their steps.
    let silent = std::net::TcpListener::bind("127.0.3.201:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    fleet.add("silent", format!("ssh://{USER}@127.0.3.201:{silent_port}"));
    std::fs::write(
        fleet.sandbox.path().join(".ssh/config"),
        "Host 127.0.3.201\n  ConnectTimeout 60\n",
    )
    .expect("ssh config");
    // The silent host first: it is the first to take the only handshake slot.
    fleet.targets.rotate_right(1);
    let step = counting_step(shared.path(), "0.4");
    let mut args = vec!["--handshakes", "1", "--timeout", "2s"];
    for _ in 0..6 {
        args.extend(["--run", &step]);
    }
    // per_host from casefile.toml, handshakes from the command line.
    let (output, manifest, _) = fleet.capture("per_host = 2", &args);
    drop(silent);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));

    let targets = by_target(&manifest);
    assert_eq!(targets.len(), 18);
    for (name, streams) in &targets {
        assert_eq!(streams.len(), 6, "{name}");
        for stream in streams {
            let result = &stream.result;
            let reason = result.reason.clone().unwrap_or_default();
            match name.as_str() {
                "dead" => assert!(
                    result.status == StreamStatus::Failed && reason.contains("refused"),
                    "{result:?}"
                ),
                "silent" => assert!(
                    result.status == StreamStatus::TimedOut && reason.contains("still connecting"),
                    "{result:?}"
                ),
                _ => assert_eq!(
                    (result.status, result.exit_code),
                    (StreamStatus::Exited, Some(0)),
                    "{name}: {result:?}"
                ),
            }
        }
    }
    let peaks = peaks(shared.path());
    assert_eq!(
        peaks.keys().cloned().collect::<Vec<_>>(),
        {
            let mut h = hosts.clone();
            h.sort();
            h
        },
        "every healthy host ran its steps"
    );
    assert!(
        peaks.values().all(|&p| p <= 2),
        "no host ran more than 2 steps at once: {peaks:?}"
    );
    assert!(
        peaks.values().any(|&p| p == 2),
        "hosts did run 2 steps at once: {peaks:?}"
    );
}

#[test]
fn handshakes_in_flight_stay_within_the_servers_max_startups() {
    let keys = SshKeys::generate();
    let hosts = addresses(4, 16);
    // sshd drops new connections while 4 are not yet logged in.
    let sshd = start(&keys, &hosts, "MaxStartups 4:100:4\nLogLevel ERROR");
    let fleet = Fleet::new(&keys, &[&sshd]);
    let run = |handshakes: &str| {
        let (output, manifest, _) = fleet.capture(
            "",
            &[
                "--handshakes",
                handshakes,
                "--run",
                "echo ok",
                "--run",
                "true",
            ],
        );
        let ok = manifest
            .streams
            .iter()
            .filter(|s| s.result.exit_code == Some(0))
            .count();
        (output, manifest, ok)
    };
    let (output, manifest, ok) = run("2");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!((manifest.streams.len(), ok), (32, 32));
    // The control: 16 handshakes at once are more than this sshd lets in.
    let (_, manifest, ok) = run("16");
    assert!(
        ok < 32,
        "sshd should have dropped some of 16 handshakes at once"
    );
    let dropped = manifest
        .streams
        .iter()
        .filter(|s| s.result.status == StreamStatus::Failed)
        .count();
    assert_eq!(dropped + ok, 32);
}

#[test]
fn a_server_allowing_fewer_sessions_than_per_host_makes_steps_wait_not_fail() {
    let keys = SshKeys::generate();
    let sshd = start(&keys, &addresses(5, 1), "MaxSessions 1\nLogLevel ERROR");
    let shared = shared_dir();
    let fleet = Fleet::new(&keys, &[&sshd]);
    let step = counting_step(shared.path(), "0.2");
    let mut args = vec!["--per-host", "4"];
    for _ in 0..5 {
        args.extend(["--run", &step]);
    }
    let (output, manifest, _) = fleet.capture("", &args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        manifest
            .streams
            .iter()
            .all(|s| s.result.exit_code == Some(0)),
        "{:?}",
        manifest
            .streams
            .iter()
            .map(|s| &s.result.reason)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        peaks(shared.path()).into_values().collect::<Vec<_>>(),
        vec![1],
        "the server ran one session at a time"
    );
}
