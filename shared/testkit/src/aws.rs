//! SDK configuration for the emulators, and what tests read back through it.

use aws_config::SdkConfig;

/// Configuration for a local emulator: explicit region and static dummy credentials, so nothing
/// is read from the process environment or instance metadata.
pub async fn emulator_config(endpoint_url: &str, region: &str) -> SdkConfig {
    let credentials = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "emulator");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .region(aws_config::Region::new(region.to_string()))
        .credentials_provider(credentials)
        .load()
        .await
}

/// An S3 client for an emulator: path-style addressing (`endpoint/bucket/key`), since a bucket
/// cannot be a subdomain of 127.0.0.1.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build())
}

/// Uploads `body` as the new latest version of `bucket/key`; returns its version id (None in an
/// unversioned bucket).
pub async fn put_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) -> Option<String> {
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put s3://{bucket}/{key}: {}", aws_sdk_s3::error::DisplayErrorContext(e)));
    out.version_id
}

/// Every message on the queue (e.g. the dead letters), as JSON, each once. Each message is
/// deleted once read: a FIFO queue holds a group's next messages back while earlier ones are in
/// flight.
pub async fn drain_queue(config: &SdkConfig, url: &str) -> Vec<serde_json::Value> {
    let client = aws_sdk_sqs::Client::new(config);
    let mut bodies = Vec::new();
    loop {
        let out = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(3600)
            .send()
            .await
            .unwrap_or_else(|e| panic!("receive from {url}: {}", aws_sdk_sqs::error::DisplayErrorContext(e)));
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for m in messages {
            let body = m.body.as_deref().unwrap_or_default();
            bodies.push(serde_json::from_str(body).unwrap_or_else(|e| panic!("a JSON message ({e}): {body}")));
            if let Some(handle) = m.receipt_handle {
                client.delete_message().queue_url(url).receipt_handle(handle).send().await.expect("delete message");
            }
        }
    }
}
