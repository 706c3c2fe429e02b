//! What customers feel: operating points of scored, labelled traffic (legitimate events and
//! subscribers blocked and flagged, fraud caught and how soon), and the calibration of thresholds
//! on an operator's own labelled history.
//!
//! Decisions are replayed from the scores with [`DecisionPolicy::decide`] and [`ScoreMarks`] in
//! event order, exactly as the pipeline decides and marks them, so a threshold search needs one
//! scoring pass, not one per candidate.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::Serialize;

use crate::decision::{DecisionPolicy, Escalation, ThresholdError, Thresholds};
use crate::state::ScoreMarks;
use crate::verdict::Decision;

/// One scored event with what is known about it. Events without a label are legitimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub event_id: String,
    pub imsi: String,
    /// Unix seconds.
    pub event_time: i64,
    pub score: f32,
    pub decision: Decision,
    pub fraud: bool,
    pub fraud_type: Option<String>,
}

/// Re-decides every observation under `policy`, subscriber by subscriber in the given (event)
/// order, as the pipeline would have.
pub fn decide_all(observations: &mut [Observation], policy: &DecisionPolicy) {
    let window = policy.escalation.window_secs();
    let mut marks: HashMap<&str, ScoreMarks> = HashMap::new();
    let mut decisions = Vec::with_capacity(observations.len());
    for o in observations.iter() {
        let m = marks.entry(o.imsi.as_str()).or_default();
        decisions.push(policy.decide(o.score, m.earlier(&o.event_id, o.event_time, window)));
        m.mark(&o.event_id, o.event_time, o.score, o.event_time);
    }
    for (o, d) in observations.iter_mut().zip(decisions) {
        o.decision = d;
    }
}

/// How one kind of fraud was caught. An episode is a subscriber's fraudulent events of one
/// `fraud_type` (operators' labels carry no episode ids).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FraudTypeOutcome {
    pub fraud_type: String,
    pub events: usize,
    pub episodes: usize,
    /// Episodes with at least one event flagged (REVIEW or BLOCK) / blocked.
    pub caught: usize,
    pub blocked: usize,
    /// Median position (1 = the episode's first event) of the first flagged / blocked event,
    /// over the episodes caught / blocked.
    pub median_events_to_flag: Option<f64>,
    pub median_events_to_block: Option<f64>,
}

/// The figures of a scored, labelled stretch of traffic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperatingPoint {
    pub events: usize,
    pub legit_events: usize,
    pub fraud_events: usize,
    /// Area under the precision-recall curve of the scores (None without fraud).
    pub pr_auc: Option<f64>,
    pub legit_blocked: usize,
    pub legit_flagged: usize,
    /// Subscribers without a fraudulent event, and those of them blocked / flagged at least once.
    pub legit_subscribers: usize,
    pub legit_subscribers_blocked: usize,
    pub legit_subscribers_flagged: usize,
    pub fraud_blocked: usize,
    pub fraud_flagged: usize,
    pub by_type: Vec<FraudTypeOutcome>,
}

fn pct(n: usize, of: usize) -> f64 {
    if of == 0 { 0.0 } else { 100.0 * n as f64 / of as f64 }
}

fn flagged(d: Decision) -> bool {
    d != Decision::Allow
}

impl OperatingPoint {
    pub fn of(observations: &[Observation]) -> OperatingPoint {
        let legit = || observations.iter().filter(|o| !o.fraud);
        let fraud = || observations.iter().filter(|o| o.fraud);
        let mut subscribers: HashMap<&str, (bool, bool, bool)> = HashMap::new(); // fraud, blocked, flagged
        for o in observations {
            let s = subscribers.entry(&o.imsi).or_default();
            s.0 |= o.fraud;
            s.1 |= o.decision == Decision::Block;
            s.2 |= flagged(o.decision);
        }
        let legit_subs = || subscribers.values().filter(|s| !s.0);
        OperatingPoint {
            events: observations.len(),
            legit_events: legit().count(),
            fraud_events: fraud().count(),
            pr_auc: average_precision(observations),
            legit_blocked: legit().filter(|o| o.decision == Decision::Block).count(),
            legit_flagged: legit().filter(|o| flagged(o.decision)).count(),
            legit_subscribers: legit_subs().count(),
            legit_subscribers_blocked: legit_subs().filter(|s| s.1).count(),
            legit_subscribers_flagged: legit_subs().filter(|s| s.2).count(),
            fraud_blocked: fraud().filter(|o| o.decision == Decision::Block).count(),
            fraud_flagged: fraud().filter(|o| flagged(o.decision)).count(),
            by_type: by_type(observations),
        }
    }

