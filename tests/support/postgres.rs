//! A PostgreSQL 15 server of the test's own: `initdb` as the postgres user in a temp dir it owns,
//! `postgres` on a free loopback port (socket in the same dir). Roles: `postgres` (superuser,
//! trusted), `casefile` (password [`PASSWORD`], pg_read_all_stats), `weak` (password
//! [`PASSWORD`], no extra roles). pg_stat_statements is preloaded but not created.
use super::dbserver::{Watched, free_port, run, wait_until};
use std::{path::Path, process::Command, sync::OnceLock, time::Duration};

pub const PASSWORD: &str = "Pg-pw-5d81e6b0c4";
const BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct Postgres {
    pub port: u16,
    pub dir: tempfile::TempDir,
    _server: Watched,
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::start_with("", |_| {})
    }

    /// A server with extra `postgres` arguments (e.g. `-c ssl=on …`); `prepare` gets the temp
    /// dir (owned by postgres) to put files in before the server starts.
    pub fn start_with(extra_args: &str, prepare: impl FnOnce(&Path)) -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("casefile-pg")
            .tempdir()
            .expect("temp dir");
        run(Command::new("chown").args(["postgres:postgres", &dir.path().display().to_string()]));
        let data = dir.path().join("data");
        run(Command::new("setpriv")
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .args([
                &format!("{BIN}/initdb"),
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
            ]));
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("write pg_hba.conf");
        prepare(dir.path());
        let port = free_port();
        let log = dir.path().join("server.log");
        let command = format!(
            "exec setpriv --reuid=postgres --regid=postgres --init-groups -- {BIN}/postgres -D '{d}' -p {port} -k '{k}' \
             -c listen_addresses=127.0.0.1 -c max_connections=600 -c shared_preload_libraries=pg_stat_statements {extra_args}",
            d = data.display(),
            k = dir.path().display(),
        );
        let server = Watched::start(&command, "INT", &log, dir.path());
        let pg = Postgres {
            port,
            dir,
            _server: server,
        };
        wait_until("postgres", Duration::from_secs(60), &log, || {
            Command::new(format!("{BIN}/pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        pg.sql(&format!(
            "CREATE ROLE casefile LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_read_all_stats; \
             CREATE ROLE weak LOGIN PASSWORD '{PASSWORD}';"
        ));
        pg.sql("CREATE DATABASE app");
        pg
    }

    /// One server for the whole test binary.
    pub fn shared() -> &'static Postgres {
        static SERVER: OnceLock<Postgres> = OnceLock::new();
        SERVER.get_or_init(Postgres::start)
    }

    /// Runs SQL as postgres with psql (unaligned, tuples only); returns its output.
    pub fn sql(&self, sql: &str) -> String {
        run(self.psql("postgres").args(["-At", "-c", sql]))
    }

    /// psql as postgres over the socket, on `database`.
    pub fn psql(&self, database: &str) -> Command {
        let mut cmd = Command::new("psql");
        cmd.args([
            "-X",
            "-h",
            &self.dir.path().display().to_string(),
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            "-d",
            database,
        ]);
        cmd
    }

    pub fn url(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{database}", self.port)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
