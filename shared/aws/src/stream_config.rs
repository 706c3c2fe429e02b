//! The configuration of the stream-triggered functions (score-stream on Kinesis, score-kafka on
//! MSK or self-managed Kafka) from environment variables, validated once at start-up (fail fast
//! with a message that names the variable and says what to set).

use crate::StreamResources;
use crate::config::{ConfigError, Env, RulesConfig, ScoringConfig};

#[derive(Debug, Clone, PartialEq)]
pub struct StreamConfig {
    /// `PROFILES_TABLE`, `STATES_TABLE`, `VERDICTS_TABLE`, `RESULTS_STREAM`, `DEAD_LETTER_QUEUE_URL`.
    pub resources: StreamResources,
    /// `MODEL_URI`, `SCORER`, `SAGEMAKER_ENDPOINT`, `REVIEW_THRESHOLD`, `BLOCK_THRESHOLD`,
    /// `THRESHOLDS_URI`, `THRESHOLDS_VERSION`, `DECISION_MODE`.
    pub scoring: ScoringConfig,
    /// `RULES_URI`, `RULES_RELOAD_SECONDS`: the analysts' rules file (None: the model decides).
    pub rules: Option<RulesConfig>,
    /// `DRIFT_WINDOW_EVENTS`: scored events per drift report of an execution environment (PSI
    /// per feature and of the score, as EMF metrics); 0 turns drift monitoring off.
    pub drift_window: u64,
}

/// Events per drift window unless `DRIFT_WINDOW_EVENTS` says otherwise. With deciles (10 bins)
/// a PSI over n rows of unchanged traffic is about 9/n from sampling alone: 0.001 at 10,000,
/// well below the 0.1 of "moderate", while a busy environment still reports every few minutes.
pub const DEFAULT_DRIFT_WINDOW: u64 = 10_000;

impl StreamConfig {
    pub fn from_env() -> Result<StreamConfig, ConfigError> {
        StreamConfig::from(&Env::from_process())
    }

    pub fn from(env: &Env) -> Result<StreamConfig, ConfigError> {
        let resources = StreamResources {
            profiles_table: env.required("PROFILES_TABLE", "DynamoDB table of subscriber profiles")?,
            states_table: env.required("STATES_TABLE", "DynamoDB table of the subscribers' live state")?,
            verdicts_table: env.required("VERDICTS_TABLE", "DynamoDB verdict table")?,
            results_stream: env.required("RESULTS_STREAM", "Kinesis stream the verdicts are written to")?,
            dead_letter_queue_url: env
                .required("DEAD_LETTER_QUEUE_URL", "SQS queue URL for records that cannot be scored")?,
            allow_verdict_ttl_days: env.allow_verdict_ttl_days()?,
        };
        let drift_window = match env.optional("DRIFT_WINDOW_EVENTS") {
            None => DEFAULT_DRIFT_WINDOW,
            Some(v) => v.parse::<u64>().ok().filter(|n| *n <= 10_000_000).ok_or(ConfigError::Invalid {
                name: "DRIFT_WINDOW_EVENTS",
                value: v,
                expected: "a whole number of events from 0 (off) to 10000000 (default 10000)",
            })?,
        };
        Ok(StreamConfig { resources, scoring: env.scoring()?, rules: env.rules()?, drift_window })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ScorerChoice;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    const BASE: [(&str, &str); 5] = [
        ("PROFILES_TABLE", "profiles"),
        ("STATES_TABLE", "states"),
        ("VERDICTS_TABLE", "verdicts"),
        ("RESULTS_STREAM", "results"),
        ("DEAD_LETTER_QUEUE_URL", "http://sqs/dlq"),
    ];

    #[test]
    fn when_required_variables_are_set_should_default_to_embedded_scorer() {
        let c = StreamConfig::from(&env(&BASE)).unwrap();
        assert_eq!(c.scoring.scorer, ScorerChoice::Embedded);
        assert_eq!(c.resources.dead_letter_queue_url, "http://sqs/dlq");
    }

    #[test]
    fn when_a_required_variable_is_missing_should_name_it() {
        for (missing, _) in BASE {
            let v: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = StreamConfig::from(&env(&v)).unwrap_err();
            assert!(err.to_string().contains(missing), "{err}");
        }
    }

    #[test]
    fn when_a_drift_window_is_set_should_parse_it_and_name_the_variable_when_bad() {
        assert_eq!(StreamConfig::from(&env(&BASE)).unwrap().drift_window, DEFAULT_DRIFT_WINDOW);
        let with = |value: &str| {
            let mut v = BASE.to_vec();
            v.push(("DRIFT_WINDOW_EVENTS", value));
            StreamConfig::from(&env(&v))
        };
        assert_eq!(with("0").unwrap().drift_window, 0);
        assert_eq!(with("500").unwrap().drift_window, 500);
        for bad in ["-1", "ten", "99999999999"] {
            assert!(with(bad).unwrap_err().to_string().contains("DRIFT_WINDOW_EVENTS"), "{bad}");
        }
    }

    #[test]
    fn when_scoring_settings_are_invalid_should_fail_at_start() {
        let mut v = BASE.to_vec();
        v.push(("SCORER", "sagemaker"));
        assert!(StreamConfig::from(&env(&v)).unwrap_err().to_string().contains("SAGEMAKER_ENDPOINT"));
    }

    #[test]
    fn when_decision_settings_are_set_should_carry_them() {
        // Parsing and its errors are tested in crate::config; here, that they are wired.
        let mut v = BASE.to_vec();
        v.extend([("DECISION_MODE", "shadow"), ("RULES_URI", "s3://c/r/rules.yaml"), ("MODEL_URI", "s3://m/v2/")]);
        let (c, e) = (StreamConfig::from(&env(&v)).unwrap(), env(&v));
        assert_eq!((c.scoring, c.rules), (e.scoring().unwrap(), e.rules().unwrap()));
        assert_eq!(StreamConfig::from(&env(&BASE)).unwrap().rules, None, "no RULES_URI: no rules");
    }
}
