//! The fraud model: an XGBoost booster plus the metadata written next to it at training time
//! (version, feature order, decision thresholds). Loading checks that the model's feature order
//! is exactly the one [`crate::features`] computes, so training/serving skew fails fast.

pub mod treeshap;
mod ubj;
pub mod xgboost;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use serde::{Deserialize, Serialize};

use crate::decision::{self, DecisionPolicy, Escalation, Thresholds};
use crate::drift::Baselines;
use crate::features::{self, FeatureVector, NUM_FEATURES};
use crate::ports::{PortError, Scorer};
use crate::verdict::Reason;
pub use xgboost::{ModelError, XgbModel};

/// Contents of `metadata.json`. The training metrics and the drift baselines are kept as raw
/// JSON; the baselines are parsed and checked at load ([`FraudModel::baselines`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelMetadata {
    pub model_version: String,
    pub feature_names: Vec<String>,
    /// Chosen on a held-out world by `roamguard calibrate` (`make train`).
    pub thresholds: Thresholds,
    /// Absent in older metadata: the default (a BLOCK needs an earlier flag).
    #[serde(default)]
    pub escalation: Escalation,
    #[serde(default)]
    pub training: serde_json::Value,
    /// Per feature `{missing_share, edges, shares}` over the training rows (read by
    /// [`crate::drift::Baselines`]).
    #[serde(default)]
    pub baseline_histograms: serde_json::Value,
    /// The same for the model's scores on the training rows; null in older metadata.
    #[serde(default)]
    pub baseline_score_histogram: serde_json::Value,
}

/// Why a model directory was refused. As [`ModelError`], the message carries its cause and no
/// variant has a `source` (a chain would print the cause twice).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("model: {0}")]
    Model(ModelError),
    #[error("metadata: {0}")]
    Metadata(String),
}

impl From<ModelError> for LoadError {
    fn from(e: ModelError) -> Self {
        LoadError::Model(e)
    }
}

/// Where `names` first differs from `expected`, said for the error message; `None` if equal.
fn first_difference(names: &[String], expected: &[&str]) -> Option<String> {
    let at = names.iter().zip(expected).position(|(name, want)| name != want);
    match at {
        Some(i) => Some(format!("column {i} is `{}`, this build's is `{}`", names[i], expected[i])),
        None if names.len() != expected.len() => {
            Some(format!("{} names, this build computes {}", names.len(), expected.len()))
        }
        None => None,
    }
}

pub struct FraudModel {
    booster: XgbModel,
    metadata: ModelMetadata,
    /// The metadata's drift baselines, checked at load.
    baselines: Baselines,
    /// The metadata's policy unless overridden.
    policy: DecisionPolicy,
}

/// The model committed in `models/`, compiled into the binary so the embedded defaults need no
/// files at run time.
const EMBEDDED_MODEL: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/model.json"));
const EMBEDDED_METADATA: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/metadata.json"));

impl FraudModel {
    pub fn embedded() -> Result<FraudModel, LoadError> {
        FraudModel::from_slices(EMBEDDED_MODEL, EMBEDDED_METADATA)
    }

