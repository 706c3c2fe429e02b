//! A moto server (AWS emulator) of a test's own: started on a free port on 127.0.0.1, killed by
//! PID when dropped. One process per test keeps tests independent (moto's SageMaker answer
//! queue, for one, is global) and lets them run in parallel. moto runs with isolated
//! TransactWriteItems (moto_server.py): plain moto 5.x lets concurrent transactions undo each
//! other, which DynamoDB never does.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub port: u16,
    pub endpoint: String,
    log: PathBuf,
}

/// How to start moto: `$MOTO_SERVER` as given, else moto_server.py (moto with isolated
/// transactions) run by the Python next to `moto_server` in the PATH or the project's `.venv`
/// (where `make test` installs it).
fn moto_command() -> Result<Command, String> {
    const HINT: &str =
        "run `make test` (or `make aws-test`), which installs moto into .venv from training/requirements.txt";
    if let Some(path) = std::env::var_os("MOTO_SERVER") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(Command::new(path))
        } else {
            Err(format!("MOTO_SERVER={} is not a file: {HINT}", path.display()))
        };
    }
    // The workspace's .venv, above this crate.
    let venvs = Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().map(|dir| dir.join(".venv/bin"));
    let bin = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain(venvs)
        .find(|dir| dir.join("moto_server").is_file() && dir.join("python3").is_file())
        .ok_or_else(|| format!("moto_server not found (looked in the PATH and .venv/bin): {HINT}"))?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("moto_server.py");
    let mut command = Command::new(bin.join("python3"));
    command.arg(script);
    Ok(command)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free local port")
}

impl Moto {
    pub fn start() -> Moto {
        // A port picked now may be taken by the time moto binds it: try a few.
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let log = std::env::temp_dir().join(format!("roamguard-moto-{port}.log"));
            let out = std::fs::File::create(&log).expect("moto log file");
            let err = out.try_clone().expect("moto log file");
            let mut command = moto_command().unwrap_or_else(|e| panic!("{e}"));
            let child = command
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start moto ({:?}): {e}", command.get_program()));
            let mut moto = Moto { child, port, endpoint: format!("http://127.0.0.1:{port}"), log };
            match moto.wait_ready(Duration::from_secs(60)) {
                Ok(()) => return moto,
                Err(e) => last_log = e,
            }
        }
        panic!("moto_server did not start: {last_log}");
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "exited with {status}: {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                ));
            }
            if let Ok((200, _)) = self.request("GET", "/moto-api/data.json", "") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("not ready after {limit:?}: {}", std::fs::read_to_string(&self.log).unwrap_or_default()))
    }

    /// A plain HTTP/1.1 request to moto's own API; returns (status, body).
    pub fn request(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Ok((status, body))
    }

    /// Clears every resource (tables, streams, queues, canned answers).
    pub fn reset(&self) {
        let (status, body) = self.request("POST", "/moto-api/reset", "").expect("moto reset");
        assert_eq!(status, 200, "moto reset: {body}");
    }

    /// Queues canned SageMaker InvokeEndpoint answers (`text/csv` bodies); each distinct request
    /// consumes the next one, and repeating a request repeats its answer.
    pub fn sagemaker_results(&self, bodies: &[&str]) {
        let results: Vec<serde_json::Value> =
            bodies.iter().map(|b| serde_json::json!({"Body": b, "ContentType": "text/csv"})).collect();
        let payload = serde_json::json!({ "results": results }).to_string();
        let (status, body) =
            self.request("POST", "/moto-api/static/sagemaker/endpoint-results", &payload).expect("moto static results");
        assert_eq!(status, 201, "canned SageMaker results: {body}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
