//! Feature engineering: ONE pure function from (event, profile, live state before the event) to
//! the model's feature vector. Training-data export and online scoring both call [`compute`], so
//! what the model was trained on is exactly what it sees in production.
//!
//! Missing values are `NaN` (XGBoost's "missing"): e.g. profile features for an unknown
//! subscriber, or call features on a data session.

use crate::countries::{self, CountryCode, RangeKind};
use crate::events::{EventType, RoamingEvent};
use crate::profile::{Plan, SubscriberProfile};
use crate::state::{self, LiveState, UsageCounts};

/// Floors for the baselines used as denominators, so a near-zero baseline does not turn one
/// ordinary call into an extreme ratio.
const MIN_VOICE_MIN_BASELINE: f32 = 5.0;
const MIN_SMS_BASELINE: f32 = 2.0;
const MIN_DATA_MB_BASELINE: f32 = 50.0;
/// Floors for the subscriber's own busiest hour, for the same reason.
const MIN_VOICE_MIN_PEAK: f32 = 5.0;
const MIN_DATA_MB_PEAK: f32 = 20.0;
/// Weight of the profile's averages in the baselines, in days of own history: with `d` completed
/// active days, the baseline is `(d · own mean + PRIOR_DAYS · profile average) / (d + PRIOR_DAYS)`.
/// Two days: a new traveller is judged by the operator's averages, someone who has roamed for a
/// week mostly by their own habits; a fraud episode of a day or two cannot make itself the norm.
const PRIOR_DAYS: f32 = 2.0;
const MB: f32 = 1_000_000.0;

/// (name, one-line description) of every feature, in model column order.
pub const FEATURES: [(&str, &str); NUM_FEATURES] = [
    ("is_voice_mo", "1 if the event is an outgoing call"),
    ("is_voice_mt", "1 if the event is an incoming call"),
    ("is_sms_mo", "1 if the event is an outgoing SMS"),
    ("is_data", "1 if the event is a data session"),
    ("duration_s", "call duration in seconds (missing unless a call)"),
    ("data_mb", "data volume of this session in MB (missing unless data)"),
    ("call_forwarded", "1 if the call was forwarded (missing when not reported)"),
    (
        "called_range_kind",
        "called number's range: 0 ordinary, 1 IRSF hot range, 2 satellite, 3 premium rate (missing: no called number)",
    ),
    ("called_country_risk", "risk tier 0–2 of the called country (missing: no called country)"),
    ("called_is_international", "1 if the called country is neither home nor the visited country"),
    ("local_hour", "hour of day (fractional) in the visited country's standard time"),
    ("is_prepaid", "1 for prepaid plans (missing: unknown subscriber)"),
    ("tenure_days", "days since the subscription started (missing: unknown subscriber)"),
    ("country_is_new", "1 if the visited country is not home, not usual and never seen before for this subscriber"),
    (
        "country_first_seen_h",
        "hours since the subscriber was first seen in this country (missing: home or usual country)",
    ),
    (
        "travel_speed_kmh",
        "least distance between previous and current country over the time between the events, km/h (0 same country; missing: first event)",
    ),
    ("secs_since_last_event", "seconds since the subscriber's previous event (missing: first event)"),
    (
        "imei_unknown",
        "1 if the device (IMEI's first 14 digits) is not among the profile's known IMEIs (missing: no IMEI reported)",
    ),
    (
        "imei_first_seen_h",
        "hours since this device was first seen with the subscriber (missing: no IMEI or known device)",
    ),
    ("imei_changed", "1 if the device differs from the previous event's device"),
    ("distinct_imeis_24h", "distinct devices over the last 24 h"),
    ("voice_min_1h", "voice minutes (in + out) over the last hour"),
    (
        "voice_1h_vs_baseline",
        "voice minutes over the last hour / the subscriber's daily voice baseline (own active days blended with the profile's average)",
    ),
    ("voice_24h_vs_baseline", "voice minutes over the last 24 h / daily voice baseline"),
    ("sms_1h_vs_baseline", "SMS (in + out) over the last hour / daily SMS baseline"),
    ("sms_24h_vs_baseline", "SMS over the last 24 h / daily SMS baseline"),
    ("data_mb_24h", "data MB over the last 24 h"),
    ("data_1h_vs_baseline", "data MB over the last hour / daily data MB baseline"),
    ("data_24h_vs_baseline", "data MB over the last 24 h / daily data MB baseline"),
    ("mo_calls_1h", "outgoing calls over the last hour"),
    ("mo_calls_24h", "outgoing calls over the last 24 h"),
    (
        "mo_share_24h",
        "outgoing share of calls over the last 24 h (SIM-boxes make, never take, calls; missing: no calls)",
    ),
    ("short_call_share_24h", "share of outgoing calls under 10 s over the last 24 h (missing: no outgoing calls)"),
    ("distinct_called_1h", "distinct numbers called over the last hour (estimated: see the live state's sketch)"),
    ("distinct_called_24h", "distinct numbers called over the last 24 h (estimated)"),
    ("distinct_called_countries_24h", "distinct countries called over the last 24 h"),
    (
        "risky_calls_24h",
        "outgoing calls/SMS to premium, satellite, hot ranges or high-risk countries over the last 24 h",
    ),
    ("intl_calls_24h", "outgoing calls/SMS to countries neither home nor visited over the last 24 h"),
    ("night_share_24h", "share of events at local night time (00–06) over the last 24 h"),
    ("forwarded_calls_24h", "forwarded calls over the last 24 h"),
    ("events_1h", "events of any kind over the last hour"),
    ("history_days", "completed active roaming days in the subscriber's own history (0–60)"),
    (
        "voice_1h_vs_peak",
        "voice minutes over the last hour / the subscriber's usual busiest hour of voice (missing: no completed day)",
    ),
    (
        "data_1h_vs_peak",
        "data MB over the last hour / the subscriber's usual busiest hour of data (missing: no completed day)",
    ),
];

