//! A failed start reported to Lambda. `lambda_runtime::run` reports errors of invocations; an
//! error before it (configuration, a rules file with no usable version) would only end the
//! process, and Lambda would log a bare `Runtime.ExitError`. Posting the error to the Runtime
//! API's `/runtime/init/error` first puts the reason in the init failure that Lambda records
//! and returns to the invoker.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Posts `{"errorType": error_type, "errorMessage": message}` to
/// `http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error`. Does nothing outside Lambda
/// (no `AWS_LAMBDA_RUNTIME_API`). Returns the HTTP status Lambda answered (202 when accepted).
pub fn report_init_error(error_type: &str, message: &str) -> std::io::Result<Option<u16>> {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else { return Ok(None) };
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string();
    let mut stream = TcpStream::connect(api.as_str())?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\n\
         Lambda-Runtime-Function-Error-Type: {error_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = [0u8; 64];
    let n = stream.read(&mut answer)?;
    let status = String::from_utf8_lossy(&answer[..n]).split(' ').nth(1).and_then(|s| s.parse().ok());
    Ok(status)
}

/// What a function's `main` does with an error before its first invocation: logs it at ERROR,
/// reports it to Lambda's `/runtime/init/error` (type `InitError`), and gives it back to be
/// returned (the process then exits non-zero, and Lambda starts it again on the next invocation).
pub fn fail_init<E: std::fmt::Display>(function: &str, error: E) -> E {
    let message = error.to_string();
    tracing::error!(function, error = %message, "cannot start: init failed");
    match report_init_error("InitError", &message) {
        Ok(Some(202) | None) => {}
        Ok(Some(status)) => tracing::warn!(status, "the Lambda Runtime API did not accept the init error"),
        Err(e) => tracing::warn!(error = %e, "the init error could not be reported to the Lambda Runtime API"),
    }
    error
}
