//! Labelled synthetic roaming traffic for training and testing the fraud model.
//!
//! [`generate`] builds a population of subscribers of a dozen home operators, lets them roam
//! according to varied legitimate personas (business travellers, holiday makers, heavy data
//! users, border commuters, lorry drivers, long stays, low users), injects fraud episodes into
//! a share of them (IRSF, SIM box, Wangiri, data abuse, cloned SIMs, device swaps) and labels
//! every event. Output is deterministic for a seed, forever: the PRNG is our own ([`roamguard::rng`]).
//!
//! Fraud and normal events go through the same finalisation (`finalize`): identifiers and the
//! presence of optional fields follow the same rules for both, so a model cannot learn the
//! label from formatting.
//!
//! [`GeneratorConfig::world`] picks the world: how the population behaves ([`WorldParams`]).
//! World 0 is the original one; other worlds draw persona mixes, usage levels, call lengths,
//! trips, devices and fraud loudness from wide ranges and add legitimate look-alikes of every
//! fraud type (`lookalikes.rs`), so that a model trained on several worlds transfers.

mod behaviours;
mod fraud;
mod lookalikes;
mod params;
mod world;

pub use behaviours::Persona;
pub use fraud::Intensity;
pub use params::{
    CallParams, DeviceParams, FraudKnobs, HabitParams, LookalikeParams, PersonaParams, TripParams, UsageParams,
    WorldParams,
};

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use behaviours::{DAY, Draft, Period, Subscriber};
use chrono::{DateTime, TimeZone, Utc};
use roamguard::countries::{self, CountryCode};
use roamguard::events::{EventType, RoamingEvent};
use roamguard::profile::SubscriberProfile;
use roamguard::rng::{Rng, hash_words};
use serde::{Deserialize, Serialize};
use world::World;

/// Fraud scheme behind a fraudulent event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FraudType {
    /// International Revenue Share Fraud: pumping calls to premium / high-risk ranges.
    Irsf,
    /// SIM box (interconnect bypass): mass local calls from a gateway.
    Simbox,
    /// One-ring calls and premium callbacks.
    Wangiri,
    /// Roaming data resale or tethering.
    DataAbuse,
    /// Cloned SIM used far away from the genuine subscriber.
    ImpossibleTravel,
    /// Stolen device or SIM swap followed by expensive usage.
    DeviceSwap,
}

impl FraudType {
    pub const ALL: [FraudType; 6] = [
        FraudType::Irsf,
        FraudType::Simbox,
        FraudType::Wangiri,
        FraudType::DataAbuse,
        FraudType::ImpossibleTravel,
        FraudType::DeviceSwap,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FraudType::Irsf => "irsf",
            FraudType::Simbox => "simbox",
            FraudType::Wangiri => "wangiri",
            FraudType::DataAbuse => "data_abuse",
            FraudType::ImpossibleTravel => "impossible_travel",
            FraudType::DeviceSwap => "device_swap",
        }
    }
}

impl fmt::Display for FraudType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ground truth for one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub event_id: String,
    pub fraud: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fraud_type: Option<FraudType>,
}

#[derive(Debug, Clone)]
pub struct GeneratorConfig {
    pub subscribers: usize,
    /// Length of the generated period in days (at least 1 is used).
    pub days: u32,
    pub seed: u64,
    /// Start of the period; sub-second parts are ignored.
    pub start: DateTime<Utc>,
    /// Share of subscribers that get a fraud episode.
    pub fraud_share: f64,
    /// Which world's behaviour ([`WorldParams::for_world`]): 0 is the original world; other
    /// values draw another population, independently of `seed`.
    pub world: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            subscribers: 1000,
            days: 7,
            seed: 42,
            // 2026-06-01T00:00:00Z: a constant, valid Unix timestamp.
            start: Utc.timestamp_opt(1_780_272_000, 0).single().unwrap_or_default(),
            fraud_share: 0.06,
            world: 0,
        }
    }
}

