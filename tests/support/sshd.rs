//! A real OpenSSH `sshd` as a child of the test (foreground, `-D`), on a free loopback port, with
//! its own config, host key and authorized user key in a temp dir; killed on drop.
//! Needs `scripts/setup/ssh.sh` (openssh-server, and the `casefile-test` user for password tests).
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Host and user keys shared by one or more sshds (a fleet shares one host key).
pub struct SshKeys {
    pub dir: tempfile::TempDir,
}

impl SshKeys {
    pub fn generate() -> SshKeys {
        let dir = tempfile::tempdir().expect("keys dir");
        for name in ["host_ed25519", "user_ed25519", "other_host_ed25519"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
                .arg(dir.path().join(name))
                .status()
                .expect("ssh-keygen (install openssh-client: scripts/setup/ssh.sh)");
            assert!(status.success(), "ssh-keygen failed");
        }
        std::fs::copy(
            dir.path().join("user_ed25519.pub"),
            dir.path().join("authorized_keys"),
        )
        .expect("authorized_keys");
        SshKeys { dir }
    }

    pub fn host_key(&self) -> PathBuf {
        self.dir.path().join("host_ed25519")
    }

    /// The user's private key (authorized on every sshd made with these keys).
    pub fn user_key(&self) -> PathBuf {
        self.dir.path().join("user_ed25519")
    }

    /// `ssh-ed25519 AAAA…` of the host key.
    pub fn host_public(&self) -> String {
        public(&self.dir.path().join("host_ed25519.pub"))
    }

    /// A different ed25519 key, to fake a changed host key in known_hosts.
    pub fn other_host_public(&self) -> String {
        public(&self.dir.path().join("other_host_ed25519.pub"))
    }
}

fn public(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("public key");
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A running sshd.
pub struct Sshd {
    child: Child,
    pub port: u16,
    pub addresses: Vec<String>,
    pub dir: tempfile::TempDir,
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl Sshd {
    /// sshd on 127.0.0.1.
    pub fn start(keys: &SshKeys) -> Sshd {
        Sshd::start_on(keys, &["127.0.0.1"], "")
    }

    /// sshd on the given loopback addresses (at most 16), with extra config lines (which win
    /// over the harness's defaults).
    pub fn start_on(keys: &SshKeys, addresses: &[&str], extra: &str) -> Sshd {
        assert!(
            addresses.iter().all(|a| a.starts_with("127.")),
            "tests only use 127.0.0.0/8"
        );
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd (privilege separation dir)");
        let dir = tempfile::tempdir().expect("sshd dir");
        let port = free_port();
        let listen: String = addresses
            .iter()
            .map(|a| format!("ListenAddress {a}\n"))
            .collect();
        let defaults = [
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            "StrictModes no",
            "MaxStartups 200:30:300",
            "MaxSessions 100",
            "AllowTcpForwarding yes",
            "LogLevel DEBUG1",
            "PrintMotd no",
            "AcceptEnv none",
        ];
        // A keyword in `extra` replaces the default (sshd keeps the first value of most keywords
        // but the last of some, such as MaxStartups).
        let keyword = |line: &str| line.split_whitespace().next().unwrap_or("").to_lowercase();
        let overridden: Vec<String> = extra.lines().map(keyword).collect();
        let defaults: String = defaults
            .iter()
            .filter(|d| !overridden.contains(&keyword(d)))
            .map(|d| format!("{d}\n"))
            .collect();
        let config = format!(
            "Port {port}\n{listen}HostKey {host_key}\nPidFile {pid}\nAuthorizedKeysFile {auth}\n{defaults}{extra}\n",
            host_key = keys.host_key().display(),
            pid = dir.path().join("sshd.pid").display(),
            auth = keys.dir.path().join("authorized_keys").display(),
        );
        let config_path = dir.path().join("sshd_config");
        std::fs::write(&config_path, config).expect("sshd_config");
        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(&config_path)
            .arg("-E")
            .arg(dir.path().join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start /usr/sbin/sshd (install openssh-server: scripts/setup/ssh.sh)");
        let sshd = Sshd {
            child,
            port,
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            dir,
        };
        for address in &sshd.addresses {
            sshd.wait_ready(address);
        }
        sshd
    }

    /// Waits until sshd answers with its SSH banner on `address`.
    fn wait_ready(&self, address: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect((address, self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 8];
                if stream.read_exact(&mut buf).is_ok() && buf.starts_with(b"SSH-2.0") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "sshd did not start on {address}:{}; log:\n{}",
            self.port,
            self.log()
        );
    }

    /// The listening sshd's pid (connections are its children).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// known_hosts lines for every address of this sshd with `key` (`ssh-ed25519 AAAA…`).
    pub fn known_hosts_lines(&self, key: &str) -> String {
        self.addresses
            .iter()
            .map(|a| format!("[{a}]:{} {key}\n", self.port))
            .collect()
    }

    /// Makes `home/.ssh` trust this sshd (known_hosts) and log in with the test user key
    /// (`id_ed25519`), as a user's own ~/.ssh would.
    pub fn trust_from(&self, home: &Path, keys: &SshKeys) {
        let ssh_dir = home.join(".ssh");
        std::fs::create_dir_all(&ssh_dir).expect("~/.ssh");
        std::fs::write(
            ssh_dir.join("known_hosts"),
            self.known_hosts_lines(&keys.host_public()),
        )
        .expect("known_hosts");
        std::fs::copy(keys.user_key(), ssh_dir.join("id_ed25519")).expect("id_ed25519");
    }

    pub fn url(&self, user: &str) -> String {
        format!("ssh://{user}@{}:{}", self.addresses[0], self.port)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test `ssh-agent` (foreground, `-D`) on a socket in a temp dir, holding the given keys.
pub struct Agent {
    child: Child,
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    pub fn start(keys: &[&Path]) -> Agent {
        let dir = tempfile::tempdir().expect("agent dir");
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .spawn()
            .expect("ssh-agent");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for key in keys {
            let status = Command::new("ssh-add")
                .arg("-q")
                .arg(key)
                .env("SSH_AUTH_SOCK", &socket)
                .status()
                .expect("ssh-add");
            assert!(status.success(), "ssh-add failed");
        }
        Agent {
            child,
            socket,
            _dir: dir,
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PIDs of processes whose command line matches `pattern` (pgrep -f), excluding pgrep itself.
pub fn pgrep(pattern: &str) -> Vec<String> {
    let out = Command::new("pgrep")
        .arg("-f")
        .arg(pattern)
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}