pub const NUM_FEATURES: usize = 44;

/// Feature names in column order.
pub fn names() -> impl Iterator<Item = &'static str> {
    FEATURES.iter().map(|(name, _)| *name)
}

pub fn index_of(name: &str) -> Option<usize> {
    FEATURES.iter().position(|(n, _)| *n == name)
}

pub type FeatureVector = [f32; NUM_FEATURES];

fn flag(b: bool) -> f32 {
    if b { 1.0 } else { 0.0 }
}

fn share(part: u32, whole: u32) -> f32 {
    if whole == 0 { f32::NAN } else { part as f32 / whole as f32 }
}

/// Computes the features of `event` given the subscriber's `profile` (None: unknown subscriber)
/// and the live `state` as it was before this event.
pub fn compute(event: &RoamingEvent, profile: Option<&SubscriberProfile>, state: &LiveState) -> FeatureVector {
    let now = event.event_time.timestamp();
    let home: Option<CountryCode> = profile.map(|p| p.home_country);
    let usage = UsageCounts::of(event, home);
    let (w1, w24) = state.hour_and_day(now, &usage);

    let is_call = event.event_type.is_voice();
    let called_number = event.called_number.as_deref().filter(|_| event.event_type.is_originating());
    let called_hash = called_number.map(state::stable_hash);
    let (distinct_called_1h, distinct_called_24h) = state.distinct_called_hour_and_day(now, called_hash);
    let called_country = event.called_country.filter(|_| event.event_type.is_originating());

    let called_range_kind = called_number.map(|n| match countries::destination_range(n).map(|r| r.kind) {
        None => 0.0,
        Some(RangeKind::HotRange) => 1.0,
        Some(RangeKind::Satellite) => 2.0,
        Some(RangeKind::PremiumRate) => 3.0,
    });
    let called_country_risk = called_country.map(|c| countries::info(c).map_or(0.0, |i| f32::from(i.risk_tier)));
    let called_is_international = called_country.map(|c| flag(c != event.visited_country && Some(c) != home));

    let visited = event.visited_country;
    let usual = profile.is_some_and(|p| p.home_country == visited || p.usual_countries.contains(&visited));
    let seen_here = state.visited_country(visited);
    let country_is_new = !usual && seen_here.is_none();
    let country_first_seen_h =
        if usual { f32::NAN } else { seen_here.map_or(0.0, |c| (now - c.first_seen).max(0) as f32 / 3600.0) };

    let (travel_speed_kmh, secs_since_last) = match (state.last_event_time, state.last_country) {
        (Some(last), Some(last_country)) => {
            let secs = (now - last).max(0) as f32;
            let km = countries::min_travel_km(last_country, visited).unwrap_or(0.0);
            // A minute of slack: clocks of different networks disagree a little.
            let speed = if km == 0.0 { 0.0 } else { km / ((secs + 60.0) / 3600.0) };
            (speed, secs)
        }
        _ => (f32::NAN, f32::NAN),
    };

    let imei = event.imei.as_deref().map(state::device_id);
    let known_device = |i: &str| profile.is_some_and(|p| p.known_imeis.iter().any(|k| state::device_id(k) == i));
    let imei_unknown = match (imei, profile) {
        (Some(i), Some(_)) => flag(!known_device(i)),
        _ => f32::NAN,
    };
    let imei_first_seen_h = match imei {
        Some(i) if !known_device(i) => state.device(i).map_or(0.0, |d| (now - d.first_seen).max(0) as f32 / 3600.0),
        _ => f32::NAN,
    };
    let imei_changed = match (imei, state.last_device) {
        (Some(i), Some(last)) => flag(state::device_key(i) != last),
        _ => f32::NAN,
    };

    let own = state.history.completed_at(now, state.last_event_time.is_some());
    let history_days = own.map_or(0, |(_, days)| days);
    let DailyBaselines { voice_min: voice_base, sms: sms_base, data_mb: data_base, .. } =
        DailyBaselines::of(profile, state, now);
    let voice_peak = own.map_or(f32::NAN, |(d, _)| (d.peak_voice_secs_1h / 60.0).max(MIN_VOICE_MIN_PEAK));
    let data_peak = own.map_or(f32::NAN, |(d, _)| (d.peak_data_bytes_1h / MB).max(MIN_DATA_MB_PEAK));
    let voice_min_1h = w1.voice_secs as f32 / 60.0;
    let voice_min_24h = w24.voice_secs as f32 / 60.0;
    let data_mb_1h = w1.data_bytes as f32 / MB;
    let data_mb_24h = w24.data_bytes as f32 / MB;

    [
        flag(event.event_type == EventType::VoiceMo),
        flag(event.event_type == EventType::VoiceMt),
        flag(event.event_type == EventType::SmsMo),
        flag(event.event_type == EventType::Data),
        if is_call { event.voice_seconds() as f32 } else { f32::NAN },
        if event.event_type == EventType::Data { event.bytes() as f32 / MB } else { f32::NAN },
        event.call_forwarded.map_or(f32::NAN, flag),
        called_range_kind.unwrap_or(f32::NAN),
        called_country_risk.unwrap_or(f32::NAN),
        called_is_international.unwrap_or(f32::NAN),
        state::local_hour(event),
        profile.map_or(f32::NAN, |p| flag(p.plan == Plan::Prepaid)),
        profile.map_or(f32::NAN, |p| p.tenure_days as f32),
        flag(country_is_new),
        country_first_seen_h,
        travel_speed_kmh,
        secs_since_last,
        imei_unknown,
        imei_first_seen_h,
        imei_changed,
        state.distinct_devices(now, imei) as f32,
        voice_min_1h,
        voice_min_1h / voice_base,
        voice_min_24h / voice_base,
        (w1.sms_mo + w1.sms_mt) as f32 / sms_base,
        (w24.sms_mo + w24.sms_mt) as f32 / sms_base,
        data_mb_24h,
        data_mb_1h / data_base,
        data_mb_24h / data_base,
        w1.voice_mo as f32,
        w24.voice_mo as f32,
        share(w24.voice_mo, w24.voice_mo + w24.voice_mt),
        share(w24.short_mo_calls, w24.voice_mo),
        distinct_called_1h as f32,
        distinct_called_24h as f32,
        state.distinct_called_countries(now, called_country) as f32,
        w24.risky_mo as f32,
        w24.intl_mo as f32,
        share(w24.night_events, w24.events),
        w24.forwarded_calls as f32,
        w1.events as f32,
        f32::from(history_days),
        voice_min_1h / voice_peak,
        data_mb_1h / data_peak,
    ]
}

