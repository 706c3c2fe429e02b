//! Profiles and live state in one DynamoDB table, one item per subscriber.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TransactWriteItem, Update,
};
use roamguard::ports::{PortError, StateUpdate, Subscriber, SubscriberStore};
use roamguard::profile::SubscriberProfile;
use roamguard::state::LiveState;

use super::dynamo::{self, Item, TxOutcome, get_n, get_s, n, s};
use super::{Backoff, DynamoDbClient, SdkConfig, classify, redact};

const DEPENDENCY: &str = "subscriber store (dynamodb)";
const IMSI: &str = "imsi";
const STATE: &str = "state";
const STATE_VERSION: &str = "state_version";
/// Present on every profile item: tells a subscriber with a profile from a state-only item.
const PROFILE_MARKER: &str = "home_country";
/// The table's TTL attribute (epoch seconds), set on state-only items only.
pub const EXPIRES_AT: &str = "expires_at";
/// A state-only item outlives its last save by this long: twice the 24 h feature window, so
/// late events still find their state, after which DynamoDB's TTL deletes it.
const STATE_ONLY_TTL_SECS: u64 = 48 * 3600;

/// The subscriber table: partition key `imsi` (S), no sort key, no index.
///
/// | attribute | type | written by |
/// |---|---|---|
/// | `imsi` | S | [`load_profiles`] / the pipeline |
/// | `home_country`, `plan` | S | [`load_profiles`] (the SubscriberProfile fields, as in its JSON) |
/// | `tenure_days`, `avg_daily_voice_min`, `avg_daily_sms`, `avg_daily_data_mb` | N | [`load_profiles`] |
/// | `usual_countries`, `known_imeis` | L of S | [`load_profiles`] |
/// | `state` | S | the pipeline: the JSON of [`LiveState`] |
/// | `state_version` | N | the pipeline: `LiveState::version`, for optimistic concurrency |
/// | `expires_at` | N | the pipeline, on state-only items: the TTL attribute (epoch seconds) |
///
/// `state` is a JSON *string* rather than a map or binary: the pipeline always reads and writes
/// it whole (no attribute-level updates), a string costs the same bytes as its binary form,
/// stays readable in the console, and needs no conversion code of its own. It stays far below
/// the 400 KB item limit: [`LiveState`] is capped (512 called numbers, 512 applied event ids)
/// and prunes everything older than 24 h on every update, so old window data expires by
/// pruning.
///
/// IMSIs without a profile item get a state-only item on their first save (unknown
/// subscribers still have live state). Those items carry `expires_at`, the table's TTL
/// attribute, 48 h after their last save: unknown IMSIs (test SIMs, SIM-box churn, typos
/// upstream) would otherwise pile up forever. A profile item never has it: saves of a known
/// subscriber remove it, and a state-only save is conditional on the item having no profile.
pub struct DynamoSubscriberStore {
    client: Client,
    table: String,
    backoff: Backoff,
    concurrency: usize,
}

impl DynamoSubscriberStore {
    pub fn new(config: &SdkConfig, table: impl Into<String>) -> DynamoSubscriberStore {
        DynamoSubscriberStore::from_client(Client::new(config), table)
    }

    pub fn from_client(client: DynamoDbClient, table: impl Into<String>) -> DynamoSubscriberStore {
        DynamoSubscriberStore {
            client,
            table: table.into(),
            backoff: Backoff::default(),
            concurrency: super::ALL_AT_ONCE,
        }
    }

