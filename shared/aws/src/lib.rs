//! AWS adapters of the pipeline's ports: DynamoDB for profiles, live state and
//! verdicts, SageMaker runtime for scoring, Kinesis for the verdict stream, SQS for dead letters;
//! and configuration objects in S3 ([`config_object`]), from which [`thresholds`] reads the
//! functions' thresholds file, [`rules`] loads and reloads the analysts' rules file and
//! [`model_source`] reads a model (`MODEL_URI`).
//!
//! AWS SDK types stay inside this module: every adapter maps SDK errors to
//! [`PortError`](roamguard::ports::PortError) with [`classify`], so the pipeline only ever sees
//! transient (retry the records) or permanent failures. Constructors take an [`SdkConfig`]
//! (see [`sdk_config`]; re-exported so callers need no AWS crate of their own).
//!
//! Retries happen at two levels. The SDK's standard retry (3 attempts, throttling- and
//! 5xx-aware) covers whole calls to DynamoDB, Kinesis and SQS; the adapters add what the SDK
//! cannot know about: partial failures inside a successful response (UnprocessedKeys,
//! UnprocessedItems, PutRecords per-entry errors, SendMessageBatch `Failed`), retried with
//! [`Backoff`]. The SageMaker scorer turns SDK retries off and does its own, so its circuit
//! breaker sees every attempt.
//!
//! Logging goes through `tracing` and never carries a raw IMSI or MSISDN (see [`redact`]).

pub mod config;
pub mod config_object;
mod dynamo;
mod kinesis_sink;
pub mod lambda_init;
pub mod model_source;
pub mod rules;
mod sagemaker_scorer;
mod sqs_dead_letters;
mod stream_config;
mod stream_function;
mod subscriber_store;
pub mod thresholds;
mod verdict_store;
mod wiring;

use std::time::Duration;

pub use aws_config::SdkConfig;
/// The DynamoDB client, for [`load_profiles`] and table set-up in tools and tests.
pub use aws_sdk_dynamodb::Client as DynamoDbClient;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
pub use config_object::{ConfigObject, ConfigObjectError, ConfigObjects, ObjectLocation};
pub use kinesis_sink::KinesisVerdictSink;
pub use model_source::{LoadedModel, ModelLocation, ModelSourceError, load_model};
pub use sagemaker_scorer::{SageMakerScorer, SageMakerSettings};
pub use sqs_dead_letters::SqsDeadLetters;
pub use stream_config::{DEFAULT_DRIFT_WINDOW, StreamConfig};
pub use stream_function::StreamFunction;
pub use subscriber_store::{DynamoSubscriberStore, EXPIRES_AT, load_profiles};
pub use thresholds::{PolicyChoice, PolicySource, decision_policy};
pub use verdict_store::DynamoVerdictStore;
pub use wiring::{
    ApiResources, Decisions, StreamResources, api_ports, scorers, stream_pipeline, stream_pipeline_over,
    stream_subscribers,
};

use roamguard::ports::PortError;

pub use roamguard::METRICS_NAMESPACE;

/// Default calls in flight at once per adapter call: every chunk of a Lambda batch (10,000
/// records = 100 DynamoDB calls of 100 keys or actions) goes out in the same round, so a batch
/// costs the same number of dependent round trips whatever its size. The SDK's connection pool
/// opens a connection per call in flight and keeps them for the next invocation.
pub const ALL_AT_ONCE: usize = 128;

/// Shared SDK configuration: region and credentials from the standard chain (environment,
/// Lambda role), `BehaviorVersion::latest()`, and `endpoint_url` for emulators (moto, LocalStack).
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Error codes that mean "try again later" on any of the services used here.
const RETRIABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSThrottlingException",
    "ModelNotReadyException",
    "InternalDependencyException",
    "RequestTimeout",
    "RequestTimeoutException",
    "RequestExpired",
];

/// True when an SDK failure is worth retrying: timeouts, connection failures, unparseable
/// responses (the server hung up), throttling and 5xx answers.
pub(crate) fn is_retriable<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            status >= 500 || status == 429 || ctx.err().code().is_some_and(|c| RETRIABLE_CODES.contains(&c))
        }
        _ => true,
    }
}

/// Maps an SDK failure to a port error (transient when [`is_retriable`]), with the SDK's whole
/// error chain as the message. SDK error messages carry request ids, never item contents.
pub(crate) fn classify<E>(dependency: &'static str, err: &SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let message = DisplayErrorContext(err).to_string();
    if is_retriable(err) {
        PortError::transient(dependency, message)
    } else {
        PortError::permanent(dependency, message)
    }
}

/// Exponential backoff with full jitter (sleep a uniform random time in [0, min(cap, base·2ⁿ)]):
/// spreads retries of concurrent Lambdas so they do not hit a throttled shard or table in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in total, the first one included.
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    /// 5 attempts, 50 ms base, 2 s cap: at most ~3.75 s of waiting (750 ms expected), well
    /// inside a Lambda invocation's time budget.
    fn default() -> Backoff {
        Backoff { max_attempts: 5, base: Duration::from_millis(50), cap: Duration::from_secs(2) }
    }
}

impl Backoff {
    /// The random delay before retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << retry.saturating_sub(1).min(20)).min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }

    pub(crate) async fn sleep(&self, retry: u32) {
        tokio::time::sleep(self.delay(retry)).await;
    }
}

/// An IMSI or MSISDN fit for logs and error messages: the first 5 digits (MCC + MNC: the
/// operator, not the person) and the length.
pub fn redact(id: &str) -> String {
    let prefix: String = id.chars().take(5).collect();
    format!("{prefix}…({} digits)", id.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_computing_backoff_should_stay_within_the_exponential_ceiling() {
        let b = Backoff { max_attempts: 5, base: Duration::from_millis(10), cap: Duration::from_millis(50) };
        for retry in 1..10 {
            let ceiling = Duration::from_millis((10u64 << (retry - 1)).min(50));
            for _ in 0..100 {
                assert!(b.delay(retry) <= ceiling);
            }
        }
    }

    #[test]
    fn when_redacting_an_imsi_should_keep_only_the_operator_prefix() {
        assert_eq!(redact("208011234567890"), "20801…(15 digits)");
    }
}
