//! Champion against challenger: how often the challenger model's decision agrees with the
//! verdict's, decision by decision, and the events where their scores differ most (what
//! `roamguard compare` reports before a challenger is promoted).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use serde::Serialize;

use crate::labels::StoredLabel;
use crate::verdict::{Decision, Verdict};

/// The comparison over verdicts that carry a challenger's opinion.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// Verdicts compared (those with a challenger opinion).
    pub verdicts: u64,
    pub champion_versions: BTreeSet<String>,
    pub challenger_versions: BTreeSet<String>,
    /// Verdicts where both decided the same.
    pub agreed: u64,
    /// (verdict's decision, challenger's decision) → verdicts.
    pub by_decision: BTreeMap<(Decision, Decision), u64>,
    /// Verdicts a rule decided: their decision is the rule's, not the champion model's.
    pub decided_by_rule: u64,
    /// What each side did on the events analysts labelled.
    pub labelled: LabelledOutcomes,
    largest: BinaryHeap<Difference>,
    keep: usize,
}

/// Per side, on labelled events: frauds flagged (REVIEW or BLOCK) and legitimate ones blocked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LabelledOutcomes {
    pub fraud: u64,
    pub legitimate: u64,
    pub champion_fraud_flagged: u64,
    pub challenger_fraud_flagged: u64,
    pub champion_legitimate_blocked: u64,
    pub challenger_legitimate_blocked: u64,
}

/// One event where the two scores differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub event_id: String,
    pub imsi: String,
    pub event_time: String,
    pub decision: Decision,
    pub score: f32,
    pub challenger_decision: Decision,
    pub challenger_score: f32,
}

impl Difference {
    fn distance(&self) -> Distance {
        Distance::between(self.decision, self.challenger_decision, self.score, self.challenger_score)
    }
}

/// How far apart the two sides are on an event: first by decision (ALLOW against BLOCK is two
/// steps, ALLOW against REVIEW one), then by score gap. Two models with the same trees and other
/// thresholds differ by decision alone: those events must come first.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Distance {
    decision_steps: u8,
    score_gap: f32,
}

impl Distance {
    fn between(decision: Decision, challenger_decision: Decision, score: f32, challenger_score: f32) -> Distance {
        let level = |d: Decision| match d {
            Decision::Allow => 0u8,
            Decision::Review => 1,
            Decision::Block => 2,
        };
        Distance {
            decision_steps: level(decision).abs_diff(level(challenger_decision)),
            score_gap: (score - challenger_score).abs(),
        }
    }

    fn cmp(&self, other: &Distance) -> Ordering {
        self.decision_steps.cmp(&other.decision_steps).then_with(|| self.score_gap.total_cmp(&other.score_gap))
    }
}

// A min-heap on the distance (ties by event_id, for a deterministic report): the heap's top is
// the closest of the kept differences, the one a farther one replaces.
impl Eq for Difference {}
impl Ord for Difference {
    fn cmp(&self, other: &Self) -> Ordering {
        other.distance().cmp(&self.distance()).then_with(|| self.event_id.cmp(&other.event_id))
    }
}
impl PartialOrd for Difference {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Comparison {
    /// A comparison keeping the `largest` events where the two sides differ most (decision steps
    /// apart, then score gap).
    pub fn new(largest: usize) -> Comparison {
        Comparison { keep: largest, ..Comparison::default() }
    }

    /// Adds a verdict (and its analyst's label, if any); verdicts without a challenger opinion
    /// are not compared.
    pub fn add(&mut self, v: &Verdict, label: Option<&StoredLabel>) {
        let Some(c) = &v.challenger else { return };
        self.verdicts += 1;
        if !self.champion_versions.contains(&v.model_version) {
            self.champion_versions.insert(v.model_version.clone());
        }
        if !self.challenger_versions.contains(&c.model_version) {
            self.challenger_versions.insert(c.model_version.clone());
        }
        self.agreed += u64::from(v.decision == c.decision);
        *self.by_decision.entry((v.decision, c.decision)).or_default() += 1;
        self.decided_by_rule += u64::from(v.decided_by != crate::verdict::DECIDED_BY_MODEL);
        if let Some(label) = label {
            let l = &mut self.labelled;
            if label.fraud {
                l.fraud += 1;
                l.champion_fraud_flagged += u64::from(v.decision != Decision::Allow);
                l.challenger_fraud_flagged += u64::from(c.decision != Decision::Allow);
            } else {
                l.legitimate += 1;
                l.champion_legitimate_blocked += u64::from(v.decision == Decision::Block);
                l.challenger_legitimate_blocked += u64::from(c.decision == Decision::Block);
            }
        }
        self.consider(v, c.score, c.decision);
    }