    /// Calls in flight at once per `load` / `save` (default [`ALL_AT_ONCE`](super::ALL_AT_ONCE):
    /// a Lambda batch of 10,000 records loads in one round of 100 calls of 100 keys).
    pub fn with_concurrency(mut self, concurrency: usize) -> DynamoSubscriberStore {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Creates the table (on-demand capacity) as described on [`DynamoSubscriberStore`]: for
    /// emulators and tests; infrastructure templates create it in AWS.
    pub async fn create_table(&self) -> Result<(), PortError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| PortError::permanent(DEPENDENCY, e.to_string());
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(IMSI)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)?,
            )
            .key_schema(
                KeySchemaElement::builder().attribute_name(IMSI).key_type(KeyType::Hash).build().map_err(build)?,
            )
            .send()
            .await
            .map_err(|e| classify(DEPENDENCY, &e))?;
        Ok(())
    }

    /// The conditional Update of one subscriber's state, for a transaction, with its estimated
    /// size in bytes.
    fn update_action(&self, update: StateUpdate) -> Result<(TransactWriteItem, usize), PortError> {
        let StateUpdate { imsi, expected_version, mut state, has_profile } = update;
        // The pipeline bumps the version on every applied event; never write one that a
        // concurrent reader could mistake for the version it loaded.
        state.version = state.version.max(expected_version + 1);
        let json = serde_json::to_string(&state).map_err(|e| PortError::permanent(DEPENDENCY, e.to_string()))?;
        let size = imsi.len() + json.len() + 64;
        // Optimistic concurrency: the API Lambda (or an overlapping Kinesis retry) may update
        // the same subscriber between our load and this write. The condition makes the write
        // succeed only if the stored version is still the one we loaded (absent = 0, a
        // subscriber never saved before); otherwise the newer state would be overwritten and
        // its events lost from the windows. A conflict fails the batch with a transient error:
        // the retry re-reads the newer state, and its applied-event set keeps the events that
        // were already folded in from counting twice.
        let version_condition = if expected_version == 0 {
            "(attribute_not_exists(#version) OR #version = :expected)"
        } else {
            "#version = :expected"
        };
        let mut request = Update::builder()
            .table_name(&self.table)
            .key(IMSI, s(imsi.as_str()))
            .expression_attribute_names("#state", STATE)
            .expression_attribute_names("#version", STATE_VERSION)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":state", s(json))
            .expression_attribute_values(":version", n(state.version))
            .expression_attribute_values(":expected", n(expected_version));
        request = if has_profile {
            request
                .update_expression("SET #state = :state, #version = :version REMOVE #expires")
                .condition_expression(version_condition)
        } else {
            // A profile loaded since our read fails the condition like a version conflict: the
            // retry re-reads the subscriber with its profile, and no TTL lands on a profile.
            let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
                + STATE_ONLY_TTL_SECS;
            request
                .update_expression("SET #state = :state, #version = :version, #expires = :expires")
                .condition_expression(format!("{version_condition} AND attribute_not_exists(#profile)"))
                .expression_attribute_names("#profile", PROFILE_MARKER)
                .expression_attribute_values(":expires", n(expires))
        };
        let update = request.build().map_err(|e| PortError::permanent(DEPENDENCY, e.to_string()))?;
        Ok((TransactWriteItem::builder().update(update).build(), size))
    }
}

fn key(imsi: &str) -> Item {
    HashMap::from([(IMSI.to_string(), s(imsi))])
}

fn parse_item(item: &Item) -> Result<(String, Subscriber), PortError> {
    let imsi = get_s(item, IMSI).ok_or_else(|| PortError::permanent(DEPENDENCY, "item without an `imsi` string"))?;
    let corrupt = |what: &str, e: String| {
        PortError::permanent(DEPENDENCY, format!("subscriber {}: unreadable {what}: {e}", redact(imsi)))
    };
    let profile = if item.contains_key(PROFILE_MARKER) {
        let json =
            dynamo::item_to_json(item, &[STATE, STATE_VERSION, EXPIRES_AT]).map_err(|e| corrupt("profile", e))?;
        Some(serde_json::from_value::<SubscriberProfile>(json).map_err(|e| corrupt("profile", e.to_string()))?)
    } else {
        None
    };
    let mut state = match get_s(item, STATE) {
        Some(json) => serde_json::from_str::<LiveState>(json).map_err(|e| corrupt("live state", e.to_string()))?,
        None => LiveState::default(),
    };
    // The attribute is what the write condition checks, so it is the authority.
    state.version = get_n(item, STATE_VERSION).unwrap_or(0);
    Ok((imsi.to_string(), Subscriber { profile, state }))
}

