//! Legitimate look-alikes of fraud: behaviour of genuine subscribers that shares the tell-tale
//! signs of a fraud type, so that a model learns the difference rather than the sign.
//!
//! | look-alike | resembles |
//! |---|---|
//! | phone change followed by a setup burst (backup restore, first calls) | device swap |
//! | conference day: an hour or more of back-to-back long calls | IRSF pumping |
//! | night worker: activity shifted to the night | SIM box, IRSF at night |
//! | data-heavy tourist: multi-GB days | data abuse |
//! | data-only eSIM traveller: no voice, no SMS, often a fresh prepaid SIM | data abuse on fresh SIMs |
//! | border hopper: several countries a day by road or rail | cloned SIM (impossible travel) |
//! | calling home: evenings of long calls to a few home numbers | IRSF (few numbers, long calls) |
//! | diaspora evening: long calls to relatives in a higher-risk country | IRSF, Wangiri callbacks |
//!
//! Every rate is a world parameter (all 0 in world 0). Plans and events draw from PRNG streams
//! of their own, and events are ordinary [`Draft`]s labelled legitimate that go through the same
//! finalisation as all others.

use roamguard::countries::CountryCode;
use roamguard::events::EventType;
use roamguard::profile::Plan;
use roamguard::rng::Rng;

use super::behaviours::{
    self, DAY, Draft, HOUR, MB, Period, Persona, Stay, Subscriber, legit_draft, local_midnight, weekday,
};
use super::params::LookalikeParams;
use super::world::{self, World};

/// The look-alike behaviours planned for one subscriber.
#[derive(Debug, Clone, Default)]
pub struct Lookalikes {
    pub night_worker: bool,
    pub data_only: bool,
    pub border_hops: bool,
    pub heavy_data: bool,
    pub conference: bool,
    pub calls_home: bool,
    /// Time of a phone change followed by a setup burst.
    pub upgrade_at: Option<i64>,
    pub call_blocks: Vec<CallBlock>,
    pub data_blocks: Vec<DataBlock>,
    /// Average daily voice minutes of the call blocks: a habit the profile's baseline partly knows.
    pub habitual_voice_min: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Conference,
    CallsHome,
    Diaspora,
    /// First calls from a new phone.
    NewPhone,
}

/// Calls back to back with a few numbers during [start, end).
#[derive(Debug, Clone)]
pub struct CallBlock {
    pub kind: BlockKind,
    pub start: i64,
    pub end: i64,
    pub numbers: Vec<String>,
}

/// Data sessions adding up to `bytes` during [start, end).
#[derive(Debug, Clone)]
pub struct DataBlock {
    pub start: i64,
    pub end: i64,
    pub bytes: u64,
}

/// Decides the subscriber's look-alike behaviours (after the itinerary, before any fraud).
pub fn plan(world: &World, period: Period, sub: &mut Subscriber, rng: &mut Rng) {
    let p = world.params.lookalikes;
    if p == LookalikeParams::OFF {
        return;
    }
    plan_border_hops(world, period, sub, &p, rng);
    plan_data_only(sub, &p, rng);
    plan_night_worker(sub, &p, rng);
    plan_heavy_data(period, sub, &p, rng);
    plan_conferences(world, period, sub, &p, rng);
    plan_calls_home(period, sub, &p, rng);
    plan_diaspora_evenings(period, sub, &p, rng);
    plan_upgrade_burst(period, sub, &p, rng);
    let minutes: i64 = sub
        .lookalikes
        .call_blocks
        .iter()
        .filter(|b| b.kind != BlockKind::NewPhone)
        .map(|b| (b.end - b.start) / 60)
        .sum();
    sub.lookalikes.habitual_voice_min = minutes as f64 / (period.len() as f64 / DAY as f64);
}