    pub fn legit_blocked_pct(&self) -> f64 {
        pct(self.legit_blocked, self.legit_events)
    }
    pub fn legit_flagged_pct(&self) -> f64 {
        pct(self.legit_flagged, self.legit_events)
    }
    pub fn legit_subscribers_blocked_pct(&self) -> f64 {
        pct(self.legit_subscribers_blocked, self.legit_subscribers)
    }
    pub fn legit_subscribers_flagged_pct(&self) -> f64 {
        pct(self.legit_subscribers_flagged, self.legit_subscribers)
    }
    pub fn fraud_blocked_pct(&self) -> f64 {
        pct(self.fraud_blocked, self.fraud_events)
    }
    pub fn fraud_flagged_pct(&self) -> f64 {
        pct(self.fraud_flagged, self.fraud_events)
    }

    /// The headline figures as Markdown table rows (`| name | value |`).
    pub fn markdown_rows(&self) -> String {
        let pr_auc = self.pr_auc.map_or("n/a (no fraud)".to_string(), |v| format!("{v:.4}"));
        let rows = [
            ("events (legitimate / fraud)", format!("{} ({} / {})", self.events, self.legit_events, self.fraud_events)),
            ("PR-AUC", pr_auc),
            ("legitimate events BLOCKed", format!("{:.3} % ({})", self.legit_blocked_pct(), self.legit_blocked)),
            (
                "legitimate events flagged (REVIEW or BLOCK)",
                format!("{:.3} % ({})", self.legit_flagged_pct(), self.legit_flagged),
            ),
            (
                "legitimate subscribers BLOCKed at least once",
                format!(
                    "{:.2} % ({} of {})",
                    self.legit_subscribers_blocked_pct(),
                    self.legit_subscribers_blocked,
                    self.legit_subscribers
                ),
            ),
            (
                "legitimate subscribers flagged at least once",
                format!("{:.2} % ({})", self.legit_subscribers_flagged_pct(), self.legit_subscribers_flagged),
            ),
            ("fraud events BLOCKed", format!("{:.2} % ({})", self.fraud_blocked_pct(), self.fraud_blocked)),
            ("fraud events flagged", format!("{:.2} % ({})", self.fraud_flagged_pct(), self.fraud_flagged)),
        ];
        rows.iter().fold(String::new(), |mut out, (name, value)| {
            let _ = writeln!(out, "| {name} | {value} |");
            out
        })
    }

    /// Per fraud type, as a Markdown table.
    pub fn markdown_by_type(&self) -> String {
        let median = |m: Option<f64>| m.map_or("–".to_string(), |v| format!("{v:.1}"));
        let mut out = String::from(
            "| fraud type | events | episodes | caught (flagged) | blocked | events to first flag (median) | to first BLOCK (median) |\n|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for t in &self.by_type {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                t.fraud_type,
                t.events,
                t.episodes,
                t.caught,
                t.blocked,
                median(t.median_events_to_flag),
                median(t.median_events_to_block)
            );
        }
        out
    }
}

/// Episodes per fraud type (unlabelled types grouped as "unspecified").
fn by_type(observations: &[Observation]) -> Vec<FraudTypeOutcome> {
    // (type, imsi) → decisions of the episode's events in order.
    let mut episodes: BTreeMap<(&str, &str), Vec<Decision>> = BTreeMap::new();
    for o in observations.iter().filter(|o| o.fraud) {
        let kind = o.fraud_type.as_deref().unwrap_or("unspecified");
        episodes.entry((kind, &o.imsi)).or_default().push(o.decision);
    }
    #[derive(Default)]
    struct Tally {
        events: usize,
        episodes: usize,
        /// Per episode caught / blocked: the position of its first flag / BLOCK.
        to_flag: Vec<usize>,
        to_block: Vec<usize>,
    }
    let mut out: BTreeMap<&str, Tally> = BTreeMap::new();
    for ((kind, _), decisions) in &episodes {
        let t = out.entry(kind).or_default();
        t.events += decisions.len();
        t.episodes += 1;
        if let Some(i) = decisions.iter().position(|d| flagged(*d)) {
            t.to_flag.push(i + 1);
        }
        if let Some(i) = decisions.iter().position(|d| *d == Decision::Block) {
            t.to_block.push(i + 1);
        }
    }
    out.into_iter()
        .map(|(kind, mut t)| FraudTypeOutcome {
            fraud_type: kind.to_string(),
            events: t.events,
            episodes: t.episodes,
            caught: t.to_flag.len(),
            blocked: t.to_block.len(),
            median_events_to_flag: median(&mut t.to_flag),
            median_events_to_block: median(&mut t.to_block),
        })
        .collect()
}

fn median(values: &mut [usize]) -> Option<f64> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2] as f64),
        _ => Some((values[n / 2 - 1] + values[n / 2]) as f64 / 2.0),
    }
}

