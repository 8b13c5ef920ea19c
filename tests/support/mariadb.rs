//! A MariaDB server of the test's own: `mariadb-install-db` + `mariadbd` in a temp datadir on a
//! free loopback port. Accounts: `root` (no password), `casefile` (password [`PASSWORD`], all
//! privileges), `weak` (password [`PASSWORD`], no PROCESS privilege); database `app`.
use super::dbserver::{Watched, free_port, run, wait_until};
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::Duration,
};

pub const PASSWORD: &str = "Maria-pw-7f3a91c2";

pub struct MariaDb {
    pub port: u16,
    pub dir: tempfile::TempDir,
    _server: Watched,
}

impl MariaDb {
    pub fn start() -> MariaDb {
        MariaDb::start_with("", |_| {})
    }

    /// A server with extra `mariadbd` arguments (e.g. `--ssl-cert={dir}/server.crt`, where
    /// `{dir}` becomes the temp dir); `prepare` gets that dir to put files in before the server
    /// starts.
    pub fn start_with(extra_args: &str, prepare: impl FnOnce(&Path)) -> MariaDb {
        let dir = tempfile::tempdir().expect("temp dir");
        prepare(dir.path());
        let extra_args = extra_args.replace("{dir}", &dir.path().display().to_string());
        let data = dir.path().join("data");
        run(Command::new("mariadb-install-db").args([
            "--no-defaults",
            &format!("--datadir={}", data.display()),
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]));
        let port = free_port();
        let log = dir.path().join("err.log");
        let command = format!(
            "exec /usr/sbin/mariadbd --no-defaults --datadir='{d}' --user=root --port={port} --bind-address=127.0.0.1 \
             --socket='{s}' --pid-file='{p}' --log-error='{log}' --skip-log-bin --max-connections=1000 {extra_args}",
            d = data.display(),
            s = dir.path().join("sock").display(),
            p = dir.path().join("pid").display(),
            log = log.display(),
        );
        let server = Watched::start(&command, "TERM", &dir.path().join("stdout.log"), dir.path());
        let db = MariaDb {
            port,
            dir,
            _server: server,
        };
        wait_until("mariadbd", Duration::from_secs(60), &log, || {
            Command::new("mariadb-admin")
                .args([
                    "--no-defaults",
                    "-h127.0.0.1",
                    &format!("-P{port}"),
                    "-uroot",
                    "ping",
                ])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        db.sql(&format!(
            "CREATE USER 'casefile'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT ALL PRIVILEGES ON *.* TO 'casefile'@'%';\
             CREATE USER 'weak'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT SELECT ON *.* TO 'weak'@'%';\
             CREATE DATABASE app;"
        ));
        db
    }

    /// One server for the whole test binary.
    pub fn shared() -> &'static MariaDb {
        static SERVER: OnceLock<MariaDb> = OnceLock::new();
        SERVER.get_or_init(MariaDb::start)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    /// Runs SQL as root with the mariadb client; returns its tab-separated output.
    pub fn sql(&self, sql: &str) -> String {
        run(self.client().args(["-e", sql]))
    }

    /// The mariadb client, as root over the socket.
    pub fn client(&self) -> Command {
        let mut cmd = Command::new("mariadb");
        cmd.args([
            "--no-defaults",
            "--default-character-set=utf8mb4",
            "-uroot",
            &format!("--socket={}", self.socket().display()),
        ]);
        cmd
    }

    pub fn url(&self, user: &str) -> String {
        format!("mysql://{user}@127.0.0.1:{}/", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
