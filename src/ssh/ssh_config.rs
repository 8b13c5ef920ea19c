//! A reader of OpenSSH's `~/.ssh/config` for the keywords casefile acts on. Every other keyword is
//! reported as a warning (with file:line), so a user never wonders why a setting had no effect.
//!
//! Semantics follow ssh_config(5): the first value obtained for a keyword wins, `IdentityFile`
//! accumulates, `Host` patterns take `*`, `?` and `!negation`, `Include` takes globs (relative
//! paths are under `~/.ssh`) and is processed in place, inside the enclosing `Host` block.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Keywords casefile applies.
const SUPPORTED: &[&str] = &[
    "host",
    "include",
    "hostname",
    "user",
    "port",
    "identityfile",
    "identitiesonly",
    "proxyjump",
    "userknownhostsfile",
    "stricthostkeychecking",
    "connecttimeout",
    "serveraliveinterval",
];

/// How deep `Include` may nest (OpenSSH uses 16 too).
const MAX_INCLUDE_DEPTH: usize = 16;

/// One `Keyword value…` line, with the `Host` patterns in force where it appeared.
#[derive(Debug, Clone)]
struct Entry {
    /// `None` = before any `Host` line (applies to every host).
    patterns: Option<Vec<String>>,
    keyword: String,
    args: Vec<String>,
}

/// The parsed file(s): entries in order, the concrete host names, and what was not understood.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    entries: Vec<Entry>,
    /// Every `Host` pattern without wildcards or negation, in file order: the hosts a user can pick.
    pub hosts: Vec<String>,
    /// `file:line: message` for unsupported keywords, `Match` blocks and unreadable includes.
    pub warnings: Vec<String>,
    /// The main file, for messages.
    pub path: Option<PathBuf>,
}

/// What ssh_config says about one host alias. `None` = not set there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostSettings {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
    pub identities_only: bool,
    pub proxy_jump: Option<String>,
    pub known_hosts_files: Vec<PathBuf>,
    pub strict_host_key_checking: Option<String>,
    pub connect_timeout: Option<std::time::Duration>,
    pub server_alive_interval: Option<std::time::Duration>,
}

impl SshConfig {
    /// `~/.ssh/config` if it exists; an empty config otherwise.
    pub fn load_default() -> SshConfig {
        match dirs::home_dir().map(|h| h.join(".ssh").join("config")) {
            Some(path) if path.exists() => SshConfig::load(&path),
            _ => SshConfig::default(),
        }
    }

    /// Reads `path` and its includes. Unreadable files become warnings, not errors.
    pub fn load(path: &Path) -> SshConfig {
        let mut config = SshConfig {
            path: Some(path.to_path_buf()),
            ..SshConfig::default()
        };
        let mut current = None;
        config.read_file(path, &mut current, 0);
        config
    }

    /// Parses config text (for tests and includes); `name` is used in warnings.
    pub fn parse(name: &str, text: &str) -> SshConfig {
        let mut config = SshConfig::default();
        let mut current = None;
        config.parse_text(name, text, &mut current, 0);
        config
    }

    fn read_file(&mut self, path: &Path, current: &mut Option<Vec<String>>, depth: usize) {
        match std::fs::read_to_string(path) {
            Ok(text) => self.parse_text(&path.display().to_string(), &text, current, depth),
            Err(e) => self
                .warnings
                .push(format!("{}: cannot read: {e}", path.display())),
        }
    }

    fn parse_text(
        &mut self,
        name: &str,
        text: &str,
        current: &mut Option<Vec<String>>,
        depth: usize,
    ) {
        let mut in_match = false;
        for (index, raw_line) in text.lines().enumerate() {
            let line_no = index + 1;
            let Some((keyword, args)) = split_line(raw_line) else {
                continue;
            };
            let keyword = keyword.to_ascii_lowercase();
            match keyword.as_str() {
                "host" => {
                    in_match = false;
                    for pattern in &args {
                        if !pattern.contains(['*', '?', '!']) && !self.hosts.contains(pattern) {
                            self.hosts.push(pattern.clone());
                        }
                    }
                    *current = Some(args);
                }
                "match" => {
                    in_match = true;
                    self.warnings.push(format!(
                        "{name}:{line_no}: `Match` blocks are not supported; the settings under it are ignored by casefile"
                    ));
                }
                _ if in_match => {}
                "include" => {
                    if depth >= MAX_INCLUDE_DEPTH {
                        self.warnings.push(format!(
                            "{name}:{line_no}: Include nested too deeply; skipped"
                        ));
                        continue;
                    }
                    for pattern in &args {
                        let saved = current.clone();
                        for file in expand_include(pattern) {
                            self.read_file(&file, current, depth + 1);
                        }
                        *current = saved;
                    }
                }
                // A port that is not 1-65535 is dropped (the default, 22, applies): say so.
                "port"
                    if !args
                        .first()
                        .is_some_and(|p| p.parse::<u16>().is_ok_and(|p| p != 0)) =>
                {
                    self.warnings.push(format!(
                        "{name}:{line_no}: Port `{}` is not a number from 1 to 65535 and is ignored",
                        args.first().map(String::as_str).unwrap_or_default()
                    ));
                }
                _ if !SUPPORTED.contains(&keyword.as_str()) => {
                    self.warnings.push(format!(
                        "{name}:{line_no}: `{}` is not supported by casefile and is ignored",
                        raw_line.split_whitespace().next().unwrap_or(&keyword)
                    ));
                }
                _ => self.entries.push(Entry {
                    patterns: current.clone(),
                    keyword,
                    args,
                }),
            }
        }
    }

