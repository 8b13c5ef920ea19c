//! `[secrets.NAME]`: secret references (env, file or command), checked one by one.
use super::AtFn;
use crate::secret::SecretRef;
use crate::source_error::SourceError;
use std::collections::BTreeMap;
use toml::Spanned;

/// Each reference names exactly one source; the error points at the reference.
pub(super) fn validate_secrets(
    raw: BTreeMap<Spanned<String>, Spanned<SecretRef>>,
    at: &AtFn<'_>,
) -> Result<BTreeMap<String, SecretRef>, SourceError> {
    let mut secrets = BTreeMap::new();
    for (secret_name, secret) in raw {
        secret.get_ref().validate().map_err(|e| {
            at(
                Some(secret.span()),
                format!("secret `{}`: {e}", secret_name.get_ref()),
            )
        })?;
        secrets.insert(secret_name.into_inner(), secret.into_inner());
    }
    Ok(secrets)
}

/// The error for a target naming a secret that `[secrets]` does not define.
pub(super) fn undefined_secret(
    target: &str,
    secret: &Spanned<String>,
    at: &AtFn<'_>,
) -> SourceError {
    at(
        Some(secret.span()),
        format!(
            "target `{target}` uses secret `{}`, which is not defined",
            secret.get_ref()
        ),
    )
    .with_hint(format!(
        "add [secrets.{}] with env, file or command",
        secret.get_ref()
    ))
}
