//! `casefile.toml`: the target inventory, secret references, destinations and directories.
//! Precedence: command line > file > defaults. No file at all is fine (local target, built-ins).
use crate::model::{ByteSize, HumanDuration, Target, TargetSpec};
use crate::secret::SecretRef;
use crate::source_error::SourceError;
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};
use toml::Spanned;

/// Where exports go by default (used by the export commands).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destinations {
    /// `s3://bucket/prefix/`
    #[serde(default)]
    pub s3: Option<String>,
    /// The `From` email PagerDuty requires on notes.
    #[serde(default)]
    pub pagerduty_from: Option<String>,
    /// Secret holding the PagerDuty REST API token.
    #[serde(default)]
    pub pagerduty_token_secret: Option<String>,
    #[serde(default)]
    pub pagerduty_api_url: Option<String>,
    /// S3 upload settings (export); command-line flags override them.
    #[serde(default)]
    pub s3_profile: Option<String>,
    #[serde(default)]
    pub s3_region: Option<String>,
    #[serde(default)]
    pub s3_endpoint_url: Option<String>,
    /// Path-style addressing; default: on when an endpoint URL is set.
    #[serde(default)]
    pub s3_path_style: Option<bool>,
    #[serde(default)]
    pub s3_storage_class: Option<String>,
    /// `AES256` or `aws:kms` (with `s3_sse_kms_key_id`).
    #[serde(default)]
    pub s3_sse: Option<String>,
    #[serde(default)]
    pub s3_sse_kms_key_id: Option<String>,
    /// How long presigned links stay valid (e.g. "24h"; at most 7 days).
    #[serde(default)]
    pub presign_expiry: Option<HumanDuration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    url: Spanned<String>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default)]
    password_secret: Option<Spanned<String>>,
    /// Database targets: disable, prefer, require, verify-ca, verify-full.
    #[serde(default)]
    tls: Option<Spanned<String>>,
    /// Database targets: CA certificate (PEM) for verify-ca / verify-full.
    #[serde(default)]
    tls_ca: Option<Spanned<String>>,
    /// Database targets: client certificate and its key (PEM files) for mutual TLS.
    #[serde(default)]
    tls_cert: Option<Spanned<String>>,
    #[serde(default)]
    tls_key: Option<Spanned<String>>,
    /// Database targets: Unix socket (MySQL socket file, PostgreSQL socket directory).
    #[serde(default)]
    socket: Option<Spanned<String>>,
    /// SSH: a private key to try first (see docs/ssh.md).
    #[serde(default)]
    identity_file: Option<Spanned<String>>,
    /// SSH: another target's name, a ~/.ssh/config Host or user@host:port to tunnel through.
    #[serde(default)]
    jump: Option<Spanned<String>>,
    /// Database targets: the SSH host (target name or ~/.ssh/config Host) that reaches the server.
    #[serde(default)]
    via: Option<Spanned<String>>,
    /// SSH: secret holding the passphrase of encrypted identity files.
    #[serde(default)]
    passphrase_secret: Option<Spanned<String>>,
}

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
    timeout: Option<HumanDuration>,
    #[serde(default)]
    max_bytes: Option<ByteSize>,
    #[serde(default)]
    secrets: BTreeMap<Spanned<String>, Spanned<SecretRef>>,
    #[serde(default)]
    targets: BTreeMap<Spanned<String>, RawTarget>,
    #[serde(default)]
    destinations: Destinations,
    /// TUI theme: a built-in name (dark, light, high-contrast) or a theme file path.
    #[serde(default)]
    theme: Option<String>,
    /// TUI key overrides: `[keys.SCREEN] command = "key"` or `["key", …]`.
    #[serde(default)]
    keys: BTreeMap<String, BTreeMap<String, KeyList>>,
}

/// One key or several, as written under `[keys.SCREEN]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum KeyList {
    One(String),
    Many(Vec<String>),
}

/// The loaded configuration, with defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from, if any.
    pub file: Option<PathBuf>,
    pub capture_dir: PathBuf,
    pub preset_dir: Option<PathBuf>,
    pub concurrency: usize,
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
    /// SSH settings of SSH targets by target name (identity file, jump host, secrets).
    pub ssh: BTreeMap<String, crate::ssh::SshTargetOptions>,
    /// `via` names that are not SSH targets of this file: fine if `~/.ssh/config` has the Host,
    /// else the error to report (see [`Config::check_via`]).
    pub pending_via: Vec<PendingVia>,
}

/// A `via = "NAME"` to look up in `~/.ssh/config`, with the error (file:line) if it is not there.
#[derive(Debug, Clone)]
pub struct PendingVia {
    pub name: String,
    pub error: SourceError,
}

pub const DEFAULT_CONCURRENCY: usize = 64;