    /// True when `alias` is a usable Host here: a concrete `Host`, or a pattern that gives it a
    /// HostName (what a database's `via` may name).
    pub fn knows_host(&self, alias: &str) -> bool {
        self.hosts.iter().any(|h| h == alias) || self.settings_for(alias).hostname.is_some()
    }

    /// The settings for `alias` (the name given on the command line or in casefile.toml).
    pub fn settings_for(&self, alias: &str) -> HostSettings {
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        let mut settings = HostSettings::default();
        for entry in &self.entries {
            if entry
                .patterns
                .as_ref()
                .is_some_and(|p| !host_matches(alias, p))
            {
                continue;
            }
            let Some(first) = entry.args.first() else {
                continue;
            };
            let keyword = entry.keyword.as_str();
            if keyword == "identityfile" {
                settings.identity_files.push(PathBuf::from(first));
                continue;
            }
            if seen.insert(keyword, ()).is_some() {
                continue;
            }
            match keyword {
                "hostname" => settings.hostname = Some(first.clone()),
                "user" => settings.user = Some(first.clone()),
                "port" => settings.port = first.parse().ok(),
                "identitiesonly" => settings.identities_only = first.eq_ignore_ascii_case("yes"),
                "proxyjump" => {
                    settings.proxy_jump =
                        (!first.eq_ignore_ascii_case("none")).then(|| first.clone())
                }
                "userknownhostsfile" => {
                    settings.known_hosts_files = entry
                        .args
                        .iter()
                        .filter(|a| *a != "none")
                        .map(PathBuf::from)
                        .collect();
                }
                "stricthostkeychecking" => {
                    settings.strict_host_key_checking = Some(first.to_ascii_lowercase())
                }
                "connecttimeout" => {
                    settings.connect_timeout =
                        first.parse().ok().map(std::time::Duration::from_secs)
                }
                "serveraliveinterval" => {
                    settings.server_alive_interval =
                        first.parse().ok().map(std::time::Duration::from_secs)
                }
                _ => {}
            }
        }
        settings
    }
}

/// Splits `Keyword value…` or `Keyword=value…`; honours double quotes; `None` for blanks/comments.
fn split_line(line: &str) -> Option<(String, Vec<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let split_at = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let keyword = line[..split_at].to_string();
    let rest = line[split_at..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut has_token = false;
    for c in rest.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                has_token = true;
            }
            c if c.is_whitespace() && !quoted => {
                if has_token {
                    args.push(std::mem::take(&mut current));
                    has_token = false;
                }
            }
            c => {
                current.push(c);
                has_token = true;
            }
        }
    }
    if has_token {
        args.push(current);
    }
    Some((keyword, args))
}

/// `Host` matching: any positive pattern matches and no negated one does.
pub fn host_matches(host: &str, patterns: &[String]) -> bool {
    let mut matched = false;
    for pattern in patterns {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob_match(negated, host) {
                return false;
            }
        } else if glob_match(pattern, host) {
            matched = true;
        }
    }
    matched
}

