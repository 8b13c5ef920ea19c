//! The database check: every MySQL/MariaDB, PostgreSQL and SQLite target accepts the login
//! (with its password secret, through its `via` host) and the session a capture would use is
//! read-only, asked of the engine itself (see `capture::db::probe` for what read-only means
//! per engine).
use super::secrets::Resolved;
use super::{Check, Kind, seconds};
use crate::capture::db::DbRunner;
use crate::config::Config;
use crate::model::{Target, TargetSpec};
use crate::ssh::SshContext;
use std::time::Duration;

/// The database targets of the inventory, in file order.
pub fn targets(config: &Config) -> Vec<&Target> {
    config
        .targets
        .iter()
        .filter(|t| t.kind().is_database())
        .collect()
}

/// Opens a capture session on `target`, reads back whether it is read-only, closes it.
pub async fn check(
    target: &Target,
    resolved: &Resolved,
    ssh: &SshContext,
    timeout: Duration,
) -> Check {
    let name = target.name.clone();
    let password = match &target.password_secret {
        None => None,
        Some(secret) => match resolved.error(secret) {
            Some(e) => {
                return Check::fail(
                    Kind::Db,
                    name,
                    format!("its password secret does not resolve: {e}"),
                    "fix the secret (see the secrets checks)",
                );
            }
            None => resolved.value(secret).cloned(),
        },
    };
    let runner = match DbRunner::new(target, password, ssh) {
        Ok(runner) => runner,
        Err(e) => return Check::fail(Kind::Db, name, e, "fix the target's settings"),
    };
    let place = where_is(target);
    match tokio::time::timeout(timeout, runner.check_session()).await {
        Ok(Ok(found)) if found.read_only => Check::ok(
            Kind::Db,
            name,
            format!("{place}: logged in; session read-only ({})", found.evidence),
        ),
        Ok(Ok(found)) => Check::fail(
            Kind::Db,
            name,
            format!(
                "{place}: logged in, but the session is NOT read-only ({}): {}",
                found.evidence,
                read_only_meaning(target)
            ),
            "connect to the server directly rather than through a pooler or proxy that drops session settings, or use a replica",
        ),
        Ok(Err(e)) => {
            let fix = fix_for(&e, target);
            Check::fail(Kind::Db, name, format!("{place}: {e}"), fix)
        }
        Err(_) => Check::fail(
            Kind::Db,
            name,
            format!("{place}: no answer within {}", seconds(timeout)),
            "check the address and that the server is up and reachable from here",
        ),
    }
}

/// `mysql://app@db1:3306/orders` (plus ` via bastion`), for messages.
fn where_is(target: &Target) -> String {
    match &target.spec {
        TargetSpec::Mysql(a) | TargetSpec::Postgres(a) => match &a.via {
            Some(via) => format!("{} via {via}", target.spec.to_url()),
            None => target.spec.to_url(),
        },
        _ => target.spec.to_url(),
    }
}

/// What casefile does to make the session read-only on this engine.
fn read_only_meaning(target: &Target) -> &'static str {
    match target.spec {
        TargetSpec::Mysql(_) => {
            "casefile sends SET SESSION TRANSACTION READ ONLY after login, and the server did not keep it"
        }
        TargetSpec::Postgres(_) => {
            "casefile logs in with default_transaction_read_only=on, and the server did not apply it"
        }
        _ => {
            "casefile opens the file read-only with PRAGMA query_only = ON, and SQLite did not apply it"
        }
    }
}

fn fix_for(error: &str, target: &Target) -> String {
    let lower = error.to_ascii_lowercase();
    if error.starts_with("via ") {
        return "fix the SSH host the database is reached through (see its ssh check), or the database's address as that host sees it".into();
    }
    if lower.contains("access denied") || lower.contains("password authentication failed") {
        "check the user and the password its password_secret gives (and that the account may log in from this host)".into()
    } else if lower.contains("pg_hba") {
        "add a pg_hba.conf line that lets this user in from this host".into()
    } else if lower.contains("refused")
        || lower.contains("cannot reach")
        || lower.contains("no answer")
    {
        "check host and port, and that the server listens there and is reachable from here".into()
    } else if matches!(target.spec, TargetSpec::Sqlite { .. }) {
        "fix the path: the file must exist and be readable".into()
    } else {
        "see the server's message above".into()
    }
}