/// A subscriber's usual day, as the features divide by it: the profile's averages blended with
/// the subscriber's own completed active days (NaN when neither is known).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DailyBaselines {
    pub voice_min: f32,
    pub sms: f32,
    pub data_mb: f32,
    /// Completed active days of own history behind them.
    pub history_days: u16,
}

impl DailyBaselines {
    /// The baselines at `now` (Unix seconds) for a subscriber with this profile and state.
    pub fn of(profile: Option<&SubscriberProfile>, state: &LiveState, now: i64) -> DailyBaselines {
        let own = state.history.completed_at(now, state.last_event_time.is_some());
        DailyBaselines {
            voice_min: baseline(
                profile.map(|p| p.avg_daily_voice_min),
                own.map(|(d, days)| (d.voice_secs / 60.0, days)),
                MIN_VOICE_MIN_BASELINE,
            ),
            sms: baseline(profile.map(|p| p.avg_daily_sms), own.map(|(d, days)| (d.sms, days)), MIN_SMS_BASELINE),
            data_mb: baseline(
                profile.map(|p| p.avg_daily_data_mb),
                own.map(|(d, days)| (d.data_bytes / MB, days)),
                MIN_DATA_MB_BASELINE,
            ),
            history_days: own.map_or(0, |(_, days)| days),
        }
    }
}

