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
