//! Database targets reached through an SSH host (`via = "NAME"`), against a real sshd, MariaDB
//! and PostgreSQL on loopback, with real `casefile capture` runs. Proof that the forward is
//! used: while a query runs, the database sees its client's TCP connection coming from a
//! socket owned by sshd (not casefile), and sshd logs a direct-tcpip channel to the database port.
//! Also: a dead bastion, a closed database port, a timeout's KILL QUERY through the forward, an
//! unknown `via` name, and TLS verify-full checking the database's real host name.
mod support;

use casefile::model::TargetSpec;
use casefile::snapshot::{Manifest, StreamRecord, StreamStatus};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::cli::{Sandbox, all_files, stderr};
use support::mariadb::{self, MariaDb};
use support::postgres::{self, Postgres};
use support::sshd::{SshKeys, Sshd, free_port};

/// The remote user from scripts/setup/ssh.sh.
const USER: &str = "casefile-test";

/// A sandboxed casefile that trusts one sshd and logs in with the test key.
struct Env {
    sandbox: Sandbox,
    _keys: SshKeys,
    bastion: Sshd,
}

impl Env {
    fn new() -> Env {
        let keys = SshKeys::generate();
        let bastion = Sshd::start(&keys);
        let sandbox = Sandbox::new();
        bastion.trust_from(sandbox.path(), &keys);
        Env {
            sandbox,
            _keys: keys,
            bastion,
        }
    }

    /// casefile.toml with the bastion as target `bastion`, the database passwords as secrets,
    /// and `targets` appended.
    fn config(&self, targets: &str) {
        let secrets = self.sandbox.path().join("secrets");
        std::fs::create_dir_all(&secrets).expect("secrets dir");
        std::fs::write(secrets.join("maria"), mariadb::PASSWORD).expect("secret");
        std::fs::write(secrets.join("pg"), postgres::PASSWORD).expect("secret");
        self.sandbox.write_config(&format!(
            "[secrets.maria]\nfile = \"{}\"\n[secrets.pg]\nfile = \"{}\"\n[targets.bastion]\nurl = \"{}\"\n{targets}",
            secrets.join("maria").display(),
            secrets.join("pg").display(),
            self.bastion.url(USER),
        ));
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.sandbox.command();
        cmd.env_remove("SSH_AUTH_SOCK")
            .arg("capture")
            .args(["--out", &self.sandbox.captures().display().to_string()])
            .args(args);
        cmd
    }

    fn capture(&self, args: &[&str]) -> (Output, Capture) {
        let output = self.command(args).output().expect("run casefile");
        let capture = Capture::latest(&self.sandbox.captures())
            .unwrap_or_else(|| panic!("no snapshot: {}", stderr(&output)));
        (output, capture)
    }

    /// `target HOST port N` lines of sshd's direct-tcpip requests (LogLevel DEBUG1).
    fn forwards_to(&self, host: &str, port: u16) -> usize {
        self.bastion
            .log()
            .lines()
            .filter(|l| {
                l.contains("server_request_direct_tcpip")
                    && l.contains(&format!("target {host} port {port}"))
            })
            .count()
    }

    fn logins(&self) -> usize {
        self.bastion.log().matches("Accepted publickey").count()
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

    fn stream(&self, target: &str, step: &str) -> &StreamRecord {
        self.manifest
            .streams
            .iter()
            .find(|s| s.target_name == target && s.spec.step == step)
            .unwrap_or_else(|| panic!("no stream {target}/{step}"))
    }

    fn read(&self, rel: &str) -> String {
        String::from_utf8_lossy(&std::fs::read(self.dir.join(rel)).unwrap_or_default()).into_owned()
    }

    fn stdout(&self, target: &str, step: &str) -> String {
        self.read(&self.stream(target, step).result.stdout.path)
    }

    fn stderr(&self, target: &str, step: &str) -> String {
        self.read(&self.stream(target, step).result.stderr.path)
    }

    fn reason(&self, target: &str, step: &str) -> String {
        self.stream(target, step)
            .result
            .reason
            .clone()
            .unwrap_or_default()
    }
}

/// Polls `probe` until it gives a value (10 s at most).
fn poll<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Some(found) = probe() {
            return found;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} never showed up");
}

/// The process owning the established TCP socket whose local port is `port` (`ss -p`, as root).
fn owner_of_local_port(port: u16) -> String {
    let out = Command::new("ss")
        .args(["-Htnp", "state", "established"])
        .arg(format!("( sport = :{port} )"))
        .output()
        .expect("ss");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("casefile did not finish within 60 s");
}

