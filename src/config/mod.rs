//! `casefile.toml`: the target inventory, secret references, destinations, directories and TUI
//! keys, one file per concern; `parse` runs each concern's `validate_*` in turn.
//! Precedence: command line > file > defaults. No file at all is fine (local target, built-ins).
mod destinations;
mod keys;
mod paths;
mod runbooks;
mod secrets;
mod targets;
mod watch;

pub use destinations::Destinations;
pub use keys::KeyPlaces;
pub use paths::default_capture_dir;
pub use runbooks::{Place, Runbook, RunbookExport};
pub use watch::{NEVER_ACT_ON, TlsFiles, WatchSettings};

use crate::model::{ByteSize, HumanDuration, Target};
use crate::secret::SecretRef;
use crate::source_error::SourceError;
use paths::expand_home;
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};
use toml::Spanned;

/// Makes a [`SourceError`] at a span of the file being parsed (`None`: its start).
type AtFn<'a> = dyn Fn(Option<std::ops::Range<usize>>, String) -> SourceError + 'a;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    capture_dir: Option<String>,
    #[serde(default)]
    preset_dir: Option<String>,
    #[serde(default)]
    concurrency: Option<Spanned<usize>>,
    #[serde(default)]
    per_host: Option<Spanned<usize>>,
    #[serde(default)]
    handshakes: Option<Spanned<usize>>,
    #[serde(default)]
    live_memory: Option<Spanned<ByteSize>>,
    #[serde(default)]
    timeout: Option<HumanDuration>,
    #[serde(default)]
    max_bytes: Option<ByteSize>,
    #[serde(default)]
    secrets: BTreeMap<Spanned<String>, Spanned<SecretRef>>,
    #[serde(default)]
    targets: BTreeMap<Spanned<String>, targets::RawTarget>,
    #[serde(default)]
    destinations: Destinations,
    /// TUI theme: a built-in name (dark, light, high-contrast) or a theme file path.
    #[serde(default)]
    theme: Option<String>,
    /// TUI key overrides: `[keys.SCREEN] command = "key"` or `["key", …]`.
    #[serde(default)]
    keys: keys::RawKeys,
    /// `[[runbooks]]`: incident → plan (see `crate::runbook`).
    #[serde(default)]
    runbooks: Vec<runbooks::RawRunbook>,
    /// `[watch]`: the webhook receiver.
    #[serde(default)]
    watch: watch::RawWatch,
}

/// The loaded configuration, with defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from, if any.
    pub file: Option<PathBuf>,
    pub capture_dir: PathBuf,
    pub preset_dir: Option<PathBuf>,
    /// Streams running at once in total (`None`: as many as file descriptors allow).
    pub concurrency: Option<usize>,
    /// Streams at once on one SSH host (`None`: the engine's default).
    pub per_host: Option<usize>,
    /// SSH handshakes in flight at once (`None`: the default).
    pub handshakes: Option<usize>,
    /// Memory all live panes share, in bytes (`None`: the default).
    pub live_memory: Option<u64>,
    /// Timeout for ad-hoc steps.
    pub timeout: std::time::Duration,
    /// Output cap for ad-hoc steps (`None` = unlimited).
    pub max_bytes: Option<u64>,
    pub secrets: BTreeMap<String, SecretRef>,
    pub targets: Vec<Target>,
    pub destinations: Destinations,
    /// TUI theme name or file (`--theme` wins).
    pub theme: Option<String>,
    /// TUI key overrides per screen: command name → keys.
    pub keys: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Where each `[keys]` entry was written, for errors found by the TUI's keymap.
    pub key_places: KeyPlaces,
    /// SSH settings of SSH targets by target name (identity file, jump host, secrets).
    pub ssh: BTreeMap<String, crate::model::SshTargetOptions>,
    /// `via` names that are not SSH targets of this file: fine if `~/.ssh/config` has the Host,
    /// else the error to report (see [`Config::check_via`]).
    pub pending_via: Vec<PendingVia>,
    /// Runbooks in file order.
    pub runbooks: Vec<Runbook>,
    pub watch: WatchSettings,
}

