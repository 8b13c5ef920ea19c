//! Turns a target into everything needed to connect: casefile.toml settings first, then
//! `~/.ssh/config` for the host alias, then OpenSSH's defaults.
use super::known_hosts::UnknownHostPolicy;
use super::ssh_config::{SshConfig, expand_tilde, expand_tokens, local_user};
use crate::model::{Target, TargetSpec};
use crate::secret::SecretValue;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Default time to reach a host and finish the SSH handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default interval between keepalives when the server is silent.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);
/// How many `ProxyJump` hops a chain may have (guards against loops in ssh_config).
pub const MAX_JUMPS: usize = 8;

pub use crate::model::SshTargetOptions;

/// What every SSH runner of a capture shares.
#[derive(Debug, Clone)]
pub struct SshContext {
    pub ssh_config: SshConfig,
    /// `--accept-new`: learn unknown host keys (changed keys are refused regardless).
    pub accept_new: bool,
    /// Never learn a host key, whatever `--accept-new` or ~/.ssh/config's
    /// `StrictHostKeyChecking accept-new` say (`casefile doctor` checks, it changes nothing).
    pub refuse_new_host_keys: bool,
    /// casefile.toml SSH settings by target name.
    pub options: BTreeMap<String, SshTargetOptions>,
    /// The inventory, to resolve `jump = "name"`.
    pub inventory: Vec<Target>,
    /// Resolved secret values by secret name (only those SSH targets use).
    pub secrets: BTreeMap<String, SecretValue>,
    pub connect_timeout: Option<Duration>,
    /// Every connection of the capture (shared by the hosts behind a jump host, and by the
    /// databases reached `via` a host), and the limit on handshakes in flight.
    pub jumps: super::connect::JumpPool,
}

impl SshContext {
    pub fn new(ssh_config: SshConfig) -> SshContext {
        SshContext {
            ssh_config,
            accept_new: false,
            refuse_new_host_keys: false,
            options: BTreeMap::new(),
            inventory: Vec::new(),
            secrets: BTreeMap::new(),
            connect_timeout: None,
            jumps: super::connect::JumpPool::default(),
        }
    }
}

/// A host to connect to, fully resolved.
#[derive(Debug, Clone)]
pub struct SshEndpoint {
    /// The name the operator used (target name or ssh_config alias), for messages.
    pub label: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Tried in order after the agent; OpenSSH's defaults are appended by `auth`.
    pub identity_files: Vec<PathBuf>,
    pub identities_only: bool,
    /// The first is where `--accept-new` records keys.
    pub known_hosts: Vec<PathBuf>,
    pub unknown_hosts: UnknownHostPolicy,
    pub password: Option<SecretValue>,
    pub passphrase: Option<SecretValue>,
    pub connect_timeout: Duration,
    pub keepalive: Duration,
    /// The host to tunnel through (`ProxyJump`), itself fully resolved.
    pub jump: Option<Box<SshEndpoint>>,
}

impl SshEndpoint {
    /// `user@host:port` (plus `via jump`), for messages.
    pub fn describe(&self) -> String {
        let via = self
            .jump
            .as_ref()
            .map(|j| format!(" via {}", j.describe()))
            .unwrap_or_default();
        format!("{}@{}:{}{via}", self.user, self.host, self.port)
    }
}

/// Resolves an SSH target; `Err` says what is wrong with its settings.
pub fn resolve(target: &Target, ctx: &SshContext) -> Result<SshEndpoint, String> {
    let TargetSpec::Ssh { user, host, port } = &target.spec else {
        return Err(format!("target `{}` is not an SSH target", target.name));
    };
    let options = ctx.options.get(&target.name).cloned().unwrap_or_default();
    let mut endpoint = resolve_alias(&target.name, host, user.clone(), *port, &options, ctx, 0)?;
    if let Some(jump) = &options.jump {
        endpoint.jump = resolve_jump_chain(jump, ctx, 0)?;
    }
    Ok(endpoint)
}

