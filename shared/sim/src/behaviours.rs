//! Legitimate subscribers: personas, travel itineraries, everyday roaming traffic and the home
//! operator's (imperfect) profile of each subscriber.
//!
//! The normal population is deliberately noisy: first visits to new countries, new phones,
//! night owls, conference days, calls to high-risk countries by diaspora subscribers, call
//! forwarding, fresh prepaid tourist SIMs. No single feature separates it from fraud.

use roamguard::countries::{self, CountryCode};
use roamguard::events::EventType;
use roamguard::profile::{Plan, SubscriberProfile};

use super::FraudType;
use super::fraud::FraudPlan;
use super::lookalikes::{self, Lookalikes};
use super::params::PersonaParams;
use super::world::{self, World};
use roamguard::rng::Rng;

pub const HOUR: i64 = 3600;
pub const DAY: i64 = 86_400;
/// Bytes per megabyte in volumes and baselines (decimal, as operators bill).
pub const MB: f64 = 1_000_000.0;

/// The generated time window, in Unix seconds: [start, end).
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub start: i64,
    pub end: i64,
}

impl Period {
    pub fn len(&self) -> i64 {
        self.end - self.start
    }
}

/// Legitimate roaming personas; their mix is a world parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persona {
    Business,
    Holiday,
    HeavyData,
    Commuter,
    LowUser,
    Driver,
    LongStay,
}

impl Persona {
    /// Every persona, in the order of the world parameters' per-persona arrays.
    pub const ALL: [Persona; 7] = [
        Persona::Business,
        Persona::Holiday,
        Persona::HeavyData,
        Persona::Commuter,
        Persona::LowUser,
        Persona::Driver,
        Persona::LongStay,
    ];

    pub fn index(self) -> usize {
        Persona::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Persona::Business => "business",
            Persona::Holiday => "holiday",
            Persona::HeavyData => "heavy_data",
            Persona::Commuter => "commuter",
            Persona::LowUser => "low_user",
            Persona::Driver => "driver",
            Persona::LongStay => "long_stay",
        }
    }
}

/// Mean daily usage while abroad and its shape.
#[derive(Debug, Clone)]
pub struct Usage {
    pub voice_mo: f64,
    pub voice_mt: f64,
    pub sms_mo: f64,
    pub sms_mt: f64,
    pub data_sessions: f64,
    /// Median call length, seconds (log-normal, sigma [`CALL_SIGMA`]).
    pub call_median_s: f64,
    /// Median data session volume, MB (log-normal, sigma [`SESSION_SIGMA`]).
    pub session_mb: f64,
    /// Relative activity by local hour of day.
    pub hours: [f64; 24],
    /// Weights of call destinations: home country, visited country, a third country.
    pub dest: [f64; 3],
}

const CALL_SIGMA: f64 = 0.9;
const SESSION_SIGMA: f64 = 1.0;

#[rustfmt::skip]
const H_BUSINESS: [f64; 24] = [
    0.05, 0.03, 0.02, 0.02, 0.03, 0.1, 0.3, 0.8, 1.5, 2.0, 2.0, 1.8,
    1.4, 1.5, 1.8, 1.8, 1.7, 1.5, 1.2, 0.9, 0.7, 0.5, 0.3, 0.15,
];
#[rustfmt::skip]
const H_HOLIDAY: [f64; 24] = [
    0.3, 0.15, 0.08, 0.04, 0.03, 0.05, 0.1, 0.3, 0.6, 0.9, 1.0, 1.0,
    1.1, 1.0, 0.9, 0.9, 1.0, 1.1, 1.3, 1.5, 1.7, 1.6, 1.2, 0.7,
];
#[rustfmt::skip]
const H_HEAVY: [f64; 24] = [
    0.6, 0.4, 0.25, 0.15, 0.1, 0.1, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.0, 0.9, 0.9, 1.0, 1.1, 1.3, 1.5, 1.7, 1.8, 1.6, 1.1,
];
#[rustfmt::skip]
const H_COMMUTER: [f64; 24] = [
    0.02, 0.01, 0.01, 0.01, 0.02, 0.1, 0.5, 1.5, 1.8, 1.2, 1.0, 1.1,
    1.5, 1.3, 1.0, 1.0, 1.1, 1.6, 1.6, 1.0, 0.7, 0.5, 0.3, 0.1,
];
#[rustfmt::skip]
const H_LOW: [f64; 24] = [
    0.02, 0.01, 0.01, 0.01, 0.01, 0.05, 0.2, 0.5, 0.9, 1.1, 1.2, 1.2,
    1.2, 1.1, 1.1, 1.1, 1.1, 1.2, 1.2, 1.1, 0.9, 0.6, 0.3, 0.1,
];
#[rustfmt::skip]
const H_DRIVER: [f64; 24] = [
    0.2, 0.15, 0.15, 0.2, 0.4, 0.8, 1.2, 1.4, 1.3, 1.2, 1.1, 1.1,
    1.2, 1.1, 1.1, 1.1, 1.2, 1.2, 1.1, 0.9, 0.7, 0.5, 0.4, 0.3,
];
#[rustfmt::skip]
const H_LONGSTAY: [f64; 24] = [
    0.25, 0.12, 0.06, 0.03, 0.03, 0.05, 0.2, 0.6, 0.8, 0.8, 0.8, 0.9,
    1.1, 0.9, 0.8, 0.8, 0.9, 1.1, 1.3, 1.5, 1.6, 1.5, 1.1, 0.6,
];