/// Step-wise area under the precision-recall curve (as scikit-learn's average_precision_score):
/// ties share one step.
fn average_precision(observations: &[Observation]) -> Option<f64> {
    let positives = observations.iter().filter(|o| o.fraud).count();
    if positives == 0 {
        return None;
    }
    let mut order: Vec<(f32, bool)> = observations.iter().map(|o| (o.score, o.fraud)).collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut seen, mut ap, mut i) = (0usize, 0usize, 0.0f64, 0usize);
    while i < order.len() {
        let score = order[i].0;
        let tp_before = tp;
        while i < order.len() && order[i].0 == score {
            tp += usize::from(order[i].1);
            seen += 1;
            i += 1;
        }
        ap += (tp - tp_before) as f64 / positives as f64 * (tp as f64 / seen as f64);
    }
    Some(ap)
}

/// What a calibration aims at: false-positive rates on legitimate events.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Targets {
    /// Legitimate events flagged (REVIEW or BLOCK).
    pub flag_fpr: f64,
    /// Legitimate events BLOCKed.
    pub block_fpr: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("no legitimate events to calibrate on")]
    NoLegitimateEvents,
    #[error("targets must be rates within 0–1 with block ≤ flag (got flag {flag}, block {block})")]
    Targets { flag: f64, block: f64 },
    #[error(transparent)]
    Policy(#[from] ThresholdError),
}

/// The lowest thresholds whose decisions on `observations` stay within `targets`: REVIEW from the
/// legitimate scores directly, BLOCK by a search over the replayed decisions (with `escalation`,
/// a BLOCK depends on the subscriber's earlier flags). Leaves every observation decided under the
/// returned policy. With `since` (Unix seconds), only the events from then on count: the earlier
/// ones are decided too, in order (their flags corroborate later BLOCKs, as in the pipeline), but
/// their legitimate scores choose nothing.
pub fn calibrate(
    observations: &mut [Observation],
    targets: Targets,
    escalation: Escalation,
    since: Option<i64>,
) -> Result<DecisionPolicy, CalibrationError> {
    let counted_legit = |o: &Observation| !o.fraud && since.is_none_or(|s| o.event_time >= s);
    let rate_ok = |r: f64| r.is_finite() && (0.0..=1.0).contains(&r);
    if !rate_ok(targets.flag_fpr) || !rate_ok(targets.block_fpr) || targets.block_fpr > targets.flag_fpr {
        return Err(CalibrationError::Targets { flag: targets.flag_fpr, block: targets.block_fpr });
    }
    let mut legit: Vec<f32> = observations.iter().filter(|o| counted_legit(o)).map(|o| o.score).collect();
    if legit.is_empty() {
        return Err(CalibrationError::NoLegitimateEvents);
    }
    legit.sort_by(|a, b| b.total_cmp(a));
    let allowed = |rate: f64| (rate * legit.len() as f64).floor() as usize;
    let review = threshold_above(&legit, allowed(targets.flag_fpr));

    // Candidates for BLOCK: just above each legitimate score at or above REVIEW, plus 1.
    let mut candidates: Vec<f32> = legit.iter().filter(|s| **s >= review).map(|s| next_up(*s)).collect();
    candidates.push(review);
    candidates.push(1.0);
    candidates.retain(|c| *c <= 1.0);
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    let max_blocked = allowed(targets.block_fpr);
    let blocked_at = |block: f32, obs: &mut [Observation]| -> Result<usize, CalibrationError> {
        let policy = DecisionPolicy::new(Thresholds::new(review, block)?, escalation.clamped_to(block))?;
        decide_all(obs, &policy);
        Ok(obs.iter().filter(|o| counted_legit(o) && o.decision == Decision::Block).count())
    };
    // Blocked legitimate events never grow with the threshold: the first candidate within the
    // target is found by bisection.
    let (mut lo, mut hi) = (0usize, candidates.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if blocked_at(candidates[mid], observations)? <= max_blocked {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let block = candidates[lo];
    let policy = DecisionPolicy::new(Thresholds::new(review, block)?, escalation.clamped_to(block))?;
    decide_all(observations, &policy);
    Ok(policy)
}

/// The smallest threshold that flags at most `allowed` of `sorted_desc` (scores ≥ it flag).
fn threshold_above(sorted_desc: &[f32], allowed: usize) -> f32 {
    match sorted_desc.get(allowed) {
        Some(s) => next_up(*s).min(1.0),
        None => 0.0,
    }
}

/// The next f32 above `x` (x finite, ≥ 0).
fn next_up(x: f32) -> f32 {
    if x >= 1.0 { 1.0 } else { f32::from_bits(x.max(0.0).to_bits() + 1) }
}

#[cfg(test)]
mod tests;