/// Who can show each behaviour: data-only SIMs make no calls; commuters and drivers do not
/// tour, and work rather than sightsee.
pub fn eligible_for_hops(p: Persona) -> bool {
    matches!(p, Persona::Holiday | Persona::Business | Persona::LowUser | Persona::HeavyData)
}
pub fn eligible_for_data_only(p: Persona) -> bool {
    !matches!(p, Persona::Commuter | Persona::Driver)
}
pub fn eligible_for_heavy_data(sub: &Subscriber) -> bool {
    sub.usage.data_sessions > 0.0
        && (sub.lookalikes.data_only
            || matches!(sub.persona, Persona::Holiday | Persona::LongStay | Persona::HeavyData))
}
pub fn eligible_for_conferences(sub: &Subscriber) -> bool {
    !sub.lookalikes.data_only && matches!(sub.persona, Persona::Business | Persona::Driver)
}
pub fn eligible_for_calls_home(sub: &Subscriber) -> bool {
    // Commuters are home every evening.
    !sub.lookalikes.data_only && sub.persona != Persona::Commuter && !sub.home_contacts.is_empty()
}

fn plan_border_hops(world: &World, period: Period, sub: &mut Subscriber, p: &LookalikeParams, rng: &mut Rng) {
    if !eligible_for_hops(sub.persona) || !rng.bernoulli(p.border_hops) {
        return;
    }
    if let Some(stays) = hop_tour(world, period, sub.home, p.hop_speed_kmh, rng) {
        sub.stays = stays;
        sub.lookalikes.border_hops = true;
    }
}

/// A road or rail tour: 1–4 days, each through 2–5 countries of a few hours each, nights in the
/// last one. Arrivals are never faster than `speed_kmh` over the lower-bound distance from any
/// country of the tour (lower bounds do not add up along a route: NL→BE→FR→ES is "0 km" a
/// border, NL→ES is not).
fn hop_tour(world: &World, period: Period, home: CountryCode, speed_kmh: f64, rng: &mut Rng) -> Option<Vec<Stay>> {
    let mut here = first_hop(world, home, rng)?;
    let days = rng.range(1, 4);
    let latest = (period.len() - days * DAY).max(0);
    let mut t = local_midnight(period.start + rng.range(0, latest), here) + rng.range(7 * HOUR, 10 * HOUR);
    let mut prev = home;
    let mut stays = Vec::new();
    for _ in 0..days {
        for _ in 0..rng.range(2, 5) {
            let len = rng.range(HOUR, 4 * HOUR);
            stays.push(behaviours::stay(world, here, t, t + len, rng));
            t += len;
            // Onwards rather than back; back only from a dead end.
            let mut options: Vec<CountryCode> =
                world.neighbours(here).iter().copied().filter(|c| *c != prev && *c != home).collect();
            if options.is_empty() && prev != home {
                options.push(prev);
            }
            let Some(&next) = options.get(rng.index(options.len())) else {
                break;
            };
            t = arrival(&stays, t + crossing_s(here, next, speed_kmh, rng), next, speed_kmh);
            (prev, here) = (here, next);
        }
        let morning = local_midnight(t + 6 * HOUR, here) + DAY + rng.range(7 * HOUR, 9 * HOUR);
        stays.push(behaviours::stay(world, here, t, morning, rng));
        t = morning;
    }
    Some(stays)
}

/// Where a tour starts: a destination (or a country across the border from home) from which
/// at least two other countries are a border away, so that the tour can go on.
fn first_hop(world: &World, home: CountryCode, rng: &mut Rng) -> Option<CountryCode> {
    let onward = |c: CountryCode| world.neighbours(c).iter().filter(|n| **n != home).count() >= 2;
    let near = world.neighbours(home).iter().map(|c| (*c, 3.0));
    let far = world.destinations(home).iter().map(|(c, w)| (world::code(c), *w / 10.0));
    let starts: Vec<(CountryCode, f64)> = near.chain(far).filter(|(c, _)| *c != home && onward(*c)).collect();
    (!starts.is_empty()).then(|| rng.pick_weighted(&starts))
}

/// The earliest time at `next`, not before `t`, reachable at `speed_kmh` from every earlier stay.
fn arrival(stays: &[Stay], t: i64, next: CountryCode, speed_kmh: f64) -> i64 {
    stays.iter().fold(t, |t, s| {
        let km = f64::from(roamguard::countries::min_travel_km(s.country, next).unwrap_or(0.0));
        t.max(s.end + (km / speed_kmh * HOUR as f64).ceil() as i64)
    })
}

fn crossing_s(a: CountryCode, b: CountryCode, speed_kmh: f64, rng: &mut Rng) -> i64 {
    let km = f64::from(roamguard::countries::min_travel_km(a, b).unwrap_or(0.0));
    rng.range(5 * 60, 40 * 60).max((km / speed_kmh * HOUR as f64).ceil() as i64)
}

