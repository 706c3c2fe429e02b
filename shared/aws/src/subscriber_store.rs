//! Profiles and live state in DynamoDB: the operator's profiles in one table (written by
//! [`load_profiles`], only read here) and the pipeline's live states in another, one item each
//! per subscriber.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use futures_util::future::join;
use roamguard::ports::{PortError, StateUpdate, Subscriber, SubscriberStore};
use roamguard::profile::SubscriberProfile;
use roamguard::state::{LiveState, codec};

use super::dynamo::{self, Item, get_n, get_s, n, s};
use super::{Backoff, DynamoDbClient, SdkConfig, classify, redact};

const DEPENDENCY: &str = "subscriber store (dynamodb)";
const IMSI: &str = "imsi";
const STATE: &str = "state";
const STATE_VERSION: &str = "state_version";
/// Present on every profile item (a required profile field).
const PROFILE_MARKER: &str = "home_country";
/// The state table's TTL attribute (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";
/// A state outlives its subscriber's last event by this long, after which DynamoDB's TTL deletes
/// it: twice the 24 h windows for an unknown IMSI (test SIMs, SIM-box churn, typos upstream), a
/// month for a subscriber with a profile (the countries and devices it has been seen with).
const UNKNOWN_STATE_TTL_SECS: u64 = 48 * 3600;
const KNOWN_STATE_TTL_SECS: u64 = 30 * 86_400;
/// How long a profile read is reused: a reloaded profile takes effect within this.
pub const PROFILE_CACHE_TTL: Duration = Duration::from_secs(300);
/// Profiles cached per execution environment (~300 bytes each).
const PROFILE_CACHE_CAPACITY: usize = 100_000;

/// Two tables:
///
/// - profiles: partition key `imsi` (S); the SubscriberProfile fields as attributes
///   (`home_country`, `plan` S; `tenure_days`, `avg_daily_*` N; `usual_countries`, `known_imeis`
///   L of S). Written by [`load_profiles`]; read eventually consistent and cached for
///   [`PROFILE_CACHE_TTL`]: profiles change rarely, and a read every batch would cost a read unit
///   per event. Items of earlier versions also hold `state` (S, JSON) and `state_version`: such a
///   state is migrated on read and written to the state table.
/// - states: partition key `imsi` (S); `state` (B, [`codec`]'s binary form, ~0.3–2 KB),
///   `state_version` (N, for optimistic concurrency), `expires_at` (N, the TTL attribute). Read
///   strongly consistent: an older state would count events twice or lose them.
///
/// Writes. score-stream is the only batch writer of a subscriber's state — Kinesis delivers a
/// partition key's records to one processor, in order — so a store built
/// [`single_writer`](Self::single_writer) saves with BatchWriteItem: 25 states a call, one write
/// unit per KB (a TransactWriteItems write costs two, the price of its condition). Otherwise
/// (score-api) each save is a PutItem conditional on the version loaded, so the API never
/// overwrites a newer state; a conflict is a transient error and the request is retried. What
/// the single writer gives up: an API-scored event that lands between a stream batch's read and
/// write of the same subscriber is missing from that subscriber's windows (its verdict is kept).
pub struct DynamoSubscriberStore {
    client: Client,
    profiles_table: String,
    states_table: String,
    backoff: Backoff,
    concurrency: usize,
    single_writer: bool,
    cache: ProfileCache,
    /// Subscribers whose state was read from an earlier version's profile item and not saved yet.
    migrating: Mutex<std::collections::HashSet<String>>,
}

impl DynamoSubscriberStore {
    pub fn new(
        config: &SdkConfig,
        profiles_table: impl Into<String>,
        states_table: impl Into<String>,
    ) -> DynamoSubscriberStore {
        DynamoSubscriberStore::from_client(DynamoDbClient::new(config), profiles_table, states_table)
    }

    pub fn from_client(
        client: DynamoDbClient,
        profiles_table: impl Into<String>,
        states_table: impl Into<String>,
    ) -> DynamoSubscriberStore {
        DynamoSubscriberStore {
            client,
            profiles_table: profiles_table.into(),
            states_table: states_table.into(),
            backoff: Backoff::default(),
            concurrency: super::ALL_AT_ONCE,
            single_writer: false,
            cache: ProfileCache::new(PROFILE_CACHE_TTL, PROFILE_CACHE_CAPACITY),
            migrating: Mutex::default(),
        }
    }

