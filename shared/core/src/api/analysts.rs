//! What the analysts' console reads: cases (a flagged verdict with its label, its reasons in
//! words and the rules that matched), a subscriber's profile and usage against their baseline,
//! and an overview of the flagged verdicts of a time range. Read-only; labels are posted to
//! `POST /v1/verdicts/{event_id}/label`.
//!
//! The queue lists REVIEW and BLOCK verdicts only: that is what the verdict tables index by
//! decision and day (DynamoDB's `by_decision_day` holds no ALLOW verdict), and what analysts
//! work. Filters the tables cannot index (rule, model version, labelled) are applied to the
//! pages read, up to [`MAX_PAGES_SCANNED`] pages per request; `next` then continues the scan.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::query::{ListParams, encode_cursor, percent_decode};
use super::{Api, ApiResponse, invalid_parameter, unavailable};
use crate::explain::reason_text;
use crate::features::DailyBaselines;
use crate::labels::StoredLabel;
use crate::ports::{Labelled, VerdictQuery};
use crate::state::UsageCounts;
use crate::verdict::{DECIDED_BY_MODEL, Decision, Verdict};

/// Store pages read at most for one filtered queue page.
pub const MAX_PAGES_SCANNED: usize = 20;
/// Flagged verdicts an overview reads at most (it says when it stopped there).
pub const OVERVIEW_MAX_VERDICTS: usize = 10_000;

/// A flagged verdict as an analyst reads it.
#[derive(Serialize)]
struct Case<'a> {
    #[serde(flatten)]
    verdict: &'a Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a StoredLabel>,
    /// One sentence per reason, in the reasons' order.
    explanations: Vec<String>,
    /// The rules that matched, with their descriptions from the rules in force (a rule since
    /// removed has none).
    rules: Vec<RuleNote>,
}

#[derive(Serialize)]
struct RuleNote {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

#[derive(Serialize)]
struct CasePage<'a> {
    cases: Vec<Case<'a>>,
    next: Option<String>,
}

/// The queue's filters besides [`ListParams`].
#[derive(Debug, Default, PartialEq)]
struct CaseFilters {
    rule: Option<String>,
    model_version: Option<String>,
    labelled: Option<bool>,
}

impl CaseFilters {
    fn parse(raw: &str) -> Result<CaseFilters, (&'static str, String)> {
        let mut f = CaseFilters::default();
        for pair in raw.split('&').filter(|s| !s.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = || {
                percent_decode(value)
                    .filter(|v| !v.is_empty() && v.chars().count() <= 128)
                    .ok_or_else(|| (name_of(name), format!("query parameter `{name}` must be 1–128 characters")))
            };
            match name {
                "rule" => f.rule = Some(value()?),
                "model_version" => f.model_version = Some(value()?),
                "labelled" => {
                    f.labelled = Some(match value()?.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(("labelled", "query parameter `labelled` must be true or false".into())),
                    });
                }
                _ => {}
            }
        }
        Ok(f)
    }

    fn accept(&self, l: &Labelled) -> bool {
        let v = &l.verdict;
        self.rule.as_ref().is_none_or(|r| v.rules_matched.contains(r))
            && self.model_version.as_ref().is_none_or(|m| &v.model_version == m)
            && self.labelled.is_none_or(|want| want == l.label.is_some())
    }
}

fn name_of(name: &str) -> &'static str {
    match name {
        "rule" => "rule",
        "model_version" => "model_version",
        _ => "labelled",
    }
}

impl Api {
    /// One page of flagged verdicts, newest first: of `q.decision`, or of REVIEW and BLOCK
    /// merged (the tables differ on what a query without decision or subscriber lists).
    async fn flagged_page(&self, q: &VerdictQuery) -> Result<Vec<Labelled>, crate::ports::PortError> {
        if q.decision.is_some() {
            return self.verdicts.query_labelled(q).await;
        }
        let review = VerdictQuery { decision: Some(Decision::Review), ..q.clone() };
        let block = VerdictQuery { decision: Some(Decision::Block), ..q.clone() };
        let mut page = self.verdicts.query_labelled(&review).await?;
        page.extend(self.verdicts.query_labelled(&block).await?);
        page.sort_by(|a, b| {
            let key = |l: &Labelled| (l.verdict.event_time, l.verdict.event_id.clone());
            key(b).cmp(&key(a))
        });
        page.truncate(q.limit);
        Ok(page)
    }

