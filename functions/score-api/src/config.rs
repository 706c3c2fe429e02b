//! Configuration from environment variables, validated once at start-up (fail fast with a
//! message that names the variable and says what to set).

use roamguard_aws::ApiResources;
use roamguard_aws::config::{ConfigError, Env, RulesConfig, ScoringConfig};

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `PROFILES_TABLE`, `STATES_TABLE`, `VERDICTS_TABLE`, `RESULTS_STREAM` (optional: where API
    /// verdicts are published too), `ALLOW_VERDICT_TTL_DAYS`.
    pub resources: ApiResources,
    /// `MODEL_URI`, `SCORER`, `SAGEMAKER_ENDPOINT`, `REVIEW_THRESHOLD`, `BLOCK_THRESHOLD`,
    /// `THRESHOLDS_URI`, `THRESHOLDS_VERSION`, `DECISION_MODE`.
    pub scoring: ScoringConfig,
    /// `RULES_URI`, `RULES_RELOAD_SECONDS`: the analysts' rules file (None: the model decides).
    pub rules: Option<RulesConfig>,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from(&Env::from_process())
    }

    pub fn from(env: &Env) -> Result<Config, ConfigError> {
        let resources = ApiResources {
            profiles_table: env.required("PROFILES_TABLE", "DynamoDB table of subscriber profiles")?,
            states_table: env.required("STATES_TABLE", "DynamoDB table of the subscribers' live state")?,
            verdicts_table: env.required("VERDICTS_TABLE", "DynamoDB verdict table")?,
            results_stream: env.optional("RESULTS_STREAM"),
            allow_verdict_ttl_days: env.allow_verdict_ttl_days()?,
        };
        Ok(Config { resources, scoring: env.scoring()?, rules: env.rules()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roamguard_aws::config::ScorerChoice;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    const BASE: [(&str, &str); 3] =
        [("PROFILES_TABLE", "profiles"), ("STATES_TABLE", "states"), ("VERDICTS_TABLE", "verdicts")];

    #[test]
    fn when_only_tables_are_set_should_use_embedded_scorer_and_not_publish() {
        let c = Config::from(&env(&BASE)).unwrap();
        assert_eq!(c.scoring.scorer, ScorerChoice::Embedded);
        assert_eq!(c.resources.results_stream, None);
        let mut v = BASE.to_vec();
        v.push(("RESULTS_STREAM", "results"));
        assert_eq!(Config::from(&env(&v)).unwrap().resources.results_stream.as_deref(), Some("results"));
    }

    #[test]
    fn when_a_required_variable_is_missing_should_name_it() {
        for (missing, _) in BASE {
            let v: Vec<_> = BASE.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = Config::from(&env(&v)).unwrap_err();
            assert!(err.to_string().contains(missing), "{err}");
        }
    }

    #[test]
    fn when_scoring_settings_are_invalid_should_fail_at_start() {
        let mut v = BASE.to_vec();
        v.push(("REVIEW_THRESHOLD", "-1"));
        assert!(Config::from(&env(&v)).unwrap_err().to_string().contains("REVIEW_THRESHOLD"));
    }

    #[test]
    fn when_decision_settings_are_set_should_carry_them() {
        // Parsing and its errors are tested in roamguard_aws::config; here, that they are wired.
        let mut v = BASE.to_vec();
        v.extend([("DECISION_MODE", "shadow"), ("RULES_URI", "s3://c/r/rules.yaml"), ("MODEL_URI", "s3://m/v2/")]);
        let (c, e) = (Config::from(&env(&v)).unwrap(), env(&v));
        assert_eq!((c.scoring, c.rules), (e.scoring().unwrap(), e.rules().unwrap()));
        assert_eq!(Config::from(&env(&BASE)).unwrap().rules, None, "no RULES_URI: no rules");
    }
}
