//! Environment configuration shared by the Lambda functions: typed parsing that fails fast with
//! the variable's name and what to set. No AWS types here; the functions wire the result.

use std::collections::HashMap;
use std::time::Duration;

use roamguard::decision::DecisionMode;

use crate::config_object::ObjectLocation;
use crate::model_source::ModelLocation;

/// Which scorer is primary. The in-process model is the default and needs no endpoint; with
/// SageMaker primary, the in-process model is the fallback (verdicts then marked degraded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScorerChoice {
    Embedded,
    SageMaker { endpoint: String },
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("environment variable {0} is required ({1})")]
    Missing(&'static str, &'static str),
    #[error("environment variable {name} has an invalid value {value:?}: {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
}

/// The scoring settings every function reads: `MODEL_URI`, `CHALLENGER_MODEL_URI`, `SCORER`, `SAGEMAKER_ENDPOINT`,
/// `REVIEW_THRESHOLD`, `BLOCK_THRESHOLD`, `THRESHOLDS_URI`, `THRESHOLDS_VERSION`, `DECISION_MODE`.
///
/// The decision policy comes from, highest precedence first: `REVIEW_THRESHOLD` /
/// `BLOCK_THRESHOLD`, the thresholds file at `THRESHOLDS_URI`, the model's metadata
/// ([`crate::thresholds::decision_policy`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoringConfig {
    /// `MODEL_URI`: a model directory in S3 (`s3://bucket/prefix/` with `model.json` and
    /// `metadata.json`); None: the model built into the binary.
    pub model: Option<ModelLocation>,
    /// `CHALLENGER_MODEL_URI`: a second model directory in S3, scored in-process beside the
    /// champion (whatever the scorer) and recorded on verdicts, never deciding.
    pub challenger: Option<ModelLocation>,
    pub scorer: ScorerChoice,
    pub review_threshold: Option<f32>,
    pub block_threshold: Option<f32>,
    /// A thresholds file (Thresholds v1) in S3, at the pinned version if `THRESHOLDS_VERSION`.
    pub thresholds_file: Option<ObjectLocation>,
    /// `enforce` (default) or `shadow` (verdicts recorded, marked not enforced).
    pub mode: DecisionMode,
}

/// Analysts' rules (`RULES_URI`, `RULES_RELOAD_SECONDS`): a rules file in S3, loaded when an
/// execution environment starts and checked for a new version every `reload_every`
/// ([`crate::rules::RulesReloader`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RulesConfig {
    /// The rules file; its `{file: ...}` lists are read next to it (same bucket, same directory).
    pub location: ObjectLocation,
    pub reload_every: Duration,
}

impl RulesConfig {
    /// How often a function checks the rules file for a new version unless `RULES_RELOAD_SECONDS`
    /// says otherwise: the "within minutes" for analysts, one conditional GET (a 304 while
    /// nothing changed) a minute per execution environment.
    pub const DEFAULT_RELOAD: Duration = Duration::from_secs(60);
}