    /// Calls in flight at once per load or save (default [`ALL_AT_ONCE`](super::ALL_AT_ONCE)).
    pub fn with_concurrency(mut self, concurrency: usize) -> DynamoSubscriberStore {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Saves without the version condition, in batches (see the type's documentation): for the
    /// one writer a subscriber's state has, score-stream.
    pub fn single_writer(mut self) -> DynamoSubscriberStore {
        self.single_writer = true;
        self
    }

    /// Reuses profile reads for `ttl` (zero: reads the profile every time).
    pub fn with_profile_cache(mut self, ttl: Duration) -> DynamoSubscriberStore {
        self.cache = ProfileCache::new(ttl, PROFILE_CACHE_CAPACITY);
        self
    }

    /// Creates both tables (on-demand capacity) as described on [`DynamoSubscriberStore`]: for
    /// emulators and tests; infrastructure templates create them in AWS.
    pub async fn create_tables(&self) -> Result<(), PortError> {
        for table in [&self.profiles_table, &self.states_table] {
            create_table(&self.client, table).await?;
        }
        Ok(())
    }

    /// The profiles of `imsis` (from the cache, else one eventually consistent read), and which
    /// of them still carry an earlier version's state.
    async fn profiles(&self, imsis: &[&str]) -> Result<HashMap<String, CachedProfile>, PortError> {
        let (mut out, misses) = self.cache.get(imsis);
        if misses.is_empty() {
            return Ok(out);
        }
        let keys = misses.iter().map(|imsi| key(imsi)).collect();
        let items = dynamo::batch_get(
            &self.client,
            &self.profiles_table,
            keys,
            false,
            self.backoff,
            self.concurrency,
            DEPENDENCY,
        )
        .await?;
        let mut fetched: HashMap<String, CachedProfile> =
            misses.iter().map(|imsi| (imsi.clone(), CachedProfile::default())).collect();
        for item in &items {
            let (imsi, profile) = parse_profile_item(item)?;
            fetched.insert(imsi, profile);
        }
        self.cache.put(&fetched);
        out.extend(fetched);
        Ok(out)
    }

    fn state_item(&self, update: StateUpdate) -> Item {
        let StateUpdate { imsi, expected_version, state, has_profile } = update;
        // The pipeline bumps the version on every applied event; never write one that a
        // concurrent reader could mistake for the version it loaded.
        let version = state.version.max(expected_version + 1);
        let ttl = if has_profile { KNOWN_STATE_TTL_SECS } else { UNKNOWN_STATE_TTL_SECS };
        let expires = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) + ttl;
        HashMap::from([
            (IMSI.to_string(), s(imsi)),
            (STATE.to_string(), AttributeValue::B(Blob::new(codec::encode(&state)))),
            (STATE_VERSION.to_string(), n(version)),
            (EXPIRES_AT.to_string(), n(expires)),
        ])
    }

    /// One PutItem conditional on the version loaded (absent = 0: never saved).
    async fn save_conditionally(&self, update: StateUpdate) -> Result<Saved, PortError> {
        let (imsi, expected_version) = (update.imsi.clone(), update.expected_version);
        let condition = if expected_version == 0 {
            "attribute_not_exists(#version) OR #version = :expected"
        } else {
            "#version = :expected"
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.states_table)
            .set_item(Some(self.state_item(update)))
            .condition_expression(condition)
            .expression_attribute_names("#version", STATE_VERSION)
            .expression_attribute_values(":expected", n(expected_version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Saved::Written),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                tracing::info!(subscriber = %redact(&imsi), expected_version, "live state changed concurrently");
                Ok(Saved::Conflict)
            }
            Err(e) => Err(classify(DEPENDENCY, &e)),
        }
    }
}

/// What became of one conditional save.
enum Saved {
    Written,
    /// Another writer saved the subscriber since our load.
    Conflict,
}

