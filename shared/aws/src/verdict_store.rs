//! The verdict table in DynamoDB: one item per event_id (the last written: see `put`).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use chrono::{DateTime, Duration as TimeDelta, NaiveDate, SecondsFormat, Utc};
use futures_util::StreamExt;
use roamguard::labels::StoredLabel;
use roamguard::ports::{Labelled, PortError, VerdictQuery, VerdictStore};
use roamguard::verdict::{ChallengerOpinion, DECIDED_BY_MODEL, Decision, Reason, Verdict};

use super::dynamo::{self, Item, get_n, get_s, n, s};
use super::{Backoff, DynamoDbClient, SdkConfig, classify};

const DEPENDENCY: &str = "verdict store (dynamodb)";
/// How many days back a decision query without `since` searches.
const LOOKBACK_DAYS: i64 = 90;

const EVENT_ID: &str = "event_id";
const IMSI: &str = "imsi";
const EVENT_TIME: &str = "event_time";
const DECISION: &str = "decision";
const SCORE: &str = "score";
const REASONS: &str = "reasons";
const MODEL_VERSION: &str = "model_version";
const DEGRADED: &str = "degraded";
const ENFORCED: &str = "enforced";
const DECIDED_BY: &str = "decided_by";
const RULES_MATCHED: &str = "rules_matched";
const RULES_VERSION: &str = "rules_version";
const SCORED_AT: &str = "scored_at";
const TIME_ID: &str = "time_id";
const DECISION_DAY: &str = "decision_day";
const CHALLENGER: &str = "challenger";
const LABEL: &str = "label";
const LABEL_FRAUD: &str = "fraud";
const LABEL_FRAUD_TYPE: &str = "fraud_type";
const LABEL_NOTE: &str = "note";
const LABEL_ANALYST: &str = "analyst";
const LABELLED_AT: &str = "labelled_at";

/// Index: a subscriber's verdicts in time order.
pub const BY_SUBSCRIBER: &str = "by_subscriber";
/// Index: verdicts of one decision on one (UTC) day, in time order.
pub const BY_DECISION_DAY: &str = "by_decision_day";

/// Index partitions queried at once by a decision query.
const QUERY_CONCURRENCY: usize = 16;

/// The verdict table. Infrastructure must create the same schema (on-demand capacity):
///
/// - table key: `event_id` (S, partition key) — one item per event, the idempotency key;
/// - GSI `by_subscriber`: partition `imsi` (S), sort `time_id` (S), projection ALL;
/// - GSI `by_decision_day`: partition `decision_day` (S), sort `time_id` (S), projection ALL;
///   sparse: only REVIEW and BLOCK verdicts carry `decision_day`.
///
/// Attributes: `event_id`, `imsi`, `decision` (`ALLOW`/`REVIEW`/`BLOCK`), `model_version` (S);
/// `score` (N, the f32's shortest round-trip text); `degraded` (BOOL); `enforced` (BOOL, only
/// `false`, on shadow-mode verdicts: absent means enforced, and costs no bytes); `reasons` (S, the JSON
/// array of reasons: always read whole, never filtered on, and JSON keeps `null` values and
/// f32 contributions exact); `event_time`, `scored_at` (S, RFC 3339 UTC with a fixed nine-digit
/// fraction: lossless, so a read-back verdict equals the written one, and fixed width, so text
/// order is time order); `time_id` = `event_time` + `#` + `event_id` (unique and time-ordered:
/// ties keep a stable order); `decision_day` = `BLOCK#2026-06-01` or `REVIEW#2026-06-01`, on
/// flagged verdicts only: the index is the analysts' queue, and ALLOW (~99 % of the traffic) in
/// it would cost a write unit per event for queries nobody makes (a subscriber's ALLOW verdicts
/// are in `by_subscriber`; all verdicts by day belong to the data lake).
///
/// Projection ALL lets both queries answer from the index alone; a verdict is ~0.5 KB, so the
/// extra storage is cheap next to a second round trip per page.
///
/// An analyst's label is the map attribute `label` on the verdict's item (`fraud` BOOL;
/// `fraud_type`, `note`, `analyst` S when given; `labelled_at` S, the fixed-width time), set by
/// one UpdateItem conditional on the item existing: one write, and the 404 without a read; a
/// verdict and its label read back in one read, and the indexes (projection ALL) carry the label
/// too. The update writes the table's item and its copy in each index the verdict is in (two
/// or three write units with a short note). A verdict written again by `put` (a redelivery the
/// pipeline did not recognise as applied) replaces the whole item, label included; labels come
/// long after an event is applied, so that is rare, and the label has to be posted again.
pub struct DynamoVerdictStore {
    client: Client,
    table: String,
    backoff: Backoff,
    concurrency: usize,
    /// Seconds after its event an ALLOW verdict expires (the table's TTL on `expires_at`); None:
    /// kept.
    allow_ttl_secs: Option<i64>,
}