    /// Loads `model.json` and `metadata.json` from a directory.
    pub fn from_dir(dir: &Path) -> Result<FraudModel, LoadError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|error| LoadError::Io { path: path.display().to_string(), error })
        };
        FraudModel::from_slices(&read("model.json")?, &read("metadata.json")?)
    }

    /// Loads `model.json` and `metadata.json` as bytes (a directory, the binary, an S3 prefix),
    /// with the same checks: metadata complete, feature names and order this build's.
    pub fn from_slices(model_json: &[u8], metadata_json: &[u8]) -> Result<FraudModel, LoadError> {
        let booster = XgbModel::from_json_slice(model_json)?;
        let metadata: ModelMetadata =
            serde_json::from_slice(metadata_json).map_err(|e| LoadError::Metadata(e.to_string()))?;
        if metadata.model_version.trim().is_empty() {
            return Err(LoadError::Metadata("model_version is empty: every verdict names its model".into()));
        }
        let expected: Vec<&str> = features::names().collect();
        if let Some(difference) = first_difference(&metadata.feature_names, &expected) {
            return Err(LoadError::Metadata(format!(
                "feature order differs from this build's features ({difference}); retrain with `make train`"
            )));
        }
        if booster.num_features() != NUM_FEATURES {
            return Err(LoadError::Model(ModelError::Invalid(format!(
                "the booster expects {} features, this build computes {NUM_FEATURES}",
                booster.num_features()
            ))));
        }
        // The booster's own names (xgboost keeps the training columns' names): a model.json of
        // another feature set beside this metadata is refused, not scored on shifted columns.
        if let Some(difference) = booster.feature_names().and_then(|names| first_difference(names, &expected)) {
            return Err(LoadError::Model(ModelError::Invalid(format!(
                "the booster's own feature names differ from this build's features ({difference}); retrain with `make train`"
            ))));
        }
        let baselines = Baselines::from_metadata(&metadata)
            .map_err(|e| LoadError::Metadata(format!("{e}: drift monitoring needs them; retrain with `make train`")))?;
        let policy = DecisionPolicy::new(metadata.thresholds, metadata.escalation)
            .map_err(|e| LoadError::Metadata(e.to_string()))?;
        Ok(FraudModel { booster, metadata, baselines, policy })
    }

    /// Replaces the metadata's policy (a thresholds file).
    pub fn with_policy(mut self, policy: DecisionPolicy) -> FraudModel {
        self.policy = policy;
        self
    }

    /// Overrides either threshold (None keeps the current one), checking the result is consistent.
    pub fn with_threshold_overrides(
        self,
        review: Option<f32>,
        block: Option<f32>,
    ) -> Result<FraudModel, decision::ThresholdError> {
        let t = self.policy.thresholds;
        let wanted = Thresholds::new(review.unwrap_or(t.review), block.unwrap_or(t.block))?;
        let policy = DecisionPolicy::new(wanted, self.policy.escalation)?;
        Ok(self.with_policy(policy))
    }

    pub fn version(&self) -> &str {
        &self.metadata.model_version
    }
    pub fn thresholds(&self) -> Thresholds {
        self.policy.thresholds
    }
    pub fn policy(&self) -> &DecisionPolicy {
        &self.policy
    }
    pub fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }
    pub fn baselines(&self) -> &Baselines {
        &self.baselines
    }
    pub fn booster(&self) -> &XgbModel {
        &self.booster
    }

    pub fn probability(&self, row: &FeatureVector) -> f32 {
        self.booster.predict_proba(row)
    }

    /// The top 3 reasons behind this row's score (exact TreeSHAP: tens of µs, so only for
    /// flagged events).
    /// The `k` features the model leans on most (xgboost's `total_cover` importance), by name,
    /// most important first: the "top features" the drift alarm watches.
    pub fn top_features(&self, k: usize) -> Vec<&str> {
        let cover = self.booster.total_cover();
        let mut order: Vec<usize> = (0..self.metadata.feature_names.len()).collect();
        order.sort_by(|&a, &b| {
            let c = |i: usize| cover.get(i).copied().unwrap_or(0.0);
            c(b).total_cmp(&c(a)).then(a.cmp(&b))
        });
        order.into_iter().take(k).map(|i| self.metadata.feature_names[i].as_str()).collect()
    }

    pub fn reasons(&self, row: &FeatureVector) -> Vec<Reason> {
        let mut contribs = [0f32; NUM_FEATURES + 1];
        self.booster.contributions(row, &mut contribs);
        decision::top_reasons(row, &contribs, 3)
    }
}

/// The in-process XGBoost model as a [`Scorer`]: the default scorer, and SageMaker's fallback.
pub struct ModelScorer {
    model: Arc<FraudModel>,
}

impl ModelScorer {
    pub fn new(model: Arc<FraudModel>) -> ModelScorer {
        ModelScorer { model }
    }
}

#[async_trait]
impl Scorer for ModelScorer {
    async fn score(&self, rows: &[FeatureVector]) -> Result<Vec<f32>, PortError> {
        Ok(rows.iter().map(|r| self.model.probability(r)).collect())
    }
    fn name(&self) -> &'static str {
        "embedded"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> serde_json::Value {
        serde_json::from_slice(EMBEDDED_METADATA).expect("committed metadata is JSON")
    }

    fn load(metadata: &serde_json::Value) -> Result<FraudModel, LoadError> {
        FraudModel::from_slices(EMBEDDED_MODEL, metadata.to_string().as_bytes())
    }

