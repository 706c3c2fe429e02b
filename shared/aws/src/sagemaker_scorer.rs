//! The XGBoost model behind a SageMaker real-time endpoint.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_sagemakerruntime::Client;
use aws_sdk_sagemakerruntime::config::retry::RetryConfig;
use aws_sdk_sagemakerruntime::primitives::Blob;
use futures_util::StreamExt;
use roamguard::features::{FeatureVector, write_csv_row};
use roamguard::ports::{PortError, Scorer};

use super::{Backoff, SdkConfig, classify, is_retriable};

const DEPENDENCY: &str = "sagemaker endpoint";

/// Tuning of [`SageMakerScorer`].
#[derive(Debug, Clone, Copy)]
pub struct SageMakerSettings {
    /// Largest request body. SageMaker rejects more than 6 MB; 5 MB leaves room for headers.
    pub max_payload_bytes: usize,
    /// Per attempt. A healthy endpoint answers a 5 MB batch in well under a second; waiting
    /// longer only delays the in-process fallback.
    pub timeout: Duration,
    /// Attempts per request (throttling, 5xx, timeouts, connection failures only).
    pub retry: Backoff,
    /// Consecutive failed attempts that open the circuit.
    pub breaker_threshold: u32,
    /// How long an open circuit fails fast before one probe call may test the endpoint.
    pub breaker_cooldown: Duration,
    /// Requests in flight at once when a batch needs several.
    pub concurrency: usize,
}

impl Default for SageMakerSettings {
    /// 5 MB payloads, 2 s timeout, 3 attempts (25 ms base, 400 ms cap): at most ~6.5 s before
    /// falling back. The circuit opens after 5 consecutive failed attempts (two failed
    /// batches) and stays open 30 s: a dead endpoint costs one fast local fallback per batch
    /// instead of seconds of retries, and is probed again twice a minute.
    fn default() -> SageMakerSettings {
        SageMakerSettings {
            max_payload_bytes: 5_000_000,
            timeout: Duration::from_secs(2),
            retry: Backoff { max_attempts: 3, base: Duration::from_millis(25), cap: Duration::from_millis(400) },
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            concurrency: 4,
        }
    }
}

/// Scores feature rows with InvokeEndpoint, `text/csv` in (one row a line, many rows a call,
/// the SageMaker XGBoost container's contract) and out (one probability per row).
///
/// The SDK's own retries are off: this adapter retries with jitter and feeds every attempt
/// to a circuit breaker, so a failing endpoint is not hammered by both. The pipeline falls back
/// to the in-process model (degraded verdicts) whenever this returns an error.
pub struct SageMakerScorer {
    client: Client,
    endpoint: String,
    settings: SageMakerSettings,
    breaker: Breaker,
}

impl SageMakerScorer {
    pub fn new(config: &SdkConfig, endpoint: impl Into<String>) -> SageMakerScorer {
        SageMakerScorer::with_settings(config, endpoint, SageMakerSettings::default())
    }

    pub fn with_settings(
        config: &SdkConfig,
        endpoint: impl Into<String>,
        settings: SageMakerSettings,
    ) -> SageMakerScorer {
        let conf =
            aws_sdk_sagemakerruntime::config::Builder::from(config).retry_config(RetryConfig::disabled()).build();
        SageMakerScorer {
            client: Client::from_conf(conf),
            endpoint: endpoint.into(),
            breaker: Breaker::new(settings.breaker_threshold, settings.breaker_cooldown),
            settings,
        }
    }

    /// True while the circuit is open (calls fail fast without reaching the endpoint).
    pub fn circuit_open(&self) -> bool {
        self.breaker.is_open(Instant::now())
    }