impl DynamoVerdictStore {
    pub fn new(config: &SdkConfig, table: impl Into<String>) -> DynamoVerdictStore {
        DynamoVerdictStore::from_client(Client::new(config), table)
    }

    pub fn from_client(client: DynamoDbClient, table: impl Into<String>) -> DynamoVerdictStore {
        DynamoVerdictStore {
            client,
            table: table.into(),
            backoff: Backoff::default(),
            concurrency: super::ALL_AT_ONCE,
            allow_ttl_secs: None,
        }
    }

    /// ALLOW verdicts get `expires_at` = their event time + `days`, which the table's TTL deletes
    /// (the verdict lake keeps every verdict; REVIEW and BLOCK, what analysts work, stay).
    pub fn with_allow_ttl_days(mut self, days: Option<u32>) -> DynamoVerdictStore {
        self.allow_ttl_secs = days.map(|d| i64::from(d) * 86_400);
        self
    }

    /// Calls in flight at once per `get_many` / `put` (default
    /// [`ALL_AT_ONCE`](super::ALL_AT_ONCE): a batch of 10,000 verdicts is one round of 100
    /// calls). Queries use at most 16.
    pub fn with_concurrency(mut self, concurrency: usize) -> DynamoVerdictStore {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Creates the table as described on [`DynamoVerdictStore`]: for emulators and tests.
    pub async fn create_table(&self) -> Result<(), PortError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| PortError::permanent(DEPENDENCY, e.to_string());
        let attr = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build()
        };
        let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
        let index = |name: &str, partition: &str| -> Result<GlobalSecondaryIndex, PortError> {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(partition, KeyType::Hash).map_err(build)?)
                .key_schema(key(TIME_ID, KeyType::Range).map_err(build)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(build)
        };
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(EVENT_ID).map_err(build)?)
            .attribute_definitions(attr(IMSI).map_err(build)?)
            .attribute_definitions(attr(TIME_ID).map_err(build)?)
            .attribute_definitions(attr(DECISION_DAY).map_err(build)?)
            .key_schema(key(EVENT_ID, KeyType::Hash).map_err(build)?)
            .global_secondary_indexes(index(BY_SUBSCRIBER, IMSI)?)
            .global_secondary_indexes(index(BY_DECISION_DAY, DECISION_DAY)?)
            .send()
            .await
            .map_err(|e| classify(DEPENDENCY, &e))?;
        Ok(())
    }

    /// Newest-first verdicts of one index partition, at most `limit`, paging as needed.
    async fn query_partition(&self, p: PartitionQuery<'_>) -> Result<Vec<Labelled>, PortError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(p.index)
                .scan_index_forward(false)
                .expression_attribute_names("#pk", p.partition_attr)
                .expression_attribute_values(":pk", s(p.partition))
                .set_exclusive_start_key(start.take());
            let mut condition = String::from("#pk = :pk");
            if p.since.is_some() || p.upper.is_some() {
                request = request.expression_attribute_names("#t", TIME_ID);
            }
            // Fixed-width times: "t#id" >= since ⇔ t >= since. A key condition takes one range
            // on the sort key and BETWEEN is inclusive: the exclusive upper bound is enforced
            // exactly below (only an item whose time_id *is* the cursor can hit it).
            match (p.since, p.upper) {
                (Some(since), Some(upper)) => {
                    condition.push_str(" AND #t BETWEEN :since AND :upper");
                    request = request
                        .expression_attribute_values(":since", s(since))
                        .expression_attribute_values(":upper", s(upper));
                }
                (Some(since), None) => {
                    condition.push_str(" AND #t >= :since");
                    request = request.expression_attribute_values(":since", s(since));
                }
                (None, Some(upper)) => {
                    condition.push_str(" AND #t < :upper");
                    request = request.expression_attribute_values(":upper", s(upper));
                }
                (None, None) => {}
            }
            request = request.key_condition_expression(condition);
            if let Some(decision) = p.decision_filter {
                // Limit counts items before the filter: read bigger pages.
                request = request
                    .filter_expression("#d = :d")
                    .expression_attribute_names("#d", DECISION)
                    .expression_attribute_values(":d", s(decision.as_str()))
                    .limit(1000);
            } else {
                request = request.limit(i32::try_from(p.limit - out.len()).unwrap_or(i32::MAX).min(1000));
            }
            let page = request.send().await.map_err(|e| classify(DEPENDENCY, &e))?;
            for item in page.items.unwrap_or_default() {
                if p.upper.is_some_and(|upper| get_s(&item, TIME_ID).is_none_or(|t| t >= upper)) {
                    continue;
                }
                out.push(Labelled { verdict: from_item(&item)?, label: label_from_item(&item)? });
            }
            start = page.last_evaluated_key.filter(|k| !k.is_empty());
            if out.len() >= p.limit || start.is_none() {
                out.truncate(p.limit);
                return Ok(out);
            }
        }
    }
}