    fn case<'a>(&self, l: &'a Labelled, descriptions: &HashMap<String, Option<String>>) -> Case<'a> {
        let v = &l.verdict;
        Case {
            verdict: v,
            label: l.label.as_ref(),
            explanations: v.reasons.iter().map(|r| reason_text(&r.feature, r.value)).collect(),
            rules: v
                .rules_matched
                .iter()
                .map(|id| RuleNote { id: id.clone(), description: descriptions.get(id).cloned().flatten() })
                .collect(),
        }
    }

    /// Rule id → description, of the rules in force.
    fn rule_descriptions(&self) -> HashMap<String, Option<String>> {
        let rules = self.pipeline.rules().get();
        rules.rules().iter().map(|r| (r.id.clone(), r.description.clone())).collect()
    }

    /// `GET /v1/cases/{event_id}`: any stored verdict (ALLOW too) as a case.
    pub(super) async fn case_by_id(&self, event_id: &str) -> ApiResponse {
        match self.verdicts.get_labelled(&[event_id]).await {
            Ok(map) => match map.get(event_id) {
                Some(l) => ApiResponse::json(200, &self.case(l, &self.rule_descriptions())),
                None => super::not_found_verdict(),
            },
            Err(e) => unavailable(e.to_string()),
        }
    }

    /// `GET /v1/cases?decision=&since=&until=&rule=&model_version=&labelled=&limit=&next=`:
    /// flagged verdicts, newest first.
    pub(super) async fn cases(&self, raw_query: &str) -> ApiResponse {
        let params = match ListParams::parse(raw_query) {
            Ok(p) => p,
            Err((parameter, detail)) => return invalid_parameter(parameter, detail),
        };
        if params.decision == Some(Decision::Allow) {
            return invalid_parameter(
                "decision",
                "the queue holds REVIEW and BLOCK verdicts: decision must be one of them",
            );
        }
        let filters = match CaseFilters::parse(raw_query) {
            Ok(f) => f,
            Err((parameter, detail)) => return invalid_parameter(parameter, detail),
        };
        let mut q = VerdictQuery {
            imsi: None,
            decision: params.decision,
            since: params.since,
            until: params.until,
            before: params.before,
            limit: params.limit + 1,
        };
        let mut kept: Vec<Labelled> = Vec::new();
        let mut scanned_to: Option<(DateTime<Utc>, String)> = None;
        let mut exhausted = false;
        for _ in 0..MAX_PAGES_SCANNED {
            let page = match self.flagged_page(&q).await {
                Ok(page) => page,
                Err(e) => return unavailable(e.to_string()),
            };
            exhausted = page.len() < q.limit;
            for l in page {
                scanned_to = Some((l.verdict.event_time, l.verdict.event_id.clone()));
                if filters.accept(&l) {
                    kept.push(l);
                }
                if kept.len() > params.limit {
                    break;
                }
            }
            if kept.len() > params.limit || exhausted {
                break;
            }
            q.before = scanned_to.clone();
        }
        let next = if kept.len() > params.limit {
            kept.truncate(params.limit);
            kept.last().map(|l| encode_cursor(&l.verdict.event_time, &l.verdict.event_id))
        } else if !exhausted {
            // The scan stopped at its page limit: continue from the last verdict read.
            scanned_to.map(|(t, id)| encode_cursor(&t, &id))
        } else {
            None
        };
        let descriptions = self.rule_descriptions();
        let cases = kept.iter().map(|l| self.case(l, &descriptions)).collect();
        ApiResponse::json(200, &CasePage { cases, next })
    }

    /// `GET /v1/subscribers/{imsi}`: the profile, and the live state's last 24 hours of usage by
    /// hour against the subscriber's daily baselines (as the features compute them).
    pub(super) async fn subscriber(&self, imsi: &str) -> ApiResponse {
        if !(6..=15).contains(&imsi.len()) || !imsi.bytes().all(|b| b.is_ascii_digit()) {
            return invalid_parameter("imsi", "path parameter `imsi` must be 6–15 digits");
        }
        let loaded = match self.subscribers.load(&[imsi]).await {
            Ok(mut map) => map.remove(imsi).unwrap_or_default(),
            Err(e) => return unavailable(e.to_string()),
        };
        let state = &loaded.state;
        let now = state.last_event_time.unwrap_or(0);
        let baselines = DailyBaselines::of(loaded.profile.as_ref(), state, now);
        // Hourly buckets of the 23 hours before the last one, then the last hour from its
        // 10-minute buckets, as one.
        let mut hours: Vec<Value> = state.hours.iter().map(|b| usage_json(b.start, &b.usage)).collect();
        if let Some(first) = state.recent.first() {
            let mut last_hour = UsageCounts::default();
            for b in &state.recent {
                last_hour.add(&b.usage);
            }
            hours.push(usage_json(first.start, &last_hour));
        }
        let known = loaded.profile.is_some() || state.last_event_time.is_some();
        ApiResponse::json(
            200,
            &json!({
                "imsi": imsi,
                "known": known,
                "profile": loaded.profile,
                "last_event_time": state.last_event_time.and_then(|t| DateTime::from_timestamp(t, 0)).map(rfc3339),
                "devices_seen": state.devices.len(),
                "countries_visited": state.visited.iter().map(|c| c.country.as_str()).collect::<Vec<_>>(),
                "baseline_per_day": finite_or_null(&baselines),
                "history_days": baselines.history_days,
                "usage_by_hour": hours,
            }),
        )
    }

    /// `GET /v1/overview?since=&until=`: the flagged verdicts of a time range (default the 24
    /// hours up to the newest flagged verdict) by decision and hour, their score histogram, top reasons and rules.
    pub(super) async fn overview(&self, raw_query: &str) -> ApiResponse {
        let params = match ListParams::parse(raw_query) {
            Ok(p) => p,
            Err((parameter, detail)) => return invalid_parameter(parameter, detail),
        };
        // By default the 24 hours up to the newest flagged verdict (a quiet or replayed table
        // still shows its last day of activity), else up to now.
        let until = match params.until {
            Some(u) => u,
            None => match self.flagged_page(&VerdictQuery { limit: 1, ..VerdictQuery::default() }).await {
                Ok(newest) => {
                    newest.first().map_or_else(|| (self.clock)(), |l| l.verdict.event_time + Duration::seconds(1))
                }
                Err(e) => return unavailable(e.to_string()),
            },
        };
        let since = params.since.unwrap_or(until - Duration::hours(24));
        let mut q = VerdictQuery { since: Some(since), until: Some(until), limit: 1000, ..VerdictQuery::default() };
        let mut seen: Vec<Labelled> = Vec::new();
        let mut truncated = false;
        loop {
            let page = match self.flagged_page(&q).await {
                Ok(page) => page,
                Err(e) => return unavailable(e.to_string()),
            };
            let full = page.len() == q.limit;
            q.before = page.last().map(|l| (l.verdict.event_time, l.verdict.event_id.clone()));
            seen.extend(page);
            if seen.len() >= OVERVIEW_MAX_VERDICTS {
                truncated = full || seen.len() > OVERVIEW_MAX_VERDICTS;
                seen.truncate(OVERVIEW_MAX_VERDICTS);
                break;
            }
            if !full {
                break;
            }
        }
        let mut overview = Overview::of(&seen, since, until, truncated);
        overview.drift = self.drift.as_ref().map(DriftSummary::of);
        ApiResponse::json(200, &overview)
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn usage_json(start: i64, u: &UsageCounts) -> Value {
    json!({
        "start": DateTime::from_timestamp(start, 0).map(rfc3339),
        "events": u.events,
        "voice_min": (u.voice_secs as f64 / 60.0 * 10.0).round() / 10.0,
        "sms": u.sms_mo + u.sms_mt,
        "data_mb": (u.data_bytes as f64 / 1e6 * 10.0).round() / 10.0,
    })
}

/// The baselines with NaN (unknown) as null.
fn finite_or_null(b: &DailyBaselines) -> Value {
    let n = |v: f32| if v.is_finite() { json!((f64::from(v) * 10.0).round() / 10.0) } else { Value::Null };
    json!({"voice_min": n(b.voice_min), "sms": n(b.sms), "data_mb": n(b.data_mb)})
}

/// What `GET /v1/overview` answers.
#[derive(Debug, Serialize, PartialEq)]
pub struct Overview {
    pub since: String,
    pub until: String,
    /// Flagged verdicts read (at most [`OVERVIEW_MAX_VERDICTS`]).
    pub verdicts: usize,
    /// True when the range held more than were read (the newest were).
    pub truncated: bool,
    pub by_decision: BTreeMap<Decision, usize>,
    /// Hour (RFC 3339, UTC) → verdicts per decision.
    pub by_hour: BTreeMap<String, BTreeMap<Decision, usize>>,
    /// Verdicts per score decile: `[0, 0.1)`, …, `[0.9, 1]`.
    pub score_histogram: [usize; 10],
    /// The first reason's feature, most frequent first (at most 10).
    pub top_reasons: Vec<Counted>,
    /// Rules that matched, most frequent first (at most 10).
    pub top_rules: Vec<Counted>,
    pub decided_by_rule: usize,
    pub labelled: usize,
    pub model_versions: Vec<Counted>,
    /// Drift of the traffic behind the verdicts against the model's training data, when known.
    pub drift: Option<DriftSummary>,
}

/// The drift figures an analyst glances at: the score's PSI and the features that moved most.
#[derive(Debug, Serialize, PartialEq)]
pub struct DriftSummary {
    pub events: u64,
    pub score: Option<crate::drift::Drift>,
    /// The five features with the highest PSI.
    pub features: Vec<crate::drift::FeatureDrift>,
    /// Features per band.
    pub major: usize,
    pub moderate: usize,
}

impl DriftSummary {
    pub fn of(report: &crate::drift::DriftReport) -> DriftSummary {
        use crate::drift::Band;
        let count = |band| report.features.iter().filter(|f| f.band == band).count();
        DriftSummary {
            events: report.events,
            score: report.score.clone(),
            features: report.features.iter().take(5).cloned().collect(),
            major: count(Band::Major),
            moderate: count(Band::Moderate),
        }
    }
}

/// A name and how many verdicts it stands for.
#[derive(Debug, Serialize, PartialEq)]
pub struct Counted {
    pub name: String,
    pub verdicts: usize,
    /// What a feature measures (top reasons only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'static str>,
}

impl Overview {
    pub fn of(verdicts: &[Labelled], since: DateTime<Utc>, until: DateTime<Utc>, truncated: bool) -> Overview {
        let mut o = Overview {
            since: rfc3339(since),
            until: rfc3339(until),
            verdicts: verdicts.len(),
            truncated,
            by_decision: BTreeMap::new(),
            by_hour: BTreeMap::new(),
            score_histogram: [0; 10],
            top_reasons: Vec::new(),
            top_rules: Vec::new(),
            decided_by_rule: 0,
            labelled: 0,
            model_versions: Vec::new(),
            drift: None,
        };
        let (mut reasons, mut rules, mut models) = (HashMap::new(), HashMap::new(), HashMap::new());
        for l in verdicts {
            let v = &l.verdict;
            *o.by_decision.entry(v.decision).or_default() += 1;
            let hour = v.event_time.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0));
            let hour = hour.map(rfc3339).unwrap_or_default();
            *o.by_hour.entry(hour).or_default().entry(v.decision).or_default() += 1;
            o.score_histogram[((v.score.clamp(0.0, 1.0) * 10.0) as usize).min(9)] += 1;
            if let Some(r) = v.reasons.first() {
                *reasons.entry(r.feature.clone()).or_insert(0) += 1;
            }
            for id in &v.rules_matched {
                *rules.entry(id.clone()).or_insert(0) += 1;
            }
            o.decided_by_rule += usize::from(v.decided_by != DECIDED_BY_MODEL);
            o.labelled += usize::from(l.label.is_some());
            *models.entry(v.model_version.clone()).or_insert(0) += 1;
        }
        o.top_reasons = most_frequent(reasons, 10);
        for r in &mut o.top_reasons {
            r.description = crate::features::FEATURES.iter().find(|(n, _)| *n == r.name).map(|(_, d)| *d);
        }
        o.top_rules = most_frequent(rules, 10);
        o.model_versions = most_frequent(models, 10);
        o
    }
}

fn most_frequent(counts: HashMap<String, usize>, n: usize) -> Vec<Counted> {
    let mut all: Vec<(String, usize)> = counts.into_iter().collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.into_iter().take(n).map(|(name, verdicts)| Counted { name, verdicts, description: None }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_queue_filters_are_parsed_should_name_the_bad_one() {
        let f = CaseFilters::parse("rule=irsf-range&labelled=false&model_version=xgb%2D1&limit=5").unwrap();
        assert_eq!(
            f,
            CaseFilters { rule: Some("irsf-range".into()), model_version: Some("xgb-1".into()), labelled: Some(false) }
        );
        assert_eq!(CaseFilters::parse("labelled=maybe").unwrap_err().0, "labelled");
        assert_eq!(CaseFilters::parse("rule=").unwrap_err().0, "rule");
    }
}
