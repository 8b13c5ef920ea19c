//! PagerDuty API peers for the export tests.
//! - `Prism`: Stoplight Prism (`scripts/setup/export.sh` installs it under `.tools/`) serving
//!   PagerDuty's official OpenAPI description with `--errors`, so a request that breaks the
//!   contract (headers, auth, body) gets a 4xx. The real contract, not a mock of ours.
//! - `StubPagerDuty`: a STUB, for only what Prism cannot do — answer 429 with rate-limit headers,
//!   and keep notes so their content round-trips and a duplicate can be detected. It records every
//!   request it receives.
use std::{
    net::TcpListener as StdListener,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Prism serving `tests/fixtures/pagerduty/openapiv3.json`.
pub struct Prism {
    child: Child,
    pub port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Prism {
    pub fn start() -> Prism {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let prism = super::s3::tool("node_modules/.bin/prism");
        let spec = root.join("tests/fixtures/pagerduty/openapiv3.json");
        let dir = tempfile::tempdir().expect("temp dir");
        let port = StdListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let log = dir.path().join("prism.log");
        let file = std::fs::File::create(&log).expect("log");
        let child = Command::new(prism)
            .args([
                "mock",
                "--errors",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .arg(&spec)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start prism");
        let server = Prism {
            child,
            port,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = server.log();
            if text.contains("Prism is listening") {
                break;
            }
            assert!(Instant::now() < deadline, "prism did not start: {text}");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Prism's log (requests, and `Violation:` lines for contract breaks).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request the stub received.
#[derive(Debug, Clone)]
pub struct StubRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl StubRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct StubState {
    requests: Vec<StubRequest>,
    notes: Vec<String>,
    /// 429 answers still to give, with this `ratelimit-reset` value.
    rate_limited: usize,
    reset_seconds: String,
}

/// STUB PagerDuty (see the module doc): notes in memory, optional 429s first.
pub struct StubPagerDuty {
    pub port: u16,
    state: Arc<Mutex<StubState>>,
    task: tokio::task::JoinHandle<()>,
}

impl StubPagerDuty {
    pub async fn start() -> StubPagerDuty {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(StubState::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let Some(request) = read_request(&mut stream).await else {
                        return;
                    };
                    let (status, headers, body) = respond(&state, request);
                    let mut response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                        body.len()
                    );
                    for (name, value) in headers {
                        response.push_str(&format!("{name}: {value}\r\n"));
                    }
                    response.push_str("\r\n");
                    response.push_str(&body);
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        StubPagerDuty { port, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The next `count` requests get 429 with `ratelimit-reset: seconds`.
    pub fn rate_limit(&self, count: usize, seconds: &str) {
        let mut state = self.state.lock().expect("lock");
        state.rate_limited = count;
        state.reset_seconds = seconds.to_string();
    }

    pub fn requests(&self) -> Vec<StubRequest> {
        self.state.lock().expect("lock").requests.clone()
    }

    pub fn notes(&self) -> Vec<String> {
        self.state.lock().expect("lock").notes.clone()
    }
}

impl Drop for StubPagerDuty {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<StubRequest> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buffer[header_end..]).into_owned();
    Some(StubRequest {
        method,
        path,
        headers,
        body,
    })
}

fn respond(
    state: &Mutex<StubState>,
    request: StubRequest,
) -> (String, Vec<(String, String)>, String) {
    let mut state = state.lock().expect("lock");
    state.requests.push(request.clone());
    if state.rate_limited > 0 {
        state.rate_limited -= 1;
        let reset = state.reset_seconds.clone();
        let body = r#"{"error":{"message":"Rate Limit Exceeded","code":2020}}"#.to_string();
        return (
            "429 Too Many Requests".into(),
            vec![
                ("ratelimit-reset".into(), reset),
                ("ratelimit-limit".into(), "960".into()),
            ],
            body,
        );
    }
    let path = request.path.split('?').next().unwrap_or("").to_string();
    let note_json = |i: usize, content: &str| serde_json::json!({"id": format!("PNOTE{i}"), "content": content, "created_at": "2026-11-25T10:00:00Z"});
    match (request.method.as_str(), path.as_str()) {
        ("GET", "/incidents") => (
            "200 OK".into(),
            vec![],
            serde_json::json!({"incidents": [{"id": "PSTUB01", "title": "stub incident", "status": "triggered"}], "more": false, "offset": 0, "limit": 25}).to_string(),
        ),
        ("GET", p) if p.ends_with("/notes") => {
            let notes: Vec<_> = state.notes.iter().enumerate().map(|(i, n)| note_json(i, n)).collect();
            ("200 OK".into(), vec![], serde_json::json!({ "notes": notes }).to_string())
        }
        ("POST", p) if p.ends_with("/notes") => {
            let parsed: serde_json::Value = serde_json::from_str(&request.body).unwrap_or_default();
            let Some(content) = parsed["note"]["content"].as_str() else {
                return ("400 Bad Request".into(), vec![], r#"{"error":{"message":"Invalid Input Provided"}}"#.into());
            };
            state.notes.push(content.to_string());
            let index = state.notes.len() - 1;
            ("200 OK".into(), vec![], serde_json::json!({ "note": note_json(index, content) }).to_string())
        }
        _ => ("404 Not Found".into(), vec![], r#"{"error":{"message":"Not Found"}}"#.into()),
    }
}