    /// One request (a payload of `rows` rows), with retries; returns its scores.
    async fn invoke(&self, body: &[u8], rows: usize) -> Result<Vec<f32>, PortError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            if !self.breaker.try_acquire(Instant::now()) {
                return Err(PortError::transient(
                    DEPENDENCY,
                    format!(
                        "circuit open after {} consecutive failures; not calling for {:?}",
                        self.settings.breaker_threshold, self.settings.breaker_cooldown
                    ),
                ));
            }
            let call = self
                .client
                .invoke_endpoint()
                .endpoint_name(&self.endpoint)
                .content_type("text/csv")
                .accept("text/csv")
                .body(Blob::new(body.to_vec()))
                .send();
            let (error, retriable) = match tokio::time::timeout(self.settings.timeout, call).await {
                Ok(Ok(out)) => {
                    let answer = out.body.as_ref().map_or(&[][..], |b| b.as_ref());
                    match parse_scores(answer, rows) {
                        Ok(scores) => {
                            self.breaker.on_success();
                            return Ok(scores);
                        }
                        // The endpoint answers, but not as the XGBoost contract says (wrong
                        // model or container): retrying will not help.
                        Err(message) => (PortError::permanent(DEPENDENCY, message), false),
                    }
                }
                Ok(Err(e)) => (classify(DEPENDENCY, &e), is_retriable(&e)),
                Err(_) => {
                    (PortError::transient(DEPENDENCY, format!("no answer within {:?}", self.settings.timeout)), true)
                }
            };
            self.breaker.on_failure(Instant::now());
            tracing::warn!(endpoint = %self.endpoint, attempt, error = %error, "InvokeEndpoint failed");
            if !retriable || attempt >= self.settings.retry.max_attempts {
                return Err(error);
            }
            self.settings.retry.sleep(attempt).await;
        }
    }
}

#[async_trait]
impl Scorer for SageMakerScorer {
    async fn score(&self, rows: &[FeatureVector]) -> Result<Vec<f32>, PortError> {
        let payloads = split_payloads(rows, self.settings.max_payload_bytes)?;
        let results: Vec<Result<Vec<f32>, PortError>> = futures_util::stream::iter(0..payloads.len())
            .map(|i| self.invoke(payloads[i].0.as_bytes(), payloads[i].1))
            .buffered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let mut scores = Vec::with_capacity(rows.len());
        for r in results {
            scores.extend(r?);
        }
        Ok(scores)
    }

    fn name(&self) -> &'static str {
        "sagemaker"
    }
}

/// CSV payloads of at most `max_bytes`, each with its row count.
fn split_payloads(rows: &[FeatureVector], max_bytes: usize) -> Result<Vec<(String, usize)>, PortError> {
    let mut payloads = Vec::new();
    let mut current = String::new();
    let mut count = 0;
    let mut line = String::new();
    for row in rows {
        line.clear();
        write_csv_row(row, &mut line);
        line.push('\n');
        if line.len() > max_bytes {
            return Err(PortError::permanent(
                DEPENDENCY,
                format!("one row is {} bytes, over the {max_bytes}-byte payload limit", line.len()),
            ));
        }
        if current.len() + line.len() > max_bytes {
            payloads.push((std::mem::take(&mut current), count));
            count = 0;
        }
        current.push_str(&line);
        count += 1;
    }
    if count > 0 {
        payloads.push((current, count));
    }
    Ok(payloads)
}

/// The XGBoost container's `text/csv` answer: one number per row, separated by newlines or
/// commas (its versions differ). Any other count, or a value that is not a probability, is a
/// permanent error.
fn parse_scores(body: &[u8], expected: usize) -> Result<Vec<f32>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "answer is not UTF-8 text".to_string())?;
    let scores = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| match t.parse::<f32>() {
            Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
            _ => Err(format!("answer holds {t:?}, not a probability")),
        })
        .collect::<Result<Vec<f32>, String>>()?;
    if scores.len() != expected {
        return Err(format!("answer has {} scores for {expected} rows", scores.len()));
    }
    Ok(scores)
}

/// Consecutive-failure circuit breaker: closed → (threshold failures) → open for the
/// cool-down → half-open: one probe call; its success closes, its failure re-opens.
struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A probe is in flight; if it never reports (its future was dropped), another one is
    /// allowed after a further cool-down.
    HalfOpen {
        since: Instant,
    },
}