/// A `via = "NAME"` to look up in `~/.ssh/config`, with the error (file:line) if it is not there.
#[derive(Debug, Clone)]
pub struct PendingVia {
    pub name: String,
    pub error: SourceError,
}

impl Config {
    /// Defaults only: what a fresh machine gets.
    pub fn defaults() -> Config {
        let config_dir = dirs::config_dir().map(|d| d.join("casefile"));
        Config {
            file: None,
            capture_dir: default_capture_dir(),
            preset_dir: config_dir.map(|d| d.join("presets")),
            concurrency: None,
            per_host: None,
            handshakes: None,
            live_memory: None,
            timeout: crate::preset::DEFAULT_STEP_TIMEOUT,
            max_bytes: None,
            secrets: BTreeMap::new(),
            targets: Vec::new(),
            destinations: Destinations::default(),
            theme: None,
            keys: BTreeMap::new(),
            key_places: KeyPlaces::default(),
            ssh: BTreeMap::new(),
            pending_via: Vec::new(),
            runbooks: Vec::new(),
            watch: WatchSettings::default(),
        }
    }

    /// `--config`, else `CASEFILE_CONFIG`, else `$XDG_CONFIG_HOME/casefile/casefile.toml` if it exists.
    pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
        if let Some(path) = explicit {
            return Some(path.to_path_buf());
        }
        if let Some(path) = std::env::var_os("CASEFILE_CONFIG").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(path));
        }
        dirs::config_dir()
            .map(|d| d.join("casefile").join("casefile.toml"))
            .filter(|p| p.exists())
    }

    /// Loads the config file if there is one.
    pub fn load(explicit: Option<&Path>) -> Result<Config, SourceError> {
        match Config::locate(explicit) {
            None => Ok(Config::defaults()),
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    SourceError::at(&name, "", None, format!("cannot read the config file: {e}"))
                })?;
                Config::parse(&name, &text)
            }
        }
    }

    /// Parses config text; `name` is the file name used in messages.
    pub fn parse(name: &str, text: &str) -> Result<Config, SourceError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| SourceError::from_toml(name, text, &e))?;
        let at = |span, msg: String| SourceError::at(name, text, span, msg);
        let mut config = Config::defaults();
        config.file = Some(PathBuf::from(name));
        if let Some(dir) = raw.capture_dir {
            config.capture_dir = expand_home(&dir);
        }
        if let Some(dir) = raw.preset_dir {
            config.preset_dir = Some(expand_home(&dir));
        }
        config.concurrency = raw
            .concurrency
            .map(|c| at_least_one(c, "concurrency", 64, &at))
            .transpose()?;
        config.per_host = raw
            .per_host
            .map(|c| at_least_one(c, "per_host", 8, &at))
            .transpose()?;
        config.handshakes = raw
            .handshakes
            .map(|c| at_least_one(c, "handshakes", 32, &at))
            .transpose()?;
        config.live_memory = raw
            .live_memory
            .map(|m| validate_live_memory(m, &at))
            .transpose()?;
        if let Some(t) = raw.timeout {
            config.timeout = t.0;
        }
        config.max_bytes = raw.max_bytes.map(|b| b.0);
        config.secrets = secrets::validate_secrets(raw.secrets, &at)?;
        let inventory = targets::validate_targets(raw.targets, &config.secrets, name, &at)?;
        config.targets = inventory.targets;
        config.ssh = inventory.ssh;
        config.pending_via = inventory.pending_via;
        destinations::validate_destinations(&raw.destinations, &config.secrets, &at)?;
        config.destinations = raw.destinations;
        config.runbooks =
            runbooks::validate_runbooks(raw.runbooks, &config.destinations, name, text, &at)?;
        config.watch = watch::validate_watch(raw.watch, &config.secrets, &at)?;
        config.theme = raw.theme;
        (config.keys, config.key_places) = keys::validate_keys(raw.keys, name, text);
        Ok(config)
    }
}

/// A count that must be at least 1 (`0` would run nothing and wait for ever).
fn at_least_one(
    c: Spanned<usize>,
    key: &str,
    example: usize,
    at: &AtFn<'_>,
) -> Result<usize, SourceError> {
    if *c.get_ref() == 0 {
        return Err(at(Some(c.span()), format!("{key} must be at least 1"))
            .with_hint(format!("e.g. {key} = {example}")));
    }
    Ok(c.into_inner())
}

