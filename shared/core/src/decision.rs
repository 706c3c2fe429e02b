//! Decision rules: score thresholds → ALLOW / REVIEW / BLOCK (a BLOCK corroborated by the
//! subscriber's earlier flags), the thresholds file, shadow mode, and the top reasons behind a score.

use serde::{Deserialize, Serialize};

use crate::features::FEATURES;
use crate::verdict::{Decision, Reason};

/// Score cut-offs. Chosen at training time for target false-positive rates (see the model
/// metadata) and overridable by configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Scores at or above this go to an analyst.
    pub review: f32,
    /// Scores at or above this are blocked.
    pub block: f32,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid thresholds: {0}")]
pub struct ThresholdError(pub String);

impl Thresholds {
    pub fn new(review: f32, block: f32) -> Result<Thresholds, ThresholdError> {
        let t = Thresholds { review, block };
        t.check()?;
        Ok(t)
    }

    pub fn check(&self) -> Result<(), ThresholdError> {
        let ok = |v: f32| v.is_finite() && (0.0..=1.0).contains(&v);
        if !ok(self.review) || !ok(self.block) {
            return Err(ThresholdError(format!(
                "review ({}) and block ({}) must be within 0–1",
                self.review, self.block
            )));
        }
        if self.review > self.block {
            return Err(ThresholdError(format!("review ({}) must not exceed block ({})", self.review, self.block)));
        }
        Ok(())
    }

    pub fn decide(&self, score: f32) -> Decision {
        if score >= self.block {
            Decision::Block
        } else if score >= self.review {
            Decision::Review
        } else {
            Decision::Allow
        }
    }
}

/// BLOCK needs more than one high score: a BLOCK stops a customer abroad, and on traffic a model
/// has not seen, a legitimate subscriber's odd hour is far more often a single high score than a
/// run of them. A score at or above the BLOCK threshold blocks when the subscriber had
/// `earlier_flags` other events at or above the REVIEW threshold within `window_hours` before it,
/// or when it reaches `instant_block`; otherwise it is held at REVIEW. Fraud runs many events, so
/// it is blocked one flagged event later (the reports show what that costs and saves).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// Earlier flagged events needed (0: a high score blocks on its own).
    pub earlier_flags: u8,
    pub window_hours: u16,
    /// A score this high blocks on its own (absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instant_block: Option<f32>,
}

impl Default for Escalation {
    fn default() -> Escalation {
        Escalation { earlier_flags: 1, window_hours: 24, instant_block: None }
    }
}

impl Escalation {
    /// A high score blocks on its own.
    pub const NONE: Escalation = Escalation { earlier_flags: 0, window_hours: 24, instant_block: None };

    pub fn check(&self) -> Result<(), ThresholdError> {
        let horizon_h = crate::state::SCORE_MARK_HORIZON_SECS / 3600;
        if usize::from(self.earlier_flags) > crate::state::MAX_FLAGS_COUNTED {
            return Err(ThresholdError(format!(
                "escalation.earlier_flags ({}) must be at most {}",
                self.earlier_flags,
                crate::state::MAX_FLAGS_COUNTED
            )));
        }
        if self.window_hours == 0 || i64::from(self.window_hours) > horizon_h {
            return Err(ThresholdError(format!(
                "escalation.window_hours ({}) must be 1–{horizon_h}",
                self.window_hours
            )));
        }
        if let Some(v) = self.instant_block.filter(|v| !v.is_finite() || !(0.0..=1.0).contains(v)) {
            return Err(ThresholdError(format!("escalation.instant_block ({v}) must be within 0–1")));
        }
        Ok(())
    }

    pub fn window_secs(&self) -> i64 {
        i64::from(self.window_hours) * 3600
    }

    /// The same escalation with `instant_block` raised to `block` if it was below (it can only
    /// make a BLOCK easier, never a REVIEW a BLOCK).
    pub fn clamped_to(self, block: f32) -> Escalation {
        Escalation { instant_block: self.instant_block.map(|v| v.max(block)), ..self }
    }
}

/// Thresholds and escalation: the score → decision rule of a deployment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecisionPolicy {
    pub thresholds: Thresholds,
    pub escalation: Escalation,
}

impl DecisionPolicy {
    pub fn new(thresholds: Thresholds, escalation: Escalation) -> Result<DecisionPolicy, ThresholdError> {
        thresholds.check()?;
        escalation.check()?;
        if let Some(v) = escalation.instant_block.filter(|v| *v < thresholds.block) {
            return Err(ThresholdError(format!(
                "escalation.instant_block ({v}) must not be below block ({})",
                thresholds.block
            )));
        }
        Ok(DecisionPolicy { thresholds, escalation })
    }

