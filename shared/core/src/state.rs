//! Per-subscriber live state: what the pipeline remembers between events (rolling usage windows,
//! last position, devices and destinations seen, which events it has applied). Updated with each
//! event in event order, and stored whole after every batch — so it is small by design, whatever
//! the subscriber's activity (a SIM box making 5,000 calls a day included):
//!
//! - usage in 10-minute buckets for the last hour and hourly buckets for the 23 hours before it
//!   (a 10-minute bucket is folded into its hour once it leaves the last hour): at most 29
//!   buckets. "Last hour" windows are the last six 10-minute buckets; "24 h" windows are those
//!   plus the hours since the 23rd before the current one, so they span 23–24 h;
//! - distinct called numbers as a 128-bit sketch per bucket ([`Distinct`]: a documented error,
//!   no numbers kept, not even hashed ones);
//! - devices by a 64-bit key of their IMEI (at most [`MAX_DEVICES`], the most recent), countries
//!   called in the last 24 h, countries visited (kept beyond 24 h: "never visited before" needs
//!   history; at most [`MAX_COUNTRIES`]);
//! - which events were applied ([`Applied`]): the last sequence number of the record's source plus
//!   the last 8 event-id fingerprints, instead of a list of ids;
//! - the subscriber's own history ([`DailyHistory`]: a decayed mean of its active days) and its
//!   highest recent scores ([`ScoreMarks`], a decision input).
//!
//! [`codec`] writes it in a compact, versioned binary form (~0.3–0.6 KB for a typical traveller,
//! under 2 KB for the busiest) and reads the JSON form earlier versions stored.

mod applied;
pub mod codec;
mod distinct;
mod history;

use serde::{Deserialize, Serialize};

use crate::countries::{self, CountryCode};
use crate::events::RoamingEvent;

pub use applied::{Applied, LastApplied, RECENT_IDS, SequenceNumber, fingerprint};
pub use distinct::Distinct;
pub use history::{
    DailyHistory, DayUsage, MAX_FLAGS_COUNTED, MAX_HISTORY_DAYS, MAX_SCORE_MARKS, SCORE_MARK_FLOOR,
    SCORE_MARK_HORIZON_SECS, ScoreMark, ScoreMarks,
};

/// Width of a recent usage bucket.
pub const BUCKET_SECS: i64 = 600;
/// Width of an older usage bucket.
pub const HOUR_SECS: i64 = 3600;
/// Longest window kept.
pub const WINDOW_24H_SECS: i64 = 24 * 3600;
pub const WINDOW_1H_SECS: i64 = 3600;
/// Calls shorter than this count as "short" (SIM-box test calls, Wangiri one-ring calls).
pub const SHORT_CALL_SECS: u64 = 10;
/// Local hours [0, NIGHT_END_HOUR) count as night-time.
pub const NIGHT_END_HOUR: u32 = 6;
/// Devices kept (the most recently seen): "distinct devices in 24 h" is exact up to this many.
pub const MAX_DEVICES: usize = 16;
/// Countries visited kept (the most recently seen).
pub const MAX_COUNTRIES: usize = 64;

/// Where a record sits in an ordered source: a Kinesis shard and the record's sequence number, a
/// Kafka partition and its offset. Numbers are decimal and grow within a source; all records of
/// one subscriber come from one source in order (Kinesis and Kafka keep the order of a partition
/// key), so the live state tells a redelivered record from a new one by the last number applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sequence<'a> {
    pub source: &'a str,
    pub number: &'a str,
}

/// Usage counters: of one event, one bucket, or a window of buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageCounts {
    pub events: u32,
    pub voice_secs: u64,
    pub voice_mo: u32,
    pub voice_mt: u32,
    pub short_mo_calls: u32,
    pub sms_mo: u32,
    pub sms_mt: u32,
    pub data_bytes: u64,
    /// Originating calls/SMS to premium, satellite or hot ranges or high-risk countries.
    pub risky_mo: u32,
    /// Originating calls/SMS to a country that is neither home nor the visited one.
    pub intl_mo: u32,
    pub night_events: u32,
    pub forwarded_calls: u32,
}