impl DynamoVerdictStore {
    /// By subscriber: the `by_subscriber` index (time range in the key condition, decision as a
    /// filter). Otherwise: the `by_decision_day` index, day by day from the newest (8 days in
    /// parallel), for the requested decision or all three, until `limit` verdicts are found or
    /// `since` (default: 90 days back from `until`, the cursor, or now) is passed. `before`
    /// (the last verdict of the previous page) pages through either.
    async fn query_items(&self, q: &VerdictQuery) -> Result<Vec<Labelled>, PortError> {
        if q.limit == 0 || matches!((q.since, q.until), (Some(s), Some(u)) if s >= u) {
            return Ok(Vec::new());
        }
        let since = q.since.as_ref().map(fmt_time);
        // "t#id" < until ⇔ t < until (fixed width); "t#id" < cursor ⇔ (t, id) comes after the
        // cursor in newest-first order. Both bound time_id from above: the lower one wins.
        let cursor = q.before.as_ref().map(|(t, id)| format!("{}#{id}", fmt_time(t)));
        let upper = match (q.until.as_ref().map(fmt_time), cursor) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(imsi) = &q.imsi {
            return self
                .query_partition(PartitionQuery {
                    index: BY_SUBSCRIBER,
                    partition_attr: IMSI,
                    partition: imsi,
                    since: since.as_deref(),
                    upper: upper.as_deref(),
                    decision_filter: q.decision,
                    limit: q.limit,
                })
                .await;
        }

        let decisions: Vec<Decision> = match q.decision {
            Some(Decision::Allow) => {
                return Err(PortError::permanent(
                    DEPENDENCY,
                    "ALLOW verdicts are listed per subscriber only (the day index holds REVIEW and BLOCK)",
                ));
            }
            Some(d) => vec![d],
            None => vec![Decision::Review, Decision::Block],
        };
        // Events may be stamped slightly ahead of our clock: start a day later when open-ended.
        let last_day = match (q.until.map(|u| u - TimeDelta::nanoseconds(1)), q.before.as_ref().map(|b| b.0)) {
            (Some(u), Some(b)) => u.min(b).date_naive(),
            (Some(t), None) | (None, Some(t)) => t.date_naive(),
            (None, None) => (Utc::now() + TimeDelta::days(1)).date_naive(),
        };
        let first_day = match q.since {
            Some(s) => s.date_naive(),
            None => last_day - TimeDelta::days(LOOKBACK_DAYS),
        };
        let days: Vec<NaiveDate> = last_day.iter_days().rev().take_while(|d| *d >= first_day).collect();
        let mut found: Vec<Labelled> = Vec::new();
        for window in days.chunks(8) {
            let partitions: Vec<String> =
                window.iter().flat_map(|&day| decisions.iter().map(move |&d| decision_partition(d, day))).collect();
            let results: Vec<Result<Vec<Labelled>, PortError>> = futures_util::stream::iter(0..partitions.len())
                .map(|i| {
                    self.query_partition(PartitionQuery {
                        index: BY_DECISION_DAY,
                        partition_attr: DECISION_DAY,
                        partition: &partitions[i],
                        since: since.as_deref(),
                        upper: upper.as_deref(),
                        decision_filter: None,
                        limit: q.limit,
                    })
                })
                .buffer_unordered(self.concurrency.min(QUERY_CONCURRENCY))
                .collect()
                .await;
            for r in results {
                found.extend(r?);
            }
            // Every later window is older than everything found so far.
            if found.len() >= q.limit {
                break;
            }
        }
        sort_newest_first(&mut found);
        found.truncate(q.limit);
        Ok(found)
    }

