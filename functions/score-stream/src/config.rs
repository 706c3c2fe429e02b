//! Configuration from environment variables, validated once at start-up (fail fast with a
//! message that names the variable and says what to set).

use std::collections::HashMap;

/// Which scorer is primary. The in-process model is the default and needs no endpoint; with
/// SageMaker primary, the in-process model is the fallback (verdicts then marked degraded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScorerChoice {
    Embedded,
    SageMaker { endpoint: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub profiles_table: String,
    pub verdicts_table: String,
    pub results_stream: String,
    pub dead_letter_queue_url: String,
    pub scorer: ScorerChoice,
    pub review_threshold: Option<f32>,
    pub block_threshold: Option<f32>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("environment variable {0} is required ({1})")]
    Missing(&'static str, &'static str),
    #[error("environment variable {name} has an invalid value {value:?}: {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(&std::env::vars().collect())
    }

    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let required = |name: &'static str, what: &'static str| {
            vars.get(name).filter(|v| !v.trim().is_empty()).cloned().ok_or(ConfigError::Missing(name, what))
        };
        let threshold = |name: &'static str| -> Result<Option<f32>, ConfigError> {
            match vars.get(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<f32>() {
                    Ok(x) if (0.0..=1.0).contains(&x) => Ok(Some(x)),
                    _ => Err(ConfigError::Invalid { name, value: v.clone(), expected: "a number between 0 and 1" }),
                },
            }
        };
        let scorer = match vars.get("SCORER").map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("embedded") => ScorerChoice::Embedded,
            Some("sagemaker") => ScorerChoice::SageMaker {
                endpoint: required("SAGEMAKER_ENDPOINT", "the SageMaker endpoint name, needed with SCORER=sagemaker")?,
            },
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "SCORER",
                    value: vars.get("SCORER").cloned().unwrap_or_default(),
                    expected: "embedded or sagemaker",
                });
            }
        };
        Ok(Config {
            profiles_table: required("PROFILES_TABLE", "DynamoDB table of subscriber profiles and live state")?,
            verdicts_table: required("VERDICTS_TABLE", "DynamoDB verdict table")?,
            results_stream: required("RESULTS_STREAM", "Kinesis stream the verdicts are written to")?,
            dead_letter_queue_url: required(
                "DEAD_LETTER_QUEUE_URL",
                "SQS queue URL for records that cannot be scored",
            )?,
            scorer,
            review_threshold: threshold("REVIEW_THRESHOLD")?,
            block_threshold: threshold("BLOCK_THRESHOLD")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const BASE: [(&str, &str); 4] = [
        ("PROFILES_TABLE", "profiles"),
        ("VERDICTS_TABLE", "verdicts"),
        ("RESULTS_STREAM", "results"),
        ("DEAD_LETTER_QUEUE_URL", "http://sqs/dlq"),
    ];

    #[test]
    fn when_required_variables_are_set_should_default_to_embedded_scorer() {
        let c = Config::from_vars(&vars(&BASE)).unwrap();
        assert_eq!(c.scorer, ScorerChoice::Embedded);
        assert_eq!(c.review_threshold, None);
    }

    #[test]
    fn when_a_required_variable_is_missing_should_name_it() {
        for (missing, _) in BASE {
            let v: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = Config::from_vars(&vars(&v)).unwrap_err();
            assert!(err.to_string().contains(missing), "{err}");
        }
    }

    #[test]
    fn when_sagemaker_is_chosen_without_endpoint_should_fail() {
        let mut v = BASE.to_vec();
        v.push(("SCORER", "sagemaker"));
        assert_eq!(
            Config::from_vars(&vars(&v)).unwrap_err(),
            ConfigError::Missing("SAGEMAKER_ENDPOINT", "the SageMaker endpoint name, needed with SCORER=sagemaker")
        );
        v.push(("SAGEMAKER_ENDPOINT", "roamguard-xgb"));
        assert_eq!(
            Config::from_vars(&vars(&v)).unwrap().scorer,
            ScorerChoice::SageMaker { endpoint: "roamguard-xgb".into() }
        );
    }

    #[test]
    fn when_values_are_invalid_should_say_what_is_expected() {
        let mut v = BASE.to_vec();
        v.push(("SCORER", "gpu"));
        assert!(Config::from_vars(&vars(&v)).unwrap_err().to_string().contains("embedded or sagemaker"));
        let mut v = BASE.to_vec();
        v.push(("BLOCK_THRESHOLD", "1.5"));
        assert!(Config::from_vars(&vars(&v)).unwrap_err().to_string().contains("BLOCK_THRESHOLD"));
    }
}