/// A data-only eSIM bought for the trip: no voice, no SMS; often prepaid and brand new.
fn plan_data_only(sub: &mut Subscriber, p: &LookalikeParams, rng: &mut Rng) {
    if !eligible_for_data_only(sub.persona) || !rng.bernoulli(p.data_only) {
        return;
    }
    let u = &mut sub.usage;
    (u.voice_mo, u.voice_mt, u.sms_mo, u.sms_mt) = (0.0, 0.0, 0.0, 0.0);
    // Bought to be used: at least a holiday maker's share of sessions.
    u.data_sessions = u.data_sessions.max(10.0) * rng.uniform(1.0, 2.0);
    if rng.bernoulli(0.7) {
        sub.plan = Plan::Prepaid;
    }
    if rng.bernoulli(0.6) {
        sub.tenure_days = rng.range(0, 30) as u32;
    }
    (sub.family, sub.forward_to, sub.odd_calls) = (None, None, 0);
    sub.lookalikes.data_only = true;
}

/// Night shifts (care, security, hospitality, remote work for another time zone).
fn plan_night_worker(sub: &mut Subscriber, p: &LookalikeParams, rng: &mut Rng) {
    if !rng.bernoulli(p.night_worker) {
        return;
    }
    behaviours::shift_hours(&mut sub.usage.hours, rng.range(9, 13));
    sub.lookalikes.night_worker = true;
}

fn plan_heavy_data(period: Period, sub: &mut Subscriber, p: &LookalikeParams, rng: &mut Rng) {
    if !eligible_for_heavy_data(sub) || !rng.bernoulli(p.heavy_data) {
        return;
    }
    sub.lookalikes.heavy_data = true;
    for (start, end) in daily_spans(sub, period, p.heavy_day, DaySpans::ALL_DAYS_AFTERNOON, rng) {
        let gb = p.heavy_day_gb * rng.lognormal(1.0, 0.4);
        sub.lookalikes.data_blocks.push(DataBlock { start, end, bytes: (gb * 1000.0 * MB) as u64 });
    }
}

fn plan_conferences(world: &World, period: Period, sub: &mut Subscriber, p: &LookalikeParams, rng: &mut Rng) {
    if !eligible_for_conferences(sub) || !rng.bernoulli(p.conference_share) {
        return;
    }
    sub.lookalikes.conference = true;
    for (start, end) in daily_spans(sub, period, p.conference_day, DaySpans::WORKDAY_CONFERENCE, rng) {
        // Dial-in bridges (home office or a provider abroad) and the colleagues of the day.
        let mut numbers: Vec<String> = (0..rng.range(1, 3))
            .map(|_| {
                let c = if rng.bernoulli(0.6) { sub.home } else { world::code(rng.pick(&["US", "GB", "DE", "FR"])) };
                world.number(c, false, rng)
            })
            .collect();
        numbers.extend(sub.home_contacts.iter().take(2).cloned());
        sub.lookalikes.call_blocks.push(CallBlock { kind: BlockKind::Conference, start, end, numbers });
    }
}

fn plan_calls_home(period: Period, sub: &mut Subscriber, p: &LookalikeParams, rng: &mut Rng) {
    if !eligible_for_calls_home(sub) || !rng.bernoulli(p.calls_home) {
        return;
    }
    sub.lookalikes.calls_home = true;
    // Partner, children, parents: the first contacts.
    let few = rng.range(1, 3) as usize;
    let numbers: Vec<String> = sub.home_contacts.iter().take(few).cloned().collect();
    for (start, end) in daily_spans(sub, period, p.calls_home_day, DaySpans::EVENING, rng) {
        sub.lookalikes.call_blocks.push(CallBlock { kind: BlockKind::CallsHome, start, end, numbers: numbers.clone() });
    }
}

fn plan_diaspora_evenings(period: Period, sub: &mut Subscriber, p: &LookalikeParams, rng: &mut Rng) {
    let Some((_, numbers)) = sub.family.clone() else {
        return;
    };
    if sub.lookalikes.data_only {
        return;
    }
    for (start, end) in daily_spans(sub, period, p.diaspora_day, DaySpans::EVENING, rng) {
        sub.lookalikes.call_blocks.push(CallBlock { kind: BlockKind::Diaspora, start, end, numbers: numbers.clone() });
    }
}