impl Persona {
    /// Persona-typical usage of the original world, before world and subscriber variation.
    #[rustfmt::skip]
    fn base_usage(self) -> Usage {
        let u = |v: [f64; 7], hours: [f64; 24], dest: [f64; 3]| Usage {
            voice_mo: v[0],
            voice_mt: v[1],
            sms_mo: v[2],
            sms_mt: v[3],
            data_sessions: v[4],
            call_median_s: v[5],
            session_mb: v[6],
            hours,
            dest,
        };
        // [voice_mo, voice_mt, sms_mo, sms_mt, data sessions, call median s, session median MB]
        match self {
            Persona::Business => u([8.0, 6.0, 3.0, 5.0, 14.0, 110.0, 8.0], H_BUSINESS, [0.45, 0.40, 0.15]),
            Persona::Holiday => u([1.5, 1.5, 2.0, 4.0, 22.0, 100.0, 15.0], H_HOLIDAY, [0.72, 0.25, 0.03]),
            Persona::HeavyData => u([1.2, 1.2, 1.0, 2.0, 40.0, 90.0, 35.0], H_HEAVY, [0.6, 0.35, 0.05]),
            Persona::Commuter => u([4.0, 3.0, 2.0, 3.0, 10.0, 100.0, 6.0], H_COMMUTER, [0.5, 0.47, 0.03]),
            Persona::LowUser => u([0.4, 0.6, 1.0, 2.0, 1.5, 80.0, 2.0], H_LOW, [0.8, 0.18, 0.02]),
            Persona::Driver => u([6.0, 5.0, 2.0, 3.0, 8.0, 70.0, 5.0], H_DRIVER, [0.8, 0.15, 0.05]),
            Persona::LongStay => u([2.5, 2.5, 3.0, 5.0, 25.0, 120.0, 20.0], H_LONGSTAY, [0.45, 0.5, 0.05]),
        }
    }
}

/// A continuous period in one visited country.
#[derive(Debug, Clone)]
pub struct Stay {
    pub country: CountryCode,
    pub start: i64,
    pub end: i64,
    /// Network the phone camps on; `alt_network` takes a minority of events (reselection).
    pub network: Option<&'static str>,
    pub alt_network: Option<&'static str>,
}

/// Everything needed to generate one subscriber's traffic.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub index: usize,
    pub imsi: String,
    pub msisdn: String,
    pub home: CountryCode,
    pub plan: Plan,
    pub tenure_days: u32,
    pub persona: Persona,
    pub usage: Usage,
    pub stays: Vec<Stay>,
    /// IMEIs used with this SIM: 0 is the genuine phone, others are added by a legitimate
    /// phone change or by fraud.
    pub devices: Vec<String>,
    /// Legitimate new phone from this time on (device index).
    pub device_change: Option<(i64, usize)>,
    /// A second device (tablet, MiFi hotspot) the SIM is legitimately moved into during the
    /// `second_device_blocks` time intervals.
    pub second_device: Option<usize>,
    pub second_device_blocks: Vec<(i64, i64)>,
    /// Legitimate look-alikes of fraud this subscriber shows (none in world 0).
    pub lookalikes: Lookalikes,
    /// Older phones the operator has seen with this SIM.
    pub old_devices: Vec<String>,
    pub home_contacts: Vec<String>,
    /// Diaspora subscribers call relatives in this country.
    pub family: Option<(CountryCode, Vec<String>)>,
    /// Legitimate forwarding of some incoming calls to this number (voicemail, office).
    pub forward_to: Option<String>,
    /// Number of legitimate one-off calls to premium, satellite or high-risk destinations.
    pub odd_calls: u32,
    /// Fraud planned for this SIM, if any.
    pub fraud: Option<FraudPlan>,
    /// Profile voice baseline learnt from earlier abuse (SIM-box SIMs that ran before).
    pub voice_baseline_override: Option<f32>,
}

/// A roaming event before identifiers and optional-field presence are settled.
#[derive(Debug, Clone)]
pub struct Draft {
    pub t: i64,
    pub kind: EventType,
    pub country: CountryCode,
    pub network: Option<&'static str>,
    /// Index into [`Subscriber::devices`].
    pub device: usize,
    /// The other party: called number (MO) or calling number (MT).
    pub other: Option<String>,
    pub duration: Option<u64>,
    pub bytes: Option<u64>,
    pub forwarded: bool,
    pub fraud: Option<FraudType>,
}

/// UTC offset of a country in seconds (standard time).
pub fn offset_s(c: CountryCode) -> i64 {
    countries::info(c).map(|i| i64::from(i.utc_offset_min) * 60).unwrap_or(0)
}

/// Local hour of day (0–23) of UTC time `t` in country `c`.
pub fn local_hour(t: i64, c: CountryCode) -> i64 {
    (t + offset_s(c)).rem_euclid(DAY) / HOUR
}

/// UTC start of the local day containing `t`.
pub fn local_midnight(t: i64, c: CountryCode) -> i64 {
    let off = offset_s(c);
    let local = t + off;
    local - local.rem_euclid(DAY) - off
}

/// Monday = 0 … Sunday = 6 of a local day starting at UTC `t` (1970-01-01 was a Thursday).
pub fn weekday(local_midnight_utc: i64, c: CountryCode) -> i64 {
    ((local_midnight_utc + offset_s(c)).div_euclid(DAY) + 3).rem_euclid(7)
}