/// A generated dataset. `events` are sorted by (event_time, event_id); `labels[i]` belongs to
/// `events[i]`; `profiles` has one entry per subscriber (IMSI), fraudulent ones included.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub profiles: Vec<SubscriberProfile>,
    pub events: Vec<RoamingEvent>,
    pub labels: Vec<Label>,
}

/// Counts of a dataset, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSummary {
    pub profiles: usize,
    pub events: usize,
    pub fraud_events: usize,
    /// Fraudulent events per type, in [`FraudType::ALL`] order.
    pub by_type: Vec<(FraudType, usize)>,
    /// Fraud episodes (one per affected subscriber) per type, in [`FraudType::ALL`] order.
    pub episodes: Vec<(FraudType, usize)>,
}

impl Dataset {
    pub fn summary(&self) -> DatasetSummary {
        let mut by_type = FraudType::ALL.map(|t| (t, 0usize));
        let mut episodes: HashSet<(&str, FraudType)> = HashSet::new();
        for (e, l) in self.events.iter().zip(&self.labels) {
            if let Some(t) = l.fraud_type {
                if let Some(slot) = by_type.iter_mut().find(|(x, _)| *x == t) {
                    slot.1 += 1;
                }
                episodes.insert((e.imsi.as_str(), t));
            }
        }
        let episodes = FraudType::ALL.map(|t| (t, episodes.iter().filter(|(_, x)| *x == t).count()));
        DatasetSummary {
            profiles: self.profiles.len(),
            events: self.events.len(),
            fraud_events: self.labels.iter().filter(|l| l.fraud).count(),
            by_type: by_type.to_vec(),
            episodes: episodes.to_vec(),
        }
    }
}

impl fmt::Display for DatasetSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let share = if self.events == 0 { 0.0 } else { 100.0 * self.fraud_events as f64 / self.events as f64 };
        write!(
            f,
            "{} subscriber profiles, {} roaming events, {} of them fraudulent ({share:.2}%)",
            self.profiles, self.events, self.fraud_events
        )?;
        let parts: Vec<String> = self
            .by_type
            .iter()
            .zip(&self.episodes)
            .map(|((t, n), (_, eps))| format!("{t} {n} events in {eps} episodes"))
            .collect();
        if self.fraud_events > 0 {
            write!(f, ": {}", parts.join(", "))?;
        }
        f.write_str(".")
    }
}

// Independent PRNG streams, so adding a draw in one phase never shifts another.
const STREAM_FRAUD: u64 = 1;
const STREAM_PLAN: u64 = 2;
const STREAM_EVENTS: u64 = 3;
const STREAM_IDS: u64 = 4;
// Look-alike plans and events: their own streams, so that world 0 (no look-alikes) draws exactly
// what it drew before they existed.
const STREAM_LOOKALIKE_PLAN: u64 = 6;
const STREAM_LOOKALIKE_EVENTS: u64 = 7;

/// Generates the dataset described by `cfg`. Deterministic: the same config always yields the
/// same dataset, whatever the machine or thread count.
pub fn generate(cfg: &GeneratorConfig) -> Dataset {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 16);
    generate_with_threads(cfg, threads)
}

fn generate_with_threads(cfg: &GeneratorConfig, threads: usize) -> Dataset {
    generate_in(&World::new(WorldParams::for_world(cfg.world)), cfg, threads)
}

fn period_of(cfg: &GeneratorConfig) -> Period {
    let start = cfg.start.timestamp();
    Period { start, end: start + i64::from(cfg.days.max(1)) * DAY }
}