impl Config {
    /// Defaults only: what a fresh machine gets.
    pub fn defaults() -> Config {
        let config_dir = dirs::config_dir().map(|d| d.join("casefile"));
        Config {
            file: None,
            capture_dir: default_capture_dir(),
            preset_dir: config_dir.map(|d| d.join("presets")),
            concurrency: DEFAULT_CONCURRENCY,
            timeout: crate::preset::DEFAULT_STEP_TIMEOUT,
            max_bytes: None,
            secrets: BTreeMap::new(),
            targets: Vec::new(),
            destinations: Destinations::default(),
            theme: None,
            keys: BTreeMap::new(),
            ssh: BTreeMap::new(),
            pending_via: Vec::new(),
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
        let at = |span, msg: String| SourceError::at(name, text, Some(span), msg);
        let mut config = Config::defaults();
        config.file = Some(PathBuf::from(name));
        if let Some(dir) = raw.capture_dir {
            config.capture_dir = expand_home(&dir);
        }
        if let Some(dir) = raw.preset_dir {
            config.preset_dir = Some(expand_home(&dir));
        }
        if let Some(c) = raw.concurrency {
            if *c.get_ref() == 0 {
                return Err(at(c.span(), "concurrency must be at least 1".into())
                    .with_hint("e.g. concurrency = 64"));
            }
            config.concurrency = c.into_inner();
        }
        if let Some(t) = raw.timeout {
            config.timeout = t.0;
        }
        config.max_bytes = raw.max_bytes.map(|b| b.0);
        for (secret_name, secret) in raw.secrets {
            secret.get_ref().validate().map_err(|e| {
                at(
                    secret.span(),
                    format!("secret `{}`: {e}", secret_name.get_ref()),
                )
            })?;
            config
                .secrets
                .insert(secret_name.into_inner(), secret.into_inner());
        }
        let mut vias: Vec<(String, Spanned<String>)> = Vec::new();
        for (target_name, raw_target) in raw.targets {
            let target_name_text = target_name.get_ref().clone();
            if target_name_text == "local"
                || target_name_text.starts_with("tag:")
                || target_name_text.contains("://")
            {
                return Err(at(
                    target_name.span(),
                    format!("`{target_name_text}` cannot be a target name"),
                )
                .with_hint(
                    "`local`, `tag:…` and URLs have their own meaning on the command line",
                ));
            }
            let mut spec = TargetSpec::parse_url(raw_target.url.get_ref())
                .map_err(|e| at(raw_target.url.span(), e))?;
            apply_db_settings(&mut spec, &raw_target, &target_name_text)
                .map_err(|(span, e)| at(span, e))?;
            if let Some(via) = &raw_target.via {
                vias.push((target_name_text.clone(), via.clone()));
            }
            let mut tags = Vec::new();
            for tag in raw_target.tags {
                if tag.get_ref().is_empty() || tag.get_ref().contains([' ', ',', ':']) {
                    return Err(at(
                        tag.span(),
                        format!(
                            "tag `{}` must be one word without spaces, commas or colons",
                            tag.get_ref()
                        ),
                    ));
                }
                tags.push(tag.into_inner());
            }
            let password_secret = match raw_target.password_secret {
                Some(s) if !config.secrets.contains_key(s.get_ref()) => {
                    return Err(at(
                        s.span(),
                        format!(
                            "target `{target_name_text}` uses secret `{}`, which is not defined",
                            s.get_ref()
                        ),
                    )
                    .with_hint(format!(
                        "add [secrets.{}] with env, file or command",
                        s.get_ref()
                    )));
                }
                Some(s)
                    if spec == TargetSpec::Local || matches!(spec, TargetSpec::Sqlite { .. }) =>
                {
                    return Err(at(
                        s.span(),
                        format!(
                            "target `{target_name_text}` takes no password; password_secret is for SSH and database targets"
                        ),
                    ));
                }
                other => other.map(Spanned::into_inner),
            };
            let is_ssh = matches!(spec, TargetSpec::Ssh { .. });
            for (key, value) in [
                ("identity_file", &raw_target.identity_file),
                ("jump", &raw_target.jump),
                ("passphrase_secret", &raw_target.passphrase_secret),
            ] {
                if let Some(value) = value.as_ref().filter(|_| !is_ssh) {
                    return Err(at(
                        value.span(),
                        format!(
                            "target `{target_name_text}` is not an SSH target; `{key}` is for ssh:// targets"
                        ),
                    ));
                }
            }
            if let Some(s) = raw_target
                .passphrase_secret
                .as_ref()
                .filter(|s| !config.secrets.contains_key(s.get_ref()))
            {
                return Err(at(
                    s.span(),
                    format!(
                        "target `{target_name_text}` uses secret `{}`, which is not defined",
                        s.get_ref()
                    ),
                )
                .with_hint(format!(
                    "add [secrets.{}] with env, file or command",
                    s.get_ref()
                )));
            }
            if let Some(jump) = raw_target
                .jump
                .as_ref()
                .filter(|j| j.get_ref().trim().is_empty() || j.get_ref() == &target_name_text)
            {
                return Err(at(
                    jump.span(),
                    format!("target `{target_name_text}`: jump must name another host"),
                ));
            }
            if is_ssh {
                config.ssh.insert(
                    target_name_text.clone(),
                    crate::ssh::SshTargetOptions {
                        identity_file: raw_target.identity_file.map(Spanned::into_inner),
                        jump: raw_target.jump.map(Spanned::into_inner),
                        password_secret: password_secret.clone(),
                        passphrase_secret: raw_target.passphrase_secret.map(Spanned::into_inner),
                    },
                );
            }
            config.targets.push(Target {
                name: target_name_text,
                spec,
                tags,
                source: name.to_string(),
                password_secret,
            });
        }
        config.pending_via = check_via_names(&config.targets, &vias, &at)?;
        if let Some(secret) = &raw.destinations.pagerduty_token_secret
            && !config.secrets.contains_key(secret)
        {
            return Err(SourceError::at(
                name,
                text,
                None,
                format!(
                    "destinations.pagerduty_token_secret names `{secret}`, which is not defined"
                ),
            )
            .with_hint(format!("add [secrets.{secret}]")));
        }
        config.destinations = raw.destinations;
        config.theme = raw.theme;
        config.keys = raw
            .keys
            .into_iter()
            .map(|(screen, bindings)| {
                let bindings = bindings
                    .into_iter()
                    .map(|(cmd, keys)| match keys {
                        KeyList::One(k) => (cmd, vec![k]),
                        KeyList::Many(ks) => (cmd, ks),
                    })
                    .collect();
                (screen, bindings)
            })
            .collect();
        Ok(config)
    }

    /// Fails on the first `via` that names neither an SSH target of the file nor a Host of
    /// `ssh_config` (a concrete `Host`, or a pattern that gives it a HostName).
    pub fn check_via(&self, ssh_config: &crate::ssh::SshConfig) -> Result<(), SourceError> {
        match self.pending_via.iter().find(|p| {
            !ssh_config.hosts.iter().any(|h| h == &p.name)
                && ssh_config.settings_for(&p.name).hostname.is_none()
        }) {
            Some(p) => Err(p.error.clone()),
            None => Ok(()),
        }
    }

    /// Targets from the inventory plus the always-present `local`.
    pub fn all_targets(&self) -> Vec<Target> {
        let mut all = vec![Target::local()];
        all.extend(self.targets.iter().cloned());
        all
    }

    /// Resolves a `--target` argument: a name, `tag:NAME`, `local`, or an inline URL.
    pub fn select_targets(&self, selector: &str) -> Result<Vec<Target>, String> {
        if selector == "local" {
            return Ok(vec![Target::local()]);
        }
        if let Some(tag) = selector.strip_prefix("tag:") {
            let found: Vec<Target> = self
                .targets
                .iter()
                .filter(|t| t.tags.iter().any(|x| x == tag))
                .cloned()
                .collect();
            if found.is_empty() {
                let mut tags: Vec<&str> = self
                    .targets
                    .iter()
                    .flat_map(|t| t.tags.iter().map(String::as_str))
                    .collect();
                tags.sort_unstable();
                tags.dedup();
                return Err(format!(
                    "no target has tag `{tag}`; known tags: {}",
                    if tags.is_empty() {
                        "none".into()
                    } else {
                        tags.join(", ")
                    }
                ));
            }
            return Ok(found);
        }
        if let Some(target) = self.targets.iter().find(|t| t.name == selector) {
            return Ok(vec![target.clone()]);
        }
        if selector.contains("://") || selector.starts_with("sqlite:") {
            let spec = TargetSpec::parse_url(selector)?;
            return Ok(vec![Target {
                name: spec.to_url(),
                spec,
                tags: vec![],
                source: "inline".into(),
                password_secret: None,
            }]);
        }
        let names: Vec<&str> = self.targets.iter().map(|t| t.name.as_str()).collect();
        Err(format!(
            "no target named `{selector}` (known: local{}{}); inline URLs look like ssh://user@host:22",
            if names.is_empty() { "" } else { ", " },
            names.join(", ")
        ))
    }
}

/// Puts a target's `tls`, `tls_ca`, `tls_cert`, `tls_key`, `socket` and `via` keys into its
/// database address.
fn apply_db_settings(
    spec: &mut TargetSpec,
    raw: &RawTarget,
    target: &str,
) -> Result<(), (std::ops::Range<usize>, String)> {
    let keys = [
        ("tls", &raw.tls),
        ("tls_ca", &raw.tls_ca),
        ("tls_cert", &raw.tls_cert),
        ("tls_key", &raw.tls_key),
        ("socket", &raw.socket),
        ("via", &raw.via),
    ];
    let address = match spec {
        TargetSpec::Mysql(address) | TargetSpec::Postgres(address) => address,
        _ => {
            return match keys
                .iter()
                .find_map(|(key, value)| value.as_ref().map(|v| (key, v.span())))
            {
                Some((key, span)) => Err((
                    span,
                    format!("target `{target}`: `{key}` is for MySQL and PostgreSQL targets"),
                )),
                None => Ok(()),
            };
        }
    };
    if let Some(tls) = &raw.tls {
        address.tls =
            Some(crate::model::TlsMode::parse(tls.get_ref()).map_err(|e| (tls.span(), e))?);
    }
    if let Some(ca) = &raw.tls_ca {
        address.tls_ca = Some(expand_home(ca.get_ref()).display().to_string());
    }
    match (&raw.tls_cert, &raw.tls_key) {
        (Some(cert), Some(key)) => {
            address.tls_cert = Some(expand_home(cert.get_ref()).display().to_string());
            address.tls_key = Some(expand_home(key.get_ref()).display().to_string());
        }
        (Some(one), None) | (None, Some(one)) => {
            return Err((
                one.span(),
                format!(
                    "target `{target}`: a client certificate needs both `tls_cert` and `tls_key` (PEM files)"
                ),
            ));
        }
        (None, None) => {}
    }
    if let Some(socket) = &raw.socket {
        address.socket = Some(expand_home(socket.get_ref()).display().to_string());
    }
    if let Some(via) = &raw.via {
        if via.get_ref().trim().is_empty() {
            return Err((
                via.span(),
                format!("target `{target}`: via must name an SSH host"),
            ));
        }
        if address.socket.is_some() {
            return Err((
                via.span(),
                format!(
                    "target `{target}`: `via` and `socket` exclude each other (a Unix socket is on this machine)"
                ),
            ));
        }
        address.via = Some(via.get_ref().trim().to_string());
    }
    Ok(())
}

type AtFn<'a> = dyn Fn(std::ops::Range<usize>, String) -> SourceError + 'a;

/// Checks every `via` against the inventory: an SSH target is fine, any other kind of target is
/// an error; names not in the file are returned to be looked up in `~/.ssh/config` later.
fn check_via_names(
    targets: &[Target],
    vias: &[(String, Spanned<String>)],
    at: &AtFn<'_>,
) -> Result<Vec<PendingVia>, SourceError> {
    let ssh_names: Vec<&str> = targets
        .iter()
        .filter(|t| matches!(t.spec, TargetSpec::Ssh { .. }))
        .map(|t| t.name.as_str())
        .collect();
    let mut pending = Vec::new();
    for (target, via) in vias {
        let name = via.get_ref().trim();
        match targets.iter().find(|t| t.name == name) {
            Some(t) if matches!(t.spec, TargetSpec::Ssh { .. }) => {}
            Some(t) => {
                return Err(at(
                    via.span(),
                    format!(
                        "target `{target}`: via `{name}` is a {} target, not an SSH host",
                        t.kind()
                    ),
                )
                .with_hint("via names an ssh:// target of this file or a Host of ~/.ssh/config"));
            }
            None => pending.push(PendingVia {
                name: name.to_string(),
                error: at(
                    via.span(),
                    format!(
                        "target `{target}`: via `{name}` is neither an SSH target of this file nor a Host of ~/.ssh/config"
                    ),
                )
                .with_hint(format!(
                    "add [targets.{name}] with url = \"ssh://user@host:22\", or `Host {name}` to ~/.ssh/config, or fix the name (SSH targets here: {})",
                    if ssh_names.is_empty() {
                        "none".to_string()
                    } else {
                        ssh_names.join(", ")
                    }
                )),
            }),
        }
    }
    Ok(pending)
}

/// `$XDG_DATA_HOME/casefile/captures`, or `./casefile-captures` when there is no home.
pub fn default_capture_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("casefile").join("captures"))
        .unwrap_or_else(|| PathBuf::from("casefile-captures"))
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(config.concurrency, 8);
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
        // `jumpbox` is not in the file: fine only if ~/.ssh/config has it.
        let without =
            crate::ssh::SshConfig::parse("ssh_config", "Host other\n HostName 10.0.0.1\n");
        let err = config.check_via(&without).expect_err("unknown via");
        assert_eq!((err.file.as_str(), err.line), ("c.toml", 8));
        assert!(err.to_string().contains("via `jumpbox`"), "{err}");
        assert!(
            err.to_string().contains("SSH targets here: bastion"),
            "{err}"
        );
        let with = crate::ssh::SshConfig::parse("ssh_config", "Host jumpbox\n HostName 10.0.0.2\n");
        assert!(config.check_via(&with).is_ok());
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
}
