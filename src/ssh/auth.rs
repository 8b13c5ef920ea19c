//! Logging in as OpenSSH does, without ever prompting: the agent (`SSH_AUTH_SOCK`), then identity
//! files (casefile.toml's and ssh_config's, then `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`), with a
//! passphrase from a secret reference for encrypted keys, then a password from a secret reference.
//! A failure names every method tried and what the server would accept.
use super::connect::Client;
use super::resolve::SshEndpoint;
use russh::client::{AuthResult, Handle};
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, load_secret_key};
use russh::{MethodKind, MethodSet};
use std::path::PathBuf;
use std::sync::Arc;

/// OpenSSH's default identity files, tried after the configured ones.
const DEFAULT_IDENTITIES: &[&str] = &["id_ed25519", "id_ecdsa", "id_rsa"];

/// Authenticates `handle` as `endpoint.user`.
pub async fn authenticate(
    handle: &mut Handle<Client>,
    endpoint: &SshEndpoint,
) -> Result<(), String> {
    let user = endpoint.user.clone();
    let mut tried: Vec<String> = Vec::new();
    let mut server_accepts: Option<MethodSet>;
    let rsa_hash = handle
        .best_supported_rsa_hash()
        .await
        .ok()
        .flatten()
        .flatten();
    // "none" first, as OpenSSH does: it tells which methods the server accepts.
    match handle.authenticate_none(user.clone()).await {
        Ok(AuthResult::Success) => return Ok(()),
        Ok(AuthResult::Failure {
            remaining_methods, ..
        }) => server_accepts = Some(remaining_methods),
        Err(e) => {
            return Err(format!(
                "{}: authentication broke off: {e}",
                endpoint.describe()
            ));
        }
    }

    if !endpoint.identities_only
        && let Some(done) =
            try_agent(handle, &user, rsa_hash, &mut tried, &mut server_accepts).await
    {
        return done;
    }

    for path in identity_files(endpoint) {
        let passphrase = endpoint.passphrase.as_ref().map(|p| p.expose().to_string());
        let loaded = {
            let key_path = path.clone();
            tokio::task::spawn_blocking(move || load_secret_key(&key_path, passphrase.as_deref()))
                .await
                .map_err(|e| format!("loading {} failed: {e}", path.display()))?
        };
        let key = match loaded {
            Ok(key) => key,
            Err(russh::keys::Error::KeyIsEncrypted) => {
                tried.push(format!(
                    "{} (encrypted; set passphrase_secret on the target)",
                    path.display()
                ));
                continue;
            }
            Err(e) => {
                tried.push(format!("{} (unreadable: {e})", path.display()));
                continue;
            }
        };
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash);
        match handle.authenticate_publickey(user.clone(), key).await {
            Ok(AuthResult::Success) => return Ok(()),
            Ok(AuthResult::Failure {
                remaining_methods, ..
            }) => {
                tried.push(format!("key {}", path.display()));
                server_accepts = Some(remaining_methods);
            }
            Err(e) => {
                return Err(format!(
                    "{}: authentication broke off: {e}",
                    endpoint.describe()
                ));
            }
        }
    }

    if let Some(password) = &endpoint.password {
        match handle
            .authenticate_password(user.clone(), password.expose())
            .await
        {
            Ok(AuthResult::Success) => return Ok(()),
            Ok(AuthResult::Failure {
                remaining_methods, ..
            }) => {
                tried.push("password (from its secret)".into());
                server_accepts = Some(remaining_methods);
            }
            Err(e) => {
                return Err(format!(
                    "{}: authentication broke off: {e}",
                    endpoint.describe()
                ));
            }
        }
    }

    let accepts = server_accepts
        .map(|m| {
            m.iter()
                .map(|k: &MethodKind| <&str>::from(k))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_else(|| "unknown".into());
    Err(format!(
        "{}: authentication failed as `{user}`; tried: {}; the server accepts: {accepts}. \
         Load a key into ssh-agent, set identity_file, or set password_secret on the target",
        endpoint.describe(),
        if tried.is_empty() {
            "nothing (no agent, no identity file, no password secret)".to_string()
        } else {
            tried.join(", ")
        }
    ))
}

/// Tries every agent identity; `Some` ends authentication (success or a broken connection).
async fn try_agent(
    handle: &mut Handle<Client>,
    user: &str,
    rsa_hash: Option<HashAlg>,
    tried: &mut Vec<String>,
    server_accepts: &mut Option<MethodSet>,
) -> Option<Result<(), String>> {
    std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty())?;
    let mut agent = match AgentClient::connect_env().await {
        Ok(agent) => agent,
        Err(e) => {
            tried.push(format!("agent (cannot connect: {e})"));
            return None;
        }
    };
    let identities = match agent.request_identities().await {
        Ok(ids) => ids,
        Err(e) => {
            tried.push(format!("agent (cannot list keys: {e})"));
            return None;
        }
    };
    let count = identities.len();
    for identity in identities {
        let key = identity.public_key().into_owned();
        let hash = if key.algorithm().is_rsa() {
            rsa_hash
        } else {
            None
        };
        match handle
            .authenticate_publickey_with(user.to_string(), key, hash, &mut agent)
            .await
        {
            Ok(AuthResult::Success) => return Some(Ok(())),
            Ok(AuthResult::Failure {
                remaining_methods, ..
            }) => *server_accepts = Some(remaining_methods),
            Err(e) => {
                tried.push(format!("agent (signing failed: {e})"));
                return None;
            }
        }
    }
    tried.push(format!(
        "agent ({count} key{})",
        if count == 1 { "" } else { "s" }
    ));
    None
}

/// Configured identity files, then OpenSSH's defaults that exist, without duplicates.
fn identity_files(endpoint: &SshEndpoint) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    let defaults = dirs::home_dir()
        .map(|h| {
            DEFAULT_IDENTITIES
                .iter()
                .map(|n| h.join(".ssh").join(n))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let configured_exist: Vec<PathBuf> = endpoint.identity_files.clone();
    for path in configured_exist
        .into_iter()
        .chain(defaults.into_iter().filter(|p| p.exists()))
    {
        if !files.contains(&path) {
            files.push(path);
        }
    }
    files
}