/// Door-to-door travel time between two countries, in seconds: road/rail for neighbours,
/// a flight with airport overhead otherwise.
pub fn travel_s(a: CountryCode, b: CountryCode) -> i64 {
    let km = f64::from(countries::min_travel_km(a, b).unwrap_or(1000.0));
    let hours = if km < 300.0 { 0.5 + km / 90.0 } else { 2.5 + km / 750.0 };
    (hours * HOUR as f64) as i64
}

/// Driving time over the lower-bound distance between two countries, at 80 km/h.
pub fn road_s(a: CountryCode, b: CountryCode) -> i64 {
    let km = f64::from(countries::min_travel_km(a, b).unwrap_or(0.0));
    (km / 80.0 * HOUR as f64) as i64
}

pub fn pick_country(list: &[(&'static str, f64)], rng: &mut Rng, avoid: &[CountryCode]) -> Option<CountryCode> {
    let candidates: Vec<(CountryCode, f64)> =
        list.iter().map(|(c, w)| (world::code(c), *w)).filter(|(c, _)| !avoid.contains(c)).collect();
    if candidates.is_empty() {
        return None;
    }
    Some(rng.pick_weighted(&candidates))
}

pub fn stay(world: &World, country: CountryCode, start: i64, end: i64, rng: &mut Rng) -> Stay {
    let network = world.network(country, rng);
    let alt = world.network(country, rng).filter(|a| Some(*a) != network);
    Stay { country, start, end, network, alt_network: alt }
}

/// Builds the genuine subscriber: identity, persona, itinerary, devices and habits.
pub fn plan_subscriber(world: &World, period: Period, index: usize, rng: &mut Rng) -> Subscriber {
    let home = world::code(rng.pick_weighted(world::HOMES));
    let p = &world.params;
    let mut persona = rng.pick_weighted(&p.persona_mix());
    // Personas that need land borders fall back where the home country has none.
    if persona == Persona::Commuter && world.commute(home).is_empty()
        || persona == Persona::Driver && world.neighbours(home).is_empty()
    {
        persona = Persona::Holiday;
    }
    let plan = if rng.bernoulli(p.habits.prepaid_share) { Plan::Prepaid } else { Plan::Postpaid };
    let tenure_days = tenure(plan, rng);
    let usage = vary_usage(world, persona, rng);
    let stays = itinerary(world, period, home, persona, rng);
    let mut devices = vec![world::imei(device_tacs(persona, rng), rng)];
    let device_change = if rng.bernoulli(p.devices.change) {
        devices.push(world::imei(world::PHONE_TACS, rng));
        Some((period.start + rng.range(DAY / 2, (period.len() - HOUR).max(DAY / 2)), devices.len() - 1))
    } else {
        None
    };
    let mut second_device_blocks = Vec::new();
    let second_device = if rng.bernoulli(p.devices.second) {
        let tacs = if rng.bernoulli(0.5) { world::MODULE_TACS } else { world::PHONE_TACS };
        devices.push(world::imei(tacs, rng));
        let mut day = period.start;
        while day < period.end {
            if rng.bernoulli(p.devices.second_day) {
                let from = day + rng.range(0, DAY - 2 * HOUR);
                second_device_blocks.push((from, from + rng.range(2 * HOUR, 8 * HOUR)));
            }
            day += DAY;
        }
        Some(devices.len() - 1)
    } else {
        None
    };
    let old_devices = (0..rng.weighted(&[0.6, 0.3, 0.1])).map(|_| world::imei(world::PHONE_TACS, rng)).collect();
    let home_contacts = (0..rng.range(3, 15)).map(|_| world.number(home, rng.bernoulli(0.8), rng)).collect();
    let family = if rng.bernoulli(p.habits.diaspora_share) {
        pick_country(world.family(home), rng, &[home]).map(|c| {
            let numbers = (0..rng.range(1, 3)).map(|_| world.number(c, rng.bernoulli(0.7), rng)).collect();
            (c, numbers)
        })
    } else {
        None
    };
    let forward_to = rng.bernoulli(p.habits.forward_share).then(|| world.number(home, rng.bernoulli(0.3), rng));
    let odd_calls = if rng.bernoulli(p.habits.odd_call_share) { rng.range(1, 2) as u32 } else { 0 };
    let imsi = world.imsi(home, rng);
    let msisdn = world.number(home, true, rng);
    Subscriber {
        index,
        imsi,
        msisdn,
        home,
        plan,
        tenure_days,
        persona,
        usage,
        stays,
        devices,
        device_change,
        second_device,
        second_device_blocks,
        lookalikes: Lookalikes::default(),
        old_devices,
        home_contacts,
        family,
        forward_to,
        odd_calls,
        fraud: None,
        voice_baseline_override: None,
    }
}

fn device_tacs(persona: Persona, rng: &mut Rng) -> &'static [&'static str] {
    // Some heavy data users roam with a MiFi hotspot: module TACs are not a fraud tell.
    if persona == Persona::HeavyData && rng.bernoulli(0.25) || rng.bernoulli(0.01) {
        world::MODULE_TACS
    } else {
        world::PHONE_TACS
    }
}

/// Days since activation: a few new customers on postpaid, many short-lived prepaid SIMs.
pub fn tenure(plan: Plan, rng: &mut Rng) -> u32 {
    let v = match plan {
        Plan::Postpaid if rng.bernoulli(0.03) => rng.range(1, 30) as f64,
        Plan::Postpaid => rng.lognormal(900.0, 0.9).min(7000.0),
        Plan::Prepaid if rng.bernoulli(0.12) => rng.range(0, 30) as f64,
        Plan::Prepaid => rng.lognormal(300.0, 1.0).min(4000.0),
    };
    v.max(0.0) as u32
}

/// Per-subscriber variation around the persona as the world shapes it: overall intensity,
/// per-channel taste and sometimes night-owl habits.
pub fn vary_usage(world: &World, persona: Persona, rng: &mut Rng) -> Usage {
    let p = &world.params;
    let mut u = persona.base_usage();
    scale_usage(&mut u, p.persona(persona));
    shift_hours(&mut u.hours, p.usage.hour_shift);
    // Clamped: the extreme tails would be indistinguishable from abuse rather than merely hard.
    let (lo, hi) = p.usage.level_clamp;
    let overall = rng.lognormal(1.0, p.persona(persona).spread).clamp(lo, hi);
    for v in [&mut u.voice_mo, &mut u.voice_mt, &mut u.sms_mo, &mut u.sms_mt, &mut u.data_sessions] {
        *v *= overall * rng.lognormal(1.0, 0.3).clamp(0.4, 2.0);
    }
    if persona == Persona::LowUser && rng.bernoulli(p.usage.data_off_share) {
        // Data switched off abroad.
        u.data_sessions = 0.0;
    }
    u.call_median_s *= rng.lognormal(1.0, 0.3);
    u.session_mb *= rng.lognormal(1.0, 0.4).clamp(0.3, 2.5);
    if rng.bernoulli(p.usage.night_owl_share) {
        for h in &mut u.hours[..6] {
            *h *= p.usage.night_owl_factor;
        }
    }
    let jitter = [rng.lognormal(1.0, 0.3), rng.lognormal(1.0, 0.3), rng.lognormal(1.0, 0.5)];
    for (d, j) in u.dest.iter_mut().zip(jitter) {
        *d *= j;
    }
    u
}

/// The world's level of a persona's usage (multipliers of 1 leave it unchanged).
fn scale_usage(u: &mut Usage, p: &PersonaParams) {
    u.voice_mo *= p.voice;
    u.voice_mt *= p.voice;
    u.sms_mo *= p.sms;
    u.sms_mt *= p.sms;
    u.data_sessions *= p.data;
    u.call_median_s *= p.call_median;
    u.session_mb *= p.session_mb;
}

/// Moves an activity profile `shift` hours later (earlier when negative).
pub fn shift_hours(hours: &mut [f64; 24], shift: i64) {
    let k = shift.rem_euclid(24) as usize;
    hours.rotate_right(k);
}

/// Where and when the subscriber roams during the period (possibly starting before it).
fn itinerary(world: &World, period: Period, home: CountryCode, persona: Persona, rng: &mut Rng) -> Vec<Stay> {
    let mut stays = match persona {
        Persona::Business => business_trips(world, period, home, rng),
        Persona::Holiday => holiday(world, period, home, rng),
        Persona::HeavyData | Persona::LongStay => long_stay(world, period, home, rng),
        Persona::LowUser if rng.bernoulli(0.7) => holiday(world, period, home, rng),
        Persona::LowUser => long_stay(world, period, home, rng),
        Persona::Commuter => commuter(world, period, home, rng),
        Persona::Driver => driver(world, period, home, rng),
    };
    stays.retain(|s| s.end > period.start && s.start < period.end && s.end > s.start);
    if stays.iter().all(|s| s.end.min(period.end) - s.start.max(period.start) < HOUR) {
        // Everyone in a roaming dataset roams at least once: a short trip inside the period.
        let c = pick_country(world.destinations(home), rng, &[home]).unwrap_or(world::code("ES"));
        let start = period.start + rng.range(0, (period.len() - 2 * DAY).max(0));
        stays = vec![stay(world, c, start, start + rng.range(DAY, 3 * DAY), rng)];
    }
    stays
}

fn business_trips(world: &World, period: Period, home: CountryCode, rng: &mut Rng) -> Vec<Stay> {
    let trips = &world.params.trips;
    let mut stays = Vec::new();
    let mut t = period.start - rng.range(0, 2 * DAY);
    let mut first = true;
    while t < period.end {
        t += if first {
            rng.range(0, 3 * DAY)
        } else {
            rng.range(scaled(DAY, trips.business_gap), scaled(5 * DAY, trips.business_gap))
        };
        first = false;
        let legs = 1 + rng.weighted(&trips.business_legs);
        let mut prev = home;
        for _ in 0..legs {
            // Later legs favour neighbours of the previous country (a road show).
            let next = if prev != home && rng.bernoulli(0.5) && !world.neighbours(prev).is_empty() {
                let ns: Vec<CountryCode> = world.neighbours(prev).iter().copied().filter(|c| *c != home).collect();
                if ns.is_empty() { None } else { Some(rng.pick(&ns)) }
            } else {
                None
            };
            let Some(c) = next.or_else(|| pick_country(world.destinations(home), rng, &[home, prev])) else {
                break;
            };
            t += travel_s(prev, c);
            let len = (rng.uniform(0.6, 3.0) * trips.business_stay * DAY as f64) as i64;
            stays.push(stay(world, c, t, t + len, rng));
            t += len;
            prev = c;
        }
        t += travel_s(prev, home);
    }
    stays
}

fn holiday(world: &World, period: Period, home: CountryCode, rng: &mut Rng) -> Vec<Stay> {
    let mut t = period.start + rng.range(-6 * DAY, period.len() - 12 * HOUR);
    let trips = &world.params.trips;
    let total = (rng.uniform(3.0, 14.0) * trips.holiday_days * DAY as f64) as i64;
    let Some(c) = pick_country(world.destinations(home), rng, &[home]) else {
        return Vec::new();
    };
    if rng.bernoulli(trips.holiday_one_country) {
        return vec![stay(world, c, t, t + total, rng)];
    }
    // Two-country holiday, often across a land border.
    let second = if rng.bernoulli(0.6) && !world.neighbours(c).is_empty() {
        let ns: Vec<CountryCode> = world.neighbours(c).iter().copied().filter(|x| *x != home).collect();
        if ns.is_empty() { None } else { Some(rng.pick(&ns)) }
    } else {
        None
    }
    .or_else(|| pick_country(world.destinations(home), rng, &[home, c]));
    let split = (total as f64 * rng.uniform(0.3, 0.7)) as i64;
    let mut stays = vec![stay(world, c, t, t + split, rng)];
    if let Some(d) = second {
        t += split + travel_s(c, d);
        stays.push(stay(world, d, t, t + total - split, rng));
    }
    stays
}

fn long_stay(world: &World, period: Period, home: CountryCode, rng: &mut Rng) -> Vec<Stay> {
    let start = period.start - rng.range(DAY, 30 * DAY);
    let end = if rng.bernoulli(0.9) { period.end + DAY } else { period.start + rng.range(DAY, period.len()) };
    let Some(c) = pick_country(world.destinations(home), rng, &[home]) else {
        return Vec::new();
    };
    if rng.bernoulli(world.params.trips.long_stay_move_on) {
        // Moves on to another country mid-period.
        if let Some(d) = pick_country(world.destinations(home), rng, &[home, c]) {
            let mid = period.start + rng.range(DAY / 2, (period.len() - DAY / 2).max(DAY / 2));
            let arrive = mid + travel_s(c, d);
            return vec![stay(world, c, start, mid, rng), stay(world, d, arrive, end.max(arrive + DAY), rng)];
        }
    }
    vec![stay(world, c, start, end, rng)]
}

fn commuter(world: &World, period: Period, home: CountryCode, rng: &mut Rng) -> Vec<Stay> {
    // A minority lives in one foreign country and works in a neighbouring one: their roaming
    // events flip between two visited countries every working day.
    if rng.bernoulli(world.params.trips.commuter_two_country)
        && let Some(live) = pick_country(world.destinations(home), rng, &[home])
    {
        // Only real next-door pairs: a daily commute cannot span a long lower-bound distance.
        let works: Vec<CountryCode> = world
            .neighbours(live)
            .iter()
            .copied()
            .filter(|c| *c != home && countries::min_travel_km(live, *c).unwrap_or(f32::MAX) < 130.0)
            .collect();
        if !works.is_empty() {
            let work = rng.pick(&works);
            return two_country_commute(world, period, live, work, rng);
        }
    }
    let Some(work) = pick_country(world.commute(home), rng, &[home]) else {
        return Vec::new();
    };
    let days_per_week = 3 + rng.weighted(&[0.15, 0.25, 0.6]) as i64;
    let mut stays = Vec::new();
    let mut day = local_midnight(period.start - DAY, work);
    while day < period.end + DAY {
        let wd = weekday(day, work);
        let works_today = wd < 5 && (wd as f64) < days_per_week as f64 + rng.f64() * 2.0 - 1.0;
        if works_today {
            let start = day + (rng.uniform(6.5, 9.0) * HOUR as f64) as i64;
            let end = day + (rng.uniform(16.5, 19.5) * HOUR as f64) as i64;
            stays.push(stay(world, work, start, end, rng));
        } else if wd >= 5 && rng.bernoulli(0.1) {
            // Weekend shopping or leisure across the border.
            let start = day + (rng.uniform(9.0, 15.0) * HOUR as f64) as i64;
            stays.push(stay(world, work, start, start + rng.range(2 * HOUR, 6 * HOUR), rng));
        }
        day += DAY;
    }
    stays
}

fn two_country_commute(
    world: &World,
    period: Period,
    live: CountryCode,
    work: CountryCode,
    rng: &mut Rng,
) -> Vec<Stay> {
    let mut stays = Vec::new();
    let mut day = local_midnight(period.start - DAY, live);
    let mut cursor = day;
    while day < period.end + DAY {
        if weekday(day, live) < 5 && rng.bernoulli(0.9) {
            let start = day + (rng.uniform(6.5, 9.0) * HOUR as f64) as i64;
            let end = day + (rng.uniform(16.5, 19.5) * HOUR as f64) as i64;
            // Crossing the border is quick: the phone re-attaches within minutes.
            let cross = rng.range(10 * 60, 45 * 60).max(road_s(live, work));
            stays.push(stay(world, live, cursor, start, rng));
            stays.push(stay(world, work, start + cross, end, rng));
            cursor = end + cross;
        }
        day += DAY;
    }
    stays.push(stay(world, live, cursor, period.end + DAY, rng));
    stays
}

fn driver(world: &World, period: Period, home: CountryCode, rng: &mut Rng) -> Vec<Stay> {
    let mut stays = Vec::new();
    let first_legs = world.neighbours(home);
    if first_legs.is_empty() {
        return stays;
    }
    let mut t = period.start - rng.range(0, DAY);
    while t < period.end {
        let trip_end = t + rng.range(2 * DAY, 5 * DAY);
        let mut prev = home;
        let mut current = rng.pick(first_legs);
        t += travel_s(home, current) / 2;
        while t < trip_end {
            let scale = world.params.trips.driver_leg;
            let len = rng.range(scaled(3 * HOUR, scale), scaled(30 * HOUR, scale));
            stays.push(stay(world, current, t, t + len, rng));
            t += len;
            let options: Vec<CountryCode> = world.neighbours(current).iter().copied().filter(|c| *c != prev).collect();
            let next = if options.is_empty() { prev } else { rng.pick(&options) };
            // Crossing a border: a short radio gap, sometimes a stop before it; never faster
            // than driving the lower-bound distance between the two countries.
            t += rng.range(5 * 60, 90 * 60).max(road_s(current, next));
            if next == home {
                break;
            }
            prev = current;
            current = next;
        }
        t += rng.range(DAY, 2 * DAY);
    }
    stays
}

/// Generates a subscriber's legitimate traffic over their stays within the period. Look-alike
/// behaviours draw from `lookalike_rng`, so that they never shift the everyday traffic's draws.
pub fn normal_events(
    world: &World,
    period: Period,
    sub: &Subscriber,
    rng: &mut Rng,
    lookalike_rng: &mut Rng,
) -> Vec<Draft> {
    let mut out = Vec::new();
    let total_w: f64 = sub.usage.hours.iter().sum();
    for s in &sub.stays {
        let lo = s.start.max(period.start);
        let hi = s.end.min(period.end);
        if hi <= lo {
            continue;
        }
        let mut local_contacts: Vec<String> = Vec::new();
        let mut day = local_midnight(lo, s.country);
        while day < hi {
            let mut cover = [0.0f64; 24];
            let mut weights = [0.0f64; 24];
            for h in 0..24 {
                let a = (day + h as i64 * HOUR).max(lo);
                let b = (day + (h as i64 + 1) * HOUR).min(hi);
                cover[h] = (b - a).max(0) as f64 / HOUR as f64;
                weights[h] = sub.usage.hours[h] * cover[h];
            }
            let covered: f64 = weights.iter().sum::<f64>() / total_w;
            if covered > 0.0 {
                day_events(world, sub, s, day, (lo, hi), &weights, covered, &mut local_contacts, rng, &mut out);
            }
            day += DAY;
        }
    }
    odd_calls(world, period, sub, rng, &mut out);
    lookalikes::events(world, sub, lookalike_rng, &mut out);
    avoid_overlapping_calls(&mut out, rng);
    out
}

#[allow(clippy::too_many_arguments)] // one day's context; bundling it in a struct adds nothing
fn day_events(
    world: &World,
    sub: &Subscriber,
    s: &Stay,
    day: i64,
    (lo, hi): (i64, i64),
    weights: &[f64; 24],
    covered: f64,
    local_contacts: &mut Vec<String>,
    rng: &mut Rng,
    out: &mut Vec<Draft>,
) {
    let u = &sub.usage;
    let p = &world.params.usage;
    let base = rng.lognormal(1.0, 0.35);
    let mut voice = base;
    let mut data = base * rng.lognormal(1.0, 0.2);
    match sub.persona {
        // Deal-closing day: many more calls.
        Persona::Business | Persona::Driver if rng.bernoulli(p.busy_day) => {
            voice *= rng.uniform(p.busy_factor.0, p.busy_factor.1);
        }
        // Rainy day in the hotel, or a big download.
        Persona::Holiday | Persona::LongStay | Persona::HeavyData if rng.bernoulli(p.binge_day) => {
            data *= rng.uniform(2.0, 4.0);
        }
        _ => {}
    }
    let plan = [
        (EventType::VoiceMo, u.voice_mo * voice),
        (EventType::VoiceMt, u.voice_mt * voice),
        (EventType::SmsMo, u.sms_mo * base),
        (EventType::SmsMt, u.sms_mt * base),
        (EventType::Data, u.data_sessions * data),
    ];
    for (kind, rate) in plan {
        let n = rng.poisson(rate * covered);
        for _ in 0..n {
            let h = rng.weighted(weights);
            let a = (day + h as i64 * HOUR).max(lo);
            let b = (day + (h as i64 + 1) * HOUR).min(hi);
            let t = a + rng.below((b - a).max(1) as u64) as i64;
            out.push(normal_event(world, sub, s, t, kind, local_contacts, rng));
        }
    }
}

/// A legitimate event of `sub` at `t` in stay `s`, before its parties and volumes are set.
pub fn legit_draft(sub: &Subscriber, s: &Stay, t: i64, kind: EventType, rng: &mut Rng) -> Draft {
    Draft {
        t,
        kind,
        country: s.country,
        network: network_of(s, rng),
        device: device_at(sub, t),
        other: None,
        duration: None,
        bytes: None,
        forwarded: false,
        fraud: None,
    }
}

/// `x` scaled by `s`, truncated (exactly `x` when `s` is 1).
pub fn scaled(x: i64, s: f64) -> i64 {
    (x as f64 * s) as i64
}

fn device_at(sub: &Subscriber, t: i64) -> usize {
    if let Some(second) = sub.second_device
        && sub.second_device_blocks.iter().any(|(from, to)| (*from..*to).contains(&t))
    {
        return second;
    }
    match sub.device_change {
        Some((since, idx)) if t >= since => idx,
        _ => 0,
    }
}

/// Share of events recorded on the second network of a stay (network reselection).
pub const ALT_NETWORK_SHARE: f64 = 0.08;

fn network_of(s: &Stay, rng: &mut Rng) -> Option<&'static str> {
    match s.alt_network {
        Some(alt) if rng.bernoulli(ALT_NETWORK_SHARE) => Some(alt),
        _ => s.network,
    }
}