    /// BatchGetItem of the verdict items of these ids (each once), eventually consistent.
    async fn get_items(&self, event_ids: &[&str]) -> Result<Vec<Item>, PortError> {
        let mut unique: Vec<&str> = event_ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let keys = unique.iter().map(|id| HashMap::from([(EVENT_ID.to_string(), s(*id))])).collect();
        dynamo::batch_get(&self.client, &self.table, keys, false, self.backoff, self.concurrency, DEPENDENCY).await
    }
}

#[derive(Clone, Copy)]
struct PartitionQuery<'a> {
    index: &'static str,
    partition_attr: &'static str,
    partition: &'a str,
    /// Inclusive lower bound on `time_id`.
    since: Option<&'a str>,
    /// Exclusive upper bound on `time_id`.
    upper: Option<&'a str>,
    decision_filter: Option<Decision>,
    limit: usize,
}

/// Lossless, fixed-width RFC 3339 (as the SQLite table stores it).
fn fmt_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

fn decision_partition(decision: Decision, day: NaiveDate) -> String {
    format!("{}#{}", decision.as_str(), day.format("%Y-%m-%d"))
}

/// The `by_decision_day` key of a flagged verdict; ALLOW verdicts are not in that index.
fn decision_day(v: &Verdict) -> Option<String> {
    (v.decision != Decision::Allow).then(|| decision_partition(v.decision, v.event_time.date_naive()))
}

