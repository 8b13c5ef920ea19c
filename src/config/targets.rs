//! `[targets.NAME]`: the inventory. Each target is checked by small `validate_*` functions
//! (name, tags, secrets, SSH-only keys, database-only keys, `via`); errors point at the key.
use super::paths::expand_home;
use super::secrets::undefined_secret;
use super::{AtFn, Config, PendingVia};
use crate::model::{Target, TargetSpec};
use crate::secret::SecretRef;
use crate::source_error::SourceError;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
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

/// What `[targets]` yields: the inventory, SSH options by target, and `via`s to look up later.
#[derive(Debug, Default)]
pub(super) struct Inventory {
    pub targets: Vec<Target>,
    pub ssh: BTreeMap<String, crate::model::SshTargetOptions>,
    pub pending_via: Vec<PendingVia>,
}

/// Checks every target; `file` is recorded as each target's source.
pub(super) fn validate_targets(
    raw: BTreeMap<Spanned<String>, RawTarget>,
    secrets: &BTreeMap<String, SecretRef>,
    file: &str,
    at: &AtFn<'_>,
) -> Result<Inventory, SourceError> {
    let mut inventory = Inventory::default();
    let mut vias: Vec<(String, Spanned<String>)> = Vec::new();
    for (target_name, mut raw_target) in raw {
        let target_name_text = validate_name(&target_name, at)?;
        let mut spec = TargetSpec::parse_url(raw_target.url.get_ref())
            .map_err(|e| at(Some(raw_target.url.span()), e))?;
        apply_db_settings(&mut spec, &raw_target, &target_name_text)
            .map_err(|(span, e)| at(Some(span), e))?;
        if let Some(via) = &raw_target.via {
            vias.push((target_name_text.clone(), via.clone()));
        }
        let tags = validate_tags(std::mem::take(&mut raw_target.tags), at)?;
        let password_secret = validate_password_secret(
            raw_target.password_secret.take(),
            &spec,
            &target_name_text,
            secrets,
            at,
        )?;
        let is_ssh = matches!(spec, TargetSpec::Ssh { .. });
        validate_ssh_keys(&raw_target, is_ssh, &target_name_text, secrets, at)?;
        if is_ssh {
            inventory.ssh.insert(
                target_name_text.clone(),
                crate::model::SshTargetOptions {
                    identity_file: raw_target.identity_file.map(Spanned::into_inner),
                    jump: raw_target.jump.map(Spanned::into_inner),
                    password_secret: password_secret.clone(),
                    passphrase_secret: raw_target.passphrase_secret.map(Spanned::into_inner),
                },
            );
        }
        inventory.targets.push(Target {
            name: target_name_text,
            spec,
            tags,
            source: file.to_string(),
            password_secret,
        });
    }
    inventory.pending_via = check_via_names(&inventory.targets, &vias, at)?;
    Ok(inventory)
}

/// `local`, `tag:…` and URLs mean something else on the command line.
fn validate_name(name: &Spanned<String>, at: &AtFn<'_>) -> Result<String, SourceError> {
    let text = name.get_ref();
    if text == "local" || text.starts_with("tag:") || text.contains("://") {
        return Err(at(
            Some(name.span()),
            format!("`{text}` cannot be a target name"),
        )
        .with_hint("`local`, `tag:…` and URLs have their own meaning on the command line"));
    }
    Ok(text.clone())
}

fn validate_tags(raw: Vec<Spanned<String>>, at: &AtFn<'_>) -> Result<Vec<String>, SourceError> {
    let mut tags = Vec::new();
    for tag in raw {
        if tag.get_ref().is_empty() || tag.get_ref().contains([' ', ',', ':']) {
            return Err(at(
                Some(tag.span()),
                format!(
                    "tag `{}` must be one word without spaces, commas or colons",
                    tag.get_ref()
                ),
            ));
        }
        tags.push(tag.into_inner());
    }
    Ok(tags)
}

/// The secret must be defined, and only SSH and database targets take one.
fn validate_password_secret(
    secret: Option<Spanned<String>>,
    spec: &TargetSpec,
    target_name_text: &str,
    secrets: &BTreeMap<String, SecretRef>,
    at: &AtFn<'_>,
) -> Result<Option<String>, SourceError> {
    match secret {
        Some(s) if !secrets.contains_key(s.get_ref()) => {
            Err(undefined_secret(target_name_text, &s, at))
        }
        Some(s) if *spec == TargetSpec::Local || matches!(spec, TargetSpec::Sqlite { .. }) => {
            Err(at(
                Some(s.span()),
                format!(
                    "target `{target_name_text}` takes no password; password_secret is for SSH and database targets"
                ),
            ))
        }
        other => Ok(other.map(Spanned::into_inner)),
    }
}

/// `identity_file`, `jump` and `passphrase_secret` are for ssh:// targets; the passphrase secret
/// must be defined and a jump must name another host.
fn validate_ssh_keys(
    raw_target: &RawTarget,
    is_ssh: bool,
    target_name_text: &str,
    secrets: &BTreeMap<String, SecretRef>,
    at: &AtFn<'_>,
) -> Result<(), SourceError> {
    for (key, value) in [
        ("identity_file", &raw_target.identity_file),
        ("jump", &raw_target.jump),
        ("passphrase_secret", &raw_target.passphrase_secret),
    ] {
        if let Some(value) = value.as_ref().filter(|_| !is_ssh) {
            return Err(at(
                Some(value.span()),
                format!(
                    "target `{target_name_text}` is not an SSH target; `{key}` is for ssh:// targets"
                ),
            ));
        }
    }
    if let Some(s) = raw_target
        .passphrase_secret
        .as_ref()
        .filter(|s| !secrets.contains_key(s.get_ref()))
    {
        return Err(undefined_secret(target_name_text, s, at));
    }
    if let Some(jump) = raw_target
        .jump
        .as_ref()
        .filter(|j| j.get_ref().trim().is_empty() || j.get_ref() == target_name_text)
    {
        return Err(at(
            Some(jump.span()),
            format!("target `{target_name_text}`: jump must name another host"),
        ));
    }
    Ok(())
}

impl Config {
    /// Fails on the first `via` that names neither an SSH target of the file nor a Host of
    /// `~/.ssh/config`, as `is_ssh_config_host` answers (the config layer does not read
    /// ssh_config itself: the caller asks the SSH layer, see `ssh::SshConfig::knows_host`).
    pub fn check_via(&self, is_ssh_config_host: impl Fn(&str) -> bool) -> Result<(), SourceError> {
        match self
            .pending_via
            .iter()
            .find(|p| !is_ssh_config_host(&p.name))
        {
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

/// Checks every `via` against the inventory: an SSH target is fine, any other kind of target is
/// an error; names not in the file are returned to be looked up in `~/.ssh/config` later.
pub(super) fn check_via_names(
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
                    Some(via.span()),
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
                    Some(via.span()),
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