    /// The decision for `score`, given the scores of the subscriber's earlier events within the
    /// escalation window ([`crate::state::ScoreMarks::earlier`]).
    pub fn decide(&self, score: f32, earlier: impl Iterator<Item = f32>) -> Decision {
        self.decide_after_flags(score, self.earlier_flags(earlier))
    }

    /// The subscriber's earlier flagged events among `earlier` scores (the live state keeps at
    /// most a few).
    pub fn earlier_flags(&self, earlier: impl Iterator<Item = f32>) -> usize {
        earlier.filter(|s| *s >= self.thresholds.review).count()
    }

    /// The decision for `score` after `flags` earlier flagged events (a challenger's: its
    /// thresholds, corroborated by the flags the live state records).
    pub fn decide_after_flags(&self, score: f32, flags: usize) -> Decision {
        match self.thresholds.decide(score) {
            Decision::Block if !self.corroborated(score, flags) => Decision::Review,
            decision => decision,
        }
    }

    fn corroborated(&self, score: f32, flags: usize) -> bool {
        let needed = usize::from(self.escalation.earlier_flags);
        needed == 0 || self.escalation.instant_block.is_some_and(|v| score >= v) || flags >= needed
    }
}

/// The thresholds file (Thresholds v1, `schemas/thresholds.v1.schema.json`): what
/// `roamguard calibrate` writes and `--thresholds`, the Lambdas' `THRESHOLDS_URI` read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsFile {
    /// The model they were calibrated for: a file for another model is refused (its scores
    /// mean something else). Absent: any model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    pub review: f32,
    pub block: f32,
    #[serde(default)]
    pub escalation: Escalation,
    /// How they were chosen and the operating point reached (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<serde_json::Value>,
}

/// Why a thresholds file is refused.
#[derive(Debug, thiserror::Error)]
pub enum ThresholdsFileError {
    #[error("not a thresholds file: {0}")]
    Parse(String),
    #[error(transparent)]
    Invalid(#[from] ThresholdError),
    #[error("calibrated for model {file}, but the model is {model}: run `roamguard calibrate` for this model")]
    OtherModel { file: String, model: String },
}

impl ThresholdsFile {
    pub fn from_json(bytes: &[u8]) -> Result<ThresholdsFile, ThresholdsFileError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            ThresholdsFileError::Parse(if path == "." { inner.to_string() } else { format!("{path}: {inner}") })
        })
    }

    /// The policy this file sets for a model of `model_version`.
    pub fn policy_for(&self, model_version: &str) -> Result<DecisionPolicy, ThresholdsFileError> {
        if let Some(file) = self.model_version.as_deref().filter(|v| *v != model_version) {
            return Err(ThresholdsFileError::OtherModel { file: file.to_string(), model: model_version.to_string() });
        }
        Ok(DecisionPolicy::new(Thresholds { review: self.review, block: self.block }, self.escalation)?)
    }
}

/// How verdicts are used. In shadow mode every decision is computed and recorded as it would be,
/// but marked not enforced: a new operator runs for weeks, labels, calibrates, then enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionMode {
    #[default]
    Enforce,
    Shadow,
}

#[derive(Debug, thiserror::Error)]
#[error("decision mode must be `enforce` or `shadow`, got {0:?}")]
pub struct ModeError(String);

impl DecisionMode {
    pub fn parse(text: &str) -> Result<DecisionMode, ModeError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "enforce" => Ok(DecisionMode::Enforce),
            "shadow" => Ok(DecisionMode::Shadow),
            _ => Err(ModeError(text.to_string())),
        }
    }

    pub fn enforced(self) -> bool {
        self == DecisionMode::Enforce
    }
}