/// Moves the phone change into a stay's daytime and follows it with a backup restore and a
/// few calls home from the new phone.
fn plan_upgrade_burst(period: Period, sub: &mut Subscriber, p: &LookalikeParams, rng: &mut Rng) {
    let Some((_, device)) = sub.device_change else {
        return;
    };
    if !rng.bernoulli(p.upgrade_burst) {
        return;
    }
    let Some((at, stay_end)) = daytime_in_stay(sub, period, rng) else {
        return;
    };
    sub.device_change = Some((at, device));
    sub.lookalikes.upgrade_at = Some(at);
    let start = at + rng.range(5 * 60, 30 * 60);
    let end = (start + rng.range(HOUR, 3 * HOUR)).min(stay_end);
    let gb = p.restore_gb * rng.lognormal(1.0, 0.5);
    if end > start {
        sub.lookalikes.data_blocks.push(DataBlock { start, end, bytes: (gb * 1000.0 * MB) as u64 });
    }
    if !sub.lookalikes.data_only && !sub.home_contacts.is_empty() {
        let start = at + rng.range(10 * 60, HOUR);
        let end = (start + rng.range(30 * 60, 2 * HOUR)).min(stay_end);
        let numbers = sub.home_contacts.iter().take(3).cloned().collect();
        if end > start {
            sub.lookalikes.call_blocks.push(CallBlock { kind: BlockKind::NewPhone, start, end, numbers });
        }
    }
}

/// A local daytime (9–21 h) inside a stay within the period, and the end of that stay.
fn daytime_in_stay(sub: &Subscriber, period: Period, rng: &mut Rng) -> Option<(i64, i64)> {
    let s = behaviours::pick_stay(sub, period, rng)?;
    let (lo, hi) = (s.start.max(period.start), s.end.min(period.end));
    for _ in 0..8 {
        let day = local_midnight(lo + rng.below((hi - lo).max(1) as u64) as i64, s.country);
        let t = day + rng.range(9 * HOUR, 21 * HOUR);
        if t >= lo && t + HOUR <= hi {
            return Some((t, hi));
        }
    }
    (hi - lo > HOUR).then_some((lo, hi))
}

/// When in the local day a kind of block happens.
#[derive(Clone, Copy)]
struct DaySpans {
    weekdays_only: bool,
    /// Local start hours and length (seconds) ranges.
    start_h: (f64, f64),
    len_s: (i64, i64),
}

impl DaySpans {
    const ALL_DAYS_AFTERNOON: DaySpans =
        DaySpans { weekdays_only: false, start_h: (10.0, 19.0), len_s: (3 * HOUR, 8 * HOUR) };
    const WORKDAY_CONFERENCE: DaySpans =
        DaySpans { weekdays_only: true, start_h: (8.0, 15.0), len_s: (HOUR, 4 * HOUR) };
    const EVENING: DaySpans = DaySpans { weekdays_only: false, start_h: (18.0, 21.5), len_s: (45 * 60, 3 * HOUR) };
}

/// Spans on the subscriber's roaming days inside the period, each day with probability `p`;
/// spans that would not fit an hour inside the stay are dropped, others end with the stay.
fn daily_spans(sub: &Subscriber, period: Period, p: f64, when: DaySpans, rng: &mut Rng) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for s in &sub.stays {
        let (lo, hi) = (s.start.max(period.start), s.end.min(period.end));
        let mut day = local_midnight(lo, s.country);
        while day < hi {
            let workday = weekday(day, s.country) < 5;
            if (workday || !when.weekdays_only) && rng.bernoulli(p) {
                let start = day + (rng.uniform(when.start_h.0, when.start_h.1) * HOUR as f64) as i64;
                let end = (start + rng.range(when.len_s.0, when.len_s.1)).min(hi);
                if start >= lo && end - start >= HOUR.min(when.len_s.0) {
                    out.push((start, end));
                }
            }
            day += DAY;
        }
    }
    out
}

/// The events of the subscriber's planned look-alike blocks.
pub fn events(world: &World, sub: &Subscriber, rng: &mut Rng, out: &mut Vec<Draft>) {
    for b in &sub.lookalikes.call_blocks {
        call_block(world, sub, b, rng, out);
    }
    for b in &sub.lookalikes.data_blocks {
        data_block(sub, b, rng, out);
    }
}