/// A daily baseline: the profile's average and the subscriber's own mean of `days` completed
/// active days, weighted by [`PRIOR_DAYS`]; either alone when the other is unknown (missing when
/// both are), never below `floor`.
fn baseline(profile_avg: Option<f32>, own: Option<(f32, u16)>, floor: f32) -> f32 {
    let blended = match (profile_avg, own) {
        (Some(avg), Some((mean, days))) => {
            let days = f32::from(days);
            (days * mean + PRIOR_DAYS * avg) / (days + PRIOR_DAYS)
        }
        (Some(avg), None) => avg,
        (None, Some((mean, _))) => mean,
        (None, None) => return f32::NAN,
    };
    blended.max(floor)
}

/// Replays events through profiles and per-subscriber live state in memory, the way the scoring
/// pipeline does: features from the state *before* each event, then the event is applied.
/// Used for training-data export, so training rows are made by the online code path.
#[derive(Default)]
pub struct Replay {
    profiles: std::collections::HashMap<String, SubscriberProfile>,
    states: std::collections::HashMap<String, LiveState>,
}

impl Replay {
    pub fn new(profiles: impl IntoIterator<Item = SubscriberProfile>) -> Replay {
        Replay { profiles: profiles.into_iter().map(|p| (p.imsi.clone(), p)).collect(), states: Default::default() }
    }

    pub fn profile(&self, imsi: &str) -> Option<&SubscriberProfile> {
        self.profiles.get(imsi)
    }

    /// Folds `event` into the subscriber's state without computing its features.
    pub fn apply(&mut self, event: &RoamingEvent) {
        let profile = self.profiles.get(&event.imsi);
        self.states.entry(event.imsi.clone()).or_default().apply(event, profile.map(|p| p.home_country), None);
    }

    /// The live states built, by IMSI.
    pub fn into_states(self) -> std::collections::HashMap<String, LiveState> {
        self.states
    }