impl UsageCounts {
    /// Saturating: `duration_s` and `data_bytes` may be any integer up to `i64::MAX`, so a few
    /// extreme events of one window would overflow a plain sum.
    pub fn add(&mut self, o: &UsageCounts) {
        self.events = self.events.saturating_add(o.events);
        self.voice_secs = self.voice_secs.saturating_add(o.voice_secs);
        self.voice_mo = self.voice_mo.saturating_add(o.voice_mo);
        self.voice_mt = self.voice_mt.saturating_add(o.voice_mt);
        self.short_mo_calls = self.short_mo_calls.saturating_add(o.short_mo_calls);
        self.sms_mo = self.sms_mo.saturating_add(o.sms_mo);
        self.sms_mt = self.sms_mt.saturating_add(o.sms_mt);
        self.data_bytes = self.data_bytes.saturating_add(o.data_bytes);
        self.risky_mo = self.risky_mo.saturating_add(o.risky_mo);
        self.intl_mo = self.intl_mo.saturating_add(o.intl_mo);
        self.night_events = self.night_events.saturating_add(o.night_events);
        self.forwarded_calls = self.forwarded_calls.saturating_add(o.forwarded_calls);
    }

    /// What one event adds. Shared by [`LiveState::apply`] and the feature code (which counts
    /// the current event into its windows), so both always agree.
    pub fn of(event: &RoamingEvent, home: Option<CountryCode>) -> UsageCounts {
        use crate::events::EventType::*;
        let mut u = UsageCounts { events: 1, ..UsageCounts::default() };
        match event.event_type {
            VoiceMo => {
                u.voice_mo = 1;
                u.voice_secs = event.voice_seconds();
                u.short_mo_calls = u32::from(event.voice_seconds() < SHORT_CALL_SECS);
            }
            VoiceMt => {
                u.voice_mt = 1;
                u.voice_secs = event.voice_seconds();
            }
            SmsMo => u.sms_mo = 1,
            SmsMt => u.sms_mt = 1,
            Data => u.data_bytes = event.bytes(),
        }
        if event.event_type.is_originating() {
            u.risky_mo = u32::from(is_risky_destination(event));
            if let Some(called) = event.called_country {
                u.intl_mo = u32::from(called != event.visited_country && Some(called) != home);
            }
        }
        u.night_events = u32::from(local_hour(event) < NIGHT_END_HOUR as f32);
        u.forwarded_calls = u32::from(event.call_forwarded == Some(true));
        u
    }
}

/// Usage of one bucket (10 minutes or an hour, by where it is kept).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UsageBucket {
    /// Bucket start, unix seconds (a multiple of its width).
    pub start: i64,
    pub usage: UsageCounts,
    /// Numbers called (outgoing calls and SMS) in the bucket.
    pub called: Distinct,
}

