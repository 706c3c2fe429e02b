//! Configuration from environment variables, validated once at start-up (fail fast with a
//! message that names the variable and says what to set).

use std::collections::HashMap;

/// Which scorer is primary. The in-process model is the default; with SageMaker primary, the
/// in-process model is the fallback (verdicts then marked degraded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScorerChoice {
    Embedded,
    SageMaker { endpoint: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub profiles_table: String,
    pub verdicts_table: String,
    /// Where API verdicts are published too (the results stream the stream Lambda writes), so
    /// consumers see every verdict whatever the entry point. None: not published.
    pub results_stream: Option<String>,
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
        let optional = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_string);
        let required = |name: &'static str, what: &'static str| optional(name).ok_or(ConfigError::Missing(name, what));
        let threshold = |name: &'static str| -> Result<Option<f32>, ConfigError> {
            match optional(name) {
                None => Ok(None),
                Some(v) => match v.parse::<f32>() {
                    Ok(x) if (0.0..=1.0).contains(&x) => Ok(Some(x)),
                    _ => Err(ConfigError::Invalid { name, value: v, expected: "a number between 0 and 1" }),
                },
            }
        };
        let scorer = match optional("SCORER").map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("embedded") => ScorerChoice::Embedded,
            Some("sagemaker") => ScorerChoice::SageMaker {
                endpoint: required("SAGEMAKER_ENDPOINT", "the SageMaker endpoint name, needed with SCORER=sagemaker")?,
            },
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "SCORER",
                    value: optional("SCORER").unwrap_or_default(),
                    expected: "embedded or sagemaker",
                });
            }
        };
        Ok(Config {
            profiles_table: required("PROFILES_TABLE", "DynamoDB table of subscriber profiles and live state")?,
            verdicts_table: required("VERDICTS_TABLE", "DynamoDB verdict table")?,
            results_stream: optional("RESULTS_STREAM"),
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

    const BASE: [(&str, &str); 2] = [("PROFILES_TABLE", "profiles"), ("VERDICTS_TABLE", "verdicts")];

    #[test]
    fn when_only_tables_are_set_should_use_embedded_scorer_and_not_publish() {
        let c = Config::from_vars(&vars(&BASE)).unwrap();
        assert_eq!(c.scorer, ScorerChoice::Embedded);
        assert_eq!(c.results_stream, None);
        let mut v = BASE.to_vec();
        v.push(("RESULTS_STREAM", "results"));
        assert_eq!(Config::from_vars(&vars(&v)).unwrap().results_stream.as_deref(), Some("results"));
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
    fn when_values_are_invalid_should_say_what_is_expected() {
        let mut v = BASE.to_vec();
        v.push(("SCORER", "sagemaker"));
        assert!(Config::from_vars(&vars(&v)).unwrap_err().to_string().contains("SAGEMAKER_ENDPOINT"));
        let mut v = BASE.to_vec();
        v.push(("REVIEW_THRESHOLD", "-1"));
        assert!(Config::from_vars(&vars(&v)).unwrap_err().to_string().contains("REVIEW_THRESHOLD"));
    }
}