/// Phase 1 (sequential, cheap): subscribers, their look-alikes, fraud plans and profiles.
/// Sequential so that identifier clashes are resolved in a fixed order.
fn plan_population(world: &World, cfg: &GeneratorConfig) -> (Vec<Subscriber>, Vec<SubscriberProfile>) {
    let period = period_of(cfg);
    let fraud_of = assign_fraud(cfg);
    let mut subs: Vec<Subscriber> = Vec::with_capacity(cfg.subscribers);
    let mut profiles = Vec::with_capacity(cfg.subscribers);
    let mut imsis = HashSet::with_capacity(cfg.subscribers);
    let mut msisdns = HashSet::with_capacity(cfg.subscribers);
    for (i, fraud_type) in fraud_of.iter().enumerate() {
        let mut rng = Rng::derive(cfg.seed, STREAM_PLAN, i as u64);
        let mut sub = behaviours::plan_subscriber(world, period, i, &mut rng);
        while !imsis.insert(sub.imsi.clone()) {
            sub.imsi = world.imsi(sub.home, &mut rng);
        }
        while !msisdns.insert(sub.msisdn.clone()) {
            sub.msisdn = world.number(sub.home, true, &mut rng);
        }
        lookalikes::plan(world, period, &mut sub, &mut Rng::derive(cfg.seed, STREAM_LOOKALIKE_PLAN, i as u64));
        if let Some((t, ordinal)) = fraud_type {
            fraud::prepare(world, period, &mut sub, *t, *ordinal, &mut rng);
        }
        profiles.push(behaviours::profile(world, &sub, &mut rng));
        subs.push(sub);
    }
    (subs, profiles)
}

