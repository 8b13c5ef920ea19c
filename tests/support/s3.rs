//! S3-compatible servers for the export tests, on free loopback ports:
//! - `S3sFs`: the `s3s-fs` crate in process, on its own thread and runtime, storing objects in a
//!   temp dir and checking SigV4 signatures. `stop()` drops its runtime (every connection closes,
//!   as when the process dies); `start_again()` serves the same folder on the same port.
//! - `Moto`: moto's server mode (`scripts/setup/export.sh` installs it under `.tools/venv`), a
//!   separate process that accepts any credentials; killed on drop.
use aws_sdk_s3::Client;
use s3s::{auth::SimpleAuth, service::S3ServiceBuilder};
use std::{
    net::{SocketAddr, TcpListener as StdListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub const ACCESS_KEY: &str = "casefile-test-access";
pub const SECRET_KEY: &str = "casefile-test-secret-key-0123456789";

/// The repository's `.tools/` (filled by scripts/setup/export.sh).
pub fn tool(relative: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".tools")
        .join(relative);
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup/export.sh",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// An S3 client with static credentials for `endpoint` (path-style).
pub async fn client(endpoint: &str, access: &str, secret: &str) -> Client {
    let sdk = sdk_config(endpoint, access, secret).await;
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

pub async fn sdk_config(endpoint: &str, access: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            access,
            secret,
            None,
            None,
            "casefile-tests",
        ))
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// Every byte of an object.
pub async fn get_bytes(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let object = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {bucket}/{key}: {e:?}"));
    object
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec()
}

/// Keys in a bucket.
pub async fn list_keys(client: &Client, bucket: &str) -> Vec<String> {
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("list objects");
    let mut keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    keys.sort();
    keys
}

/// s3s-fs in process.
pub struct S3sFs {
    pub root: tempfile::TempDir,
    pub addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl S3sFs {
    /// Starts with one access key pair; requests signed with another secret are refused.
    pub fn start() -> S3sFs {
        let root = tempfile::tempdir().expect("temp dir");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let mut server = S3sFs {
            root,
            addr,
            runtime: None,
        };
        server.start_again();
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// (Re)starts serving the same folder on the same port.
    pub fn start_again(&mut self) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let root = self.root.path().to_path_buf();
        let addr = self.addr;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let fs = s3s_fs::FileSystem::new(&root).expect("s3s-fs root");
            let mut builder = S3ServiceBuilder::new(fs);
            builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            let service = builder.build();
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket.set_reuseaddr(true).expect("reuseaddr");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match socket.bind(addr) {
                    Ok(()) => break,
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => panic!("bind {addr}: {e}"),
                }
            }
            let listener = socket.listen(1024).expect("listen");
            let _ = ready_tx.send(());
            let http =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let connection = http
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(15))
            .expect("s3s-fs did not start");
        self.runtime = Some(runtime);
    }

    /// Stops serving at once: every open connection is dropped mid-request.
    pub fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        // Wait until the port no longer accepts.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Creates a bucket (a folder under the root).
    pub fn create_bucket(&self, bucket: &str) {
        std::fs::create_dir_all(self.root.path().join(bucket)).expect("bucket dir");
    }

    /// Multipart parts s3s-fs is holding for unfinished uploads.
    pub fn pending_parts(&self) -> usize {
        std::fs::read_dir(self.root.path())
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with(".upload_id-"))
                    .count()
            })
            .unwrap_or(0)
    }
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// moto's server mode as a child process.
pub struct Moto {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let mut command = Command::new(tool("venv/bin/moto_server"));
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        Moto::start_command(command, port)
    }

    /// moto answering one request at a time, so each conditional write is decided atomically
    /// (see tests/support/moto_serial.py).
    pub fn start_serial() -> Moto {
        let port = free_port();
        let mut command = Command::new(tool("venv/bin/python"));
        command
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_serial.py"))
            .args(["127.0.0.1", &port.to_string()]);
        Moto::start_command(command, port)
    }

    fn start_command(mut command: Command, port: u16) -> Moto {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = std::fs::File::create(dir.path().join("moto.log")).expect("log");
        let child = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