    #[test]
    fn when_loading_from_bytes_should_check_metadata_and_feature_order() {
        let mut m = metadata();
        m["model_version"] = "v-from-bytes".into();
        assert_eq!(load(&m).expect("a good model").version(), "v-from-bytes");

        let mut swapped = metadata();
        swapped["feature_names"].as_array_mut().expect("a list").swap(0, 1);
        let err = load(&swapped).err().expect("wrong feature order refused").to_string();
        assert!(err.contains("feature order"), "{err}");

        for field in ["model_version", "feature_names", "thresholds"] {
            let mut incomplete = metadata();
            incomplete.as_object_mut().expect("an object").remove(field);
            let err = load(&incomplete).err().unwrap_or_else(|| panic!("{field} missing accepted")).to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
        let mut blank = metadata();
        blank["model_version"] = " ".into();
        assert!(load(&blank).err().expect("blank version refused").to_string().contains("model_version"));

        let err = FraudModel::from_slices(b"{\"learner\": 1", &metadata().to_string().into_bytes()).err();
        assert!(matches!(err, Some(LoadError::Model(_))), "corrupt model.json refused");
    }

    #[test]
    fn when_the_feature_order_differs_should_name_the_first_column_that_does() {
        let mut swapped = metadata();
        swapped["feature_names"].as_array_mut().expect("a list").swap(0, 5);
        let err = load(&swapped).err().expect("refused").to_string();
        assert!(err.contains("column 0 is `data_mb`, this build's is `is_voice_mo`"), "{err}");
        let mut extra = metadata();
        extra["feature_names"].as_array_mut().expect("a list").push("extra".into());
        let err = load(&extra).err().expect("refused").to_string();
        assert!(err.contains("45 names, this build computes 44"), "{err}");
    }

    #[test]
    fn when_the_boosters_own_feature_names_differ_should_refuse_the_model() {
        let mut model: serde_json::Value = serde_json::from_slice(EMBEDDED_MODEL).expect("committed model is JSON");
        model["learner"]["feature_names"].as_array_mut().expect("names in the committed model").swap(0, 5);
        let err = FraudModel::from_slices(model.to_string().as_bytes(), metadata().to_string().as_bytes()).err();
        let err = err.expect("a model.json beside another model's metadata is refused");
        assert!(matches!(err, LoadError::Model(ModelError::Invalid(_))), "{err}");
        assert!(
            err.to_string().contains("booster's own feature names") && err.to_string().contains("column 0"),
            "{err}"
        );
        // A booster saved without names is checked by its column count alone.
        model["learner"]["feature_names"] = serde_json::json!([]);
        model["learner"].as_object_mut().expect("an object").remove("feature_types");
        assert!(FraudModel::from_slices(model.to_string().as_bytes(), metadata().to_string().as_bytes()).is_ok());
    }

    #[test]
    fn when_the_drift_baselines_are_missing_or_malformed_should_refuse_the_metadata() {
        let mut none = metadata();
        none.as_object_mut().expect("an object").remove("baseline_histograms");
        let err = load(&none).err().expect("metadata without baselines refused").to_string();
        assert!(err.contains("baseline_histograms") && err.contains("drift"), "{err}");
        let mut empty = metadata();
        empty["baseline_histograms"]["data_mb"] = serde_json::json!({"missing_share": 0, "edges": [], "shares": []});
        let err = load(&empty).err().expect("an empty histogram with values present refused").to_string();
        assert!(err.contains("data_mb"), "{err}");
        let mut short = metadata();
        short["baseline_histograms"]["data_mb"]["shares"][0] = serde_json::json!(0.5);
        let err = load(&short).err().expect("shares not adding up to 1 refused").to_string();
        assert!(err.contains("data_mb") && err.contains("not 1"), "{err}");
    }

    #[test]
    fn when_a_model_is_refused_should_the_error_chain_say_the_cause_once() {
        let err = FraudModel::from_slices(b"{\"learner\": ", metadata().to_string().as_bytes()).err().expect("refused");
        let chain: Vec<String> = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(|e| e.to_string())
            .collect();
        assert_eq!(chain.len(), 1, "the cause is in the message, not repeated as a source: {chain:?}");
        assert!(chain[0].contains("EOF while parsing"), "{chain:?}");
        let missing = FraudModel::from_dir(Path::new("/nonexistent/model-dir")).err().expect("refused");
        assert!(std::error::Error::source(&missing).is_none(), "{missing}");
        assert!(missing.to_string().contains("/nonexistent/model-dir/model.json"), "{missing}");
    }
}