impl Breaker {
    fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker { threshold: threshold.max(1), cooldown, state: Mutex::new(BreakerState::Closed { failures: 0 }) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        // The state is a plain value, valid even if a holder panicked.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// May a call go out now?
    fn try_acquire(&self, now: Instant) -> bool {
        let mut state = self.state();
        match *state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if now < until => false,
            BreakerState::HalfOpen { since } if now < since + self.cooldown => false,
            BreakerState::Open { .. } | BreakerState::HalfOpen { .. } => {
                *state = BreakerState::HalfOpen { since: now };
                true
            }
        }
    }

    fn on_success(&self) {
        *self.state() = BreakerState::Closed { failures: 0 };
    }

    fn on_failure(&self, now: Instant) {
        let mut state = self.state();
        *state = match *state {
            BreakerState::Closed { failures } if failures + 1 < self.threshold => {
                BreakerState::Closed { failures: failures + 1 }
            }
            BreakerState::Open { until } => BreakerState::Open { until },
            _ => {
                tracing::warn!(cooldown = ?self.cooldown, "sagemaker circuit opened");
                BreakerState::Open { until: now + self.cooldown }
            }
        };
    }

    fn is_open(&self, now: Instant) -> bool {
        match *self.state() {
            BreakerState::Closed { .. } => false,
            BreakerState::Open { until } => now < until,
            BreakerState::HalfOpen { since } => now < since + self.cooldown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roamguard::features::NUM_FEATURES;

    #[test]
    fn when_answer_is_newline_or_comma_separated_should_parse_both() {
        assert_eq!(parse_scores(b"0.1\n0.9\n", 2).unwrap(), vec![0.1, 0.9]);
        assert_eq!(parse_scores(b"0.1,0.9", 2).unwrap(), vec![0.1, 0.9]);
        assert_eq!(parse_scores(b"0.25\r\n", 1).unwrap(), vec![0.25]);
    }

    #[test]
    fn when_answer_has_wrong_count_or_no_probability_should_fail() {
        assert!(parse_scores(b"0.1\n", 2).unwrap_err().contains("1 scores for 2 rows"));
        assert!(parse_scores(b"body", 1).is_err());
        assert!(parse_scores(b"1.5", 1).is_err());
        assert!(parse_scores(b"NaN", 1).is_err());
    }

    #[test]
    fn when_rows_exceed_the_payload_limit_should_split_into_several_calls() {
        let rows = vec![[0.5f32; NUM_FEATURES]; 10];
        let mut one = String::new();
        write_csv_row(&rows[0], &mut one);
        let line = one.len() + 1;
        let payloads = split_payloads(&rows, line * 4).unwrap();
        assert_eq!(payloads.iter().map(|p| p.1).collect::<Vec<_>>(), [4, 4, 2]);
        assert!(payloads.iter().all(|(body, n)| body.len() == n * line));
        assert!(split_payloads(&rows, line - 1).is_err());
        assert!(split_payloads(&[], 100).unwrap().is_empty());
    }

    #[test]
    fn when_failures_reach_the_threshold_should_open_then_probe_once_after_cooldown() {
        let b = Breaker::new(2, Duration::from_secs(30));
        let t0 = Instant::now();
        assert!(b.try_acquire(t0));
        b.on_failure(t0);
        assert!(!b.is_open(t0));
        b.on_failure(t0);
        assert!(b.is_open(t0));
        assert!(!b.try_acquire(t0 + Duration::from_secs(29)));
        let t1 = t0 + Duration::from_secs(31);
        assert!(b.try_acquire(t1), "one probe after the cool-down");
        assert!(!b.try_acquire(t1), "only one probe at a time");
        b.on_failure(t1);
        assert!(!b.try_acquire(t1 + Duration::from_secs(1)), "a failed probe re-opens");
        let t2 = t1 + Duration::from_secs(31);
        assert!(b.try_acquire(t2));
        b.on_success();
        assert!(b.try_acquire(t2) && !b.is_open(t2));
    }
}
