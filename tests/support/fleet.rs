//! A fleet of real sshds for fleet-sized tests and benches: hosts on 127.0.0.1 … 127.0.0.N,
//! 16 addresses per sshd, all with one host key; a home's ~/.ssh trusts them and logs in with
//! the test key, and each host is a casefile.toml target `webNN`.
use super::sshd::{SshKeys, Sshd};
use std::path::Path;

pub struct SshFleet {
    pub keys: SshKeys,
    pub servers: Vec<Sshd>,
}

impl SshFleet {
    /// `hosts` (at most 254) addresses, served by ⌈hosts/16⌉ sshds with quiet logs.
    pub fn start(hosts: usize) -> SshFleet {
        let keys = SshKeys::generate();
        let addresses: Vec<String> = (1..=hosts).map(|i| format!("127.0.0.{i}")).collect();
        let servers = addresses
            .chunks(16)
            .map(|chunk| {
                let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                Sshd::start_on(&keys, &refs, "LogLevel ERROR\n")
            })
            .collect();
        SshFleet { keys, servers }
    }

    /// Every host's address and port, in address order.
    pub fn hosts(&self) -> Vec<(String, u16)> {
        self.servers
            .iter()
            .flat_map(|s| s.addresses.iter().map(move |a| (a.clone(), s.port)))
            .collect()
    }

    /// Makes `home/.ssh` trust every host (known_hosts) and log in with the test user key.
    pub fn trust_from(&self, home: &Path) {
        let ssh_dir = home.join(".ssh");
        std::fs::create_dir_all(&ssh_dir).expect("~/.ssh");
        let known: String = self
            .servers
            .iter()
            .map(|s| s.known_hosts_lines(&self.keys.host_public()))
            .collect();
        std::fs::write(ssh_dir.join("known_hosts"), known).expect("known_hosts");
        std::fs::copy(self.keys.user_key(), ssh_dir.join("id_ed25519")).expect("identity");
    }

    /// `[targets.web01]` … one per host, as `user`, tagged `tag`.
    pub fn targets_toml(&self, user: &str, tag: &str) -> String {
        self.hosts()
            .iter()
            .enumerate()
            .map(|(n, (address, port))| {
                format!(
                    "[targets.web{:02}]\nurl = \"ssh://{user}@{address}:{port}\"\ntags = [\"{tag}\"]\n",
                    n + 1
                )
            })
            .collect()
    }
}