fn home_contact(world: &World, sub: &Subscriber, rng: &mut Rng) -> String {
    if sub.home_contacts.is_empty() || rng.bernoulli(0.15) {
        return world.number(sub.home, rng.bernoulli(0.7), rng);
    }
    // Zipf-like: the first contacts (partner, office) get most calls.
    let weights: Vec<f64> = (0..sub.home_contacts.len()).map(|i| 1.0 / (i as f64 + 1.0)).collect();
    sub.home_contacts[rng.weighted(&weights)].clone()
}

fn local_contact(world: &World, country: CountryCode, contacts: &mut Vec<String>, rng: &mut Rng) -> String {
    if !contacts.is_empty() && rng.bernoulli(0.45) {
        return contacts[rng.index(contacts.len())].clone();
    }
    let number = world.number(country, rng.bernoulli(0.75), rng);
    contacts.push(number.clone());
    number
}

fn third_country_number(world: &World, sub: &Subscriber, here: CountryCode, rng: &mut Rng) -> String {
    let c = pick_country(world.destinations(sub.home), rng, &[sub.home, here]).unwrap_or(sub.home);
    world.number(c, rng.bernoulli(0.6), rng)
}

fn normal_event(
    world: &World,
    sub: &Subscriber,
    s: &Stay,
    t: i64,
    kind: EventType,
    local_contacts: &mut Vec<String>,
    rng: &mut Rng,
) -> Draft {
    let u = &sub.usage;
    let calls = world.params.calls;
    let habits = world.params.habits;
    let mut d = legit_draft(sub, s, t, kind, rng);
    let call_len = |rng: &mut Rng, median: f64| -> u64 {
        // Unanswered calls and voicemail drops are common: short calls are not suspicious.
        if rng.bernoulli(0.08) {
            rng.range(0, 12) as u64
        } else if rng.bernoulli(calls.long_share) {
            // Conference calls and long family chats.
            rng.lognormal(calls.long_median_s, 0.5).clamp(300.0, 7200.0) as u64
        } else {
            rng.lognormal(median, CALL_SIGMA).clamp(3.0, 7200.0) as u64
        }
    };
    match kind {
        EventType::VoiceMo => {
            let mut median = u.call_median_s;
            let number = match &sub.family {
                Some((_, numbers)) if rng.bernoulli(habits.diaspora_call_share) => {
                    median *= habits.diaspora_call_factor;
                    numbers[rng.index(numbers.len())].clone()
                }
                _ => match rng.weighted(&u.dest) {
                    0 => home_contact(world, sub, rng),
                    1 => local_contact(world, s.country, local_contacts, rng),
                    _ => third_country_number(world, sub, s.country, rng),
                },
            };
            d.other = Some(number);
            d.duration = Some(call_len(rng, median));
        }
        EventType::VoiceMt => {
            let caller = match rng.weighted(&[0.6, 0.25, 0.1, 0.05]) {
                0 => home_contact(world, sub, rng),
                1 => local_contact(world, s.country, local_contacts, rng),
                2 => world.number(sub.home, rng.bernoulli(0.5), rng),
                _ => third_country_number(world, sub, s.country, rng),
            };
            match &sub.forward_to {
                // Busy or unreachable: the call is forwarded to the office or voicemail number,
                // which the visited network records as an originating leg.
                Some(target) if rng.bernoulli(0.3) => {
                    d.kind = EventType::VoiceMo;
                    d.other = Some(target.clone());
                    d.forwarded = true;
                    d.duration = Some(rng.lognormal(45.0, 0.8).clamp(3.0, 1800.0) as u64);
                }
                _ => {
                    d.other = Some(caller);
                    d.duration = Some(call_len(rng, u.call_median_s * 0.9));
                }
            }
        }
        EventType::SmsMo => {
            d.other = Some(match rng.weighted(&[0.7, 0.2, 0.1]) {
                0 => home_contact(world, sub, rng),
                1 => local_contact(world, s.country, local_contacts, rng),
                _ => third_country_number(world, sub, s.country, rng),
            });
        }
        EventType::SmsMt => {
            d.other = Some(match rng.weighted(&[0.55, 0.15, 0.2, 0.1]) {
                0 => home_contact(world, sub, rng),
                1 => local_contact(world, s.country, local_contacts, rng),
                2 => world.number(sub.home, false, rng),
                _ => third_country_number(world, sub, s.country, rng),
            });
        }
        EventType::Data => {
            // A single session rarely exceeds a couple of gigabytes (a film, an OS update).
            let mb = rng.lognormal(u.session_mb, SESSION_SIGMA).min(2500.0);
            d.bytes = Some((mb * MB) as u64);
            d.duration = Some(rng.lognormal(900.0, 0.9).clamp(5.0, 4.0 * HOUR as f64) as u64);
        }
    }
    d
}

