//! A Lambda Runtime API on 127.0.0.1, so a function binary runs as Lambda runs it: it polls
//! `/invocation/next`, gets the events handed to [`RuntimeApi::send`] one at a time (a poll waits
//! for the next one, as Lambda holds it between invocations) and posts a response or an error.
//! Tests use [`invoke_once`]; the cold-start measurement watches the polls and posts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// What the function did, as the Runtime API saw it.
#[derive(Debug, Clone)]
pub enum ApiEvent {
    /// It asked for the next event (ready for one).
    Poll(Instant),
    /// It posted the response (`Ok`) or the error document (`Err`) of an invocation.
    Posted(Instant, Result<String, String>),
}

pub struct RuntimeApi {
    address: String,
    events: mpsc::Sender<String>,
    reports: mpsc::Receiver<ApiEvent>,
}

impl RuntimeApi {
    /// Starts the server; `function_name` goes into the invoked function ARN.
    pub fn start(function_name: &str) -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?.to_string();
        let (events, event_rx) = mpsc::channel::<String>();
        let (report_tx, reports) = mpsc::channel();
        let event_rx = Arc::new(Mutex::new(event_rx));
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}");
        std::thread::spawn(move || {
            let served = Arc::new(AtomicU64::new(0));
            for stream in listener.incoming().flatten() {
                let (events, report, arn, served) = (event_rx.clone(), report_tx.clone(), arn.clone(), served.clone());
                std::thread::spawn(move || serve_connection(stream, &events, &report, &arn, &served));
            }
        });
        Ok(RuntimeApi { address, events, reports })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Queues one invocation event.
    pub fn send(&self, event: String) {
        // The server thread holds the receiver for as long as this value lives.
        let _ = self.events.send(event);
    }

    /// The next poll or post, waiting at most `limit` (a hang guard, not a performance bound).
    pub fn next(&self, limit: Duration) -> Result<ApiEvent, String> {
        self.reports.recv_timeout(limit).map_err(|e| format!("nothing from the function within {limit:?} ({e})"))
    }

    /// Waits for the function's next poll.
    pub fn wait_poll(&self, limit: Duration) -> Result<Instant, String> {
        loop {
            if let ApiEvent::Poll(at) = self.next(limit)? {
                return Ok(at);
            }
        }
    }

    /// Waits for the function's next posted response or error.
    pub fn wait_posted(&self, limit: Duration) -> Result<(Instant, Result<String, String>), String> {
        loop {
            if let ApiEvent::Posted(at, body) = self.next(limit)? {
                return Ok((at, body));
            }
        }
    }

    /// A command that runs `binary` as Lambda would against this API: the variables Lambda sets,
    /// dummy credentials, and nothing else from the test's environment but `PATH`.
    pub fn function_command(&self, binary: &Path, function_name: &str) -> Command {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &self.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function_name}"))
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command
    }
}

/// What the function posted for its invocation, and what it printed.
pub struct Invocation {
    /// The response body, or the error document the function posted instead.
    pub response: Result<String, String>,
    pub stdout: String,
    pub stderr: String,
}

/// Starts `binary` with `env` (on top of what Lambda sets), hands it `event`, waits for what it
/// posts, then stops it.
pub fn invoke_once(binary: &Path, function_name: &str, env: &[(String, String)], event: String) -> Invocation {
    let api = RuntimeApi::start(function_name).unwrap_or_else(|e| panic!("start the Runtime API: {e}"));
    api.send(event);
    let mut child = api
        .function_command(binary, function_name)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    let posted = api.wait_posted(Duration::from_secs(300));
    let _ = child.kill();
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("collect the function's output: {e}"));
    Invocation {
        response: posted.map(|(_, body)| body).unwrap_or_else(Err),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// One keep-alive connection of the function's runtime client.
fn serve_connection(
    stream: TcpStream,
    events: &Mutex<mpsc::Receiver<String>>,
    report: &mpsc::Sender<ApiEvent>,
    arn: &str,
    served: &AtomicU64,
) {
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut stream = stream;
    while let Some((path, body)) = read_request(&mut reader) {
        let written = if path.ends_with("/invocation/next") {
            let _ = report.send(ApiEvent::Poll(Instant::now()));
            // Blocks until the next event: Lambda holds the poll between invocations.
            let next = events.lock().ok().and_then(|rx| rx.recv().ok());
            let Some(event) = next else { return };
            let id = served.fetch_add(1, Ordering::Relaxed) + 1;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-{id}\r\n\
                 Lambda-Runtime-Deadline-Ms: 4102444800000\r\nLambda-Runtime-Invoked-Function-Arn: {arn}\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700\r\nContent-Length: {}\r\n\r\n",
                event.len()
            );
            stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(event.as_bytes()))
        } else {
            let body = if path.ends_with("/response") { Ok(body) } else { Err(body) };
            let _ = report.send(ApiEvent::Posted(Instant::now(), body));
            stream.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
        };
        if written.is_err() {
            return;
        }
    }
}

/// (path, body) of the next request on the connection; None when it closes.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String)> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let path = request_line.split_whitespace().nth(1)?.to_string();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((path, String::from_utf8_lossy(&body).into_owned()))
}
