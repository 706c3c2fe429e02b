//! A Lambda Runtime API on 127.0.0.1, so a function binary runs as Lambda runs it: it polls
//! `/invocation/next`, gets the events handed to [`RuntimeApi::send`] one at a time (a poll waits
//! for the next one, as Lambda holds it between invocations) and posts a response or an error,
//! or reports a failed start to `/init/error`. Tests use [`invoke_once`], or [`RunningFunction`]
//! for several invocations of one execution environment; the cold-start measurement watches the
//! polls and posts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the function did, as the Runtime API saw it.
#[derive(Debug, Clone)]
pub enum ApiEvent {
    /// It asked for the next event (ready for one).
    Poll(Instant),
    /// It posted the response (`Ok`) or the error document (`Err`) of an invocation.
    Posted(Instant, Result<String, String>),
    /// It reported a failed start (`/runtime/init/error`), with the error document.
    InitError(Instant, String),
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

    /// Waits for the function's next posted response or error; a failed start is an error
    /// posted, `init error: <document>`.
    pub fn wait_posted(&self, limit: Duration) -> Result<(Instant, Result<String, String>), String> {
        loop {
            match self.next(limit)? {
                ApiEvent::Posted(at, body) => return Ok((at, body)),
                ApiEvent::InitError(at, body) => return Ok((at, Err(format!("init error: {body}")))),
                ApiEvent::Poll(_) => {}
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
    /// The response body, or the error document the function posted instead (`init error: ...`
    /// when it failed its start, `exited ...` when it ended without a word).
    pub response: Result<String, String>,
    /// The document the function posted to `/runtime/init/error`, if it failed its start.
    pub init_error: Option<String>,
    pub stdout: String,
    pub stderr: String,
}

/// Starts `binary` with `env` (on top of what Lambda sets), hands it `event`, waits for what it
/// posts, then stops it.
pub fn invoke_once(binary: &Path, function_name: &str, env: &[(String, String)], event: String) -> Invocation {
    let mut function = RunningFunction::start(binary, function_name, env);
    let response = function.invoke(event);
    let init_error = function.init_error.clone();
    let (stdout, stderr) = function.stop();
    Invocation { response, init_error, stdout, stderr }
}

/// A function binary running as one Lambda execution environment: started once (its init), then
/// invoked as many times as a test likes, as Lambda invokes a warm environment.
pub struct RunningFunction {
    api: RuntimeApi,
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    /// What the function posted to `/runtime/init/error`, once it did.
    pub init_error: Option<String>,
}

impl RunningFunction {
    /// Starts `binary` with `env` on top of what Lambda sets; its output is collected as it runs.
    pub fn start(binary: &Path, function_name: &str, env: &[(String, String)]) -> RunningFunction {
        let api = RuntimeApi::start(function_name).unwrap_or_else(|e| panic!("start the Runtime API: {e}"));
        let mut child = api
            .function_command(binary, function_name)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let (stdout, stderr) = (Arc::new(Mutex::new(String::new())), Arc::new(Mutex::new(String::new())));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(collect(out, stdout.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(collect(err, stderr.clone()));
        }
        RunningFunction { api, child, stdout, stderr, readers, init_error: None }
    }

    /// One invocation: hands the function `event` and waits for what it posts (at most 300 s, a
    /// hang guard). Err: the error it posted, its failed start, or its exit.
    pub fn invoke(&mut self, event: String) -> Result<String, String> {
        if let Some(init) = &self.init_error {
            return Err(format!("init error: {init}"));
        }
        self.api.send(event);
        let started = Instant::now();
        loop {
            match self.api.next(Duration::from_millis(200)) {
                Ok(ApiEvent::Posted(_, body)) => return body,
                Ok(ApiEvent::InitError(_, body)) => {
                    self.init_error = Some(body.clone());
                    return Err(format!("init error: {body}"));
                }
                Ok(ApiEvent::Poll(_)) => {}
                Err(_) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        // A report posted just before the exit may still be on its way.
                        if let Ok(ApiEvent::InitError(_, body)) = self.api.next(Duration::from_millis(500)) {
                            self.init_error = Some(body.clone());
                            return Err(format!("init error: {body}"));
                        }
                        return Err(format!("exited with {status} without answering the invocation"));
                    }
                    if started.elapsed() > Duration::from_secs(300) {
                        return Err("nothing from the function within 300 s".into());
                    }
                }
            }
        }
    }

    /// What the function printed so far: (stdout, stderr).
    pub fn output(&self) -> (String, String) {
        let read = |s: &Arc<Mutex<String>>| s.lock().map(|s| s.clone()).unwrap_or_default();
        (read(&self.stdout), read(&self.stderr))
    }

    /// Stops the function; returns everything it printed: (stdout, stderr).
    pub fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.output()
    }
}

impl Drop for RunningFunction {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A thread appending the lines `from` yields to `into`, until it closes.
fn collect(from: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut from = BufReader::new(from);
        let mut line = Vec::new();
        while from.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            if let Ok(mut text) = into.lock() {
                text.push_str(&String::from_utf8_lossy(&line));
            }
            line.clear();
        }
    })
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
        } else if path.ends_with("/init/error") {
            let _ = report.send(ApiEvent::InitError(Instant::now(), body));
            stream.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
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