/// One-off legitimate calls to premium, satellite or high-risk destinations (a relative on a
/// ship, a hotline, a family emergency).
fn odd_calls(world: &World, period: Period, sub: &Subscriber, rng: &mut Rng, out: &mut Vec<Draft>) {
    for _ in 0..sub.odd_calls {
        let Some(s) = pick_stay(sub, period, rng) else {
            return;
        };
        let (lo, hi) = (s.start.max(period.start), s.end.min(period.end));
        let t = lo + rng.below((hi - lo).max(1) as u64) as i64;
        let mut d = legit_draft(sub, s, t, EventType::VoiceMo, rng);
        d.other = Some(world.risky_number(rng));
        d.duration = Some(rng.lognormal(180.0, 0.8).clamp(5.0, 3600.0) as u64);
        out.push(d);
    }
}

/// A stay overlapping the period, chosen with probability proportional to its overlap.
pub fn pick_stay<'a>(sub: &'a Subscriber, period: Period, rng: &mut Rng) -> Option<&'a Stay> {
    let weights: Vec<f64> =
        sub.stays.iter().map(|s| (s.end.min(period.end) - s.start.max(period.start)).max(0) as f64).collect();
    if weights.iter().all(|w| *w <= 0.0) {
        return None;
    }
    Some(&sub.stays[rng.weighted(&weights)])
}