/// Resolves the SSH host a database target names with `via`: an SSH target of the inventory, else
/// a `~/.ssh/config` Host, exactly as an SSH target of that name would be (auth, known_hosts,
/// ProxyJump, `--accept-new`).
pub fn resolve_via(name: &str, ctx: &SshContext) -> Result<SshEndpoint, String> {
    match ctx.inventory.iter().find(|t| t.name == name) {
        Some(
            target @ Target {
                spec: TargetSpec::Ssh { .. },
                ..
            },
        ) => resolve(target, ctx),
        Some(target) => Err(format!(
            "via `{name}` is a {} target, not an SSH host",
            target.kind()
        )),
        None => resolve(&ssh_config_target(name), ctx),
    }
}

/// Resolves `alias` (a host name or ssh_config Host) with explicit overrides.
fn resolve_alias(
    label: &str,
    alias: &str,
    user: Option<String>,
    port: Option<u16>,
    options: &SshTargetOptions,
    ctx: &SshContext,
    depth: usize,
) -> Result<SshEndpoint, String> {
    let settings = ctx.ssh_config.settings_for(alias);
    let host = settings
        .hostname
        .as_deref()
        .map(|h| h.replace("%h", alias))
        .unwrap_or_else(|| alias.to_string());
    let port = port.or(settings.port).unwrap_or(22);
    let user = user.or(settings.user.clone()).unwrap_or_else(local_user);
    let mut identity_files: Vec<PathBuf> = options
        .identity_file
        .iter()
        .map(|f| expand_tilde(f))
        .collect();
    identity_files.extend(
        settings
            .identity_files
            .iter()
            .map(|f| expand_tokens(f, alias, &host, port, &user)),
    );
    let known_hosts = if settings.known_hosts_files.is_empty() {
        let ssh_dir = dirs::home_dir().unwrap_or_default().join(".ssh");
        vec![ssh_dir.join("known_hosts"), ssh_dir.join("known_hosts2")]
    } else {
        settings
            .known_hosts_files
            .iter()
            .map(|f| expand_tokens(f, alias, &host, port, &user))
            .collect()
    };
    let config_accepts_new = matches!(
        settings.strict_host_key_checking.as_deref(),
        Some("accept-new" | "no" | "off")
    );
    let secret = |name: &Option<String>, what: &str| -> Result<Option<SecretValue>, String> {
        match name {
            None => Ok(None),
            Some(name) => ctx.secrets.get(name).cloned().map(Some).ok_or_else(|| {
                format!("target `{label}`: the {what} secret `{name}` was not resolved")
            }),
        }
    };
    let jump = match (&settings.proxy_jump, depth < MAX_JUMPS) {
        (Some(chain), true) => resolve_jump_chain(chain, ctx, depth + 1)?,
        (Some(_), false) => {
            return Err(format!(
                "target `{label}`: ProxyJump chain longer than {MAX_JUMPS} hops (a loop?)"
            ));
        }
        (None, _) => None,
    };
    Ok(SshEndpoint {
        label: label.to_string(),
        host,
        port,
        user,
        identity_files,
        identities_only: settings.identities_only,
        known_hosts,
        unknown_hosts: if !ctx.refuse_new_host_keys && (ctx.accept_new || config_accepts_new) {
            UnknownHostPolicy::AcceptNew
        } else {
            UnknownHostPolicy::Refuse
        },
        password: secret(&options.password_secret, "password")?,
        passphrase: secret(&options.passphrase_secret, "passphrase")?,
        connect_timeout: ctx
            .connect_timeout
            .or(settings.connect_timeout)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        keepalive: settings
            .server_alive_interval
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_KEEPALIVE),
        jump,
    })
}

