//! Verdict v1: the outcome of scoring one event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Decision {
    Allow,
    Review,
    Block,
}

impl Decision {
    pub const ALL: [Decision; 3] = [Decision::Allow, Decision::Review, Decision::Block];
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "ALLOW",
            Decision::Review => "REVIEW",
            Decision::Block => "BLOCK",
        }
    }
    pub fn parse(text: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str().eq_ignore_ascii_case(text))
    }
}

/// One reason behind a score: a feature, its value, and how much it pushed the score up
/// (its SHAP contribution, in log-odds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub feature: String,
    /// `null` when the feature was missing.
    pub value: Option<f32>,
    pub contribution: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub event_id: String,
    pub imsi: String,
    #[serde(with = "crate::events::rfc3339")]
    pub event_time: DateTime<Utc>,
    pub decision: Decision,
    /// Fraud probability, 0–1.
    pub score: f32,
    /// Top reasons (at most 3), strongest first. Always present on REVIEW and BLOCK.
    #[serde(default)]
    pub reasons: Vec<Reason>,
    pub model_version: String,
    /// True when a fallback scorer produced this verdict.
    pub degraded: bool,
    /// False in shadow mode: the decision is what the system would do, and nobody acts on it.
    /// Verdicts from before shadow mode existed have no such field: they were enforced.
    #[serde(default = "enforced_by_default")]
    pub enforced: bool,
    #[serde(with = "crate::events::rfc3339")]
    pub scored_at: DateTime<Utc>,
    /// `"model"`, or `"rule:<id>"` when an analysts' rule decided (verdicts from before rules
    /// existed: the model).
    #[serde(default = "decided_by_model")]
    pub decided_by: String,
    /// Ids of every rule that matched, in file order, for audit (omitted when none did).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules_matched: Vec<String>,
    /// Which rules file was in force: its hash, or the S3 object version (omitted without rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_version: Option<String>,
    /// What the challenger model would have decided on the same features (omitted without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenger: Option<ChallengerOpinion>,
}

/// A challenger model's opinion on an event: scored on the champion's feature row, decided by
/// the challenger's own thresholds, never acted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChallengerOpinion {
    pub model_version: String,
    pub score: f32,
    pub decision: Decision,
}

fn enforced_by_default() -> bool {
    true
}

/// [`Verdict::decided_by`] when no rule decided.
pub const DECIDED_BY_MODEL: &str = "model";

fn decided_by_model() -> String {
    DECIDED_BY_MODEL.to_string()
}
