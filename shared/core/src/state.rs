//! Per-subscriber live state: what the pipeline remembers between events (rolling usage windows,
//! last position, devices and destinations seen). Updated with each event in event order; data
//! older than the longest window is pruned on every update, so the state stays small.

use serde::{Deserialize, Serialize};

use crate::countries::{self, CountryCode};
use crate::events::RoamingEvent;

/// Width of one usage bucket. Windows are whole buckets: "last hour" is the last 6 buckets.
pub const BUCKET_SECS: i64 = 600;
/// Longest window kept.
pub const WINDOW_24H_SECS: i64 = 24 * 3600;
pub const WINDOW_1H_SECS: i64 = 3600;
/// Calls shorter than this count as "short" (SIM-box test calls, Wangiri one-ring calls).
pub const SHORT_CALL_SECS: u64 = 10;
/// Local hours [0, NIGHT_END_HOUR) count as night-time.
pub const NIGHT_END_HOUR: u32 = 6;

const MAX_CALLED_NUMBERS: usize = 512;
const MAX_DEVICES: usize = 16;
const MAX_COUNTRIES: usize = 64;
/// Redeliveries replay the records of a failed batch: a subscriber's share of one batch is far
/// below this, and the ids are kept for 24 h at most. The cap bounds the item size in DynamoDB.
const MAX_APPLIED: usize = 512;

/// Usage counters: of one event, one 10-minute bucket, or a window of buckets.
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

/// Usage of one 10-minute bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageBucket {
    /// Bucket start, unix seconds (multiple of [`BUCKET_SECS`]).
    pub start: i64,
    pub usage: UsageCounts,
}

/// A called number (hashed: the state never stores raw numbers) and when it was last called.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalledNumber {
    pub hash: u64,
    pub last_seen: i64,
}

