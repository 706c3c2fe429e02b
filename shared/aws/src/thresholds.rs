//! The decision policy a function scores with, chosen once at start. Highest precedence first:
//!
//! 1. `REVIEW_THRESHOLD` / `BLOCK_THRESHOLD` (either or both);
//! 2. the thresholds file (Thresholds v1) at `THRESHOLDS_URI` in S3, at `THRESHOLDS_VERSION` if
//!    pinned, else its latest version;
//! 3. the model's metadata.
//!
//! A thresholds file that cannot be read or is refused (invalid JSON, an unknown field,
//! inconsistent values, calibrated for another model, inconsistent with the environment's
//! overrides) never stops scoring: it is logged at ERROR with what to fix, counted in the
//! `ThresholdsRejected` metric, and the model's own thresholds are used.

use roamguard::decision::{DecisionPolicy, ThresholdError, Thresholds, ThresholdsFile};
use roamguard::model::FraudModel;
use serde_json::Value;

use crate::SdkConfig;
use crate::config::ScoringConfig;
use crate::config_object::{ConfigObject, ConfigObjectError, ConfigObjects, ObjectLocation};

/// Where the policy came from.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicySource {
    /// No thresholds file configured: the model's metadata.
    ModelMetadata,
    /// The thresholds file, as read (`version_id`: the S3 version read).
    File { location: String, version_id: Option<String> },
    /// The thresholds file was refused; the model's metadata is used.
    Rejected { location: String, reason: String, retriable: bool },
}

/// The policy to score with and its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyChoice {
    /// With the environment's overrides applied.
    pub policy: DecisionPolicy,
    pub source: PolicySource,
    /// `REVIEW_THRESHOLD` or `BLOCK_THRESHOLD` changed the file's or the model's thresholds.
    pub overridden: bool,
}

/// Reads the thresholds file `scoring` names (if any) and chooses the policy, logging the
/// outcome. Fails only when the environment's overrides are inconsistent with the policy that
/// would be used (as they always did with the model's): a configuration error to fix at start.
pub async fn decision_policy(
    sdk: &SdkConfig,
    model: &FraudModel,
    scoring: &ScoringConfig,
) -> Result<PolicyChoice, ThresholdError> {
    let fetched = match &scoring.thresholds_file {
        None => None,
        Some(location) => Some((location, ConfigObjects::new(sdk).fetch(location).await)),
    };
    let choice = choose(model.version(), *model.policy(), fetched, scoring.review_threshold, scoring.block_threshold)?;
    choice.log(model.version());
    Ok(choice)
}

/// [`decision_policy`] on what was read, without S3 or logging.
pub fn choose(
    model_version: &str,
    model_policy: DecisionPolicy,
    file: Option<(&ObjectLocation, Result<ConfigObject, ConfigObjectError>)>,
    review: Option<f32>,
    block: Option<f32>,
) -> Result<PolicyChoice, ThresholdError> {
    let overridden = review.is_some() || block.is_some();
    let from_model =
        |source| Ok(PolicyChoice { policy: with_overrides(model_policy, review, block)?, source, overridden });
    let Some((location, fetched)) = file else {
        return from_model(PolicySource::ModelMetadata);
    };
    let name = location.to_string();
    let read = fetched.map_err(|e| {
        let retriable = e.is_retriable();
        let again =
            if retriable { "; this execution environment keeps the model's thresholds until it restarts" } else { "" };
        (format!("{e}{again}"), retriable)
    });
    let accepted = read.and_then(|object| {
        let policy = ThresholdsFile::from_json(&object.bytes).and_then(|f| f.policy_for(model_version)).map_err(|e| {
            let fix = "check it against schemas/thresholds.v1.schema.json (`roamguard calibrate ... --out thresholds.json` writes a valid one) and upload it again";
            (format!("{name}: {e}: {fix}"), false)
        })?;
        let policy = with_overrides(policy, review, block).map_err(|e| {
            (format!("{name}: with REVIEW_THRESHOLD / BLOCK_THRESHOLD on top: {e}: change or unset them, or fix the file"), false)
        })?;
        Ok((policy, object.version_id))
    });
    match accepted {
        Ok((policy, version_id)) => {
            Ok(PolicyChoice { policy, source: PolicySource::File { location: name, version_id }, overridden })
        }
        Err((reason, retriable)) => from_model(PolicySource::Rejected { location: name, reason, retriable }),
    }
}