fn generate_in(world: &World, cfg: &GeneratorConfig, threads: usize) -> Dataset {
    let period = period_of(cfg);
    let (subs, profiles) = plan_population(world, cfg);

    // Phase 2 (parallel): each subscriber's traffic from its own PRNG stream. Results do not
    // depend on the thread count: every event carries its own sort key.
    //
    // Workers file events into time slices of about 16k events. Ordering then only shuffles
    // events within a slice: random access over the whole data set (hundreds of megabytes of
    // events) is what made ordering slow, far more than the sort itself.
    let expected = cfg.subscribers.max(1) as i64 * i64::from(cfg.days.max(1)) * 30;
    let slices = (expected / 16_384).clamp(1, period.len() / 60) as usize;
    let slicer = Slicer { start: period.start, len: period.len(), slices };
    let chunk = subs.len().div_ceil(threads.max(1)).max(64);
    let mut parts: Vec<Vec<Slice>> = std::thread::scope(|scope| {
        let handles: Vec<_> = subs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut out: Vec<Slice> = (0..slices).map(|_| Slice::default()).collect();
                    for sub in part {
                        subscriber_events(world, period, cfg.seed, sub, slicer, &mut out);
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });

    // Slice by slice: sort compact keys, move each event once into its final position. Key
    // order is (event_time, event_id) order, as the id is the hex rendering of the key words.
    let total: usize = parts.iter().flatten().map(|s| s.events.len()).sum();
    let mut events = Vec::with_capacity(total);
    let mut labels = Vec::with_capacity(total);
    let mut order: Vec<((i64, u64, u64), u32, u32)> = Vec::new();
    for b in 0..slices {
        order.clear();
        for (p, part) in parts.iter().enumerate() {
            order.extend(part[b].keys.iter().enumerate().map(|(i, k)| (*k, p as u32, i as u32)));
        }
        order.sort_unstable();
        for &(_, p, i) in &order {
            let slice = &mut parts[p as usize][b];
            // Each (part, index) occurs exactly once in `order`, so the slot is always full.
            if let Some(event) = slice.events[i as usize].take() {
                let fraud_type = slice.fraud[i as usize];
                labels.push(Label { event_id: event.event_id.clone(), fraud: fraud_type.is_some(), fraud_type });
                events.push(event);
            }
        }
        for part in &mut parts {
            part[b] = Slice::default();
        }
    }
    Dataset { profiles, events, labels }
}

/// Maps an event time inside the period to its time slice.
#[derive(Clone, Copy)]
struct Slicer {
    start: i64,
    len: i64,
    slices: usize,
}

impl Slicer {
    fn slice(&self, t: i64) -> usize {
        let offset = (t - self.start).clamp(0, self.len - 1) as i128;
        (offset * self.slices as i128 / self.len as i128) as usize
    }
}

/// Events of one time slice with their fraud type and sort key (time, id words). Events are
/// optional only so that they can be moved out one by one.
#[derive(Default)]
struct Slice {
    events: Vec<Option<RoamingEvent>>,
    fraud: Vec<Option<FraudType>>,
    keys: Vec<(i64, u64, u64)>,
}

/// Which subscribers get which fraud: a fixed number (`fraud_share` of the population), types
/// dealt round-robin so that each is equally represented, on randomly chosen subscribers.
/// Each entry is the type and the episode's ordinal among episodes of that type.
fn assign_fraud(cfg: &GeneratorConfig) -> Vec<Option<(FraudType, usize)>> {
    let mut rng = Rng::derive(cfg.seed, STREAM_FRAUD, 0);
    let share = if cfg.fraud_share.is_finite() { cfg.fraud_share.clamp(0.0, 1.0) } else { 0.0 };
    let n_fraud = ((cfg.subscribers as f64) * share).round() as usize;
    let mut order: Vec<usize> = (0..cfg.subscribers).collect();
    rng.shuffle(&mut order);
    let mut types = FraudType::ALL;
    rng.shuffle(&mut types);
    let mut out = vec![None; cfg.subscribers];
    for (k, &i) in order.iter().take(n_fraud).enumerate() {
        out[i] = Some((types[k % types.len()], k / types.len()));
    }
    out
}

fn subscriber_events(world: &World, period: Period, seed: u64, sub: &Subscriber, slicer: Slicer, out: &mut [Slice]) {
    let mut rng = Rng::derive(seed, STREAM_EVENTS, sub.index as u64);
    let mut lookalike_rng = Rng::derive(seed, STREAM_LOOKALIKE_EVENTS, sub.index as u64);
    let mut drafts = behaviours::normal_events(world, period, sub, &mut rng, &mut lookalike_rng);
    if let Some(plan) = &sub.fraud {
        fraud::inject(world, period, sub, plan, &mut drafts, &mut rng);
    }
    drafts.retain(|d| d.t >= period.start && d.t < period.end);
    drafts.sort_by_key(|d| d.t);
    for (k, d) in drafts.into_iter().enumerate() {
        let id = id_words(seed, sub.index as u64, k as u64);
        let slice = &mut out[slicer.slice(d.t)];
        slice.keys.push((d.t, id.0, id.1));
        slice.fraud.push(d.fraud);
        slice.events.push(Some(finalize(id, sub, d, &mut rng)));
    }
}

/// Turns a draft into a contract-valid event. The identifier and the presence of optional
/// fields depend only on the PRNG and the visited network, never on the label.
fn finalize(id: (u64, u64), sub: &Subscriber, d: Draft, rng: &mut Rng) -> RoamingEvent {
    let event_id = hex_id(id);
    // Each visited network's record producer has its own habits for optional fields.
    let style = network_style(d.network, d.country);
    let emits_called_country = style & 1 == 1;
    let emits_forward_flag = style & 6 != 0;
    let other_present = match d.kind {
        EventType::VoiceMo | EventType::SmsMo => true,
        // Calling line identity is withheld or not recorded for a share of terminating events.
        EventType::VoiceMt | EventType::SmsMt => rng.bernoulli(0.75),
        EventType::Data => false,
    };
    let called_number = if other_present { d.other } else { None };
    let called_country = match &called_number {
        Some(n) if emits_called_country => countries::country_of_number(n),
        _ => None,
    };
    let call_forwarded =
        if d.kind.is_voice() && (emits_forward_flag || d.forwarded) { Some(d.forwarded) } else { None };
    let event_time = Utc.timestamp_opt(d.t, 0).single().unwrap_or_default();
    RoamingEvent {
        event_id,
        event_time,
        imsi: sub.imsi.clone(),
        msisdn: rng.bernoulli(0.97).then(|| sub.msisdn.clone()),
        imei: if rng.bernoulli(0.96) { sub.devices.get(d.device).map(|imei| device_id(imei, style)) } else { None },
        event_type: d.kind,
        visited_country: d.country,
        visited_network: if rng.bernoulli(0.92) { d.network.map(str::to_string) } else { None },
        called_number,
        called_country,
        duration_s: d.duration,
        data_bytes: d.bytes,
        call_forwarded,
    }
}

/// 128 bits hashed from (seed, subscriber, counter): unique (a collision needs ~2^64 events),
/// opaque and label-free.
fn id_words(seed: u64, subscriber: u64, k: u64) -> (u64, u64) {
    (hash_words(&[seed, STREAM_IDS, subscriber, k]), hash_words(&[seed, STREAM_IDS + 1, subscriber, k]))
}

/// The event id: the two id words as 32 lower-case hex digits.
fn hex_id((hi, lo): (u64, u64)) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for word in [hi, lo] {
        for shift in (0..16).rev() {
            out.push(char::from(HEX[((word >> (shift * 4)) & 0xF) as usize]));
        }
    }
    out
}