async fn create_table(client: &Client, table: &str) -> Result<(), PortError> {
    let build = |e: aws_sdk_dynamodb::error::BuildError| PortError::permanent(DEPENDENCY, e.to_string());
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(IMSI)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build)?,
        )
        .key_schema(KeySchemaElement::builder().attribute_name(IMSI).key_type(KeyType::Hash).build().map_err(build)?)
        .send()
        .await
        .map_err(|e| classify(DEPENDENCY, &e))?;
    Ok(())
}

fn key(imsi: &str) -> Item {
    HashMap::from([(IMSI.to_string(), s(imsi))])
}

/// A profile as read: None for an IMSI the operator does not know; the state an earlier version
/// kept in the profile item, if any.
#[derive(Clone, Default)]
struct CachedProfile {
    profile: Option<SubscriberProfile>,
    legacy_state: Option<LiveState>,
}

fn parse_profile_item(item: &Item) -> Result<(String, CachedProfile), PortError> {
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
    let legacy_state = match get_s(item, STATE) {
        Some(json) => {
            Some(codec::decode(json.as_bytes()).map_err(|e| corrupt("live state (earlier format)", e.to_string()))?)
        }
        None => None,
    };
    Ok((imsi.to_string(), CachedProfile { profile, legacy_state }))
}

fn parse_state_item(item: &Item) -> Result<(String, LiveState), PortError> {
    let imsi = get_s(item, IMSI).ok_or_else(|| PortError::permanent(DEPENDENCY, "item without an `imsi` string"))?;
    let bytes = match item.get(STATE) {
        Some(AttributeValue::B(blob)) => blob.as_ref(),
        Some(AttributeValue::S(text)) => text.as_bytes(),
        _ => &[],
    };
    let mut state = if bytes.is_empty() {
        LiveState::default()
    } else {
        codec::decode(bytes).map_err(|e| {
            PortError::permanent(DEPENDENCY, format!("subscriber {}: unreadable live state: {e}", redact(imsi)))
        })?
    };
    // The attribute is what the write condition checks, so it is the authority.
    state.version = get_n(item, STATE_VERSION).unwrap_or(0);
    Ok((imsi.to_string(), state))
}

/// Profile reads reused per execution environment, bounded by age and count.
struct ProfileCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, (CachedProfile, Instant)>>,
}

impl ProfileCache {
    fn new(ttl: Duration, capacity: usize) -> ProfileCache {
        ProfileCache { ttl, capacity, entries: Mutex::new(HashMap::new()) }
    }

    /// The fresh entries of `imsis`, and the IMSIs to read.
    fn get(&self, imsis: &[&str]) -> (HashMap<String, CachedProfile>, Vec<String>) {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut found = HashMap::with_capacity(imsis.len());
        let mut misses = Vec::new();
        for &imsi in imsis {
            match entries.get(imsi) {
                Some((p, at)) if at.elapsed() < self.ttl => {
                    found.insert(imsi.to_string(), p.clone());
                }
                _ => misses.push(imsi.to_string()),
            }
        }
        (found, misses)
    }

    fn put(&self, fetched: &HashMap<String, CachedProfile>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() + fetched.len() > self.capacity {
            entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
            if entries.len() + fetched.len() > self.capacity {
                // Still full of fresh entries: start over rather than track recency per read.
                entries.clear();
            }
        }
        let now = Instant::now();
        for (imsi, p) in fetched {
            entries.insert(imsi.clone(), (p.clone(), now));
        }
    }
}

#[async_trait]
impl SubscriberStore for DynamoSubscriberStore {
    /// The states (strongly consistent BatchGetItem) and the profiles (cached, else eventually
    /// consistent BatchGetItem), at once. A subscriber without a state item gets the state an
    /// earlier version kept in its profile item, if any (version 0: the save creates the item).
    async fn load(&self, imsis: &[&str]) -> Result<HashMap<String, Subscriber>, PortError> {
        let mut unique: Vec<&str> = imsis.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let keys = unique.iter().map(|imsi| key(imsi)).collect();
        let (states, profiles) = join(
            dynamo::batch_get(&self.client, &self.states_table, keys, true, self.backoff, self.concurrency, DEPENDENCY),
            self.profiles(&unique),
        )
        .await;
        let mut states: HashMap<String, LiveState> = states?.iter().map(parse_state_item).collect::<Result<_, _>>()?;
        let mut profiles = profiles?;
        let mut migrating = Vec::new();
        let loaded = unique
            .iter()
            .map(|&imsi| {
                let cached = profiles.remove(imsi).unwrap_or_default();
                let state = match (states.remove(imsi), cached.legacy_state) {
                    (Some(state), _) => state,
                    (None, Some(legacy)) => {
                        migrating.push(imsi.to_string());
                        LiveState { version: 0, ..legacy }
                    }
                    (None, None) => LiveState::default(),
                };
                (imsi.to_string(), Subscriber { profile: cached.profile, state })
            })
            .collect();
        self.migrating.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(migrating);
        Ok(loaded)
    }