/// Either threshold replaced (None keeps it), the result checked as
/// [`FraudModel::with_threshold_overrides`] checks it.
fn with_overrides(
    policy: DecisionPolicy,
    review: Option<f32>,
    block: Option<f32>,
) -> Result<DecisionPolicy, ThresholdError> {
    if review.is_none() && block.is_none() {
        return Ok(policy);
    }
    let t = policy.thresholds;
    let wanted = Thresholds::new(review.unwrap_or(t.review), block.unwrap_or(t.block))?;
    DecisionPolicy::new(wanted, policy.escalation)
}

impl PolicyChoice {
    fn log(&self, model_version: &str) {
        let p = &self.policy;
        let e = &p.escalation;
        match &self.source {
            PolicySource::ModelMetadata => tracing::info!(
                model_version,
                review = p.thresholds.review,
                block = p.thresholds.block,
                earlier_flags = e.earlier_flags,
                window_hours = e.window_hours,
                instant_block = ?e.instant_block,
                env_overrides = self.overridden,
                "no THRESHOLDS_URI: deciding with the model's thresholds"
            ),
            PolicySource::File { location, version_id } => tracing::info!(
                model_version,
                uri = %location,
                s3_version_id = version_id.as_deref().unwrap_or("none (unversioned bucket)"),
                review = p.thresholds.review,
                block = p.thresholds.block,
                earlier_flags = e.earlier_flags,
                window_hours = e.window_hours,
                instant_block = ?e.instant_block,
                env_overrides = self.overridden,
                "thresholds file accepted"
            ),
            PolicySource::Rejected { location, reason, retriable } => tracing::error!(
                model_version,
                uri = %location,
                reason = %reason,
                retriable,
                review = p.thresholds.review,
                block = p.thresholds.block,
                earlier_flags = e.earlier_flags,
                window_hours = e.window_hours,
                env_overrides = self.overridden,
                "thresholds file rejected: deciding with the model's own thresholds"
            ),
        }
    }

    /// The CloudWatch Embedded Metric Format line for this choice when a thresholds file was
    /// configured: `ThresholdsRejected` 1 (refused) or 0 (accepted), dimension `Function`.
    pub fn emf(&self, function: &str, timestamp_ms: i64) -> Option<Value> {
        let rejected = match self.source {
            PolicySource::ModelMetadata => return None,
            PolicySource::File { .. } => 0,
            PolicySource::Rejected { .. } => 1,
        };
        Some(roamguard::metrics::count_emf(function, "ThresholdsRejected", rejected, timestamp_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roamguard::decision::Escalation;

    const MODEL: &str = "xgb-test";

    fn model_policy() -> DecisionPolicy {
        DecisionPolicy::new(Thresholds::new(0.3, 0.8).unwrap(), Escalation::default()).unwrap()
    }

    fn location() -> ObjectLocation {
        ObjectLocation::parse("s3://config/thresholds.json").unwrap()
    }

    fn object(json: &str) -> Result<ConfigObject, ConfigObjectError> {
        Ok(ConfigObject { bytes: json.as_bytes().to_vec(), version_id: Some("v2".into()), etag: None })
    }

    fn choose_file(
        file: Result<ConfigObject, ConfigObjectError>,
        review: Option<f32>,
        block: Option<f32>,
    ) -> Result<PolicyChoice, ThresholdError> {
        let l = location();
        choose(MODEL, model_policy(), Some((&l, file)), review, block)
    }

    #[test]
    fn when_no_file_is_configured_should_use_the_model_and_emit_no_metric() {
        let c = choose(MODEL, model_policy(), None, None, None).unwrap();
        assert_eq!((c.policy, c.source.clone(), c.overridden), (model_policy(), PolicySource::ModelMetadata, false));
        assert_eq!(c.emf("score-stream", 0), None);
        let c = choose(MODEL, model_policy(), None, Some(0.5), None).unwrap();
        assert_eq!((c.policy.thresholds.review, c.policy.thresholds.block, c.overridden), (0.5, 0.8, true));
        assert!(choose(MODEL, model_policy(), None, Some(0.9), None).is_err(), "review above the model's block");
    }

    #[test]
    fn when_the_file_is_valid_should_use_it_and_report_its_version() {
        let json = r#"{"model_version":"xgb-test","review":0.4,"block":0.9,"escalation":{"earlier_flags":2,"window_hours":12}}"#;
        let c = choose_file(object(json), None, None).unwrap();
        assert_eq!((c.policy.thresholds.review, c.policy.thresholds.block), (0.4, 0.9));
        assert_eq!((c.policy.escalation.earlier_flags, c.policy.escalation.window_hours), (2, 12));
        assert_eq!(
            c.source,
            PolicySource::File { location: "s3://config/thresholds.json".into(), version_id: Some("v2".into()) }
        );
        let emf = c.emf("score-api", 1_700_000_000_000).unwrap();
        assert_eq!(emf["ThresholdsRejected"], 0);
        assert_eq!(emf["Function"], "score-api");
        assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "ThresholdsRejected");
        assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], crate::METRICS_NAMESPACE);
    }