/// A device seen with this subscriber, by [`device_id`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeenDevice {
    pub imei: String,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A country the subscriber has been seen in, or called.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeenCountry {
    pub country: CountryCode,
    pub first_seen: i64,
    pub last_seen: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    /// Incremented on every update; stores use it for optimistic concurrency.
    #[serde(default)]
    pub version: u64,
    /// Unix seconds of the newest event applied.
    #[serde(default)]
    pub last_event_time: Option<i64>,
    #[serde(default)]
    pub last_country: Option<CountryCode>,
    #[serde(default)]
    /// [`device_id`] of the newest event's device.
    pub last_imei: Option<String>,
    #[serde(default)]
    pub buckets: Vec<UsageBucket>,
    #[serde(default)]
    pub called_numbers: Vec<CalledNumber>,
    /// Countries called in the last 24 h.
    #[serde(default)]
    pub called_countries: Vec<SeenCountry>,
    #[serde(default)]
    pub devices: Vec<SeenDevice>,
    /// Countries visited (kept beyond 24 h: "never visited before" needs history).
    #[serde(default)]
    pub visited: Vec<SeenCountry>,
    /// Recently applied events (hashed event ids), so a redelivered event is not counted twice.
    #[serde(default)]
    pub applied: Vec<CalledNumber>,
    /// Event time (unix seconds) of the last pruning.
    #[serde(default)]
    pub pruned_at: i64,
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

impl LiveState {
    /// Usage over the last hour and the last 24 hours ending at `now` (whole 10-minute buckets),
    /// plus `current`, in one pass.
    pub fn hour_and_day(&self, now: i64, current: &UsageCounts) -> (UsageCounts, UsageCounts) {
        let end = bucket_start(now);
        let (from_1h, from_24h) = (end - WINDOW_1H_SECS + BUCKET_SECS, end - WINDOW_24H_SECS + BUCKET_SECS);
        let (mut hour, mut day) = (*current, *current);
        for b in self.buckets.iter().filter(|b| b.start >= from_24h && b.start <= now) {
            day.add(&b.usage);
            if b.start >= from_1h {
                hour.add(&b.usage);
            }
        }
        (hour, day)
    }

    /// Distinct numbers called over the last hour and the last 24 h, counting `current` (a
    /// number hash) too.
    pub fn distinct_called_hour_and_day(&self, now: i64, current: Option<u64>) -> (u32, u32) {
        let (from_1h, from_24h) = (now - WINDOW_1H_SECS, now - WINDOW_24H_SECS);
        let (mut hour, mut day) = (0u32, 0u32);
        for n in self.called_numbers.iter().filter(|n| n.last_seen > from_24h && Some(n.hash) != current) {
            day += 1;
            hour += u32::from(n.last_seen > from_1h);
        }
        let current = u32::from(current.is_some());
        (hour + current, day + current)
    }

    /// Distinct countries called within 24 h, counting `current` too.
    pub fn distinct_called_countries(&self, now: i64, current: Option<CountryCode>) -> u32 {
        let from = now - WINDOW_24H_SECS;
        let seen = self.called_countries.iter().filter(|c| c.last_seen > from && Some(c.country) != current).count();
        seen as u32 + u32::from(current.is_some())
    }

    /// Distinct devices within 24 h, counting `current` too.
    pub fn distinct_devices(&self, now: i64, current: Option<&str>) -> u32 {
        let from = now - WINDOW_24H_SECS;
        let seen = self
            .devices
            .iter()
            .filter(|d| d.last_seen > from && Some(d.imei.as_str()) != current.map(device_id))
            .count();
        seen as u32 + u32::from(current.is_some())
    }

    pub fn device(&self, imei: &str) -> Option<&SeenDevice> {
        let id = device_id(imei);
        self.devices.iter().find(|d| d.imei == id)
    }

    pub fn visited_country(&self, country: CountryCode) -> Option<&SeenCountry> {
        self.visited.iter().find(|c| c.country == country)
    }

    /// True when this event was already folded into the state (a redelivery).
    pub fn has_applied(&self, event_id: &str) -> bool {
        let hash = stable_hash(event_id);
        self.applied.iter().any(|a| a.hash == hash)
    }

    /// Folds one event into the state, once: a redelivered event (same event_id) is ignored.
    /// Events should arrive in time order per subscriber; a late event still updates its bucket,
    /// but does not move `last_*` backwards. Returns false when the event was already applied.
    pub fn apply(&mut self, event: &RoamingEvent, home: Option<CountryCode>) -> bool {
        if self.has_applied(&event.event_id) {
            return false;
        }
        let t = event.event_time.timestamp();
        self.applied.push(CalledNumber { hash: stable_hash(&event.event_id), last_seen: t });
        let usage = UsageCounts::of(event, home);
        let newest = self.last_event_time.map_or(t, |last| last.max(t));
        self.version += 1;

        let start = bucket_start(t);
        let bucket = match self.buckets.iter().position(|b| b.start == start) {
            Some(i) => &mut self.buckets[i],
            None => {
                let at = self.buckets.partition_point(|b| b.start < start);
                self.buckets.insert(at, UsageBucket { start, ..UsageBucket::default() });
                &mut self.buckets[at]
            }
        };
        bucket.usage.add(&usage);

        if event.event_type.is_originating()
            && let Some(number) = &event.called_number
        {
            let hash = stable_hash(number);
            match self.called_numbers.iter_mut().find(|n| n.hash == hash) {
                Some(n) => n.last_seen = n.last_seen.max(t),
                None => self.called_numbers.push(CalledNumber { hash, last_seen: t }),
            }
            if let Some(country) = event.called_country {
                touch_country(&mut self.called_countries, country, t);
            }
        }
        if let Some(imei) = event.imei.as_deref().map(device_id) {
            match self.devices.iter_mut().find(|d| d.imei == imei) {
                Some(d) => {
                    d.first_seen = d.first_seen.min(t);
                    d.last_seen = d.last_seen.max(t);
                }
                None => self.devices.push(SeenDevice { imei: imei.to_string(), first_seen: t, last_seen: t }),
            }
        }
        touch_country(&mut self.visited, event.visited_country, t);

        if t >= newest {
            self.last_event_time = Some(t);
            self.last_country = Some(event.visited_country);
            if let Some(imei) = event.imei.as_deref() {
                self.last_imei = Some(device_id(imei).to_string());
            }
        }
        // Pruning walks every list: do it once per bucket of event time, or when a cap is hit.
        // Windows filter by time themselves, so entries a few minutes past the horizon are inert.
        if newest - self.pruned_at >= BUCKET_SECS
            || self.called_numbers.len() > MAX_CALLED_NUMBERS
            || self.applied.len() > MAX_APPLIED
            || self.devices.len() > MAX_DEVICES
            || self.visited.len() > MAX_COUNTRIES
        {
            self.prune(newest);
        }
        true
    }

    /// Drops what no window can see any more and caps the lists (keeping the most recent).
    fn prune(&mut self, now: i64) {
        self.pruned_at = now;
        let horizon = now - WINDOW_24H_SECS;
        self.buckets.retain(|b| b.start + BUCKET_SECS > horizon);
        self.called_numbers.retain(|n| n.last_seen > horizon);
        cap_most_recent(&mut self.called_numbers, MAX_CALLED_NUMBERS, |n| n.last_seen);
        self.applied.retain(|a| a.last_seen > horizon);
        cap_most_recent(&mut self.applied, MAX_APPLIED, |a| a.last_seen);
        self.called_countries.retain(|c| c.last_seen > horizon);
        cap_most_recent(&mut self.devices, MAX_DEVICES, |d| d.last_seen);
        cap_most_recent(&mut self.visited, MAX_COUNTRIES, |c| c.last_seen);
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

    #[test]
    fn when_events_older_than_24h_should_be_pruned() {
        let mut s = LiveState::default();
        s.apply(&call("a", "2026-05-01T00:00:00Z", "34911234567", 60), None);
        s.apply(&call("b", "2026-05-02T00:30:00Z", "34911234568", 60), None);
        assert_eq!(s.buckets.len(), 1);
        assert_eq!(s.called_numbers.len(), 1);
        assert_eq!(s.version, 2);
    }

    #[test]
    fn when_window_is_1h_should_count_only_last_hour_plus_current() {
        let mut s = LiveState::default();
        s.apply(&call("a", "2026-05-01T10:00:00Z", "34911234567", 60), None);
        s.apply(&call("b", "2026-05-01T11:20:00Z", "34911234568", 5), None);
        let now = call("c", "2026-05-01T11:30:00Z", "34911234569", 30);
        let u = UsageCounts::of(&now, None);
        let (w1, w24) = s.hour_and_day(now.event_time.timestamp(), &u);
        assert_eq!((w1.voice_mo, w1.voice_secs, w1.short_mo_calls), (2, 35, 1));
        assert_eq!((w24.voice_mo, w24.voice_secs), (3, 95));
    }

    #[test]
    fn when_late_event_arrives_should_not_move_last_position_back() {
        let mut s = LiveState::default();
        let first = call("a", "2026-05-01T10:00:00Z", "34911234567", 60);
        s.apply(&first, None);
        let mut late = call("b", "2026-05-01T09:00:00Z", "33612345678", 60);
        late.visited_country = CountryCode::from_static("FR");
        s.apply(&late, None);
        assert_eq!(s.last_country, Some(CountryCode::from_static("ES")));
        assert_eq!(s.last_event_time, Some(first.event_time.timestamp()));
        assert_eq!(s.buckets.len(), 2);
        assert!(s.buckets[0].start < s.buckets[1].start);
    }

    #[test]
    fn when_event_is_redelivered_should_not_count_it_twice() {
        let mut s = LiveState::default();
        let e = call("a", "2026-05-01T10:00:00Z", "34911234567", 60);
        assert!(s.apply(&e, None));
        let once = s.clone();
        assert!(!s.apply(&e, None));
        assert_eq!(s, once);
        assert!(s.has_applied("a") && !s.has_applied("b"));
    }

    #[test]
    fn when_state_round_trips_through_json_should_be_equal() {
        let mut s = LiveState::default();
        s.apply(&call("a", "2026-05-01T10:00:00Z", "34911234567", 60), None);
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("34911234567"), "raw numbers must not be stored");
        assert_eq!(serde_json::from_str::<LiveState>(&json).unwrap(), s);
    }
}