/// The device identity as the visited network records it. Most report the 15-digit IMEI; some
/// report the IMEISV (14 digits + a 2-digit software version) or drop the check digit, as
/// real NRTRDE feeds do. Consumers should compare the first 14 digits (TAC + serial).
fn device_id(imei: &str, style: u64) -> String {
    let body = imei.get(..14).unwrap_or(imei);
    match (style >> 3) % 20 {
        0 | 1 => {
            // The software version is a property of the device: derived from its IMEI.
            let svn = hash_words(&[imei.bytes().fold(0u64, |acc, b| acc.wrapping_mul(10).wrapping_add(u64::from(b)))])
                % 40
                + 1;
            format!("{body}{svn:02}")
        }
        2 => body.to_string(),
        _ => imei.to_string(),
    }
}

fn network_style(network: Option<&str>, country: CountryCode) -> u64 {
    let key = network.unwrap_or(country.as_str());
    let folded = key.bytes().fold(0u64, |acc, b| acc.wrapping_mul(131).wrapping_add(u64::from(b)));
    hash_words(&[folded])
}

/// Writes `profiles.jsonl`, `events.jsonl` and `labels.jsonl` (one JSON object per line) into
/// `dir`, creating it if needed, and returns the dataset's counts.
pub fn write_dataset(ds: &Dataset, dir: &Path) -> io::Result<DatasetSummary> {
    fs::create_dir_all(dir)?;
    write_jsonl(&dir.join("profiles.jsonl"), &ds.profiles)?;
    write_jsonl(&dir.join("events.jsonl"), &ds.events)?;
    write_jsonl(&dir.join("labels.jsonl"), &ds.labels)?;
    Ok(ds.summary())
}