    /// A single writer's states in BatchWriteItem calls of 25, all at once; otherwise one
    /// conditional PutItem per subscriber, all at once (see [`DynamoSubscriberStore`]). A
    /// subscriber listed twice is saved once (the first update).
    async fn save(&self, updates: Vec<StateUpdate>) -> Result<(), PortError> {
        let mut seen = std::collections::HashSet::with_capacity(updates.len());
        let updates: Vec<StateUpdate> = updates.into_iter().filter(|u| seen.insert(u.imsi.clone())).collect();
        let migrated: Vec<String> = {
            let mut migrating = self.migrating.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            updates.iter().filter(|u| migrating.remove(&u.imsi)).map(|u| u.imsi.clone()).collect()
        };
        if self.single_writer {
            let items = updates.into_iter().map(|u| self.state_item(u)).collect();
            dynamo::batch_put(
                &self.client,
                &self.states_table,
                items,
                self.backoff,
                self.concurrency,
                DEPENDENCY,
                |_| {},
            )
            .await?;
        } else {
            let total = updates.len();
            let saves = futures_util::future::join_all(updates.into_iter().map(|u| self.save_conditionally(u))).await;
            let mut conflicts = 0;
            for save in saves {
                match save {
                    Ok(Saved::Written) => {}
                    Ok(Saved::Conflict) => conflicts += 1,
                    Err(e) => return Err(e),
                }
            }
            if conflicts > 0 {
                return Err(PortError::transient(
                    DEPENDENCY,
                    format!("live state of {conflicts} of {total} subscribers changed concurrently (version conflict)"),
                ));
            }
        }
        self.drop_legacy_states(&migrated).await;
        Ok(())
    }
}

impl DynamoSubscriberStore {
    /// Once a migrated state is saved in the state table, the copy in the profile item goes:
    /// otherwise every profile read would keep paying for its bytes. Best effort (logged): a
    /// leftover copy is ignored as long as the state item exists.
    async fn drop_legacy_states(&self, imsis: &[String]) {
        let removals = imsis.iter().map(|imsi| {
            self.client
                .update_item()
                .table_name(&self.profiles_table)
                .key(IMSI, s(imsi.as_str()))
                .update_expression("REMOVE #state, #version")
                .condition_expression("attribute_exists(#state)")
                .expression_attribute_names("#state", STATE)
                .expression_attribute_names("#version", STATE_VERSION)
                .send()
        });
        for (imsi, result) in imsis.iter().zip(futures_util::future::join_all(removals).await) {
            if let Err(e) = result {
                tracing::warn!(subscriber = %redact(imsi), error = %e, "could not remove the migrated live state from the profile item");
            }
        }
        self.cache.forget_legacy(imsis);
    }
}

impl ProfileCache {
    fn forget_legacy(&self, imsis: &[String]) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for imsi in imsis {
            if let Some((p, _)) = entries.get_mut(imsi) {
                p.legacy_state = None;
            }
        }
    }
}

/// Bulk-loads profiles with BatchWriteItem (25 items a call, 4 calls in flight, unprocessed
/// items retried with backoff); `progress` gets the number of profiles written so far. A
/// profile listed twice is written once (the last one wins).
///
/// A put replaces the whole profile item; live state is kept in the state table, so re-loading
/// a subscriber's profile keeps its state. Running scorers see the new profile once their cached
/// copy expires ([`PROFILE_CACHE_TTL`]).
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