/// A snapshot of environment variables with typed accessors.
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Env {
        Env { vars: std::env::vars().collect() }
    }

    pub fn from_vars(vars: HashMap<String, String>) -> Env {
        Env { vars }
    }

    /// The trimmed value, `None` when unset or blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_string)
    }

    /// `what` tells the operator what the variable is for.
    pub fn required(&self, name: &'static str, what: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name, what))
    }

    /// A decision threshold override (0–1).
    pub fn threshold(&self, name: &'static str) -> Result<Option<f32>, ConfigError> {
        match self.optional(name) {
            None => Ok(None),
            Some(v) => match v.parse::<f32>() {
                Ok(x) if (0.0..=1.0).contains(&x) => Ok(Some(x)),
                _ => Err(ConfigError::Invalid { name, value: v, expected: "a number between 0 and 1" }),
            },
        }
    }

    /// `DECISION_MODE`: `enforce` (default) or `shadow`, any case.
    pub fn decision_mode(&self) -> Result<DecisionMode, ConfigError> {
        match self.optional("DECISION_MODE") {
            None => Ok(DecisionMode::Enforce),
            Some(v) => DecisionMode::parse(&v).map_err(|_| ConfigError::Invalid {
                name: "DECISION_MODE",
                value: v,
                expected: "enforce or shadow",
            }),
        }
    }

    /// An S3 object named by `uri_var` (`s3://bucket/key`), pinned to the version in
    /// `version_var` when set. None when `uri_var` is unset; a version without a URI is an error.
    pub fn config_object(
        &self,
        uri_var: &'static str,
        version_var: &'static str,
    ) -> Result<Option<ObjectLocation>, ConfigError> {
        let version = self.optional(version_var);
        let Some(uri) = self.optional(uri_var) else {
            return match version {
                None => Ok(None),
                Some(_) => {
                    Err(ConfigError::Missing(uri_var, "the s3://bucket/key of the object the version id belongs to"))
                }
            };
        };
        let location = ObjectLocation::parse(&uri).map_err(|_| ConfigError::Invalid {
            name: uri_var,
            value: uri.clone(),
            expected: "an S3 URI of the form s3://bucket/key",
        })?;
        Ok(Some(location.at_version(version)))
    }

    /// `RULES_URI` (`s3://bucket/key`; unset: no rules, the model decides) and
    /// `RULES_RELOAD_SECONDS` (1-3600, default 60; needs `RULES_URI`).
    pub fn rules(&self) -> Result<Option<RulesConfig>, ConfigError> {
        let reload = self.optional("RULES_RELOAD_SECONDS");
        let Some(uri) = self.optional("RULES_URI") else {
            return match reload {
                None => Ok(None),
                Some(_) => Err(ConfigError::Missing("RULES_URI", "the s3://bucket/key of the rules file to reload")),
            };
        };
        let location = ObjectLocation::parse(&uri).map_err(|_| ConfigError::Invalid {
            name: "RULES_URI",
            value: uri.clone(),
            expected: "an S3 URI of the form s3://bucket/key",
        })?;
        let reload_every = match reload {
            None => RulesConfig::DEFAULT_RELOAD,
            Some(v) => match v.parse::<u64>() {
                Ok(s) if (1..=3600).contains(&s) => Duration::from_secs(s),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "RULES_RELOAD_SECONDS",
                        value: v,
                        expected: "a whole number of seconds from 1 to 3600 (default 60)",
                    });
                }
            },
        };
        Ok(Some(RulesConfig { location, reload_every }))
    }

    /// `ALLOW_VERDICT_TTL_DAYS` (1–3650; unset or 0: ALLOW verdicts are kept).
    pub fn allow_verdict_ttl_days(&self) -> Result<Option<u32>, ConfigError> {
        let Some(v) = self.optional("ALLOW_VERDICT_TTL_DAYS") else { return Ok(None) };
        match v.parse::<u32>() {
            Ok(0) => Ok(None),
            Ok(days) if days <= 3650 => Ok(Some(days)),
            _ => Err(ConfigError::Invalid {
                name: "ALLOW_VERDICT_TTL_DAYS",
                value: v,
                expected: "a whole number of days from 0 (kept) to 3650",
            }),
        }
    }

    /// `MODEL_URI` or `CHALLENGER_MODEL_URI` (`s3://bucket/prefix/`; unset: the built-in model,
    /// no challenger).
    pub fn model(&self, name: &'static str) -> Result<Option<ModelLocation>, ConfigError> {
        let Some(uri) = self.optional(name) else { return Ok(None) };
        ModelLocation::parse(&uri).map(Some).map_err(|_| ConfigError::Invalid {
            name,
            value: uri,
            expected: "an S3 prefix of the form s3://bucket/prefix/ holding model.json and metadata.json",
        })
    }

    pub fn scoring(&self) -> Result<ScoringConfig, ConfigError> {
        let scorer = match self.optional("SCORER").map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("embedded") => ScorerChoice::Embedded,
            Some("sagemaker") => ScorerChoice::SageMaker {
                endpoint: self
                    .required("SAGEMAKER_ENDPOINT", "the SageMaker endpoint name, needed with SCORER=sagemaker")?,
            },
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "SCORER",
                    value: self.optional("SCORER").unwrap_or_default(),
                    expected: "embedded or sagemaker",
                });
            }
        };
        Ok(ScoringConfig {
            model: self.model("MODEL_URI")?,
            challenger: self.model("CHALLENGER_MODEL_URI")?,
            scorer,
            review_threshold: self.threshold("REVIEW_THRESHOLD")?,
            block_threshold: self.threshold("BLOCK_THRESHOLD")?,
            thresholds_file: self.config_object("THRESHOLDS_URI", "THRESHOLDS_VERSION")?,
            mode: self.decision_mode()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn when_nothing_is_set_should_default_to_embedded_scorer_and_model_thresholds() {
        let s = env(&[]).scoring().unwrap();
        assert_eq!(
            s,
            ScoringConfig {
                model: None,
                challenger: None,
                scorer: ScorerChoice::Embedded,
                review_threshold: None,
                block_threshold: None,
                thresholds_file: None,
                mode: DecisionMode::Enforce,
            }
        );
        assert_eq!(env(&[("X", "  ")]).optional("X"), None);
    }

    #[test]
    fn when_sagemaker_is_chosen_should_require_the_endpoint() {
        assert_eq!(
            env(&[("SCORER", "sagemaker")]).scoring().unwrap_err(),
            ConfigError::Missing("SAGEMAKER_ENDPOINT", "the SageMaker endpoint name, needed with SCORER=sagemaker")
        );
        let s = env(&[("SCORER", "SageMaker"), ("SAGEMAKER_ENDPOINT", "roamguard-xgb")]).scoring().unwrap();
        assert_eq!(s.scorer, ScorerChoice::SageMaker { endpoint: "roamguard-xgb".into() });
    }

    #[test]
    fn when_values_are_invalid_should_name_the_variable_and_say_what_is_expected() {
        assert!(env(&[("SCORER", "gpu")]).scoring().unwrap_err().to_string().contains("embedded or sagemaker"));
        for bad in ["1.5", "-0.1", "high"] {
            let err = env(&[("BLOCK_THRESHOLD", bad)]).scoring().unwrap_err().to_string();
            assert!(err.contains("BLOCK_THRESHOLD") && err.contains("between 0 and 1"), "{err}");
        }
        assert_eq!(env(&[("REVIEW_THRESHOLD", "0.2")]).scoring().unwrap().review_threshold, Some(0.2));
    }

    #[test]
    fn when_decision_mode_is_set_should_parse_it_in_any_case_and_name_the_variable_when_bad() {
        assert_eq!(env(&[("DECISION_MODE", "shadow")]).scoring().unwrap().mode, DecisionMode::Shadow);
        assert_eq!(env(&[("DECISION_MODE", " Shadow ")]).scoring().unwrap().mode, DecisionMode::Shadow);
        assert_eq!(env(&[("DECISION_MODE", "ENFORCE")]).scoring().unwrap().mode, DecisionMode::Enforce);
        assert_eq!(env(&[("DECISION_MODE", "")]).scoring().unwrap().mode, DecisionMode::Enforce, "blank: the default");
        for bad in ["dry-run", "shadowed", "off"] {
            let err = env(&[("DECISION_MODE", bad)]).scoring().unwrap_err();
            assert_eq!(
                err,
                ConfigError::Invalid { name: "DECISION_MODE", value: bad.into(), expected: "enforce or shadow" }
            );
            assert!(err.to_string().contains("DECISION_MODE"), "{err}");
        }
    }

    #[test]
    fn when_a_rules_file_is_named_should_parse_it_and_the_reload_interval_and_name_bad_values() {
        assert_eq!(env(&[]).rules().unwrap(), None, "no RULES_URI: no rules");
        let r = env(&[("RULES_URI", "s3://roamguard-config/rules/rules.yaml")]).rules().unwrap().unwrap();
        assert_eq!((r.location.bucket.as_str(), r.location.key.as_str()), ("roamguard-config", "rules/rules.yaml"));
        assert_eq!(r.reload_every, Duration::from_secs(60));
        let r = env(&[("RULES_URI", "s3://b/r.yaml"), ("RULES_RELOAD_SECONDS", " 1 ")]).rules().unwrap().unwrap();
        assert_eq!(r.reload_every, Duration::from_secs(1));
        for bad in ["0", "-5", "1.5", "soon", "3601"] {
            let err = env(&[("RULES_URI", "s3://b/r.yaml"), ("RULES_RELOAD_SECONDS", bad)]).rules().unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { name: "RULES_RELOAD_SECONDS", .. }), "{bad}: {err}");
        }
        let err = env(&[("RULES_URI", "rules.yaml")]).rules().unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "RULES_URI", .. }), "{err}");
        let err = env(&[("RULES_RELOAD_SECONDS", "5")]).rules().unwrap_err();
        assert!(matches!(err, ConfigError::Missing("RULES_URI", _)), "{err}");
    }

    #[test]
    fn when_an_allow_verdict_ttl_is_set_should_parse_days_and_name_the_variable_when_bad() {
        assert_eq!(env(&[]).allow_verdict_ttl_days().unwrap(), None);
        assert_eq!(env(&[("ALLOW_VERDICT_TTL_DAYS", "0")]).allow_verdict_ttl_days().unwrap(), None);
        assert_eq!(env(&[("ALLOW_VERDICT_TTL_DAYS", "14")]).allow_verdict_ttl_days().unwrap(), Some(14));
        for bad in ["-1", "3651", "a week"] {
            let err = env(&[("ALLOW_VERDICT_TTL_DAYS", bad)]).allow_verdict_ttl_days().unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { name: "ALLOW_VERDICT_TTL_DAYS", .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn when_a_model_uri_is_set_should_parse_the_prefix_and_name_the_variable_when_bad() {
        let s = env(&[("MODEL_URI", " s3://roamguard-models/models/v3/ ")]).scoring().unwrap();
        let model = s.model.unwrap();
        assert_eq!((model.bucket.as_str(), model.prefix.as_str()), ("roamguard-models", "models/v3/"));
        assert_eq!(env(&[("MODEL_URI", "")]).scoring().unwrap().model, None, "blank: the built-in model");
        let err = env(&[("MODEL_URI", "roamguard-models/v3/")]).scoring().unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "MODEL_URI", .. }), "{err}");
        assert!(err.to_string().contains("s3://bucket/prefix/"), "{err}");

        let s = env(&[("CHALLENGER_MODEL_URI", "s3://roamguard-models/models/v4")]).scoring().unwrap();
        assert_eq!((s.model, s.challenger.map(|c| c.prefix)), (None, Some("models/v4/".into())));
        let err = env(&[("CHALLENGER_MODEL_URI", "models/v4/")]).scoring().unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "CHALLENGER_MODEL_URI", .. }), "{err}");
    }

    #[test]
    fn when_a_thresholds_file_is_named_should_parse_the_uri_and_pin_the_version() {
        let s = env(&[("THRESHOLDS_URI", "s3://roamguard-config/thresholds.json")]).scoring().unwrap();
        let file = s.thresholds_file.unwrap();
        assert_eq!(
            (file.bucket.as_str(), file.key.as_str(), file.version_id),
            ("roamguard-config", "thresholds.json", None)
        );
        let pinned = env(&[("THRESHOLDS_URI", "s3://b/cfg/t.json"), ("THRESHOLDS_VERSION", "v-42")]).scoring().unwrap();
        assert_eq!(pinned.thresholds_file.unwrap().version_id.as_deref(), Some("v-42"));
        let err = env(&[("THRESHOLDS_URI", "roamguard-config/thresholds.json")]).scoring().unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "THRESHOLDS_URI", .. }), "{err}");
        assert!(err.to_string().contains("s3://bucket/key"), "{err}");
        let err = env(&[("THRESHOLDS_VERSION", "v-42")]).scoring().unwrap_err();
        assert!(matches!(err, ConfigError::Missing("THRESHOLDS_URI", _)), "{err}");
    }
}
