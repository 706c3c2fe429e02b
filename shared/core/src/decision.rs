//! Decision rules: score thresholds → ALLOW / REVIEW / BLOCK, and the top reasons behind a score.

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
pub struct ThresholdError(String);

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