/// One handset holds one call at a time: push a call that would start during the previous one
/// to just after it.
fn avoid_overlapping_calls(events: &mut [Draft], rng: &mut Rng) {
    events.sort_by_key(|d| d.t);
    let mut busy_until = i64::MIN;
    for d in events.iter_mut().filter(|d| d.kind.is_voice()) {
        if d.t < busy_until {
            d.t = busy_until + rng.range(5, 120);
        }
        busy_until = d.t + d.duration.unwrap_or(0) as i64;
    }
}

/// The home operator's view of the subscriber: baselines from past behaviour (noisy, sometimes
/// stale), usual countries (often incomplete), known devices (usually, not always, current).
pub fn profile(world: &World, sub: &Subscriber, rng: &mut Rng) -> SubscriberProfile {
    let u = &sub.usage;
    let c = &world.params.calls;
    // Mixture of `normal_event`'s call lengths: unanswered, long (conference) and ordinary.
    let call_mean = 0.08 * 6.0
        + c.long_weight * c.long_mean_s
        + c.ordinary_weight * u.call_median_s * (CALL_SIGMA * CALL_SIGMA / 2.0).exp();
    let session_mean = u.session_mb * (SESSION_SIGMA * SESSION_SIGMA / 2.0).exp();
    let mut voice = (u.voice_mo + u.voice_mt) * call_mean / 60.0;
    let mut sms = u.sms_mo + u.sms_mt;
    let mut data = u.data_sessions * session_mean;
    if sub.lookalikes.habitual_voice_min > 0.0 {
        // Long call sessions are a habit: some of them are in the history the baseline is
        // learnt from (how much depends on how far back it reaches).
        voice += sub.lookalikes.habitual_voice_min * rng.f64();
    }
    let fresh = sub.tenure_days < 14;
    if fresh {
        // No history yet: either nothing or the operator's population default.
        if rng.bernoulli(0.5) {
            (voice, sms, data) = (0.0, 0.0, 0.0);
        } else {
            (voice, sms, data) = (12.0, 4.0, 150.0);
        }
    }
    let stale = rng.bernoulli(0.1);
    let mut noisy = |v: f64| v * rng.lognormal(1.0, if stale { 1.0 } else { 0.35 });
    let (mut voice, sms, data) = (noisy(voice), noisy(sms), noisy(data));
    if let Some(v) = sub.voice_baseline_override {
        voice = f64::from(v);
    }

    let p_known = if sub.tenure_days < 30 { 0.3 } else { 0.7 };
    let mut usual: Vec<CountryCode> = Vec::new();
    for s in &sub.stays {
        let p = match sub.persona {
            Persona::Commuter => 0.95,
            Persona::LongStay | Persona::HeavyData | Persona::Driver => 0.85,
            _ => p_known,
        };
        if !usual.contains(&s.country) && rng.bernoulli(p) {
            usual.push(s.country);
        }
    }
    if sub.tenure_days >= 30 {
        for _ in 0..rng.range(0, 3) {
            if let Some(c) = pick_country(world.destinations(sub.home), rng, &[sub.home])
                && !usual.contains(&c)
            {
                usual.push(c);
            }
        }
    }
    usual.sort();

    let mut known_imeis: Vec<String> = sub.old_devices.clone();
    if rng.bernoulli(0.92) {
        known_imeis.push(sub.devices[0].clone());
    }
    if let Some(second) = sub.second_device
        && rng.bernoulli(0.6)
    {
        known_imeis.push(sub.devices[second].clone());
    }
    SubscriberProfile {
        imsi: sub.imsi.clone(),
        home_country: sub.home,
        plan: sub.plan,
        tenure_days: sub.tenure_days,
        usual_countries: usual,
        known_imeis,
        avg_daily_voice_min: round1(voice),
        avg_daily_sms: round1(sms),
        avg_daily_data_mb: round1(data),
    }
}

fn round1(v: f64) -> f32 {
    ((v * 10.0).round() / 10.0) as f32
}