fn to_item(v: &Verdict, allow_ttl_secs: Option<i64>) -> Result<Item, PortError> {
    let reasons = serde_json::to_string(&v.reasons).map_err(|e| PortError::permanent(DEPENDENCY, e.to_string()))?;
    let event_time = fmt_time(&v.event_time);
    let mut item = HashMap::from([
        (EVENT_ID.to_string(), s(v.event_id.as_str())),
        (IMSI.to_string(), s(v.imsi.as_str())),
        (TIME_ID.to_string(), s(format!("{event_time}#{}", v.event_id))),
        (EVENT_TIME.to_string(), s(event_time)),
        (DECISION.to_string(), s(v.decision.as_str())),
        (SCORE.to_string(), n(v.score)),
        (REASONS.to_string(), s(reasons)),
        (MODEL_VERSION.to_string(), s(v.model_version.as_str())),
        (DEGRADED.to_string(), AttributeValue::Bool(v.degraded)),
        (SCORED_AT.to_string(), s(fmt_time(&v.scored_at))),
    ]);
    if let Some(day) = decision_day(v) {
        item.insert(DECISION_DAY.to_string(), s(day));
    }
    if let Some(ttl) = allow_ttl_secs.filter(|_| v.decision == Decision::Allow) {
        item.insert(crate::EXPIRES_AT.to_string(), n(v.event_time.timestamp() + ttl));
    }
    // Written only when they say something: most verdicts are the model's, enforced, ruleless.
    if !v.enforced {
        item.insert(ENFORCED.to_string(), AttributeValue::Bool(false));
    }
    if v.decided_by != DECIDED_BY_MODEL {
        item.insert(DECIDED_BY.to_string(), s(v.decided_by.as_str()));
    }
    if !v.rules_matched.is_empty() {
        let ids = v.rules_matched.iter().map(|id| s(id.as_str())).collect();
        item.insert(RULES_MATCHED.to_string(), AttributeValue::L(ids));
    }
    if let Some(version) = &v.rules_version {
        item.insert(RULES_VERSION.to_string(), s(version.as_str()));
    }
    if let Some(c) = &v.challenger {
        let opinion = HashMap::from([
            (MODEL_VERSION.to_string(), s(c.model_version.as_str())),
            (SCORE.to_string(), n(c.score)),
            (DECISION.to_string(), s(c.decision.as_str())),
        ]);
        item.insert(CHALLENGER.to_string(), AttributeValue::M(opinion));
    }
    Ok(item)
}

fn from_item(item: &Item) -> Result<Verdict, PortError> {
    let event_id = get_s(item, EVENT_ID).unwrap_or("?");
    let bad = |what: &str| PortError::permanent(DEPENDENCY, format!("verdict {event_id}: missing or invalid `{what}`"));
    let text = |name: &'static str| get_s(item, name).ok_or_else(|| bad(name));
    let time = |name: &'static str| {
        DateTime::parse_from_rfc3339(text(name)?).map(|t| t.with_timezone(&Utc)).map_err(|_| bad(name))
    };
    let reasons: Vec<Reason> = serde_json::from_str(text(REASONS)?).map_err(|_| bad(REASONS))?;
    Ok(Verdict {
        event_id: text(EVENT_ID)?.to_string(),
        imsi: text(IMSI)?.to_string(),
        event_time: time(EVENT_TIME)?,
        decision: Decision::parse(text(DECISION)?).ok_or_else(|| bad(DECISION))?,
        score: get_n::<f32>(item, SCORE).ok_or_else(|| bad(SCORE))?,
        reasons,
        model_version: text(MODEL_VERSION)?.to_string(),
        degraded: match item.get(DEGRADED) {
            Some(AttributeValue::Bool(b)) => *b,
            _ => return Err(bad(DEGRADED)),
        },
        enforced: match item.get(ENFORCED) {
            None => true,
            Some(AttributeValue::Bool(b)) => *b,
            Some(_) => return Err(bad(ENFORCED)),
        },
        scored_at: time(SCORED_AT)?,
        decided_by: get_s(item, DECIDED_BY).unwrap_or(DECIDED_BY_MODEL).to_string(),
        rules_matched: match item.get(RULES_MATCHED) {
            None => Vec::new(),
            Some(AttributeValue::L(ids)) => {
                ids.iter().map(|id| id.as_s().cloned().map_err(|_| bad(RULES_MATCHED))).collect::<Result<_, _>>()?
            }
            Some(_) => return Err(bad(RULES_MATCHED)),
        },
        rules_version: get_s(item, RULES_VERSION).map(str::to_string),
        challenger: match item.get(CHALLENGER) {
            None => None,
            Some(AttributeValue::M(c)) => Some(ChallengerOpinion {
                model_version: get_s(c, MODEL_VERSION).ok_or_else(|| bad(CHALLENGER))?.to_string(),
                score: get_n::<f32>(c, SCORE).ok_or_else(|| bad(CHALLENGER))?,
                decision: get_s(c, DECISION).and_then(Decision::parse).ok_or_else(|| bad(CHALLENGER))?,
            }),
            Some(_) => return Err(bad(CHALLENGER)),
        },
    })
}

