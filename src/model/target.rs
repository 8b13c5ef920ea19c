//! Capture targets: the local machine, SSH hosts and databases.
use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of steps a target runs: shell commands or SQL of one dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Shell,
    Mysql,
    Postgres,
    Sqlite,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Shell => "shell",
            TargetKind::Mysql => "mysql",
            TargetKind::Postgres => "postgres",
            TargetKind::Sqlite => "sqlite",
        }
    }

    pub fn is_database(self) -> bool {
        self != TargetKind::Shell
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a target is and how to reach it. URLs never hold passwords (see `password_secret`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TargetSpec {
    Local,
    Ssh {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        host: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
    },
    Mysql(DbAddress),
    Postgres(DbAddress),
    Sqlite {
        path: String,
    },
}

/// A network database address, as parsed from `mysql://user@host:port/db`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// How to use TLS (`None` = prefer: TLS when the server offers it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsMode>,
    /// CA certificate file (PEM) that verifies the server, for `verify-ca` / `verify-full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<String>,
    /// Client certificate (PEM) for servers that require one (mutual TLS); with `tls_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<String>,
    /// The client certificate's private key (PEM); a path, never the key itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<String>,
    /// Unix socket path (MySQL: the socket file; PostgreSQL: the socket directory); when set,
    /// host and port only name the server in messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    /// An SSH host (a casefile.toml target or `~/.ssh/config` Host) to reach the server
    /// through: `host:port` is then resolved and connected to by that host, not this machine.
    /// Only from casefile.toml (`via = "NAME"`): inline URLs cannot carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// TLS use for a database connection, named as in libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, else plain (the default).
    Prefer,
    /// TLS or fail, without checking the certificate.
    Require,
    /// TLS with a certificate signed by the CA (`tls_ca` or the system roots).
    VerifyCa,
    /// As `verify-ca`, and the certificate must name the host.
    VerifyFull,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    pub fn parse(text: &str) -> Result<TlsMode, String> {
        Ok(match text {
            "disable" | "disabled" => TlsMode::Disable,
            "prefer" | "preferred" => TlsMode::Prefer,
            "require" | "required" => TlsMode::Require,
            "verify-ca" | "verify_ca" => TlsMode::VerifyCa,
            "verify-full" | "verify_identity" | "verify-identity" => TlsMode::VerifyFull,
            other => {
                return Err(format!(
                    "TLS mode `{other}` is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }
}

impl TargetSpec {
    pub fn kind(&self) -> TargetKind {
        match self {
            TargetSpec::Local | TargetSpec::Ssh { .. } => TargetKind::Shell,
            TargetSpec::Mysql(_) => TargetKind::Mysql,
            TargetSpec::Postgres(_) => TargetKind::Postgres,
            TargetSpec::Sqlite { .. } => TargetKind::Sqlite,
        }
    }

    /// Parses `local`, `ssh://user@host:port`, `mysql://user@host:port/db`,
    /// `postgres://user@host:port/db` (or `postgresql://`) and `sqlite:PATH`.
    pub fn parse_url(text: &str) -> Result<TargetSpec, String> {
        if text == "local" {
            return Ok(TargetSpec::Local);
        }
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("`sqlite:` needs a file path, e.g. sqlite:/var/lib/app/app.db".into());
            }
            return Ok(TargetSpec::Sqlite {
                path: path.to_string(),
            });
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!(
                "`{text}` is not a target name or URL; use local, ssh://user@host:port, \
                 mysql://user@host:port/db, postgres://user@host:port/db or sqlite:PATH"
            ));
        };
        let address = parse_authority(text, rest)?;
        match scheme {
            "ssh" => {
                if address.database.is_some() {
                    return Err(format!("`{text}`: an ssh:// URL takes no path"));
                }
                Ok(TargetSpec::Ssh {
                    user: address.user,
                    host: address.host,
                    port: address.port,
                })
            }
            "mysql" | "mariadb" => Ok(TargetSpec::Mysql(address)),
            "postgres" | "postgresql" => Ok(TargetSpec::Postgres(address)),
            other => Err(format!(
                "unknown target scheme `{other}://` in `{text}`; use ssh://, mysql://, postgres:// or sqlite:"
            )),
        }
    }

    /// The URL form, password-free, as shown in lists and the manifest.
    pub fn to_url(&self) -> String {
        fn authority(user: &Option<String>, host: &str, port: Option<u16>) -> String {
            let user = user.as_deref().map(|u| format!("{u}@")).unwrap_or_default();
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.to_string()
            };
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{user}{host}{port}")
        }
        match self {
            TargetSpec::Local => "local".into(),
            TargetSpec::Ssh { user, host, port } => {
                format!("ssh://{}", authority(user, host, *port))
            }
            TargetSpec::Mysql(a) | TargetSpec::Postgres(a) => {
                let scheme = if matches!(self, TargetSpec::Mysql(_)) {
                    "mysql"
                } else {
                    "postgres"
                };
                let db = a
                    .database
                    .as_deref()
                    .map(|d| format!("/{d}"))
                    .unwrap_or_default();
                let mut options = Vec::new();
                if let Some(tls) = a.tls {
                    options.push(format!("tls={}", tls.as_str()));
                }
                if let Some(ca) = &a.tls_ca {
                    options.push(format!("tls_ca={ca}"));
                }
                if let Some(cert) = &a.tls_cert {
                    options.push(format!("tls_cert={cert}"));
                }
                if let Some(key) = &a.tls_key {
                    options.push(format!("tls_key={key}"));
                }
                if let Some(socket) = &a.socket {
                    options.push(format!("socket={socket}"));
                }
                let query = if options.is_empty() {
                    String::new()
                } else {
                    format!("?{}", options.join("&"))
                };
                format!(
                    "{scheme}://{}{db}{query}",
                    authority(&a.user, &a.host, a.port)
                )
            }
            TargetSpec::Sqlite { path } => format!("sqlite:{path}"),
        }
    }
}

/// Refuses a URL part holding whitespace, a control character (an escape sequence), or a
/// bidi or invisible formatting character: no real user, host or database name has them, and
/// they would hide or rewrite what the operator reads. Letters and digits of any script and
/// printable ASCII are accepted.
fn check_url_part(full: &str, what: &str, part: &str) -> Result<(), String> {
    match part
        .chars()
        .find(|&c| !(c.is_alphanumeric() || c.is_ascii_graphic()))
    {
        None => Ok(()),
        Some(c) => Err(format!(
            "`{full}`: the {what} holds the character U+{:04X}; write the URL without it",
            c as u32
        )),
    }
}

/// Parses `[user@]host[:port][/database]`; refuses passwords in the URL.
fn parse_authority(full: &str, rest: &str) -> Result<DbAddress, String> {
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (rest.split('?').next().unwrap_or_default(), None),
    };
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, hp)) => (Some(user), hp),
        None => (None, authority),
    };
    if user.is_some_and(|u| u.contains(':')) {
        return Err(format!(
            "`{}`: passwords in target URLs leak into shell history and process lists; \
             put the target in casefile.toml with `password_secret` instead",
            redact_userinfo(full)
        ));
    }
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(format!("`{full}`: missing `]` after an IPv6 address"));
        };
        (host, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(format!("`{full}` has no host"));
    }
    // Port 0 is not a port a server listens on: connecting to it fails in confusing ways.
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("`{full}`: port `{p}` is not a number from 1 to 65535"))?,
        ),
        None => None,
    };
    let (database, query) = match path {
        Some(p) => match p.split_once('?') {
            Some((db, q)) => (Some(db), Some(q)),
            None => (Some(p), None),
        },
        None => (None, authority_query(rest)),
    };
    let database = database.filter(|p| !p.is_empty());
    for (what, part) in [("user", user), ("host", Some(host)), ("database", database)] {
        check_url_part(full, what, part.unwrap_or_default())?;
    }
    let mut address = DbAddress {
        user: user.filter(|u| !u.is_empty()).map(str::to_string),
        host: host.to_string(),
        port,
        database: database.map(str::to_string),
        tls: None,
        tls_ca: None,
        tls_cert: None,
        tls_key: None,
        socket: None,
        via: None,
    };
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" | "ssl-mode" | "tls" => {
                address.tls = Some(TlsMode::parse(value).map_err(|e| format!("`{full}`: {e}"))?)
            }
            "sslrootcert" | "ssl-ca" | "tls_ca" => address.tls_ca = Some(value.to_string()),
            "sslcert" | "ssl-cert" | "tls_cert" => address.tls_cert = Some(value.to_string()),
            "sslkey" | "ssl-key" | "tls_key" => address.tls_key = Some(value.to_string()),
            "socket" => address.socket = Some(value.to_string()),
            other => {
                return Err(format!(
                    "`{full}`: unknown URL option `{other}`; known: tls (or sslmode), tls_ca (or sslrootcert), tls_cert (or sslcert), tls_key (or sslkey), socket"
                ));
            }
        }
    }
    if address.tls_cert.is_some() != address.tls_key.is_some() {
        return Err(format!(
            "`{full}`: a client certificate needs both tls_cert and tls_key"
        ));
    }
    Ok(address)
}