fn stay_at(sub: &Subscriber, t: i64) -> Option<&Stay> {
    sub.stays.iter().find(|s| s.start <= t && t < s.end)
}

/// Call length median and spread, gaps between calls and the share of incoming calls.
fn call_shape(world: &World, kind: BlockKind) -> (f64, (f64, f64), (i64, i64), f64) {
    let p = &world.params.lookalikes;
    match kind {
        BlockKind::Conference => (p.conference_call_median_s, (300.0, 5400.0), (10, 180), 0.2),
        BlockKind::CallsHome => (p.home_call_median_s, (300.0, 7200.0), (60, 15 * 60), 0.3),
        BlockKind::Diaspora => (p.home_call_median_s, (300.0, 7200.0), (60, 20 * 60), 0.3),
        BlockKind::NewPhone => (120.0, (10.0, 1800.0), (2 * 60, 20 * 60), 0.2),
    }
}

fn call_block(world: &World, sub: &Subscriber, b: &CallBlock, rng: &mut Rng, out: &mut Vec<Draft>) {
    let (Some(s), false) = (stay_at(sub, b.start), b.numbers.is_empty()) else {
        return;
    };
    let (median, (shortest, longest), (gap_lo, gap_hi), mt_share) = call_shape(world, b.kind);
    let mut t = b.start;
    while t < b.end && t < s.end {
        let kind = if rng.bernoulli(mt_share) { EventType::VoiceMt } else { EventType::VoiceMo };
        let duration = rng.lognormal(median, 0.5).clamp(shortest, longest) as u64;
        let mut d = legit_draft(sub, s, t, kind, rng);
        d.other = Some(b.numbers[rng.index(b.numbers.len())].clone());
        d.duration = Some(duration);
        out.push(d);
        t += duration as i64 + rng.range(gap_lo, gap_hi);
    }
}