/// The `label` map of a stored label.
fn label_attribute(label: &StoredLabel) -> AttributeValue {
    let mut map = HashMap::from([
        (LABEL_FRAUD.to_string(), AttributeValue::Bool(label.fraud)),
        (LABELLED_AT.to_string(), s(fmt_time(&label.labelled_at))),
    ]);
    for (name, value) in
        [(LABEL_FRAUD_TYPE, &label.fraud_type), (LABEL_NOTE, &label.note), (LABEL_ANALYST, &label.analyst)]
    {
        if let Some(text) = value {
            map.insert(name.to_string(), s(text.as_str()));
        }
    }
    AttributeValue::M(map)
}

/// The label of a verdict item; None while unlabelled.
fn label_from_item(item: &Item) -> Result<Option<StoredLabel>, PortError> {
    let event_id = get_s(item, EVENT_ID).unwrap_or("?");
    let bad =
        |what: &str| PortError::permanent(DEPENDENCY, format!("verdict {event_id}: missing or invalid label `{what}`"));
    let map = match item.get(LABEL) {
        None => return Ok(None),
        Some(AttributeValue::M(map)) => map,
        Some(_) => return Err(bad(LABEL)),
    };
    let fraud = match map.get(LABEL_FRAUD) {
        Some(AttributeValue::Bool(b)) => *b,
        _ => return Err(bad(LABEL_FRAUD)),
    };
    let labelled_at = get_s(map, LABELLED_AT)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad(LABELLED_AT))?;
    let text = |name: &'static str| match map.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(t)) => Ok(Some(t.clone())),
        Some(_) => Err(bad(name)),
    };
    Ok(Some(StoredLabel {
        fraud,
        fraud_type: text(LABEL_FRAUD_TYPE)?,
        note: text(LABEL_NOTE)?,
        analyst: text(LABEL_ANALYST)?,
        labelled_at,
    }))
}

/// Items a Scan page evaluates (DynamoDB stops at 1 MB anyway: about 2,500 verdicts).
const SCAN_PAGE_ITEMS: i32 = 1_000;

impl DynamoVerdictStore {
    /// Every labelled verdict's label with its event_id, ordered by event_id (the export behind
    /// `roamguard labels --table`): a Scan of the table, filtered on `attribute_exists(label)`
    /// and projected on the id and the label, page by page. A Scan reads (and bills) every item:
    /// about half a read unit per 4 KB, some $0.13 for ten million verdicts on demand.
    pub async fn labelled(&self) -> Result<Vec<(String, StoredLabel)>, PortError> {
        let mut labels = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("attribute_exists(#label)")
                .projection_expression("#id, #label")
                .limit(SCAN_PAGE_ITEMS)
                .expression_attribute_names("#label", LABEL)
                .expression_attribute_names("#id", EVENT_ID)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| classify(DEPENDENCY, &e))?;
            for item in page.items() {
                let id = get_s(item, EVENT_ID)
                    .ok_or_else(|| PortError::permanent(DEPENDENCY, "a verdict without event_id"))?;
                if let Some(label) = label_from_item(item)? {
                    labels.push((id.to_string(), label));
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(labels)
    }
}

/// Newest first, then event_id descending (the embedded stores' order).
fn sort_newest_first(verdicts: &mut [Labelled]) {
    verdicts.sort_by(|a, b| {
        let (a, b) = (&a.verdict, &b.verdict);
        b.event_time.cmp(&a.event_time).then_with(|| b.event_id.cmp(&a.event_id))
    });
}

#[async_trait]
impl VerdictStore for DynamoVerdictStore {
    /// BatchGetItem, eventually consistent: a verdict written a moment ago and missed here makes
    /// the pipeline score its event again; the live state knows the event as applied, so usage
    /// is not counted twice, and the verdict written then replaces the first.
    async fn get_many(&self, event_ids: &[&str]) -> Result<HashMap<String, Verdict>, PortError> {
        let items = self.get_items(event_ids).await?;
        items.iter().map(|item| from_item(item).map(|v| (v.event_id.clone(), v))).collect()
    }