#[test]
fn mysql_and_postgres_through_one_bastion_connection() {
    let maria = MariaDb::shared();
    let pg = Postgres::shared();
    let env = Env::new();
    env.config(&format!(
        "[targets.orders]\nurl = \"mysql://casefile@127.0.0.1:{}/app\"\npassword_secret = \"maria\"\nvia = \"bastion\"\n\
         [targets.reports]\nurl = \"postgres://casefile@127.0.0.1:{}/app\"\npassword_secret = \"pg\"\nvia = \"bastion\"\n",
        maria.port, pg.port
    ));
    let marker = "via-marker-4c1d";
    let child = env
        .command(&[
            "-t",
            "orders",
            "-t",
            "reports",
            "-t",
            "bastion",
            "--query",
            &format!("SELECT '{marker}' AS m, SLEEP(3) AS s"),
            "--query",
            &format!("SELECT '{marker}' AS m, pg_sleep(3) AS s"),
            "--run",
            "echo shell-on-bastion",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start casefile");
    // While the queries run, each server's client socket belongs to sshd: the forward is used.
    let maria_port: u16 = poll("the MariaDB session", || {
        let hosts = maria.sql(&format!(
            "SELECT HOST FROM information_schema.PROCESSLIST WHERE INFO LIKE '%{marker}%' AND ID <> CONNECTION_ID()"
        ));
        hosts
            .lines()
            .nth(1)?
            .rsplit(':')
            .next()?
            .trim()
            .parse()
            .ok()
    });
    let pg_port: u16 = poll("the PostgreSQL session", || {
        pg.sql(&format!(
            "SELECT client_port FROM pg_stat_activity WHERE query LIKE '%{marker}%' AND pid <> pg_backend_pid()"
        ))
        .trim()
        .parse()
        .ok()
    });
    for port in [maria_port, pg_port] {
        let owner = owner_of_local_port(port);
        assert!(
            owner.contains("\"sshd\"") && !owner.contains("casefile"),
            "the database client socket {port} is not sshd's: {owner}"
        );
    }
    let output = wait(child);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let capture = Capture::latest(&env.sandbox.captures()).expect("snapshot");
    assert!(
        capture.stdout("orders", "query-1").contains(marker),
        "{}",
        capture.stderr("orders", "query-1")
    );
    assert!(
        capture.stdout("reports", "query-2").contains(marker),
        "{}",
        capture.stderr("reports", "query-2")
    );
    assert!(
        capture
            .stdout("bastion", "run")
            .contains("shell-on-bastion")
    );
    assert!(
        env.forwards_to("127.0.0.1", maria.port) >= 1 && env.forwards_to("127.0.0.1", pg.port) >= 1
    );
    assert_eq!(
        env.logins(),
        1,
        "both databases and the shell step share one SSH connection: {}",
        env.bastion.log()
    );
    // The manifest records the URL (no password) and the via host.
    let orders = capture
        .manifest
        .targets
        .iter()
        .find(|t| t.name == "orders")
        .expect("orders target");
    let TargetSpec::Mysql(address) = &orders.spec else {
        panic!("not mysql: {orders:?}")
    };
    assert_eq!(address.via.as_deref(), Some("bastion"));
    assert!(
        address.socket.is_none(),
        "the forward's socket is not recorded"
    );
    for (path, bytes) in all_files(&capture.dir) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(mariadb::PASSWORD) && !text.contains(postgres::PASSWORD),
            "{} holds a password",
            path.display()
        );
    }
}