/// Sessions every 5–30 minutes; none exceeds 2.5 GB, like ordinary sessions.
fn data_block(sub: &Subscriber, b: &DataBlock, rng: &mut Rng, out: &mut Vec<Draft>) {
    let Some(s) = stay_at(sub, b.start) else {
        return;
    };
    let mean_gap = rng.range(5 * 60, 30 * 60);
    let end = b.end.min(s.end);
    let sessions = ((end - b.start) / mean_gap).max(1);
    let per_session = b.bytes as f64 / sessions as f64;
    let mut t = b.start;
    while t < end {
        let gap = rng.range(mean_gap / 2, mean_gap * 3 / 2);
        let mut d = legit_draft(sub, s, t, EventType::Data, rng);
        d.bytes = Some((per_session * rng.lognormal(1.0, 0.3)).min(2500.0 * MB) as u64);
        d.duration = Some((gap as f64 * rng.uniform(0.6, 1.0)) as u64);
        out.push(d);
        t += gap;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use roamguard::countries;
    use roamguard::events::RoamingEvent;

    use super::*;
    use crate::params::WorldParams;
    use crate::{Dataset, GeneratorConfig, Label, generate_in, plan_population};

    /// A drawn world with every look-alike at a share large enough to measure.
    fn busy_world() -> World {
        let mut p = WorldParams::for_world(11);
        let l = &mut p.lookalikes;
        (l.border_hops, l.data_only, l.night_worker, l.heavy_data, l.conference_share, l.calls_home) =
            (0.25, 0.25, 0.25, 0.25, 0.25, 0.25);
        (l.upgrade_burst, l.conference_day, l.heavy_day, l.calls_home_day, l.diaspora_day) = (0.6, 0.5, 0.5, 0.5, 0.5);
        p.devices.change = 0.2;
        p.habits.diaspora_share = 0.2;
        World::new(p)
    }

    fn cfg(subscribers: usize) -> GeneratorConfig {
        GeneratorConfig { subscribers, days: 5, seed: 21, fraud_share: 0.05, world: 11, ..GeneratorConfig::default() }
    }

    /// Share of `eligible` subscribers (without fraud) for which `has` holds.
    fn share(
        subs: &[Subscriber],
        eligible: impl Fn(&Subscriber) -> bool,
        has: impl Fn(&Subscriber) -> bool,
    ) -> (f64, usize) {
        let pool: Vec<&Subscriber> = subs.iter().filter(|s| s.fraud.is_none() && eligible(s)).collect();
        (pool.iter().filter(|s| has(s)).count() as f64 / pool.len().max(1) as f64, pool.len())
    }

    fn assert_rate(name: &str, (got, n): (f64, usize), rate: f64) {
        // Four standard deviations of a binomial share, and a little for tours that find no border.
        let tolerance = 4.0 * (rate * (1.0 - rate) / n as f64).sqrt() + 0.01;
        assert!(n >= 300, "{name}: only {n} eligible subscribers");
        assert!((got - rate).abs() <= tolerance, "{name}: share {got:.3} of {n}, rate {rate}");
    }

    #[test]
    fn when_lookalike_is_enabled_should_occur_at_its_world_rate() {
        let world = busy_world();
        let (subs, _) = plan_population(&world, &cfg(4000));
        let l = world.params.lookalikes;
        let any = |_: &Subscriber| true;
        assert_rate(
            "border hops",
            share(&subs, |s| eligible_for_hops(s.persona), |s| s.lookalikes.border_hops),
            l.border_hops,
        );
        assert_rate(
            "data only",
            share(&subs, |s| eligible_for_data_only(s.persona), |s| s.lookalikes.data_only),
            l.data_only,
        );
        assert_rate("night workers", share(&subs, any, |s| s.lookalikes.night_worker), l.night_worker);
        assert_rate("heavy data", share(&subs, eligible_for_heavy_data, |s| s.lookalikes.heavy_data), l.heavy_data);
        assert_rate(
            "conferences",
            share(&subs, eligible_for_conferences, |s| s.lookalikes.conference),
            l.conference_share,
        );
        assert_rate("calls home", share(&subs, eligible_for_calls_home, |s| s.lookalikes.calls_home), l.calls_home);
        let changed = |s: &Subscriber| s.device_change.is_some();
        assert_rate("upgrade bursts", share(&subs, changed, |s| s.lookalikes.upgrade_at.is_some()), l.upgrade_burst);
        let diaspora = |s: &Subscriber| s.family.is_some();
        let evenings = |s: &Subscriber| s.lookalikes.call_blocks.iter().any(|b| b.kind == BlockKind::Diaspora);
        assert!(share(&subs, diaspora, evenings).0 > 0.5, "diaspora evenings at 50 % a day");
    }

    #[test]
    fn when_world_is_drawn_should_show_every_lookalike() {
        for n in [1, 2, 3] {
            let world = World::new(WorldParams::for_world(n));
            let (subs, _) = plan_population(&world, &cfg(3000));
            let count = |f: fn(&Lookalikes) -> bool| subs.iter().filter(|s| f(&s.lookalikes)).count();
            let kinds =
                |k: BlockKind| subs.iter().flat_map(|s| &s.lookalikes.call_blocks).filter(|b| b.kind == k).count();
            for (name, c) in [
                ("border hops", count(|l| l.border_hops)),
                ("data only", count(|l| l.data_only)),
                ("night workers", count(|l| l.night_worker)),
                ("heavy data", count(|l| l.heavy_data)),
                ("upgrade bursts", count(|l| l.upgrade_at.is_some())),
                ("conference blocks", kinds(BlockKind::Conference)),
                ("calls-home blocks", kinds(BlockKind::CallsHome)),
                ("diaspora blocks", kinds(BlockKind::Diaspora)),
            ] {
                assert!(c > 0, "world {n}: no {name}");
            }
        }
    }

    /// Events and labels of each IMSI.
    fn by_imsi(ds: &Dataset) -> HashMap<&str, Vec<(&RoamingEvent, &Label)>> {
        let mut out: HashMap<&str, Vec<_>> = HashMap::new();
        for (e, l) in ds.events.iter().zip(&ds.labels) {
            out.entry(e.imsi.as_str()).or_default().push((e, l));
        }
        out
    }

    fn within(e: &RoamingEvent, from: i64, to: i64) -> bool {
        (from..to).contains(&e.event_time.timestamp())
    }

    /// Share of `items` for which `ok` holds (1 when there are none).
    fn pass_rate<T>(items: &[T], ok: impl Fn(&T) -> bool) -> f64 {
        if items.is_empty() { 1.0 } else { items.iter().filter(|x| ok(x)).count() as f64 / items.len() as f64 }
    }

    struct Generated {
        world: World,
        subs: Vec<Subscriber>,
        ds: Dataset,
    }

    fn generated() -> Generated {
        let world = busy_world();
        let cfg = cfg(1500);
        let (subs, _) = plan_population(&world, &cfg);
        let ds = generate_in(&world, &cfg, 2);
        Generated { world, subs, ds }
    }

    #[test]
    fn when_lookalikes_are_planned_should_show_in_events_labelled_legitimate() {
        let g = generated();
        let events = by_imsi(&g.ds);
        let genuine: Vec<(&Subscriber, &Vec<(&RoamingEvent, &Label)>)> = g
            .subs
            .iter()
            .filter(|s| s.fraud.is_none())
            .filter_map(|s| events.get(s.imsi.as_str()).map(|e| (s, e)))
            .collect();
        for (sub, evs) in &genuine {
            assert!(evs.iter().all(|(_, l)| !l.fraud && l.fraud_type.is_none()), "{} has fraud labels", sub.imsi);
        }
        check_data_only(&genuine);
        check_night_workers(&genuine);
        check_border_hops(&g.world, &genuine);
        check_call_blocks(&genuine);
        check_data_blocks(&genuine);
        check_upgrades(&genuine);
    }

    type Genuine<'a> = [(&'a Subscriber, &'a Vec<(&'a RoamingEvent, &'a Label)>)];

    fn check_data_only(genuine: &Genuine<'_>) {
        let data_only: Vec<_> = genuine.iter().filter(|(s, _)| s.lookalikes.data_only).collect();
        assert!(data_only.len() > 50);
        for (sub, evs) in &data_only {
            assert!(evs.iter().all(|(e, _)| e.event_type == EventType::Data), "{} made a call", sub.imsi);
        }
        assert!(pass_rate(&data_only, |(_, evs)| !evs.is_empty()) > 0.95);
    }

    fn night_share(evs: &[(&RoamingEvent, &Label)]) -> f64 {
        let night = evs.iter().filter(|(e, _)| behaviours::local_hour(e.event_time.timestamp(), e.visited_country) < 6);
        night.count() as f64 / evs.len().max(1) as f64
    }

    fn check_night_workers(genuine: &Genuine<'_>) {
        let mean = |night_worker: bool| {
            let group: Vec<f64> = genuine
                .iter()
                .filter(|(s, _)| s.lookalikes.night_worker == night_worker)
                .map(|(_, e)| night_share(e))
                .collect();
            group.iter().sum::<f64>() / group.len().max(1) as f64
        };
        let (workers, others) = (mean(true), mean(false));
        assert!(workers > 3.0 * others, "night share: workers {workers:.3}, others {others:.3}");
    }

    fn check_border_hops(world: &World, genuine: &Genuine<'_>) {
        let hoppers: Vec<_> = genuine.iter().filter(|(s, _)| s.lookalikes.border_hops).collect();
        assert!(hoppers.len() > 30);
        let speed_limit = world.params.lookalikes.hop_speed_kmh as f32;
        let mut three_a_day = 0;
        for (sub, evs) in &hoppers {
            for w in evs.windows(2) {
                let (a, b) = (w[0].0, w[1].0);
                let km = countries::min_travel_km(a.visited_country, b.visited_country).unwrap_or(0.0);
                let hours = (b.event_time - a.event_time).num_seconds() as f32 / 3600.0;
                assert!(km == 0.0 || km / hours.max(1e-6) <= speed_limit * 1.001, "{}: {km} km in {hours} h", sub.imsi);
            }
            let day_countries = |i: usize| {
                let t0 = evs[i].0.event_time.timestamp();
                evs[i..]
                    .iter()
                    .take_while(|(e, _)| within(e, t0, t0 + DAY))
                    .map(|(e, _)| e.visited_country)
                    .collect::<HashSet<_>>()
            };
            three_a_day += usize::from((0..evs.len()).any(|i| day_countries(i).len() >= 3));
        }
        assert!(three_a_day * 10 >= hoppers.len() * 7, "{three_a_day} of {} saw 3 countries in a day", hoppers.len());
    }

    fn voice_s(evs: &[(&RoamingEvent, &Label)], from: i64, to: i64, numbers: &[String]) -> u64 {
        evs.iter()
            .filter(|(e, _)| e.event_type.is_voice() && within(e, from, to))
            .filter(|(e, _)| numbers.is_empty() || e.called_number.as_ref().is_some_and(|n| numbers.contains(n)))
            .map(|(e, _)| e.duration_s.unwrap_or(0))
            .sum()
    }

    fn check_call_blocks(genuine: &Genuine<'_>) {
        for kind in [BlockKind::Conference, BlockKind::CallsHome, BlockKind::Diaspora] {
            let blocks: Vec<(&CallBlock, &Vec<_>)> = genuine
                .iter()
                .flat_map(|(s, evs)| s.lookalikes.call_blocks.iter().filter(|b| b.kind == kind).map(move |b| (b, *evs)))
                .collect();
            assert!(blocks.len() > 30, "{kind:?}: {} blocks", blocks.len());
            // Conference days: an hour or more of back-to-back long calls, whoever is called.
            // Calls home and to relatives: long calls to the block's few numbers (the calling
            // line is withheld on some incoming ones, so not all of them are counted).
            let ok = |(b, evs): &(&CallBlock, &Vec<_>)| match kind {
                BlockKind::Conference => voice_s(evs, b.start, b.end, &[]) as f64 >= 0.6 * (b.end - b.start) as f64,
                _ => voice_s(evs, b.start, b.end, &b.numbers) >= 300,
            };
            assert!(pass_rate(&blocks, ok) > 0.9, "{kind:?} blocks not visible: {}", pass_rate(&blocks, ok));
        }
        let diaspora_risk = genuine
            .iter()
            .flat_map(|(s, _)| s.lookalikes.call_blocks.iter().filter(|b| b.kind == BlockKind::Diaspora))
            .flat_map(|b| &b.numbers)
            .filter_map(|n| countries::country_of_number(n).and_then(countries::info))
            .filter(|c| c.risk_tier >= 1)
            .count();
        assert!(diaspora_risk > 0, "diaspora evenings reach higher-risk countries");
    }

    fn data_bytes(evs: &[(&RoamingEvent, &Label)], from: i64, to: i64) -> u64 {
        evs.iter()
            .filter(|(e, _)| e.event_type == EventType::Data && within(e, from, to))
            .map(|(e, _)| e.data_bytes.unwrap_or(0))
            .sum()
    }

    fn check_data_blocks(genuine: &Genuine<'_>) {
        let heavy: Vec<(&DataBlock, &Vec<_>)> = genuine
            .iter()
            .filter(|(s, _)| s.lookalikes.heavy_data)
            .flat_map(|(s, evs)| s.lookalikes.data_blocks.iter().map(move |b| (b, *evs)))
            .collect();
        assert!(heavy.len() > 30);
        let multi_gb =
            |(b, evs): &(&DataBlock, &Vec<_>)| data_bytes(evs, b.start, b.end) as f64 >= 0.5 * b.bytes as f64;
        assert!(pass_rate(&heavy, multi_gb) > 0.9);
        let gb_days = heavy.iter().filter(|(b, evs)| data_bytes(evs, b.start, b.end) as f64 >= 2e9).count();
        assert!(gb_days * 2 > heavy.len(), "most heavy days exceed 2 GB: {gb_days} of {}", heavy.len());
    }

    fn check_upgrades(genuine: &Genuine<'_>) {
        let upgrades: Vec<_> = genuine.iter().filter(|(s, _)| s.lookalikes.upgrade_at.is_some()).collect();
        assert!(upgrades.len() > 30);
        let new_phone_busy = |(s, evs): &&(&Subscriber, &Vec<(&RoamingEvent, &Label)>)| {
            let (Some(at), Some((_, idx))) = (s.lookalikes.upgrade_at, s.device_change) else {
                return false;
            };
            let new_imei = &s.devices[idx][..14];
            let on_new = evs.iter().filter(|(e, _)| within(e, at, at + 4 * HOUR));
            let fresh = on_new.filter(|(e, _)| e.imei.as_deref().is_some_and(|i| i.starts_with(new_imei))).count();
            fresh >= 3 && data_bytes(evs, at, at + 4 * HOUR) >= 200_000_000
        };
        assert!(pass_rate(&upgrades, new_phone_busy) > 0.85, "{}", pass_rate(&upgrades, new_phone_busy));
    }
}