/// `*` and `?` globbing, case-insensitive as OpenSSH does for host names.
fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Expands an `Include` argument: `~`, relative to `~/.ssh`, and a glob in the file name.
fn expand_include(pattern: &str) -> Vec<PathBuf> {
    let home = dirs::home_dir().unwrap_or_default();
    let path = expand_tilde(pattern);
    let path = if path.is_absolute() {
        path
    } else {
        home.join(".ssh").join(path)
    };
    let file_pattern = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !file_pattern.contains(['*', '?']) {
        return vec![path];
    }
    let Some(dir) = path.parent() else {
        return vec![];
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|f| glob_match(&file_pattern, &f.to_string_lossy()))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// `~/x` → `$HOME/x`.
pub fn expand_tilde(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// Expands the `%` tokens OpenSSH allows in IdentityFile/UserKnownHostsFile, and `~`.
pub fn expand_tokens(path: &Path, alias: &str, hostname: &str, port: u16, user: &str) -> PathBuf {
    let text = path.to_string_lossy();
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(hostname),
            Some('n') => out.push_str(alias),
            Some('p') => out.push_str(&port.to_string()),
            Some('r') => out.push_str(user),
            Some('d') => out.push_str(&dirs::home_dir().unwrap_or_default().to_string_lossy()),
            Some('u') => out.push_str(&local_user()),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    expand_tilde(&out)
}

/// The local user name, as OpenSSH's default remote user.
pub fn local_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_known_by_name_or_by_a_pattern_that_gives_it_a_hostname() {
        let config = SshConfig::parse(
            "ssh_config",
            "Host jumpbox\n HostName 10.0.0.2\nHost *.corp\n HostName gw.corp\nHost *\n User ops\n",
        );
        assert!(config.knows_host("jumpbox"));
        assert!(config.knows_host("db.corp"));
        assert!(!config.knows_host("other"));
    }

    const SAMPLE: &str = r#"
# global
User fallback
Host web-? !web-9
    HostName 10.0.0.%h
    Port 2222
    IdentityFile ~/.ssh/web
Host db1 "db two"
    HostName=db1.internal
    ProxyJump bastion
    ForwardAgent yes
Host *
    IdentityFile ~/.ssh/all
    Port 22
    StrictHostKeyChecking accept-new
Match host x
    User nobody
"#;

    #[test]
    fn a_port_that_is_not_1_to_65535_is_ignored_with_a_warning() {
        let config = SshConfig::parse(
            "cfg",
            "Host a\n    Port 0\nHost b\n    Port 70000\nHost *\n    Port 2200\n",
        );
        assert_eq!(config.settings_for("a").port, Some(2200));
        assert_eq!(config.settings_for("b").port, Some(2200));
        assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
        assert!(config.warnings[0].starts_with("cfg:2: Port `0` is not a number from 1 to 65535"));
    }

    #[test]
    fn first_value_wins_identity_files_accumulate() {
        let config = SshConfig::parse("cfg", SAMPLE);
        let web = config.settings_for("web-1");
        assert_eq!(web.port, Some(2222));
        assert_eq!(web.user.as_deref(), Some("fallback"));
        assert_eq!(web.hostname.as_deref(), Some("10.0.0.%h"));
        assert_eq!(
            web.identity_files,
            vec![PathBuf::from("~/.ssh/web"), PathBuf::from("~/.ssh/all")]
        );
        assert_eq!(web.strict_host_key_checking.as_deref(), Some("accept-new"));
        let negated = config.settings_for("web-9");
        assert_eq!(negated.port, Some(22));
        let db = config.settings_for("db two");
        assert_eq!(db.proxy_jump.as_deref(), Some("bastion"));
        assert_eq!(db.hostname.as_deref(), Some("db1.internal"));
        assert_eq!(config.hosts, vec!["db1", "db two"]);
    }

    #[test]
    fn unsupported_keywords_and_match_are_reported_with_lines() {
        let config = SshConfig::parse("cfg", SAMPLE);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.starts_with("cfg:11:") && w.contains("ForwardAgent")),
            "{:?}",
            config.warnings
        );
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.starts_with("cfg:16:") && w.contains("Match")),
            "{:?}",
            config.warnings
        );
        assert_eq!(config.settings_for("x").user.as_deref(), Some("fallback"));
    }

    #[test]
    fn include_is_processed_in_place_with_globs() {
        let dir = std::env::temp_dir().join(format!("casefile-ssh-config-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("conf.d")).expect("dir");
        std::fs::write(
            dir.join("conf.d").join("a.conf"),
            "Host inc\n  Port 2201\n  Bogus yes\n",
        )
        .expect("a");
        std::fs::write(dir.join("conf.d").join("b.conf"), "Port 2202\n").expect("b");
        let main = dir.join("config");
        std::fs::write(
            &main,
            format!(
                "Host outer\n  Include {}/conf.d/*.conf\n  User after\n",
                dir.display()
            ),
        )
        .expect("main");
        let config = SshConfig::load(&main);
        assert_eq!(config.settings_for("inc").port, Some(2201));
        // b.conf's Port came after `Host inc` in a.conf; `Host outer` is restored after the Include.
        assert_eq!(config.settings_for("outer").user.as_deref(), Some("after"));
        assert!(config.hosts.contains(&"inc".to_string()));
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("a.conf:3") && w.contains("Bogus")),
            "{:?}",
            config.warnings
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn globs_and_tokens() {
        assert!(glob_match("*.prod", "a.b.prod"));
        assert!(!glob_match("web-?", "web-10"));
        let path = expand_tokens(Path::new("/k/%r@%h:%p"), "a", "h", 22, "u");
        assert_eq!(path, PathBuf::from("/k/u@h:22"));
    }
}