#[test]
fn a_dead_bastion_or_a_closed_port_fails_only_its_own_streams() {
    let maria = MariaDb::shared();
    let env = Env::new();
    let dead_port = free_port();
    let closed_db_port = free_port();
    env.config(&format!(
        "[targets.deadhop]\nurl = \"ssh://{USER}@127.0.0.1:{dead_port}\"\n\
         [targets.behind-dead]\nurl = \"mysql://casefile@127.0.0.1:{m}/app\"\npassword_secret = \"maria\"\nvia = \"deadhop\"\n\
         [targets.closed]\nurl = \"mysql://casefile@127.0.0.1:{closed_db_port}/app\"\npassword_secret = \"maria\"\nvia = \"bastion\"\n\
         [targets.healthy]\nurl = \"mysql://casefile@127.0.0.1:{m}/app\"\npassword_secret = \"maria\"\nvia = \"bastion\"\n",
        m = maria.port
    ));
    let (output, capture) = env.capture(&[
        "-t",
        "behind-dead",
        "-t",
        "closed",
        "-t",
        "healthy",
        "-t",
        "local",
        "--query",
        "SELECT 'healthy-rows' AS r",
        "--run",
        "echo local-ok",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let dead = capture.stream("behind-dead", "query");
    assert_eq!(dead.result.status, StreamStatus::Failed);
    let reason = capture.reason("behind-dead", "query");
    assert!(
        reason.contains("via deadhop") && reason.contains(&format!("127.0.0.1:{dead_port}")),
        "{reason}"
    );
    let closed = capture.stream("closed", "query");
    assert_eq!(closed.result.status, StreamStatus::Failed);
    let reason = capture.reason("closed", "query");
    assert!(
        reason.contains("via bastion")
            && reason.contains(&format!("could not reach 127.0.0.1:{closed_db_port}")),
        "{reason}"
    );
    assert_eq!(
        capture.stream("healthy", "query").result.status,
        StreamStatus::Exited,
        "{}",
        capture.stderr("healthy", "query")
    );
    assert!(capture.stdout("healthy", "query").contains("healthy-rows"));
    assert_eq!(
        capture.stream("local", "run").result.status,
        StreamStatus::Exited
    );
    assert!(capture.stdout("local", "run").contains("local-ok"));
}

#[test]
fn a_timed_out_query_is_killed_through_the_forward() {
    let maria = MariaDb::shared();
    let env = Env::new();
    env.config(&format!(
        "[targets.orders]\nurl = \"mysql://casefile@127.0.0.1:{}/app\"\npassword_secret = \"maria\"\nvia = \"bastion\"\n",
        maria.port
    ));
    let marker = "via-timeout-marker-9e2";
    let started = Instant::now();
    // The per-statement override switches off the server-side timeout, so only the client
    // deadline and its KILL QUERY (from a second connection, through the forward) stop it.
    let (output, capture) = env.capture(&[
        "-t",
        "orders",
        "--timeout",
        "2s",
        "--query",
        &format!("SET STATEMENT max_statement_time = 0 FOR SELECT SLEEP(30) AS s, '{marker}' AS m"),
        "--query",
        "SELECT 42 AS answer",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let slow = capture.stream("orders", "query-1");
    assert_eq!(
        slow.result.status,
        StreamStatus::TimedOut,
        "{}",
        capture.stderr("orders", "query-1")
    );
    let err = capture.stderr("orders", "query-1");
    // KILL QUERY reached the server (through the forward), and the session settled: what the
    // interrupted statement still sent was read, so the next step keeps the same connection.
    assert!(err.contains("stopped on the server (KILL QUERY"), "{err}");
    let list = maria.sql("SELECT INFO FROM information_schema.PROCESSLIST");
    assert!(!list.contains(marker), "still running:\n{list}");
    assert_eq!(
        capture.stream("orders", "query-2").result.status,
        StreamStatus::Exited
    );
    assert!(capture.stdout("orders", "query-2").contains("42"));
    assert!(
        env.forwards_to("127.0.0.1", maria.port) >= 2,
        "the session and the KILL QUERY connection both went through sshd:\n{}",
        env.bastion.log()
    );
}

#[test]
fn an_unknown_via_is_a_config_error_with_its_line() {
    let env = Env::new();
    env.config(
        "[targets.orders]\nurl = \"mysql://casefile@127.0.0.1:3306/app\"\nvia = \"bastoin\"\n",
    );
    let output = env
        .command(&["-t", "orders", "--query", "SELECT 1"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("casefile.toml:9:")
            && err.contains("via `bastoin`")
            && err.contains("SSH targets here: bastion"),
        "{err}"
    );
}

#[test]
fn tls_verify_full_checks_the_real_host_name_through_the_forward() {
    let pg = Postgres::start_with(
        "-c ssl=on -c ssl_cert_file=../server.crt -c ssl_key_file=../server.key",
        |dir| support::certs::make_certs(dir, "casefile"),
    );
    let env = Env::new();
    let ca = pg.dir().join("ca.pem");
    // `localhost` is resolved by the bastion; the certificate names only `localhost`, so it
    // verifies only if the client checks that name, not the forward's local end.
    env.config(&format!(
        "[targets.named]\nurl = \"postgres://casefile@localhost:{p}/app\"\npassword_secret = \"pg\"\nvia = \"bastion\"\ntls = \"verify-full\"\ntls_ca = \"{ca}\"\n\
         [targets.by-ip]\nurl = \"postgres://casefile@127.0.0.1:{p}/app\"\npassword_secret = \"pg\"\nvia = \"bastion\"\ntls = \"verify-full\"\ntls_ca = \"{ca}\"\n",
        p = pg.port,
        ca = ca.display()
    ));
    pg.sql(&format!(
        "ALTER ROLE casefile PASSWORD '{}'",
        postgres::PASSWORD
    ));
    let (output, capture) = env.capture(&[
        "-t",
        "named",
        "-t",
        "by-ip",
        "--query",
        "SELECT ssl AS tls FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        capture.stream("named", "query").result.status,
        StreamStatus::Exited,
        "{}",
        capture.stderr("named", "query")
    );
    let rows = capture.stdout("named", "query");
    assert!(
        rows.lines().any(|l| l.trim() == "t" || l.trim() == "true"),
        "{rows}"
    );
    let reason = capture.reason("by-ip", "query");
    assert!(
        reason.contains("certificate not valid for name \"127.0.0.1\""),
        "the certificate does not name 127.0.0.1, so verify-full must refuse it: {reason}"
    );
    // The bastion was handed the name `localhost` and resolved it itself.
    assert_eq!(
        env.forwards_to("localhost", pg.port),
        1,
        "{}",
        env.bastion.log()
    );
}