/// A device seen with this subscriber, by [`device_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenDevice {
    pub key: u64,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A country the subscriber has been seen in, or called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenCountry {
    pub country: CountryCode,
    pub first_seen: i64,
    pub last_seen: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveState {
    /// Incremented on every applied event; stores use it for optimistic concurrency. Kept by the
    /// store beside the encoded state, not in it.
    pub version: u64,
    /// Unix seconds of the newest event applied.
    pub last_event_time: Option<i64>,
    pub last_country: Option<CountryCode>,
    /// [`device_key`] of the newest event's device.
    pub last_device: Option<u64>,
    /// 10-minute buckets of the last hour, oldest first.
    pub recent: Vec<UsageBucket>,
    /// Hourly buckets of the 23 hours before, oldest first.
    pub hours: Vec<UsageBucket>,
    /// Countries called in the last 24 h.
    pub called_countries: Vec<SeenCountry>,
    pub devices: Vec<SeenDevice>,
    /// Countries visited.
    pub visited: Vec<SeenCountry>,
    pub applied: Applied,
    pub history: DailyHistory,
    pub scores: ScoreMarks,
}

/// Premium, satellite or hot range, or a high-risk destination country.
pub fn is_risky_destination(event: &RoamingEvent) -> bool {
    let range = event.called_number.as_deref().and_then(countries::destination_range).is_some();
    let tier = event.called_country.and_then(countries::info).map(|c| c.risk_tier).unwrap_or(0);
    range || tier >= 2
}

/// Local time of day (hours, fractional) in the visited country, from its standard UTC offset.
pub fn local_hour(event: &RoamingEvent) -> f32 {
    let offset_min = countries::info(event.visited_country).map(|c| i64::from(c.utc_offset_min)).unwrap_or(0);
    let local_secs = (event.event_time.timestamp() + offset_min * 60).rem_euclid(86_400);
    local_secs as f32 / 3600.0
}

/// The device part of an IMEI: TAC + serial number, the first 14 digits. Networks report the
/// same phone as a 15-digit IMEI (with check digit), a 16-digit IMEISV (with software version)
/// or 14 digits, so devices are compared on this.
pub fn device_id(imei: &str) -> &str {
    imei.get(..14).unwrap_or(imei)
}

/// The key a device is remembered by: the hash of its [`device_id`] (the state keeps no IMEI).
pub fn device_key(imei: &str) -> u64 {
    stable_hash(device_id(imei))
}

/// FNV-1a: stable across releases and platforms (state written by one version is read by the next).
pub fn stable_hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn bucket_start(t: i64) -> i64 {
    t.div_euclid(BUCKET_SECS) * BUCKET_SECS
}

fn hour_start(t: i64) -> i64 {
    t.div_euclid(HOUR_SECS) * HOUR_SECS
}

/// The first 10-minute bucket of the last hour ending in the bucket of `t`.
fn recent_from(t: i64) -> i64 {
    bucket_start(t) - WINDOW_1H_SECS + BUCKET_SECS
}

/// The first hour of the 24 h window ending in the hour of `t`.
fn day_from(t: i64) -> i64 {
    hour_start(t) - WINDOW_24H_SECS + HOUR_SECS
}

/// The bucket starting at `start` in a list sorted by start, created if missing.
fn bucket_at(list: &mut Vec<UsageBucket>, start: i64) -> &mut UsageBucket {
    let at = list.partition_point(|b| b.start < start);
    if list.get(at).is_none_or(|b| b.start != start) {
        list.insert(at, UsageBucket { start, ..UsageBucket::default() });
    }
    &mut list[at]
}

impl LiveState {
    /// The buckets of the 24 h window at `now` (up to `now`): the last hour's 10-minute buckets and
    /// the hours before, each with whether it is in the last hour too.
    fn window(&self, now: i64) -> impl Iterator<Item = (&UsageBucket, bool)> {
        let (from_1h, from_24h) = (recent_from(now), day_from(now));
        let hours = self.hours.iter().filter(move |b| b.start >= from_24h && b.start <= now).map(|b| (b, false));
        let recent = self.recent.iter().filter(move |b| b.start >= from_24h && b.start <= now);
        hours.chain(recent.map(move |b| (b, b.start >= from_1h)))
    }

    /// Usage over the last hour and the last 24 hours ending at `now`, plus `current`, in one pass.
    pub fn hour_and_day(&self, now: i64, current: &UsageCounts) -> (UsageCounts, UsageCounts) {
        let (mut hour, mut day) = (*current, *current);
        for (b, in_hour) in self.window(now) {
            day.add(&b.usage);
            if in_hour {
                hour.add(&b.usage);
            }
        }
        (hour, day)
    }

    /// Distinct numbers called over the last hour and the last 24 h (estimated: see [`Distinct`]),
    /// counting `current` (a number hash) too.
    pub fn distinct_called_hour_and_day(&self, now: i64, current: Option<u64>) -> (u32, u32) {
        let start = current.map_or(Distinct::default(), Distinct::bit);
        let (mut hour, mut day) = (start, start);
        for (b, in_hour) in self.window(now) {
            day = day.union(b.called);
            if in_hour {
                hour = hour.union(b.called);
            }
        }
        (hour.estimate(), day.estimate())
    }

    /// Distinct countries called within 24 h, counting `current` too.
    pub fn distinct_called_countries(&self, now: i64, current: Option<CountryCode>) -> u32 {
        let from = now - WINDOW_24H_SECS;
        let seen = self.called_countries.iter().filter(|c| c.last_seen > from && Some(c.country) != current).count();
        seen as u32 + u32::from(current.is_some())
    }

    /// Distinct devices within 24 h, counting `current` (an IMEI) too.
    pub fn distinct_devices(&self, now: i64, current: Option<&str>) -> u32 {
        let from = now - WINDOW_24H_SECS;
        let current = current.map(device_key);
        let seen = self.devices.iter().filter(|d| d.last_seen > from && Some(d.key) != current).count();
        seen as u32 + u32::from(current.is_some())
    }

    pub fn device(&self, imei: &str) -> Option<&SeenDevice> {
        let key = device_key(imei);
        self.devices.iter().find(|d| d.key == key)
    }

    pub fn visited_country(&self, country: CountryCode) -> Option<&SeenCountry> {
        self.visited.iter().find(|c| c.country == country)
    }

    /// True when this event was already folded into the state (a redelivery).
    pub fn has_applied(&self, event_id: &str, sequence: Option<&Sequence<'_>>) -> bool {
        self.applied.contains(event_id, sequence)
    }

    /// Folds one event into the state, once: a redelivered event is ignored (see [`Applied`]).
    /// Events should arrive in time order per subscriber; a late event still updates its bucket,
    /// but does not move `last_*` backwards. Returns false when the event was already applied.
    pub fn apply(&mut self, event: &RoamingEvent, home: Option<CountryCode>, sequence: Option<&Sequence<'_>>) -> bool {
        if self.has_applied(&event.event_id, sequence) {
            return false;
        }
        self.applied.record(&event.event_id, sequence);
        self.version += 1;
        let first_event = self.last_event_time.is_none();
        let t = event.event_time.timestamp();
        let newest = self.last_event_time.map_or(t, |last| last.max(t));
        self.roll(newest);

        let called = event.called_number.as_deref().filter(|_| event.event_type.is_originating()).map(stable_hash);
        let usage = UsageCounts::of(event, home);
        if t >= day_from(newest) {
            let bucket = if t >= recent_from(newest) {
                bucket_at(&mut self.recent, bucket_start(t))
            } else {
                bucket_at(&mut self.hours, hour_start(t))
            };
            bucket.usage.add(&usage);
            if let Some(hash) = called {
                bucket.called.insert(hash);
            }
        }
        if let (Some(country), Some(_)) = (event.called_country.filter(|_| event.event_type.is_originating()), called) {
            touch_country(&mut self.called_countries, country, t);
        }
        if let Some(key) = event.imei.as_deref().map(device_key) {
            match self.devices.iter_mut().find(|d| d.key == key) {
                Some(d) => {
                    d.first_seen = d.first_seen.min(t);
                    d.last_seen = d.last_seen.max(t);
                }
                None => self.devices.push(SeenDevice { key, first_seen: t, last_seen: t }),
            }
        }
        touch_country(&mut self.visited, event.visited_country, t);
        let (last_hour, _) = self.hour_and_day(t, &UsageCounts::default());
        self.history.add(t, &usage, &last_hour, first_event);
        if t >= newest {
            self.last_event_time = Some(t);
            self.last_country = Some(event.visited_country);
            if let Some(imei) = event.imei.as_deref() {
                self.last_device = Some(device_key(imei));
            }
        }
        self.prune(newest);
        true
    }

    /// Folds the 10-minute buckets that left the last hour (at `newest`) into their hours.
    fn roll(&mut self, newest: i64) {
        let from = recent_from(newest);
        let leaving = self.recent.partition_point(|b| b.start < from);
        for b in self.recent.drain(..leaving) {
            let hour = bucket_at(&mut self.hours, hour_start(b.start));
            hour.usage.add(&b.usage);
            hour.called = hour.called.union(b.called);
        }
    }

    /// Drops what no window can see any more and keeps the lists within their bounds (the most
    /// recent entries stay).
    fn prune(&mut self, now: i64) {
        let from = day_from(now);
        self.hours.retain(|b| b.start >= from);
        let horizon = now - WINDOW_24H_SECS;
        self.called_countries.retain(|c| c.last_seen > horizon);
        cap_most_recent(&mut self.devices, MAX_DEVICES, |d| d.last_seen);
        cap_most_recent(&mut self.visited, MAX_COUNTRIES, |c| c.last_seen);
    }

    /// Remembers the score an event got (after its decision; see [`ScoreMarks`]). Marks age
    /// out relative to the event marked, not to the newest event of its batch, so that a replay
    /// of scores in event order ([`crate::evaluation`]) keeps exactly the marks the pipeline kept.
    pub fn mark_score(&mut self, event_id: &str, at: i64, score: f32) {
        self.scores.mark(event_id, at, score, at);
    }

    /// Events counted in the state's buckets (for tests and reports).
    pub fn events_counted(&self) -> u64 {
        self.recent.iter().chain(&self.hours).map(|b| u64::from(b.usage.events)).sum()
    }
}

fn touch_country(list: &mut Vec<SeenCountry>, country: CountryCode, t: i64) {
    match list.iter_mut().find(|c| c.country == country) {
        Some(c) => {
            c.first_seen = c.first_seen.min(t);
            c.last_seen = c.last_seen.max(t);
        }
        None => list.push(SeenCountry { country, first_seen: t, last_seen: t }),
    }
}

fn cap_most_recent<T>(list: &mut Vec<T>, cap: usize, key: impl Fn(&T) -> i64) {
    if list.len() > cap {
        list.sort_by_key(|x| std::cmp::Reverse(key(x)));
        list.truncate(cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> RoamingEvent {
        RoamingEvent::from_json(json.as_bytes()).unwrap()
    }

    fn call(id: &str, time: &str, number: &str, secs: u32) -> RoamingEvent {
        event(&format!(
            r#"{{"event_id":"{id}","event_time":"{time}","imsi":"208011234567890","event_type":"voice_mo",
               "visited_country":"ES","called_number":"{number}","duration_s":{secs},"imei":"35693803564380"}}"#
        ))
    }

    fn t(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp()
    }

    #[test]
    fn when_events_older_than_24h_should_be_pruned() {
        let mut s = LiveState::default();
        s.apply(&call("a", "2026-05-01T00:00:00Z", "34911234567", 60), None, None);
        s.apply(&call("b", "2026-05-02T00:30:00Z", "34911234568", 60), None, None);
        assert_eq!((s.recent.len(), s.hours.len()), (1, 0));
        assert_eq!(s.events_counted(), 1);
        assert_eq!(s.distinct_called_hour_and_day(t("2026-05-02T00:31:00Z"), None), (1, 1));
        assert_eq!(s.version, 2);
    }

    #[test]
    fn when_window_is_1h_should_count_only_last_hour_plus_current() {
        let mut s = LiveState::default();
        s.apply(&call("a", "2026-05-01T10:00:00Z", "34911234567", 60), None, None);
        s.apply(&call("b", "2026-05-01T11:20:00Z", "34911234568", 5), None, None);
        let now = call("c", "2026-05-01T11:30:00Z", "34911234569", 30);
        let u = UsageCounts::of(&now, None);
        let (w1, w24) = s.hour_and_day(now.event_time.timestamp(), &u);
        assert_eq!((w1.voice_mo, w1.voice_secs, w1.short_mo_calls), (2, 35, 1));
        assert_eq!((w24.voice_mo, w24.voice_secs), (3, 95));
    }

    #[test]
    fn when_buckets_leave_the_last_hour_should_fold_into_hours_and_keep_24h_totals() {
        let mut s = LiveState::default();
        // One call every 20 minutes for 30 hours.
        for i in 0..90 {
            let at = t("2026-05-01T00:00:00Z") + i * 1200;
            let time = chrono::DateTime::from_timestamp(at, 0).unwrap().to_rfc3339();
            s.apply(&call(&format!("e{i}"), &time, &format!("3491123{i:04}"), 60), None, None);
        }
        assert!(s.recent.len() <= 6 && s.hours.len() <= 23, "{} recent, {} hours", s.recent.len(), s.hours.len());
        let now = s.last_event_time.unwrap();
        let (w1, w24) = s.hour_and_day(now, &UsageCounts::default());
        assert_eq!(w1.voice_mo, 3, "the last hour's six 10-minute buckets");
        // 24 h windows span 23-24 h: here the 23 hours before plus the current one, 3 calls each.
        assert_eq!(w24.voice_mo, 72);
        let (d1, d24) = s.distinct_called_hour_and_day(now, None);
        assert_eq!(d1, 3);
        assert!((62..=82).contains(&d24), "72 distinct numbers estimated as {d24}");
    }

    #[test]
    fn when_late_event_arrives_should_not_move_last_position_back() {
        let mut s = LiveState::default();
        let first = call("a", "2026-05-01T10:00:00Z", "34911234567", 60);
        s.apply(&first, None, None);
        let mut late = call("b", "2026-05-01T09:00:00Z", "33612345678", 60);
        late.visited_country = CountryCode::from_static("FR");
        s.apply(&late, None, None);
        assert_eq!(s.last_country, Some(CountryCode::from_static("ES")));
        assert_eq!(s.last_event_time, Some(first.event_time.timestamp()));
        assert_eq!((s.recent.len(), s.hours.len()), (1, 1), "the late event lands in its hour");
        assert_eq!(s.events_counted(), 2);
    }

    #[test]
    fn when_event_is_redelivered_should_not_count_it_twice() {
        let mut s = LiveState::default();
        let e = call("a", "2026-05-01T10:00:00Z", "34911234567", 60);
        assert!(s.apply(&e, None, None));
        let once = s.clone();
        assert!(!s.apply(&e, None, None));
        assert_eq!(s, once);
        assert!(s.has_applied("a", None) && !s.has_applied("b", None));
    }

    #[test]
    fn when_stream_record_is_redelivered_should_know_it_by_sequence_even_after_many_events() {
        let mut s = LiveState::default();
        let shard = "shardId-000000000000";
        let numbers: Vec<String> =
            (0..50).map(|i| format!("4959033827149025660855969253836157109592157598913{i:07}")).collect();
        for (i, n) in numbers.iter().enumerate() {
            let time = format!("2026-05-01T10:{:02}:00Z", i);
            s.apply(
                &call(&format!("e{i}"), &time, "34911234567", 60),
                None,
                Some(&Sequence { source: shard, number: n }),
            );
        }
        let once = s.clone();
        let redelivered = call("e3", "2026-05-01T10:03:00Z", "34911234567", 60);
        assert!(!s.apply(&redelivered, None, Some(&Sequence { source: shard, number: &numbers[3] })));
        assert_eq!(s, once, "an old record of the shard is not applied again");
    }
}