    /// Features of `event`, then folds it into the subscriber's state.
    pub fn next(&mut self, event: &RoamingEvent) -> FeatureVector {
        let profile = self.profiles.get(&event.imsi);
        let state = self.states.entry(event.imsi.clone()).or_default();
        let row = compute(event, profile, state);
        state.apply(event, profile.map(|p| p.home_country), None);
        row
    }
}

/// Formats a feature row as the CSV the SageMaker XGBoost container takes (`text/csv`, no
/// header, empty field = missing).
pub fn write_csv_row(row: &[f32], out: &mut String) {
    use std::fmt::Write;
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if !v.is_nan() {
            // `{}` prints the shortest text that parses back to the same f32.
            let _ = write!(out, "{v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME_IMEI: &str = "35693803564380";

    fn profile() -> SubscriberProfile {
        SubscriberProfile {
            imsi: "208011234567890".into(),
            home_country: CountryCode::from_static("FR"),
            plan: Plan::Postpaid,
            tenure_days: 900,
            usual_countries: vec![CountryCode::from_static("ES"), CountryCode::from_static("IT")],
            known_imeis: vec![HOME_IMEI.into()],
            avg_daily_voice_min: 20.0,
            avg_daily_sms: 4.0,
            avg_daily_data_mb: 200.0,
        }
    }

    fn ev(time: &str, kind: &str, country: &str, extra: &str) -> RoamingEvent {
        static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let json = format!(
            r#"{{"event_id":"e{id}","event_time":"{time}","imsi":"208011234567890","event_type":"{kind}",
               "visited_country":"{country}","imei":"{HOME_IMEI}"{extra}}}"#
        );
        RoamingEvent::from_json(json.as_bytes()).unwrap()
    }

    fn call(time: &str, number: &str, secs: u32) -> RoamingEvent {
        ev(time, "voice_mo", "ES", &format!(r#","called_number":"{number}","duration_s":{secs}"#))
    }

    fn f(row: &FeatureVector, name: &str) -> f32 {
        row[index_of(name).unwrap()]
    }

    /// Applies `history` in order, then computes the features of `event`.
    fn features_after(history: &[RoamingEvent], event: &RoamingEvent, p: Option<&SubscriberProfile>) -> FeatureVector {
        let mut s = LiveState::default();
        let home = p.map(|p| p.home_country);
        for h in history {
            s.apply(h, home, None);
        }
        compute(event, p, &s)
    }

    #[test]
    fn when_feature_table_is_built_should_have_unique_names() {
        let mut names: Vec<_> = names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NUM_FEATURES);
    }

    #[test]
    fn when_event_type_varies_should_set_one_hot_flags() {
        let p = profile();
        let r = features_after(&[], &call("2026-05-01T12:00:00Z", "34911234567", 60), Some(&p));
        assert_eq!(
            (f(&r, "is_voice_mo"), f(&r, "is_voice_mt"), f(&r, "is_sms_mo"), f(&r, "is_data")),
            (1.0, 0.0, 0.0, 0.0)
        );
        assert_eq!(f(&r, "duration_s"), 60.0);
        assert!(f(&r, "data_mb").is_nan());
        let d = features_after(&[], &ev("2026-05-01T12:00:00Z", "data", "ES", r#","data_bytes":5000000"#), Some(&p));
        assert_eq!((f(&d, "is_data"), f(&d, "data_mb")), (1.0, 5.0));
        assert!(f(&d, "duration_s").is_nan());
        let sms = features_after(
            &[],
            &ev("2026-05-01T12:00:00Z", "sms_mo", "ES", r#","called_number":"34911234567""#),
            Some(&p),
        );
        assert_eq!((f(&sms, "is_sms_mo"), f(&sms, "is_voice_mo")), (1.0, 0.0));
        let mt = features_after(&[], &ev("2026-05-01T12:00:00Z", "voice_mt", "ES", r#","duration_s":30"#), Some(&p));
        assert_eq!((f(&mt, "is_voice_mt"), f(&mt, "duration_s")), (1.0, 30.0));
        assert!(f(&mt, "called_range_kind").is_nan(), "incoming calls have no called destination of ours");
    }

    #[test]
    fn when_call_is_forwarded_should_flag_it_and_count_it() {
        let p = profile();
        let fwd = || {
            ev(
                "2026-05-01T12:00:00Z",
                "voice_mo",
                "ES",
                r#","called_number":"34911234567","duration_s":60,"call_forwarded":true"#,
            )
        };
        let r = features_after(&[fwd()], &fwd(), Some(&p));
        assert_eq!(f(&r, "call_forwarded"), 1.0);
        assert_eq!(f(&r, "forwarded_calls_24h"), 2.0);
        assert!(
            f(&features_after(&[], &call("2026-05-01T12:00:00Z", "34911234567", 60), Some(&p)), "call_forwarded")
                .is_nan()
        );
    }

    #[test]
    fn when_calling_premium_satellite_or_risky_country_should_flag_destination() {
        let p = profile();
        let sat = features_after(&[], &call("2026-05-01T12:00:00Z", "881612345678", 60), Some(&p));
        assert_eq!(f(&sat, "called_range_kind"), 2.0);
        assert_eq!(f(&sat, "risky_calls_24h"), 1.0);
        let somalia = features_after(&[], &call("2026-05-01T12:00:00Z", "252612345678", 60), Some(&p));
        assert_eq!(f(&somalia, "called_country_risk"), 2.0);
        assert_eq!(f(&somalia, "called_is_international"), 1.0);
        let local = features_after(&[], &call("2026-05-01T12:00:00Z", "34911234567", 60), Some(&p));
        assert_eq!((f(&local, "called_range_kind"), f(&local, "called_is_international")), (0.0, 0.0));
        assert_eq!(f(&local, "risky_calls_24h"), 0.0);
    }

    #[test]
    fn when_event_is_at_night_local_time_should_report_local_hour_and_night_share() {
        let p = profile();
        // 01:30 UTC is 02:30 in Spain (UTC+1 standard time).
        let night = call("2026-05-01T01:30:00Z", "34911234567", 60);
        let r = features_after(&[], &night, Some(&p));
        assert_eq!(f(&r, "local_hour"), 2.5);
        assert_eq!(f(&r, "night_share_24h"), 1.0);
        let day = call("2026-05-01T11:30:00Z", "34911234567", 60);
        assert_eq!(f(&features_after(&[night], &day, Some(&p)), "night_share_24h"), 0.5);
    }

    #[test]
    fn when_subscriber_is_prepaid_and_new_should_report_plan_and_tenure() {
        let mut p = profile();
        p.plan = Plan::Prepaid;
        p.tenure_days = 3;
        let r = features_after(&[], &call("2026-05-01T12:00:00Z", "34911234567", 60), Some(&p));
        assert_eq!((f(&r, "is_prepaid"), f(&r, "tenure_days")), (1.0, 3.0));
        let unknown = features_after(&[], &call("2026-05-01T12:00:00Z", "34911234567", 60), None);
        assert!(f(&unknown, "is_prepaid").is_nan() && f(&unknown, "tenure_days").is_nan());
    }

    #[test]
    fn when_country_never_visited_should_flag_new_country_until_seen() {
        let p = profile();
        let first = ev("2026-05-01T12:00:00Z", "data", "TH", r#","data_bytes":1000"#);
        let r = features_after(&[], &first, Some(&p));
        assert_eq!((f(&r, "country_is_new"), f(&r, "country_first_seen_h")), (1.0, 0.0));
        let later = ev("2026-05-01T15:00:00Z", "data", "TH", r#","data_bytes":1000"#);
        let r = features_after(&[first], &later, Some(&p));
        assert_eq!((f(&r, "country_is_new"), f(&r, "country_first_seen_h")), (0.0, 3.0));
        let usual = features_after(&[], &call("2026-05-01T12:00:00Z", "34911234567", 60), Some(&p));
        assert_eq!(f(&usual, "country_is_new"), 0.0);
        assert!(f(&usual, "country_first_seen_h").is_nan());
    }

    #[test]
    fn when_country_changes_faster_than_a_plane_should_report_impossible_speed() {
        let p = profile();
        let spain = call("2026-05-01T12:00:00Z", "34911234567", 60);
        let australia = ev("2026-05-01T12:30:00Z", "data", "AU", r#","data_bytes":1000"#);
        let r = features_after(std::slice::from_ref(&spain), &australia, Some(&p));
        assert!(f(&r, "travel_speed_kmh") > 10_000.0, "{}", f(&r, "travel_speed_kmh"));
        assert_eq!(f(&r, "secs_since_last_event"), 1800.0);
        // Neighbouring countries: a border commuter is not impossible travel.
        let portugal = ev("2026-05-01T12:30:00Z", "data", "PT", r#","data_bytes":1000"#);
        assert!(f(&features_after(std::slice::from_ref(&spain), &portugal, Some(&p)), "travel_speed_kmh") < 300.0);
        assert!(f(&features_after(&[], &spain, Some(&p)), "travel_speed_kmh").is_nan());
    }

    #[test]
    fn when_device_is_swapped_should_flag_unknown_and_changed_imei() {
        let p = profile();
        let before = call("2026-05-01T12:00:00Z", "34911234567", 60);
        let mut swapped = call("2026-05-01T12:10:00Z", "34911234567", 60);
        swapped.imei = Some("86012345678901".into());
        let r = features_after(std::slice::from_ref(&before), &swapped, Some(&p));
        assert_eq!((f(&r, "imei_unknown"), f(&r, "imei_changed"), f(&r, "imei_first_seen_h")), (1.0, 1.0, 0.0));
        assert_eq!(f(&r, "distinct_imeis_24h"), 2.0);
        let same = features_after(std::slice::from_ref(&before), &before, Some(&p));
        assert_eq!((f(&same, "imei_unknown"), f(&same, "imei_changed")), (0.0, 0.0));
        assert!(f(&same, "imei_first_seen_h").is_nan());
        // The same phone reported as IMEISV (16 digits) is the same device.
        let mut imeisv = call("2026-05-01T12:20:00Z", "34911234567", 60);
        imeisv.imei = Some(format!("{HOME_IMEI}07"));
        let r = features_after(std::slice::from_ref(&before), &imeisv, Some(&p));
        assert_eq!((f(&r, "imei_unknown"), f(&r, "imei_changed"), f(&r, "distinct_imeis_24h")), (0.0, 0.0, 1.0));
    }

    #[test]
    fn when_usage_exceeds_baseline_should_report_ratios_over_1h_and_24h() {
        let p = profile(); // 20 voice min/day, 4 SMS/day, 200 MB/day
        let history = [
            call("2026-05-01T01:00:00Z", "34911234567", 1200),
            call("2026-05-01T11:40:00Z", "34911234568", 600),
            ev("2026-05-01T11:45:00Z", "sms_mt", "ES", ""),
            ev("2026-05-01T11:50:00Z", "data", "ES", r#","data_bytes":100000000"#),
        ];
        let now = ev("2026-05-01T12:00:00Z", "data", "ES", r#","data_bytes":300000000"#);
        let r = features_after(&history, &now, Some(&p));
        assert_eq!(f(&r, "voice_min_1h"), 10.0);
        assert_eq!(f(&r, "voice_1h_vs_baseline"), 0.5);
        assert_eq!(f(&r, "voice_24h_vs_baseline"), 1.5);
        assert_eq!(f(&r, "sms_1h_vs_baseline"), 0.25);
        assert_eq!(f(&r, "sms_24h_vs_baseline"), 0.25);
        assert_eq!(f(&r, "data_mb_24h"), 400.0);
        assert_eq!(f(&r, "data_1h_vs_baseline"), 2.0);
        assert_eq!(f(&r, "data_24h_vs_baseline"), 2.0);
        assert_eq!(f(&r, "events_1h"), 4.0);
    }

    #[test]
    fn when_own_history_exists_should_blend_it_into_the_baseline_and_compare_with_the_usual_peak() {
        let p = profile(); // 20 voice min/day
        // Two completed active days of 80 voice minutes, busiest hour 40 minutes each.
        let history = [
            call("2026-05-01T09:00:00Z", "34911234567", 2400),
            call("2026-05-01T15:00:00Z", "34911234568", 2400),
            call("2026-05-02T09:00:00Z", "34911234567", 2400),
            call("2026-05-02T15:00:00Z", "34911234568", 2400),
        ];
        let now = call("2026-05-03T12:00:00Z", "34911234569", 1200);
        let r = features_after(&history, &now, Some(&p));
        assert_eq!(f(&r, "history_days"), 2.0);
        // (2 · 80 + 2 · 20) / 4 = 50 minutes a day; the 20-minute call is 0.4 of it.
        assert_eq!(f(&r, "voice_1h_vs_baseline"), 0.4);
        assert_eq!(f(&r, "voice_1h_vs_peak"), 0.5);
        assert!(f(&r, "data_1h_vs_peak") == 0.0);
        // Without a profile the own mean alone; without completed days the profile alone.
        let r = features_after(&history, &now, None);
        assert_eq!(f(&r, "voice_1h_vs_baseline"), 0.25);
        let first_day = features_after(&history[..1], &call("2026-05-01T12:00:00Z", "34911234569", 1200), Some(&p));
        assert_eq!((f(&first_day, "history_days"), f(&first_day, "voice_1h_vs_baseline")), (0.0, 1.0));
        assert!(f(&first_day, "voice_1h_vs_peak").is_nan());
    }

    #[test]
    fn when_many_short_calls_to_distinct_numbers_should_report_simbox_wangiri_pattern() {
        let p = profile();
        let history: Vec<_> = (0..9)
            .map(|i| call(&format!("2026-05-01T11:{:02}:00Z", 10 + i * 5), &format!("3491123456{i}"), 3))
            .collect();
        let now = call("2026-05-01T12:00:00Z", "34911234599", 2);
        let r = features_after(&history, &now, Some(&p));
        assert_eq!(f(&r, "mo_calls_1h"), 10.0);
        assert_eq!(f(&r, "mo_calls_24h"), 10.0);
        assert_eq!(f(&r, "short_call_share_24h"), 1.0);
        assert_eq!(f(&r, "distinct_called_1h"), 10.0);
        assert_eq!(f(&r, "distinct_called_24h"), 10.0);
        assert_eq!(f(&r, "mo_share_24h"), 1.0);
        // The same number again does not count twice.
        let again = call("2026-05-01T12:01:00Z", "34911234560", 2);
        assert_eq!(f(&features_after(&history, &again, Some(&p)), "distinct_called_24h"), 9.0);
    }

    #[test]
    fn when_calls_go_to_several_countries_should_count_distinct_and_international() {
        let p = profile();
        let history =
            [call("2026-05-01T11:00:00Z", "4420712345678", 60), call("2026-05-01T11:10:00Z", "33612345678", 60)];
        let now = call("2026-05-01T12:00:00Z", "2348012345678", 60);
        let r = features_after(&history, &now, Some(&p));
        assert_eq!(f(&r, "distinct_called_countries_24h"), 3.0);
        // GB and NG are international for a French subscriber in Spain; FR (home) is not.
        assert_eq!(f(&r, "intl_calls_24h"), 2.0);
    }

    #[test]
    fn when_computed_twice_should_be_identical() {
        let p = profile();
        let e = call("2026-05-01T12:00:00Z", "34911234567", 60);
        let a = features_after(&[], &e, Some(&p));
        let b = features_after(&[], &e, Some(&p));
        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
    }

    #[test]
    fn when_row_is_written_as_csv_should_leave_missing_empty() {
        let mut s = String::new();
        write_csv_row(&[1.0, f32::NAN, 0.1], &mut s);
        assert_eq!(s, "1,,0.1");
    }
}
