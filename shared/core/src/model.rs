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
use crate::features::{self, FeatureVector, NUM_FEATURES};
use crate::ports::{PortError, Scorer};
use crate::verdict::Reason;
pub use xgboost::{ModelError, XgbModel};

/// Contents of `metadata.json`. Fields the scorer does not need (training metrics, drift
/// baselines) are kept as raw JSON.
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

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("model: {0}")]
    Model(#[from] ModelError),
    #[error("metadata: {0}")]
    Metadata(String),
}

pub struct FraudModel {
    booster: XgbModel,
    metadata: ModelMetadata,
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
            std::fs::read(&path).map_err(|source| LoadError::Io { path: path.display().to_string(), source })
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
        if metadata.feature_names != expected {
            return Err(LoadError::Metadata(format!(
                "feature order differs from this build's features ({} vs {} names); retrain with `make train`",
                metadata.feature_names.len(),
                expected.len()
            )));
        }
        if booster.num_features() != NUM_FEATURES {
            return Err(LoadError::Metadata(format!(
                "booster expects {} features, this build computes {NUM_FEATURES}",
                booster.num_features()
            )));
        }
        let policy = DecisionPolicy::new(metadata.thresholds, metadata.escalation)
            .map_err(|e| LoadError::Metadata(e.to_string()))?;
        Ok(FraudModel { booster, metadata, policy })
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
}