/// The `k` features that pushed the score up the most (positive contributions only, strongest
/// first). `contributions` holds one value per feature, optionally followed by the bias term.
pub fn top_reasons(row: &[f32], contributions: &[f32], k: usize) -> Vec<Reason> {
    let mut idx: Vec<usize> =
        (0..row.len().min(contributions.len()).min(FEATURES.len())).filter(|&i| contributions[i] > 0.0).collect();
    idx.sort_by(|&a, &b| contributions[b].total_cmp(&contributions[a]));
    idx.truncate(k);
    idx.into_iter()
        .map(|i| Reason {
            feature: FEATURES[i].0.to_string(),
            value: if row[i].is_nan() { None } else { Some(row[i]) },
            contribution: contributions[i],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_score_crosses_thresholds_should_escalate_decision() {
        let t = Thresholds::new(0.5, 0.9).unwrap();
        assert_eq!(t.decide(0.1), Decision::Allow);
        assert_eq!(t.decide(0.5), Decision::Review);
        assert_eq!(t.decide(0.89), Decision::Review);
        assert_eq!(t.decide(0.9), Decision::Block);
    }

    #[test]
    fn when_thresholds_are_inconsistent_should_reject() {
        assert!(Thresholds::new(0.9, 0.5).is_err());
        assert!(Thresholds::new(-0.1, 0.5).is_err());
        assert!(Thresholds::new(0.1, f32::NAN).is_err());
    }

    #[test]
    fn when_a_high_score_comes_alone_should_hold_it_at_review() {
        let policy = DecisionPolicy::new(Thresholds::new(0.5, 0.9).unwrap(), Escalation::default()).unwrap();
        assert_eq!(policy.decide(0.95, [].into_iter()), Decision::Review);
        assert_eq!(policy.decide(0.95, [0.3, 0.4].into_iter()), Decision::Review, "earlier scores below review");
        assert_eq!(policy.decide(0.95, [0.3, 0.6].into_iter()), Decision::Block);
        assert_eq!(policy.decide(0.6, [0.99].into_iter()), Decision::Review);
        assert_eq!(policy.decide(0.1, [0.99].into_iter()), Decision::Allow);
        let two = Escalation { earlier_flags: 2, ..Escalation::default() };
        let policy = DecisionPolicy::new(Thresholds::new(0.5, 0.9).unwrap(), two).unwrap();
        assert_eq!(policy.decide(0.95, [0.6].into_iter()), Decision::Review);
        assert_eq!(policy.decide(0.95, [0.6, 0.7].into_iter()), Decision::Block);
    }

    #[test]
    fn when_a_score_reaches_instant_block_or_escalation_is_off_should_block_alone() {
        let instant = Escalation { instant_block: Some(0.99), ..Escalation::default() };
        let policy = DecisionPolicy::new(Thresholds::new(0.5, 0.9).unwrap(), instant).unwrap();
        assert_eq!(policy.decide(0.99, [].into_iter()), Decision::Block);
        assert_eq!(policy.decide(0.98, [].into_iter()), Decision::Review);
        let off = DecisionPolicy::new(Thresholds::new(0.5, 0.9).unwrap(), Escalation::NONE).unwrap();
        assert_eq!(off.decide(0.9, [].into_iter()), Decision::Block);
    }

    #[test]
    fn when_a_thresholds_file_is_read_should_check_it_and_its_model() {
        let file = ThresholdsFile::from_json(
            br#"{"model_version":"m1","review":0.4,"block":0.8,"escalation":{"earlier_flags":1,"window_hours":12}}"#,
        )
        .unwrap();
        let policy = file.policy_for("m1").unwrap();
        assert_eq!((policy.thresholds.review, policy.escalation.window_hours), (0.4, 12));
        assert!(matches!(file.policy_for("m2"), Err(ThresholdsFileError::OtherModel { .. })));
        let typo = ThresholdsFile::from_json(br#"{"reveiw":0.4,"review":0.4,"block":0.8}"#).unwrap_err();
        assert!(typo.to_string().contains("reveiw"), "{typo}");
        for bad in [
            r#"{"review":0.9,"block":0.8}"#,
            r#"{"review":0.4,"block":0.8,"escalation":{"earlier_flags":9,"window_hours":24}}"#,
            r#"{"review":0.4,"block":0.8,"escalation":{"earlier_flags":1,"window_hours":100}}"#,
            r#"{"review":0.4,"block":0.8,"escalation":{"earlier_flags":1,"window_hours":24,"instant_block":0.5}}"#,
        ] {
            let err = ThresholdsFile::from_json(bad.as_bytes()).and_then(|f| f.policy_for("m"));
            assert!(err.is_err(), "{bad}");
        }
    }

    #[test]
    fn when_a_mode_is_named_should_parse_it() {
        assert_eq!(DecisionMode::parse("Shadow").unwrap(), DecisionMode::Shadow);
        assert!(DecisionMode::parse("enforce").unwrap().enforced());
        assert!(DecisionMode::parse("dry-run").is_err());
    }

    #[test]
    fn when_ranking_reasons_should_keep_top_positive_contributions() {
        let row = [1.0, f32::NAN, 3.0, 4.0];
        let contribs = [0.2, 0.9, -1.0, 0.5, 7.0];
        let r = top_reasons(&row, &contribs, 3);
        let names: Vec<_> = r.iter().map(|r| r.feature.as_str()).collect();
        assert_eq!(names, [FEATURES[1].0, FEATURES[3].0, FEATURES[0].0]);
        assert_eq!(r[0].value, None);
        assert_eq!(r[1].value, Some(4.0));
    }
}