    /// The same BatchGetItem as `get_many`: the label is an attribute of the verdict's item.
    async fn get_labelled(&self, event_ids: &[&str]) -> Result<HashMap<String, Labelled>, PortError> {
        let items = self.get_items(event_ids).await?;
        items
            .iter()
            .map(|item| {
                let verdict = from_item(item)?;
                Ok((verdict.event_id.clone(), Labelled { verdict, label: label_from_item(item)? }))
            })
            .collect()
    }

    /// One UpdateItem: `SET label = :label` if the verdict's item exists (the whole map is
    /// replaced: the last label wins); a failed condition is "no verdict", nothing written.
    async fn put_label(&self, event_id: &str, label: &StoredLabel) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(EVENT_ID, s(event_id))
            .update_expression("SET #label = :label")
            .condition_expression("attribute_exists(#id)")
            .expression_attribute_names("#label", LABEL)
            .expression_attribute_names("#id", EVENT_ID)
            .expression_attribute_values(":label", label_attribute(label))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(classify(DEPENDENCY, &e)),
        }
    }

    /// BatchWriteItem, 25 verdicts a call, all calls at once: one write unit per verdict (a
    /// conditional put in TransactWriteItems costs two, BatchWriteItem cannot carry the condition).
    /// So the table keeps the last verdict written for an event_id, not the first. The pipeline
    /// writes only verdicts of events it has not applied, so a rewrite is the same event scored
    /// again on the same state — a redelivery after its state failed to save, the same verdict
    /// but its `scored_at` — or two writers scoring one event at once. An event_id listed twice
    /// is written once (the first).
    async fn put(&self, verdicts: &[Verdict]) -> Result<Vec<Verdict>, PortError> {
        let mut seen = std::collections::HashSet::with_capacity(verdicts.len());
        let items = verdicts
            .iter()
            .filter(|v| seen.insert(v.event_id.as_str()))
            .map(|v| to_item(v, self.allow_ttl_secs))
            .collect::<Result<Vec<Item>, _>>()?;
        dynamo::batch_put(&self.client, &self.table, items, self.backoff, self.concurrency, DEPENDENCY, |_| {}).await?;
        let first: HashMap<&str, &Verdict> = verdicts.iter().rev().map(|v| (v.event_id.as_str(), v)).collect();
        Ok(verdicts.iter().map(|v| first[v.event_id.as_str()].clone()).collect())
    }

    async fn query(&self, q: &VerdictQuery) -> Result<Vec<Verdict>, PortError> {
        Ok(self.query_items(q).await?.into_iter().map(|l| l.verdict).collect())
    }

    /// The same queries as `query`: the indexes project the `label` attribute too.
    async fn query_labelled(&self, q: &VerdictQuery) -> Result<Vec<Labelled>, PortError> {
        self.query_items(q).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn verdict() -> Verdict {
        Verdict {
            event_id: "e-1".into(),
            imsi: "208011234567890".into(),
            event_time: Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap() + TimeDelta::nanoseconds(123),
            decision: Decision::Review,
            score: 0.123_456_79,
            reasons: vec![Reason { feature: "duration_s".into(), value: None, contribution: 0.1 }],
            model_version: "m".into(),
            degraded: true,
            enforced: false,
            scored_at: Utc.with_ymd_and_hms(2026, 6, 2, 0, 0, 0).unwrap(),
            decided_by: "rule:irsf-range".into(),
            rules_matched: vec!["irsf-range".into(), "night-data-spike".into()],
            rules_version: Some("3HL4kqtJlcpXroDTDmJ".into()),
            challenger: Some(ChallengerOpinion {
                model_version: "challenger-2".into(),
                score: 0.031_25,
                decision: Decision::Allow,
            }),
        }
    }

    #[test]
    fn when_allow_verdicts_expire_should_only_allow_items_carry_the_ttl() {
        let mut v = verdict();
        for decision in Decision::ALL {
            v.decision = decision;
            let item = to_item(&v, Some(7 * 86_400)).unwrap();
            let expires = get_n::<i64>(&item, crate::EXPIRES_AT);
            let expected = (decision == Decision::Allow).then(|| v.event_time.timestamp() + 7 * 86_400);
            assert_eq!(expires, expected, "{decision:?}");
            assert_eq!(from_item(&item).unwrap(), v, "the TTL is not part of the verdict");
        }
        assert_eq!(get_n::<i64>(&to_item(&v, None).unwrap(), crate::EXPIRES_AT), None);
    }

    #[test]
    fn when_converting_a_verdict_to_an_item_and_back_should_be_equal() {
        let v = verdict();
        let item = to_item(&v, None).unwrap();
        assert_eq!(get_s(&item, TIME_ID), Some("2026-06-01T12:00:00.000000123Z#e-1"));
        assert_eq!(get_s(&item, DECISION_DAY), Some("REVIEW#2026-06-01"));
        assert_eq!(from_item(&item).unwrap(), v);
    }

    /// The size the cost model (the demo's estimate) gives a verdict is the item's, as DynamoDB
    /// counts it.
    #[test]
    fn when_a_verdict_item_is_built_should_the_cost_model_size_it_exactly() {
        fn size(item: &Item) -> usize {
            item.iter()
                .map(|(name, value)| match value {
                    AttributeValue::S(t) => roamguard::cost::string_attribute(name, t),
                    AttributeValue::N(t) => roamguard::cost::number_attribute(name, t),
                    AttributeValue::Bool(_) => name.len() + 1,
                    // DynamoDB: a list is 3 bytes, plus 1 byte and the size of each element.
                    AttributeValue::L(ids) => {
                        name.len() + 3 + ids.iter().map(|id| 1 + id.as_s().map_or(0, String::len)).sum::<usize>()
                    }
                    // A map: 3 bytes, plus 1 byte per entry and the entry's own size.
                    AttributeValue::M(entries) => name.len() + 3 + entries.len() + size(entries),
                    other => panic!("unexpected attribute {other:?}"),
                })
                .sum()
        }
        for (decision, challenger) in Decision::ALL.into_iter().zip([true, false, true]) {
            let mut v = verdict();
            v.decision = decision;
            if decision == Decision::Allow {
                v.reasons.clear();
            }
            if !challenger {
                v.challenger = None;
            }
            assert_eq!(roamguard::cost::verdict_item_bytes(&v), size(&to_item(&v, None).unwrap()), "{decision:?}");
        }
    }

    #[test]
    fn when_a_label_is_converted_to_an_attribute_and_back_should_be_equal() {
        let full = StoredLabel {
            fraud: true,
            fraud_type: Some("irsf".into()),
            note: Some("called back".into()),
            analyst: Some("ana".into()),
            labelled_at: Utc.with_ymd_and_hms(2026, 6, 2, 9, 0, 0).unwrap() + TimeDelta::nanoseconds(5),
        };
        let bare = StoredLabel { fraud: false, fraud_type: None, note: None, analyst: None, ..full };
        let mut item = to_item(&verdict(), None).unwrap();
        assert_eq!(label_from_item(&item).unwrap(), None);
        for label in [full, bare] {
            item.insert(LABEL.to_string(), label_attribute(&label));
            assert_eq!(label_from_item(&item).unwrap(), Some(label));
            assert_eq!(from_item(&item).unwrap(), verdict());
        }
        item.insert(LABEL.to_string(), s("yes"));
        assert!(label_from_item(&item).is_err());
    }

    #[test]
    fn when_decision_is_allow_should_leave_the_verdict_out_of_the_day_index() {
        let mut v = verdict();
        v.decision = Decision::Allow;
        let item = to_item(&v, None).unwrap();
        assert!(!item.contains_key(DECISION_DAY));
        assert_eq!(from_item(&item).unwrap(), v);
    }
}
