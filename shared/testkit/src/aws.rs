//! SDK configuration for the emulators.

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