    fn consider(&mut self, v: &Verdict, challenger_score: f32, challenger_decision: Decision) {
        if self.keep == 0 {
            return;
        }
        let distance = Distance::between(v.decision, challenger_decision, v.score, challenger_score);
        if self.largest.len() == self.keep
            && self.largest.peek().is_some_and(|closest| distance.cmp(&closest.distance()) != Ordering::Greater)
        {
            return;
        }
        self.largest.push(Difference {
            event_id: v.event_id.clone(),
            imsi: v.imsi.clone(),
            event_time: v.event_time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            decision: v.decision,
            score: v.score,
            challenger_decision,
            challenger_score,
        });
        if self.largest.len() > self.keep {
            self.largest.pop();
        }
    }

    /// Share of compared verdicts where both decided the same (1 when none were compared).
    pub fn agreement(&self) -> f64 {
        if self.verdicts == 0 { 1.0 } else { self.agreed as f64 / self.verdicts as f64 }
    }

    /// Verdicts the verdict's side decided `decision` on, and how many of them the challenger
    /// decided the same.
    pub fn agreement_on(&self, decision: Decision) -> (u64, u64) {
        let row = self.by_decision.iter().filter(|((d, _), _)| *d == decision);
        row.fold((0, 0), |(all, same), ((_, c), n)| (all + n, same + if *c == decision { *n } else { 0 }))
    }

    /// The kept differences, those that differ most first.
    pub fn largest_differences(&self) -> Vec<Difference> {
        self.largest.clone().into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::ChallengerOpinion;
    use chrono::{TimeZone, Utc};

    fn verdict(id: &str, decision: Decision, score: f32, challenger: Option<(Decision, f32)>) -> Verdict {
        let t = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        Verdict {
            event_id: id.into(),
            imsi: "208011234567890".into(),
            event_time: t,
            decision,
            score,
            reasons: vec![],
            model_version: "champion".into(),
            degraded: false,
            enforced: true,
            scored_at: t,
            decided_by: "model".into(),
            rules_matched: vec![],
            rules_version: None,
            challenger: challenger.map(|(decision, score)| ChallengerOpinion {
                model_version: "challenger".into(),
                score,
                decision,
            }),
        }
    }

    fn label(fraud: bool) -> StoredLabel {
        StoredLabel { fraud, fraud_type: None, note: None, analyst: None, labelled_at: Utc::now() }
    }

    #[test]
    fn when_comparing_should_count_agreement_by_decision_and_skip_verdicts_without_a_challenger() {
        let mut c = Comparison::new(2);
        c.add(&verdict("a", Decision::Allow, 0.01, Some((Decision::Allow, 0.02))), None);
        c.add(&verdict("b", Decision::Block, 0.99, Some((Decision::Review, 0.40))), Some(&label(true)));
        c.add(&verdict("c", Decision::Review, 0.50, Some((Decision::Allow, 0.05))), Some(&label(false)));
        c.add(&verdict("d", Decision::Block, 0.95, Some((Decision::Block, 0.97))), Some(&label(false)));
        c.add(&verdict("e", Decision::Block, 0.95, None), Some(&label(false)));
        assert_eq!(c.verdicts, 4);
        assert_eq!(c.agreed, 2);
        assert!((c.agreement() - 0.5).abs() < 1e-12);
        assert_eq!(c.agreement_on(Decision::Block), (2, 1));
        assert_eq!(c.agreement_on(Decision::Allow), (1, 1));
        assert_eq!(c.by_decision[&(Decision::Block, Decision::Review)], 1);
        assert_eq!(
            c.labelled,
            LabelledOutcomes {
                fraud: 1,
                legitimate: 2,
                champion_fraud_flagged: 1,
                challenger_fraud_flagged: 1,
                champion_legitimate_blocked: 1,
                challenger_legitimate_blocked: 1,
            }
        );
        let ids: Vec<_> = c.largest_differences().into_iter().map(|d| d.event_id).collect();
        assert_eq!(ids, ["b", "c"], "the two widest gaps (0.59, 0.45), widest first");
    }

    #[test]
    fn when_decisions_differ_should_those_events_come_before_wider_score_gaps() {
        let mut c = Comparison::new(3);
        // Same scores, other thresholds: gaps of 0, decisions apart.
        c.add(&verdict("same-score-one-step", Decision::Allow, 0.30, Some((Decision::Review, 0.30))), None);
        c.add(&verdict("same-score-two-steps", Decision::Allow, 0.30, Some((Decision::Block, 0.30))), None);
        c.add(&verdict("agree-wide-gap", Decision::Allow, 0.01, Some((Decision::Allow, 0.20))), None);
        c.add(&verdict("agree-narrow-gap", Decision::Allow, 0.01, Some((Decision::Allow, 0.02))), None);
        let ids: Vec<_> = c.largest_differences().into_iter().map(|d| d.event_id).collect();
        assert_eq!(ids, ["same-score-two-steps", "same-score-one-step", "agree-wide-gap"]);
    }

    #[test]
    fn when_nothing_is_compared_should_agree_fully_and_list_no_differences() {
        let mut c = Comparison::new(0);
        c.add(&verdict("a", Decision::Allow, 0.01, Some((Decision::Block, 0.99))), None);
        assert_eq!(c.largest_differences(), vec![]);
        assert_eq!(Comparison::new(5).agreement(), 1.0);
    }
}