/// `a,b,c` → c reached through b reached through a; each hop is a target name or `[user@]host[:port]`.
fn resolve_jump_chain(
    chain: &str,
    ctx: &SshContext,
    depth: usize,
) -> Result<Option<Box<SshEndpoint>>, String> {
    if depth > MAX_JUMPS {
        return Err(format!(
            "jump chain `{chain}` is longer than {MAX_JUMPS} hops (a loop?)"
        ));
    }
    let mut previous: Option<Box<SshEndpoint>> = None;
    for hop in chain.split(',').map(str::trim).filter(|h| !h.is_empty()) {
        let mut endpoint = if let Some(target) = ctx.inventory.iter().find(|t| t.name == hop) {
            let TargetSpec::Ssh { user, host, port } = &target.spec else {
                return Err(format!(
                    "jump host `{hop}` is a {} target, not an SSH host",
                    target.kind()
                ));
            };
            let options = ctx.options.get(hop).cloned().unwrap_or_default();
            let mut endpoint =
                resolve_alias(hop, host, user.clone(), *port, &options, ctx, depth + 1)?;
            if let Some(jump) = &options.jump {
                endpoint.jump = resolve_jump_chain(jump, ctx, depth + 1)?;
            }
            endpoint
        } else {
            let spec = TargetSpec::parse_url(&format!("ssh://{hop}"))
                .map_err(|e| format!("jump host `{hop}`: {e}"))?;
            let TargetSpec::Ssh { user, host, port } = spec else {
                return Err(format!("jump host `{hop}` is not user@host:port"));
            };
            resolve_alias(
                hop,
                &host,
                user,
                port,
                &SshTargetOptions::default(),
                ctx,
                depth + 1,
            )?
        };
        if previous.is_some() {
            endpoint.jump = previous.take();
        }
        previous = Some(Box::new(endpoint));
    }
    Ok(previous)
}

/// A target for a `Host` of `~/.ssh/config` that is not in casefile.toml.
pub fn ssh_config_target(alias: &str) -> Target {
    Target {
        name: alias.to_string(),
        spec: TargetSpec::Ssh {
            user: None,
            host: alias.to_string(),
            port: None,
        },
        tags: vec![],
        source: "~/.ssh/config".into(),
        password_secret: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casefile_settings_win_and_jump_chains_nest() {
        let config = SshConfig::parse(
            "cfg",
            "Host web\n HostName 127.0.0.7\n Port 2200\n User ops\n ProxyJump hop1,hop2\nHost hop2\n Port 2202\n",
        );
        let mut ctx = SshContext::new(config);
        ctx.accept_new = true;
        let target = ssh_config_target("web");
        let endpoint = resolve(&target, &ctx).expect("resolves");
        assert_eq!(
            (
                endpoint.host.as_str(),
                endpoint.port,
                endpoint.user.as_str()
            ),
            ("127.0.0.7", 2200, "ops")
        );
        let hop2 = endpoint.jump.as_ref().expect("hop2");
        assert_eq!((hop2.host.as_str(), hop2.port), ("hop2", 2202));
        assert_eq!(hop2.jump.as_ref().map(|j| j.host.as_str()), Some("hop1"));
        assert_eq!(endpoint.unknown_hosts, UnknownHostPolicy::AcceptNew);
        ctx.refuse_new_host_keys = true;
        let strict = resolve(&target, &ctx).expect("resolves");
        assert_eq!(strict.unknown_hosts, UnknownHostPolicy::Refuse);
        assert_eq!(
            strict.jump.as_ref().map(|j| j.unknown_hosts),
            Some(UnknownHostPolicy::Refuse),
            "jump hosts too"
        );
        let inline = Target {
            name: "x".into(),
            spec: TargetSpec::Ssh {
                user: Some("me".into()),
                host: "web".into(),
                port: Some(1),
            },
            tags: vec![],
            source: "inline".into(),
            password_secret: None,
        };
        let endpoint = resolve(&inline, &ctx).expect("inline");
        assert_eq!((endpoint.port, endpoint.user.as_str()), (1, "me"));
    }
}