/// The `?query` of a URL that has no `/path`.
fn authority_query(rest: &str) -> Option<&str> {
    rest.split_once('?').map(|(_, q)| q)
}

fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let user = url[start + 3..at].split(':').next().unwrap_or_default();
            format!("{}{}:***{}", &url[..start + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

/// A named target with its tags and where it was defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    pub spec: TargetSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `built-in`, `inline`, or the config file path it came from.
    pub source: String,
    /// Name of a secret in the config that holds the password; the value is never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret: Option<String>,
}

impl Target {
    pub fn local() -> Target {
        Target {
            name: "local".into(),
            spec: TargetSpec::Local,
            tags: vec![],
            source: "built-in".into(),
            password_secret: None,
        }
    }

    pub fn kind(&self) -> TargetKind {
        self.spec.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_url_form() {
        assert_eq!(TargetSpec::parse_url("local"), Ok(TargetSpec::Local));
        assert_eq!(
            TargetSpec::parse_url("ssh://ops@web1:2222"),
            Ok(TargetSpec::Ssh {
                user: Some("ops".into()),
                host: "web1".into(),
                port: Some(2222)
            })
        );
        let mysql = TargetSpec::parse_url("mysql://root@127.0.0.1:3306/app").expect("mysql url");
        assert_eq!(mysql.kind(), TargetKind::Mysql);
        assert_eq!(mysql.to_url(), "mysql://root@127.0.0.1:3306/app");
        let pg = TargetSpec::parse_url("postgresql://[::1]:5432/db").expect("pg url");
        assert_eq!(pg.to_url(), "postgres://[::1]:5432/db");
        let tls = TargetSpec::parse_url(
            "postgres://u@db1/app?sslmode=verify-full&sslrootcert=/etc/ca.pem",
        )
        .expect("tls url");
        let TargetSpec::Postgres(address) = &tls else {
            panic!("not postgres: {tls:?}")
        };
        assert_eq!(
            (address.tls, address.tls_ca.as_deref()),
            (Some(TlsMode::VerifyFull), Some("/etc/ca.pem"))
        );
        assert_eq!(
            tls.to_url(),
            "postgres://u@db1/app?tls=verify-full&tls_ca=/etc/ca.pem"
        );
        assert!(
            TargetSpec::parse_url("mysql://h/?tls=maybe")
                .expect_err("bad tls")
                .contains("TLS mode")
        );
        assert_eq!(
            TargetSpec::parse_url("sqlite:/tmp/a.db"),
            Ok(TargetSpec::Sqlite {
                path: "/tmp/a.db".into()
            })
        );
    }

    #[test]
    fn refuses_passwords_and_garbage_with_a_hint() {
        let err = TargetSpec::parse_url("mysql://root:hunter2@db/app").expect_err("password");
        assert!(err.contains("password_secret"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            TargetSpec::parse_url("ftp://x")
                .expect_err("scheme")
                .contains("unknown target scheme")
        );
        for (url, named) in [
            (
                "ssh://a\u{1b}]0;X\u{7}b",
                "the host holds the character U+001B",
            ),
            (
                "mysql://u\u{9b}2J@db/app",
                "the user holds the character U+009B",
            ),
            (
                "postgres://u@db/app\u{202e}x",
                "the database holds the character U+202E",
            ),
            ("ssh://web 1", "the host holds the character U+0020"),
        ] {
            let e = TargetSpec::parse_url(url).expect_err(url);
            assert!(e.contains(named), "{url}: {e}");
        }
        assert!(TargetSpec::parse_url("postgres://ünï@dbé.example/app_1").is_ok());
        for url in [
            "ssh://h:99999",
            "ssh://h:0",
            "mysql://u@db:0/app",
            "postgres://u@[::1]:0/app",
        ] {
            let e = TargetSpec::parse_url(url).expect_err(url);
            assert!(e.contains("is not a number from 1 to 65535"), "{url}: {e}");
        }
        assert!(
            TargetSpec::parse_url("web1")
                .expect_err("bare")
                .contains("not a target name")
        );
    }
}

/// SSH settings of a `[targets.NAME]` in casefile.toml beyond its URL (plain data: the config
/// reads it, the SSH layer uses it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshTargetOptions {
    pub identity_file: Option<String>,
    /// Another target's name, a `~/.ssh/config` Host, or `[user@]host[:port]` (commas chain hops).
    pub jump: Option<String>,
    pub password_secret: Option<String>,
    pub passphrase_secret: Option<String>,
}