/// The live panes' shared memory: at least 1 MiB, or panes would show next to nothing.
fn validate_live_memory(m: Spanned<ByteSize>, at: &AtFn<'_>) -> Result<u64, SourceError> {
    if m.get_ref().0 < 1 << 20 {
        return Err(
            at(Some(m.span()), "live_memory must be at least 1MiB".into())
                .with_hint("e.g. live_memory = \"256MiB\" (output beyond it stays on disk)"),
        );
    }
    Ok(m.into_inner().0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TargetSpec;

    #[test]
    fn parses_inventory_and_selects_by_tag() {
        let config = Config::parse(
            "casefile.toml",
            r#"
concurrency = 8
[secrets.db]
env = "DB_PW"
[targets.web1]
url = "ssh://ops@web1:22"
tags = ["web"]
[targets.orders]
url = "mysql://app@db1/orders"
password_secret = "db"
tags = ["db", "web"]
"#,
        )
        .expect("valid config");
        assert_eq!(config.concurrency, Some(8));
        assert_eq!(config.select_targets("tag:web").expect("tag").len(), 2);
        assert_eq!(
            config.select_targets("orders").expect("name")[0]
                .password_secret
                .as_deref(),
            Some("db")
        );
        assert!(
            config
                .select_targets("tag:nope")
                .expect_err("tag")
                .contains("known tags: db, web")
        );
    }

    #[test]
    fn database_targets_take_tls_and_socket_settings() {
        let config = Config::parse(
            "c.toml",
            "[secrets.pw]\nenv = \"PW\"\n[targets.pg]\nurl = \"postgres://app@db1/app\"\npassword_secret = \"pw\"\ntls = \"verify-full\"\ntls_ca = \"/etc/ca.pem\"\nsocket = \"/run/postgresql\"\n",
        )
        .expect("valid");
        let TargetSpec::Postgres(address) = &config.targets[0].spec else {
            panic!("not postgres")
        };
        assert_eq!(address.tls, Some(crate::model::TlsMode::VerifyFull));
        assert_eq!(
            (address.tls_ca.as_deref(), address.socket.as_deref()),
            (Some("/etc/ca.pem"), Some("/run/postgresql"))
        );
        let err = Config::parse(
            "c.toml",
            "[targets.a]\nurl = \"mysql://h\"\ntls = \"sometimes\"\n",
        )
        .expect_err("bad tls");
        assert_eq!(err.line, 3);
        let err = Config::parse(
            "c.toml",
            "[targets.a]\nurl = \"ssh://h\"\nsocket = \"/x\"\n",
        )
        .expect_err("socket on ssh");
        assert!(err.to_string().contains("MySQL and PostgreSQL"), "{err}");
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let config = Config::parse(
            "c.toml",
            "[targets.db]\nurl = \"mysql://app@db1\"\ntls_cert = \"/etc/c.crt\"\ntls_key = \"/etc/c.key\"\n",
        )
        .expect("valid");
        let TargetSpec::Mysql(address) = &config.targets[0].spec else {
            panic!("not mysql")
        };
        assert_eq!(
            (address.tls_cert.as_deref(), address.tls_key.as_deref()),
            (Some("/etc/c.crt"), Some("/etc/c.key"))
        );
        let err = Config::parse(
            "c.toml",
            "[targets.db]\nurl = \"mysql://app@db1\"\n\ntls_cert = \"/etc/c.crt\"\n",
        )
        .expect_err("cert without key");
        assert_eq!(err.line, 4);
        assert!(
            err.to_string()
                .contains("needs both `tls_cert` and `tls_key`"),
            "{err}"
        );
        assert!(
            TargetSpec::parse_url("postgres://u@h/db?sslkey=/k").is_err(),
            "a key without a certificate in a URL"
        );
    }

    #[test]
    fn via_names_an_ssh_host_of_the_file_or_of_ssh_config() {
        let text = "[targets.bastion]\nurl = \"ssh://ops@b1\"\n[targets.orders]\nurl = \"mysql://app@db.internal/orders\"\nvia = \"bastion\"\n[targets.pg]\nurl = \"postgres://app@pg.internal/app\"\nvia = \"jumpbox\"\n";
        let config = Config::parse("c.toml", text).expect("valid");
        let TargetSpec::Mysql(address) = &config.targets[1].spec else {
            panic!("not mysql")
        };
        assert_eq!(address.via.as_deref(), Some("bastion"));
        // `jumpbox` is not in the file: fine only if ~/.ssh/config has it (the SSH layer
        // answers that; `ssh_config::tests` checks `knows_host`).
        let err = config
            .check_via(|name| name == "other")
            .expect_err("unknown via");
        assert_eq!((err.file.as_str(), err.line), ("c.toml", 8));
        assert!(err.to_string().contains("via `jumpbox`"), "{err}");
        assert!(
            err.to_string().contains("SSH targets here: bastion"),
            "{err}"
        );
        assert!(config.check_via(|name| name == "jumpbox").is_ok());
        let err = Config::parse(
            "c.toml",
            "[targets.a]\nurl = \"sqlite:/x.db\"\nvia = \"b\"\n",
        )
        .expect_err("via on sqlite");
        assert!(err.to_string().contains("MySQL and PostgreSQL"), "{err}");
        assert_eq!(err.line, 3);
        let err = Config::parse(
            "c.toml",
            "[targets.a]\nurl = \"mysql://h\"\nvia = \"b\"\n[targets.b]\nurl = \"postgres://h\"\n",
        )
        .expect_err("via to a database");
        assert!(
            err.to_string()
                .contains("is a postgres target, not an SSH host"),
            "{err}"
        );
        let err = Config::parse(
            "c.toml",
            "[targets.a]\nurl = \"mysql://h\"\nvia = \"b\"\nsocket = \"/run/mysqld.sock\"\n",
        )
        .expect_err("via and socket");
        assert!(err.to_string().contains("exclude each other"), "{err}");
        assert!(
            TargetSpec::parse_url("mysql://h/?via=b").is_err(),
            "inline URLs take no via"
        );
    }

    #[test]
    fn errors_name_the_line_and_a_fix() {
        let err = Config::parse("c.toml", "[targets.a]\nurl = \"ssh://h\"\ntagz = []\n")
            .expect_err("unknown key");
        assert_eq!((err.line, err.file.as_str()), (3, "c.toml"));
        assert!(err.to_string().contains("unknown field `tagz`"), "{err}");
        let err = Config::parse(
            "c.toml",
            "[targets.a]\nurl = \"mysql://h\"\npassword_secret = \"x\"\n",
        )
        .expect_err("undefined secret");
        assert_eq!(err.line, 3);
        assert!(err.to_string().contains("[secrets.x]"), "{err}");
        let err =
            Config::parse("c.toml", "timeout = \"5 fortnights\"\n").expect_err("bad duration");
        assert_eq!(err.line, 1);
        let err = Config::parse("c.toml", "[targets.b]\nurl = \"ftp://x\"\n").expect_err("bad url");
        assert_eq!((err.line, err.column), (2, 7));
    }

    #[test]
    fn key_override_errors_name_file_line_and_column() {
        let config = Config::parse(
            "c.toml",
            "timeout = \"5s\"\n[keys.run]\nzoom = \"z\"\n  follow = [\"f\", \"F\"]\n[keys.nowhere]\nquit = \"q\"\n",
        )
        .expect("keys are checked by the keymap");
        assert_eq!(config.keys["run"]["follow"], vec!["f", "F"]);
        let err = config
            .key_places
            .error("run", Some("follow"), "bad key".into());
        assert_eq!((err.file.as_str(), err.line, err.column), ("c.toml", 4, 3));
        let err = config
            .key_places
            .error("nowhere", None, "no such screen".into());
        assert_eq!((err.line, err.column), (5, 7));
        assert!(
            err.to_string().starts_with("c.toml:5:7: no such screen"),
            "{err}"
        );
        let err = Config::parse("c.toml", "[keys.run]\nzoom = 3\n").expect_err("not a key");
        assert_eq!(err.line, 2);
    }
}
