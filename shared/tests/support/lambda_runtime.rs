//! A function binary run as Lambda runs it: it polls a Lambda Runtime API (a minimal server of
//! the test's own on 127.0.0.1), gets one event, and posts its response or error back.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// What the function posted for its invocation, and what it printed.
pub struct Invocation {
    /// The response body, or the error document the function posted instead.
    pub response: Result<String, String>,
    pub stdout: String,
    pub stderr: String,
}

/// Starts `binary` with `env` (plus the variables Lambda sets and dummy credentials), hands it
/// `event` through the Runtime API, waits for what it posts, then stops it.
pub fn invoke_once(binary: &Path, function_name: &str, env: &[(String, String)], event: String) -> Invocation {
    let (api, posted) = runtime_api(event, function_name.to_string());
    let mut child = Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api)
        .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function_name}"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
    // A hang guard, not a performance assertion.
    let result = posted.recv_timeout(Duration::from_secs(300));
    let _ = child.kill();
    let output = child.wait_with_output().expect("collect the function's output");
    let response = match result {
        Ok(Posted::Response(body)) => Ok(body),
        Ok(Posted::Error(body)) => Err(body),
        Err(e) => Err(format!("no response from the function ({e})")),
    };
    Invocation {
        response,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

enum Posted {
    Response(String),
    Error(String),
}

/// Serves `event` once on `/invocation/next`, then holds further polls open (as Lambda does
/// between invocations), and forwards what the function posts.
fn runtime_api(event: String, function_name: String) -> (String, mpsc::Receiver<Posted>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind runtime API");
    let addr = listener.local_addr().expect("addr").to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut served = false;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let Some((path, body, mut stream)) = read_request(stream) else { continue };
            if path.ends_with("/invocation/next") {
                if served {
                    // The test ends the process; keep its next poll open until then.
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_secs(3600));
                        drop(stream)
                    });
                    continue;
                }
                served = true;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {REQUEST_ID}\r\n\
                     Lambda-Runtime-Deadline-Ms: 4102444800000\r\n\
                     Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:{function_name}\r\n\
                     Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700\r\n\
                     Content-Length: {}\r\n\r\n",
                    event.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(event.as_bytes());
            } else {
                let posted = if path.ends_with("/response") { Posted::Response(body) } else { Posted::Error(body) };
                let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}");
                let _ = tx.send(posted);
            }
        }
    });
    (addr, rx)
}

fn read_request(stream: TcpStream) -> Option<(String, String, TcpStream)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let path = request_line.split_whitespace().nth(1)?.to_string();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
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
    Some((path, String::from_utf8_lossy(&body).into_owned(), stream))
}