#[async_trait]
impl SubscriberStore for DynamoSubscriberStore {
    /// BatchGetItem with strongly consistent reads: an eventually consistent read could return
    /// a state older than the last save and turn every such batch into a version conflict.
    async fn load(&self, imsis: &[&str]) -> Result<HashMap<String, Subscriber>, PortError> {
        let mut unique: Vec<&str> = imsis.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let keys = unique.iter().map(|imsi| key(imsi)).collect();
        let items =
            dynamo::batch_get(&self.client, &self.table, keys, true, self.backoff, self.concurrency, DEPENDENCY)
                .await?;
        let mut out: HashMap<String, Subscriber> =
            unique.iter().map(|imsi| (imsi.to_string(), Subscriber::default())).collect();
        for item in &items {
            let (imsi, subscriber) = parse_item(item)?;
            out.insert(imsi, subscriber);
        }
        Ok(out)
    }

    /// The conditional updates (one per subscriber) in TransactWriteItems calls of up to 100,
    /// all calls at once: one round trip for a whole Lambda batch. BatchWriteItem cannot carry
    /// the version condition. Not atomic across subscribers: a transaction with a conflicting
    /// subscriber is cancelled whole, and its other subscribers are sent again at once without
    /// it (see `dynamo::transact_write`); the retried batch finds their events already applied.
    /// A subscriber listed twice is saved once (the first update); the other counts as a
    /// conflict.
    async fn save(&self, updates: Vec<StateUpdate>) -> Result<(), PortError> {
        let total = updates.len();
        let mut seen: HashSet<String> = HashSet::with_capacity(total);
        let mut subscribers: Vec<(String, u64)> = Vec::with_capacity(total);
        let mut actions = Vec::with_capacity(total);
        let mut conflicts = 0;
        for update in updates {
            if !seen.insert(update.imsi.clone()) {
                conflicts += 1;
                continue;
            }
            subscribers.push((update.imsi.clone(), update.expected_version));
            actions.push(self.update_action(update)?);
        }
        let outcomes = dynamo::transact_write(&self.client, actions, self.backoff, self.concurrency, DEPENDENCY).await;
        let mut first_error = None;
        for ((imsi, expected_version), outcome) in subscribers.iter().zip(outcomes) {
            match outcome {
                TxOutcome::Written => {}
                TxOutcome::ConditionFailed(_) => {
                    tracing::info!(subscriber = %redact(imsi), expected_version, "live state changed concurrently");
                    conflicts += 1;
                }
                TxOutcome::Failed(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if conflicts > 0 {
            return Err(PortError::transient(
                DEPENDENCY,
                format!("live state of {conflicts} of {total} subscribers changed concurrently (version conflict)"),
            ));
        }
        Ok(())
    }
}

/// Bulk-loads profiles with BatchWriteItem (25 items a call, 4 calls in flight, unprocessed
/// items retried with backoff); `progress` gets the number of profiles written so far. A
/// profile listed twice is written once (the last one wins).
///
/// A put replaces the whole item, live state included: this is the initial load, run before
/// scoring starts. Re-loading a live subscriber resets its state, and a pipeline save of the
/// old state then fails its version check and re-reads.
pub async fn load_profiles(
    client: &DynamoDbClient,
    table: &str,
    profiles: &[SubscriberProfile],
    progress: impl FnMut(usize),
) -> Result<usize, PortError> {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(profiles.len());
    for (i, p) in profiles.iter().enumerate() {
        last.insert(p.imsi.as_str(), i);
    }
    let mut items = Vec::with_capacity(last.len());
    for (i, p) in profiles.iter().enumerate() {
        if last.get(p.imsi.as_str()) != Some(&i) {
            continue;
        }
        match serde_json::to_value(p) {
            Ok(serde_json::Value::Object(map)) => {
                items.push(map.into_iter().map(|(k, v)| (k, dynamo::to_attr(v))).collect::<Item>());
            }
            Ok(_) => return Err(PortError::permanent(DEPENDENCY, "a profile did not serialize to a JSON object")),
            Err(e) => return Err(PortError::permanent(DEPENDENCY, e.to_string())),
        }
    }
    // A bulk load is throughput-bound: allow more patience than the scoring path while an
    // on-demand table scales up.
    let backoff = Backoff { max_attempts: 10, ..Backoff::default() };
    dynamo::batch_put(client, table, items, backoff, 4, DEPENDENCY, progress).await
}