fn write_jsonl<T: Serialize>(path: &Path, items: &[T]) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
    for item in items {
        serde_json::to_writer(&mut out, item)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn small(seed: u64) -> GeneratorConfig {
        GeneratorConfig { subscribers: 120, days: 3, seed, fraud_share: 0.1, ..GeneratorConfig::default() }
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("roamguard-generator-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn read_all(dir: &Path) -> Vec<Vec<u8>> {
        ["profiles.jsonl", "events.jsonl", "labels.jsonl"].iter().map(|f| fs::read(dir.join(f)).unwrap()).collect()
    }

    #[test]
    fn when_seed_is_the_same_should_write_byte_identical_files() {
        let (a, b) = (temp_dir("same-a"), temp_dir("same-b"));
        let sa = write_dataset(&generate(&small(7)), &a).unwrap();
        let sb = write_dataset(&generate(&small(7)), &b).unwrap();
        assert_eq!(sa, sb);
        assert_eq!(read_all(&a), read_all(&b));
        let _ = (fs::remove_dir_all(&a), fs::remove_dir_all(&b));
    }

    #[test]
    fn when_thread_count_differs_should_generate_identical_data() {
        let cfg = GeneratorConfig { subscribers: 300, days: 2, ..small(9) };
        let (one, many) = (generate_with_threads(&cfg, 1), generate_with_threads(&cfg, 5));
        assert_eq!(one.events, many.events);
        assert_eq!(one.labels, many.labels);
        assert_eq!(one.profiles, many.profiles);
    }

    #[test]
    fn when_seed_differs_should_generate_different_data() {
        let (a, b) = (generate(&small(7)), generate(&small(8)));
        assert_ne!(a.events, b.events);
        assert_ne!(a.profiles, b.profiles);
    }

    #[test]
    fn when_dataset_is_generated_should_pass_event_validation() {
        let ds = generate(&small(11));
        assert!(!ds.events.is_empty());
        for e in &ds.events {
            if let Err(err) = e.validate() {
                panic!("invalid event {e:?}: {err}");
            }
            // Round-trips exactly, so what we write is what consumers decode.
            let back = RoamingEvent::from_json(&serde_json::to_vec(e).unwrap()).unwrap();
            assert_eq!(back.event_time, e.event_time);
            assert_eq!(back.imsi, e.imsi);
        }
        for p in &ds.profiles {
            assert!(SubscriberProfile::from_json(&serde_json::to_vec(p).unwrap()).is_ok());
            assert_eq!(p.imsi.len(), 15);
        }
    }

    #[test]
    fn when_dataset_is_generated_should_order_events_by_time_then_id_within_period() {
        let cfg = small(12);
        let ds = generate(&cfg);
        let end = cfg.start + chrono::Duration::days(i64::from(cfg.days));
        assert!(ds.events.windows(2).all(|w| (w[0].event_time, &w[0].event_id) < (w[1].event_time, &w[1].event_id)));
        assert!(ds.events.iter().all(|e| e.event_time >= cfg.start && e.event_time < end));
        assert!(ds.events.iter().all(|e| e.event_time.timestamp_subsec_nanos() == 0));
        let ids: HashSet<&str> = ds.events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids.len(), ds.events.len(), "event ids must be unique");
    }

    #[test]
    fn when_labels_are_generated_should_align_with_events() {
        let ds = generate(&small(13));
        assert_eq!(ds.labels.len(), ds.events.len());
        for (e, l) in ds.events.iter().zip(&ds.labels) {
            assert_eq!(e.event_id, l.event_id);
            assert_eq!(l.fraud, l.fraud_type.is_some());
        }
        let text = serde_json::to_string(&ds.labels[0]).unwrap();
        assert!(text.contains("\"fraud\":"));
    }

    #[test]
    fn when_dataset_is_generated_should_profile_every_imsi() {
        let ds = generate(&small(14));
        let imsis: HashSet<&str> = ds.profiles.iter().map(|p| p.imsi.as_str()).collect();
        assert_eq!(imsis.len(), ds.profiles.len(), "one profile per IMSI");
        assert_eq!(ds.profiles.len(), 120);
        assert!(ds.events.iter().all(|e| imsis.contains(e.imsi.as_str())));
    }

    #[test]
    fn when_default_config_is_used_should_include_every_fraud_type() {
        let cfg = GeneratorConfig::default();
        let ds = generate(&cfg);
        // Many time slices at this size: ordering must hold across slice boundaries too.
        assert!(ds.events.windows(2).all(|w| (w[0].event_time, &w[0].event_id) < (w[1].event_time, &w[1].event_id)));
        let summary = ds.summary();
        for ((t, events), (_, episodes)) in summary.by_type.iter().zip(&summary.episodes) {
            assert!(*events >= 24, "{t}: only {events} events");
            assert!(*episodes >= 5, "{t}: only {episodes} episodes");
        }
        assert!(summary.fraud_events * 5 < summary.events, "fraud must stay a minority: {summary}");
        assert!(summary.to_string().contains("impossible_travel"));
    }

    #[test]
    fn when_fraud_and_normal_events_are_compared_should_share_formats() {
        let ds = generate(&small(15));
        // Field presence per label: every optional field appears with both labels.
        let mut seen: HashMap<(bool, &str), usize> = HashMap::new();
        for (e, l) in ds.events.iter().zip(&ds.labels) {
            assert_eq!(e.event_id.len(), 32);
            assert!(e.event_id.bytes().all(|b| b.is_ascii_hexdigit()));
            for (name, present) in [
                ("msisdn", e.msisdn.is_some()),
                ("imei", e.imei.is_some()),
                ("visited_network", e.visited_network.is_some()),
                ("called_country", e.called_country.is_some()),
                ("call_forwarded", e.call_forwarded.is_some()),
            ] {
                if !present {
                    *seen.entry((l.fraud, name)).or_default() += 1;
                }
            }
        }
        for name in ["msisdn", "imei", "visited_network", "called_country"] {
            assert!(seen.contains_key(&(false, name)) && seen.contains_key(&(true, name)), "{name} absence in both");
        }
    }

    #[test]
    fn when_episode_is_injected_should_label_only_fraudulent_events_of_that_subscriber() {
        let ds = generate(&small(16));
        let mut by_imsi: HashMap<&str, Vec<&Label>> = HashMap::new();
        for (e, l) in ds.events.iter().zip(&ds.labels) {
            by_imsi.entry(e.imsi.as_str()).or_default().push(l);
        }
        let mut fraud_subs = 0;
        for labels in by_imsi.values() {
            let types: HashSet<FraudType> = labels.iter().filter_map(|l| l.fraud_type).collect();
            assert!(types.len() <= 1, "one episode type per subscriber");
            fraud_subs += usize::from(!types.is_empty());
        }
        assert!(fraud_subs >= 6);
    }

    fn world(w: u64) -> GeneratorConfig {
        GeneratorConfig { subscribers: 400, days: 4, seed: 5, world: w, fraud_share: 0.1, ..GeneratorConfig::default() }
    }

    #[test]
    fn when_seed_and_world_are_the_same_should_generate_identical_data() {
        let cfg = world(3);
        let (a, b) = (generate_with_threads(&cfg, 1), generate_with_threads(&cfg, 4));
        assert_eq!(a.events, b.events);
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.profiles, b.profiles);
        assert_ne!(a.events, generate(&world(4)).events, "another world, other data");
        assert_ne!(a.events, generate(&GeneratorConfig { seed: 6, ..cfg }).events, "another seed, other data");
    }

    #[test]
    fn when_world_number_is_the_same_should_draw_the_same_parameters_whatever_the_seed() {
        assert_eq!(WorldParams::for_world(7), WorldParams::for_world(7));
        assert_ne!(WorldParams::for_world(7), WorldParams::for_world(8));
        assert_ne!(WorldParams::for_world(1), WorldParams::default());
        // The seed plays no part: two seeds of world 5 share its parameters, so its look-alike
        // rates show in both.
        let line = WorldParams::for_world(5).to_string();
        assert!(line.starts_with("world 5: personas business") && !line.contains('\n'), "{line}");
        assert!(line.contains("look-alikes upgrade bursts") && line.contains("fraud irsf"), "{line}");
    }

    #[test]
    fn when_world_is_drawn_should_stay_within_its_documented_ranges() {
        for n in 1..200 {
            let p = WorldParams::for_world(n);
            assert!(p.persona_weights.iter().all(|w| *w > 0.0));
            for pp in &p.personas {
                assert!((0.4..=2.5).contains(&pp.voice) && (0.3..=3.3).contains(&pp.data), "{pp:?}");
                assert!((0.3..=0.8).contains(&pp.spread));
            }
            assert!((-2..=2).contains(&p.usage.hour_shift));
            assert!((p.trips.business_legs.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            assert!((p.calls.long_weight + p.calls.ordinary_weight - 0.92).abs() < 1e-9);
            let l = &p.lookalikes;
            for rate in [
                l.upgrade_burst,
                l.conference_share,
                l.night_worker,
                l.heavy_data,
                l.data_only,
                l.border_hops,
                l.calls_home,
            ] {
                assert!(rate > 0.0 && rate < 1.0, "{l:?}");
            }
            for k in &p.fraud {
                for i in [Intensity::Blatant, Intensity::Moderate, Intensity::Subtle] {
                    assert!(k.cycle.contains(&i), "{k:?}");
                }
                assert!((0.35..=2.0).contains(&k.volume) && (0.6..=3.0).contains(&k.pace), "{k:?}");
            }
        }
    }

    /// Mean daily voice minutes of legitimate subscribers, and the share of them with data but
    /// neither calls nor SMS.
    fn legit_voice_and_data_only(ds: &Dataset, days: f64) -> (f64, f64) {
        let mut per: HashMap<&str, (f64, usize, usize, bool)> = HashMap::new();
        for (e, l) in ds.events.iter().zip(&ds.labels) {
            let s = per.entry(e.imsi.as_str()).or_default();
            s.3 |= l.fraud;
            match e.event_type {
                EventType::Data => s.2 += 1,
                t if t.is_voice() => {
                    s.0 += e.duration_s.unwrap_or(0) as f64 / 60.0;
                    s.1 += 1;
                }
                _ => s.1 += 1,
            }
        }
        let legit: Vec<_> = per.values().filter(|s| !s.3).collect();
        let n = legit.len() as f64;
        let voice = legit.iter().map(|s| s.0).sum::<f64>() / n / days;
        (voice, legit.iter().filter(|s| s.1 == 0 && s.2 > 0).count() as f64 / n)
    }

    #[test]
    fn when_worlds_differ_should_differ_in_legit_voice_and_data_only_share() {
        let stats: Vec<(f64, f64)> = (0..6).map(|w| legit_voice_and_data_only(&generate(&world(w)), 4.0)).collect();
        let voice: Vec<f64> = stats.iter().map(|s| s.0).collect();
        let (lo, hi) = voice.iter().fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        assert!(hi > 1.5 * lo, "daily voice minutes by world: {voice:?}");
        // World 0 has no data-only travellers; drawn worlds have 1–8 % of eligible ones.
        assert_eq!(stats[0].1, 0.0);
        assert!(stats[1..].iter().all(|s| s.1 > 0.0), "{stats:?}");
        let shares: Vec<f64> = stats.iter().map(|s| s.1).collect();
        assert!(shares.iter().copied().fold(0.0, f64::max) > 0.02, "{shares:?}");
    }

    #[test]
    fn when_any_world_is_generated_should_include_every_fraud_type_as_a_minority() {
        for w in 0..10 {
            let summary = generate(&GeneratorConfig { subscribers: 240, days: 3, ..world(w) }).summary();
            for ((t, events), (_, episodes)) in summary.by_type.iter().zip(&summary.episodes) {
                assert!(*episodes >= 3 && *events >= *episodes, "world {w}, {t}: {summary}");
            }
            assert!(summary.fraud_events * 5 < summary.events, "world {w}: {summary}");
        }
    }

    #[test]
    fn when_world_is_drawn_should_keep_events_valid_and_formats_label_free() {
        let ds = generate(&world(6));
        let mut absent: HashSet<(bool, &str)> = HashSet::new();
        for (e, l) in ds.events.iter().zip(&ds.labels) {
            if let Err(err) = e.validate() {
                panic!("invalid event {e:?}: {err}");
            }
            for (name, present) in [
                ("msisdn", e.msisdn.is_some()),
                ("imei", e.imei.is_some()),
                ("visited_network", e.visited_network.is_some()),
            ] {
                if !present {
                    absent.insert((l.fraud, name));
                }
            }
        }
        for name in ["msisdn", "imei", "visited_network"] {
            assert!(absent.contains(&(false, name)) && absent.contains(&(true, name)), "{name} absence in both");
        }
        assert!(ds.events.windows(2).all(|w| (w[0].event_time, &w[0].event_id) < (w[1].event_time, &w[1].event_id)));
    }
}