    #[test]
    fn when_env_overrides_are_set_should_apply_them_on_top_of_the_file() {
        let json = r#"{"review":0.4,"block":0.9,"escalation":{"earlier_flags":0,"window_hours":24}}"#;
        let c = choose_file(object(json), None, Some(0.95)).unwrap();
        assert!(matches!(c.source, PolicySource::File { .. }));
        assert_eq!((c.policy.thresholds.review, c.policy.thresholds.block, c.overridden), (0.4, 0.95, true));
        assert_eq!(c.policy.escalation.earlier_flags, 0, "the file's escalation is kept");
        // An override the model's thresholds refuse but the file's accept: the file decides.
        let c = choose_file(object(r#"{"review":0.1,"block":0.2}"#), None, Some(0.25)).unwrap();
        assert_eq!((c.policy.thresholds.review, c.policy.thresholds.block), (0.1, 0.25));
    }

    #[test]
    fn when_the_file_is_refused_should_keep_the_model_thresholds_say_what_to_fix_and_count_it() {
        let refused = [
            (object("{not json"), "thresholds.v1.schema.json"),
            (object(r#"{"review":0.4,"block":0.9,"reveiw":0.1}"#), "reveiw"),
            (object(r#"{"review":0.9,"block":0.4}"#), "must not exceed"),
            (object(r#"{"model_version":"xgb-other","review":0.4,"block":0.9}"#), "roamguard calibrate"),
            (
                Err(ConfigObjectError::NotFound { location: location().to_string(), code: "NoSuchKey".into() }),
                "was uploaded",
            ),
        ];
        for (file, hint) in refused {
            let c = choose_file(file, None, None).unwrap();
            assert_eq!(c.policy, model_policy());
            let PolicySource::Rejected { location, reason, retriable } = &c.source else {
                panic!("not rejected: {:?}", c.source)
            };
            assert_eq!(location, "s3://config/thresholds.json");
            assert!(reason.contains(hint), "{reason} should mention {hint}");
            assert!(!retriable);
            assert_eq!(c.emf("score-stream", 0).unwrap()["ThresholdsRejected"], 1);
        }
        let unavailable = Err(ConfigObjectError::Unavailable {
            location: "s3://config/thresholds.json".into(),
            detail: "503".into(),
        });
        let c = choose_file(unavailable, None, None).unwrap();
        assert!(matches!(c.source, PolicySource::Rejected { retriable: true, .. }), "{:?}", c.source);
    }

    #[test]
    fn when_env_overrides_conflict_with_the_file_should_refuse_the_file_not_the_start() {
        // BLOCK_THRESHOLD 0.5 is below the file's review (0.6) but above the model's (0.3).
        let c = choose_file(object(r#"{"review":0.6,"block":0.9}"#), None, Some(0.5)).unwrap();
        let PolicySource::Rejected { reason, .. } = &c.source else { panic!("{:?}", c.source) };
        assert!(reason.contains("BLOCK_THRESHOLD"), "{reason}");
        assert_eq!((c.policy.thresholds.review, c.policy.thresholds.block), (0.3, 0.5));
        // Inconsistent with both: a configuration error, as before thresholds files.
        assert!(choose_file(object(r#"{"review":0.6,"block":0.9}"#), Some(0.95), None).is_err());
    }

    #[test]
    fn when_overriding_should_check_as_the_model_does() {
        let model = FraudModel::embedded().unwrap();
        let base = *model.policy();
        for (review, block) in [(Some(0.2), None), (None, Some(0.99)), (Some(0.5), Some(0.6)), (Some(0.9), Some(0.1))] {
            let ours = with_overrides(base, review, block).ok();
            let theirs =
                FraudModel::embedded().unwrap().with_threshold_overrides(review, block).ok().map(|m| *m.policy());
            assert_eq!(ours, theirs, "{review:?} {block:?}");
        }
    }
}
