//! Fraud episodes injected into a subscriber's traffic, after the patterns operators report:
//! IRSF pumping, SIM boxes, Wangiri, roaming data abuse, cloned SIMs (impossible travel) and
//! stolen devices / SIM swaps.
//!
//! Each episode has an intensity: blatant episodes are what a rules engine catches; subtle ones
//! (a handful of events, moderate volumes) overlap with legitimate behaviour on purpose.

use roamguard::countries::{self, CountryCode};
use roamguard::events::EventType;
use roamguard::profile::Plan;

use super::FraudType;
use super::behaviours::{self, DAY, Draft, HOUR, MB, Period, Persona, Stay, Subscriber, local_hour, scaled};
use super::lookalikes::Lookalikes;
use super::params::FraudKnobs;
use super::world::{self, World};
use roamguard::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intensity {
    Blatant,
    Moderate,
    Subtle,
}

impl Intensity {
    /// Picks a value by intensity: blatant, moderate, subtle.
    fn pick<T>(self, blatant: T, moderate: T, subtle: T) -> T {
        match self {
            Intensity::Blatant => blatant,
            Intensity::Moderate => moderate,
            Intensity::Subtle => subtle,
        }
    }
}

/// How the fraudster got hold of the SIM, per type (see the `prepare_*` functions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// A SIM bought or stolen for the purpose: all of its activity from the episode on is fraud.
    FreshSim,
    /// The genuine subscriber's phone or SIM is taken during a stay.
    Stolen,
    /// The account is abused from a country the subscriber is not in, while they are at home.
    Remote,
    /// Wangiri: the SIM dials short calls to many numbers.
    Dialer,
    /// Wangiri: the subscriber is rung from a premium number and calls back.
    Callback,
    /// The genuine subscriber keeps using the SIM alongside the fraud.
    Alongside,
}

/// A fraud episode decided when the subscriber is planned; events are generated later.
#[derive(Debug, Clone)]
pub struct FraudPlan {
    pub fraud_type: FraudType,
    pub intensity: Intensity,
    pub variant: Variant,
    /// Episode start (Unix seconds).
    pub start: i64,
    /// Country the fraudulent events come from.
    pub country: CountryCode,
    /// Index into [`Subscriber::devices`] of the device the fraud uses.
    pub device: usize,
    /// Whether the genuine subscriber produced traffic before the episode (fresh SIMs only).
    pub prior_use: bool,
}

/// Decides the episode and adapts the subscriber (fresh prepaid SIM, fraud device, …) before
/// the profile is derived from it.
///
/// `ordinal` numbers the episodes of one type; intensities cycle over the world's cycle of five
/// (in world 0: 2 blatant, 2 moderate, 1 subtle), which holds every intensity, so that small
/// datasets still get every intensity of every type.
pub fn prepare(
    world: &World,
    period: Period,
    sub: &mut Subscriber,
    fraud_type: FraudType,
    ordinal: usize,
    rng: &mut Rng,
) {
    let cycle = world.params.fraud(fraud_type).cycle;
    let intensity = cycle[ordinal % cycle.len()];
    let plan = match fraud_type {
        FraudType::Irsf => prepare_irsf(world, period, sub, intensity, rng),
        FraudType::Simbox => prepare_simbox(world, period, sub, intensity, rng),
        FraudType::Wangiri => {
            let variant = if rng.bernoulli(0.55) { Variant::Dialer } else { Variant::Callback };
            if variant == Variant::Dialer && rng.bernoulli(0.7) {
                sub.plan = Plan::Prepaid;
            }
            let (country, start) = in_stay(sub, period, rng, false);
            let device = if variant == Variant::Dialer && rng.bernoulli(0.6) {
                new_device(sub, world::MODULE_TACS, rng)
            } else {
                0
            };
            FraudPlan { fraud_type, intensity, variant, start, country, device, prior_use: true }
        }
        FraudType::DataAbuse => {
            let (country, start) = in_stay(sub, period, rng, false);
            let device = if rng.bernoulli(0.7) {
                let tacs = if rng.bernoulli(0.6) { world::MODULE_TACS } else { world::PHONE_TACS };
                new_device(sub, tacs, rng)
            } else {
                0
            };
            FraudPlan { fraud_type, intensity, variant: Variant::Alongside, start, country, device, prior_use: true }
        }
        FraudType::ImpossibleTravel => {
            let (here, start) = in_stay(sub, period, rng, false);
            let country = far_country(world, here, sub.home, rng);
            let device = new_device(sub, world::PHONE_TACS, rng);
            FraudPlan { fraud_type, intensity, variant: Variant::Alongside, start, country, device, prior_use: true }
        }
        FraudType::DeviceSwap => {
            let night = rng.bernoulli(0.3);
            let (country, start) = in_stay(sub, period, rng, night);
            let device = new_device(sub, world::PHONE_TACS, rng);
            FraudPlan { fraud_type, intensity, variant: Variant::Stolen, start, country, device, prior_use: true }
        }
    };
    sub.fraud = Some(plan);
}

fn new_device(sub: &mut Subscriber, tacs: &[&str], rng: &mut Rng) -> usize {
    sub.devices.push(world::imei(tacs, rng));
    sub.devices.len() - 1
}

/// A country and a time inside one of the subscriber's stays, preferably leaving an hour of
/// stay after it; at local night when `night`.
fn in_stay(sub: &Subscriber, period: Period, rng: &mut Rng, night: bool) -> (CountryCode, i64) {
    let Some(s) = behaviours::pick_stay(sub, period, rng) else {
        return (sub.home, period.start);
    };
    let lo = s.start.max(period.start);
    let hi = s.end.min(period.end);
    let hi_start = if hi - lo > 2 * HOUR { hi - HOUR } else { hi };
    let mut t = lo + rng.below((hi_start - lo).max(1) as u64) as i64;
    if night {
        for _ in 0..24 {
            let candidate = lo + rng.below((hi_start - lo).max(1) as u64) as i64;
            if local_hour(candidate, s.country) < 5 {
                t = candidate;
                break;
            }
        }
    }
    (s.country, t)
}

/// A roaming country at least 3000 km from `here` (a clone on another continent).
fn far_country(world: &World, here: CountryCode, home: CountryCode, rng: &mut Rng) -> CountryCode {
    let far: Vec<CountryCode> = world
        .roamable
        .iter()
        .copied()
        .filter(|c| *c != home && countries::min_travel_km(here, *c).unwrap_or(0.0) >= 3000.0)
        .collect();
    if far.is_empty() { world.roamable[rng.index(world.roamable.len())] } else { far[rng.index(far.len())] }
}

/// A country the subscriber does not visit during the period, and not home.
fn unvisited_country(world: &World, sub: &Subscriber, rng: &mut Rng) -> CountryCode {
    let options: Vec<CountryCode> = world
        .roamable
        .iter()
        .copied()
        .filter(|c| *c != sub.home && !sub.stays.iter().any(|s| s.country == *c))
        .collect();
    // Never empty in practice: a subscriber visits a handful of the ~90 roaming countries.
    options.get(rng.index(options.len())).copied().unwrap_or(sub.home)
}

/// A popular destination for the subscriber's home country, or any roaming country.
fn destination(world: &World, home: CountryCode, rng: &mut Rng) -> CountryCode {
    let list = world.destinations(home);
    if list.is_empty() { world.roamable[rng.index(world.roamable.len())] } else { world::code(rng.pick_weighted(list)) }
}

/// A fresh SIM parked in one country for the whole period (bought for the fraud, or resold).
fn make_fresh_sim(world: &World, period: Period, sub: &mut Subscriber, country: CountryCode, rng: &mut Rng) {
    sub.plan = Plan::Prepaid;
    sub.tenure_days = if rng.bernoulli(0.7) { rng.range(0, 29) as u32 } else { rng.range(30, 120) as u32 };
    sub.persona = Persona::LowUser;
    sub.usage = behaviours::vary_usage(world, Persona::LowUser, rng);
    sub.lookalikes = Lookalikes::default();
    sub.device_change = None;
    sub.second_device = None;
    sub.second_device_blocks.clear();
    sub.family = None;
    sub.forward_to = None;
    sub.odd_calls = 0;
    sub.old_devices.clear();
    let network = world.network(country, rng);
    sub.stays = vec![Stay {
        country,
        start: period.start - rng.range(0, 3 * DAY),
        end: period.end + DAY,
        network,
        alt_network: None,
    }];
}

fn prepare_irsf(world: &World, period: Period, sub: &mut Subscriber, intensity: Intensity, rng: &mut Rng) -> FraudPlan {
    let fraud_type = FraudType::Irsf;
    let night = rng.bernoulli(0.6);
    match rng.weighted(&[0.35, 0.35, 0.3]) {
        0 => {
            let country =
                if rng.bernoulli(0.5) { destination(world, sub.home, rng) } else { unvisited_country(world, sub, rng) };
            make_fresh_sim(world, period, sub, country, rng);
            let prior_use = rng.bernoulli(0.5);
            let (_, start) = in_stay(sub, period, rng, night);
            // A SIM used before by someone else moves into the fraudster's phone; a SIM bought
            // for the purpose is in it from the start.
            let device = if prior_use { new_device(sub, world::PHONE_TACS, rng) } else { 0 };
            FraudPlan { fraud_type, intensity, variant: Variant::FreshSim, start, country, device, prior_use }
        }
        1 => {
            let (country, start) = in_stay(sub, period, rng, night);
            let device = if rng.bernoulli(0.7) { 0 } else { new_device(sub, world::PHONE_TACS, rng) };
            FraudPlan { fraud_type, intensity, variant: Variant::Stolen, start, country, device, prior_use: true }
        }
        _ => match time_at_home(sub, period, rng) {
            Some(start) => {
                let country = unvisited_country(world, sub, rng);
                let device = new_device(sub, world::PHONE_TACS, rng);
                FraudPlan { fraud_type, intensity, variant: Variant::Remote, start, country, device, prior_use: true }
            }
            None => {
                let (country, start) = in_stay(sub, period, rng, night);
                FraudPlan {
                    fraud_type,
                    intensity,
                    variant: Variant::Stolen,
                    start,
                    country,
                    device: 0,
                    prior_use: true,
                }
            }
        },
    }
}

/// A time inside the period when the subscriber is at home, at least six hours from any stay.
fn time_at_home(sub: &Subscriber, period: Period, rng: &mut Rng) -> Option<i64> {
    let mut gaps = Vec::new();
    let mut cursor = period.start;
    let mut stays: Vec<(i64, i64)> = sub.stays.iter().map(|s| (s.start, s.end)).collect();
    stays.sort_unstable();
    for (a, b) in stays.into_iter().chain([(period.end, period.end)]) {
        if a - 6 * HOUR > cursor + 6 * HOUR {
            gaps.push((cursor + 6 * HOUR, (a - 6 * HOUR).min(period.end - HOUR)));
        }
        cursor = cursor.max(b);
    }
    gaps.retain(|(a, b)| b > a);
    if gaps.is_empty() {
        return None;
    }
    let weights: Vec<f64> = gaps.iter().map(|(a, b)| (b - a) as f64).collect();
    let (a, b) = gaps[rng.weighted(&weights)];
    Some(a + rng.below((b - a) as u64) as i64)
}

fn prepare_simbox(
    world: &World,
    period: Period,
    sub: &mut Subscriber,
    intensity: Intensity,
    rng: &mut Rng,
) -> FraudPlan {
    let country = if rng.bernoulli(0.6) {
        destination(world, sub.home, rng)
    } else {
        world.roamable[rng.index(world.roamable.len())]
    };
    make_fresh_sim(world, period, sub, country, rng);
    sub.tenure_days = rng.lognormal(12.0, 0.8).clamp(1.0, 120.0) as u32;
    // The gateway is a static device: a GSM module most of the time, sometimes a handset.
    let tacs = if rng.bernoulli(0.6) { world::MODULE_TACS } else { world::PHONE_TACS };
    sub.devices[0] = world::imei(tacs, rng);
    if sub.tenure_days >= 14 && rng.bernoulli(0.3) {
        // SIMs that already ran in the box before the period: the baseline learnt it.
        sub.voice_baseline_override = Some(rng.uniform(60.0, 300.0) as f32);
    }
    let prior_use = rng.bernoulli(0.5);
    let latest = (period.len() as f64 * 0.8) as u64;
    let start = period.start + rng.below(latest.max(1)) as i64;
    FraudPlan {
        fraud_type: FraudType::Simbox,
        intensity,
        variant: Variant::FreshSim,
        start,
        country,
        device: 0,
        prior_use,
    }
}

/// Adds the episode's events to `events` and removes genuine events the fraud displaces (a
/// stolen phone no longer produces the owner's traffic).
pub fn inject(
    world: &World,
    period: Period,
    sub: &Subscriber,
    plan: &FraudPlan,
    events: &mut Vec<Draft>,
    rng: &mut Rng,
) {
    // Fraud inside one of the subscriber's stays camps on the same network as the subscriber
    // (the home operator's steering picks it); elsewhere on any network of the country.
    let stay = sub.stays.iter().find(|s| s.country == plan.country && s.start <= plan.start && plan.start < s.end);
    let (network, alt) = match stay {
        Some(s) => (s.network, s.alt_network),
        None => {
            let network = world.network(plan.country, rng);
            (network, world.network(plan.country, rng).filter(|a| Some(*a) != network))
        }
    };
    let knobs = *world.params.fraud(plan.fraud_type);
    let mut ep = Episode { plan, knobs, network, out: Vec::new() };
    match plan.fraud_type {
        FraudType::Irsf => irsf(world, &mut ep, rng),
        FraudType::Simbox => simbox(world, period, &mut ep, rng),
        FraudType::Wangiri if plan.variant == Variant::Dialer => wangiri_dialer(world, &mut ep, rng),
        FraudType::Wangiri => wangiri_callback(world, &mut ep, rng),
        FraudType::DataAbuse => data_abuse(&mut ep, rng),
        FraudType::ImpossibleTravel => clone_sim(world, period, sub, &mut ep, rng),
        FraudType::DeviceSwap => device_swap(world, &mut ep, rng),
    }
    ep.out.retain(|d| d.t >= period.start && d.t < period.end);
    // Same network reselection as genuine traffic.
    if let Some(alt) = alt {
        for d in &mut ep.out {
            if rng.bernoulli(behaviours::ALT_NETWORK_SHARE) {
                d.network = Some(alt);
            }
        }
    }
    let last = ep.out.iter().map(|d| d.t + d.duration.unwrap_or(0) as i64).max().unwrap_or(plan.start);
    // Genuine events displaced by the fraud: [from, to).
    let displaced = match (plan.fraud_type, plan.variant) {
        (_, Variant::FreshSim) if !plan.prior_use => Some((i64::MIN, i64::MAX)),
        (_, Variant::FreshSim) | (_, Variant::Stolen) => Some((plan.start, i64::MAX)),
        (_, Variant::Remote) => Some((plan.start, last)),
        // Tethering from a router, or a Wangiri dialer: the SIM is out of the owner's phone
        // meanwhile.
        (FraudType::DataAbuse | FraudType::Wangiri, _) if plan.device != 0 => Some((plan.start, last)),
        _ => None,
    };
    if let Some((from, to)) = displaced {
        events.retain(|d| d.t < from || d.t >= to);
    }
    events.extend(ep.out);
}

struct Episode<'a> {
    plan: &'a FraudPlan,
    /// The world's loudness of this fraud type.
    knobs: FraudKnobs,
    network: Option<&'static str>,
    out: Vec<Draft>,
}

impl FraudKnobs {
    /// A count scaled by the world's volume; at least 1 if it was (exactly `n` at volume 1).
    fn count(&self, n: i64) -> i64 {
        if n <= 0 { n } else { scaled(n, self.volume).max(1) }
    }

    /// A time gap or window scaled by the world's pace.
    fn gap(&self, g: i64) -> i64 {
        scaled(g, self.pace)
    }
}

impl Episode<'_> {
    fn push(
        &mut self,
        t: i64,
        kind: EventType,
        other: Option<String>,
        duration: Option<u64>,
        bytes: Option<u64>,
    ) -> &mut Draft {
        self.out.push(Draft {
            t,
            kind,
            country: self.plan.country,
            network: self.network,
            device: self.plan.device,
            other,
            duration,
            bytes,
            forwarded: false,
            fraud: Some(self.plan.fraud_type),
        });
        let last = self.out.len() - 1;
        &mut self.out[last]
    }
}

/// Premium-rate pumping: long calls, back to back on one or several lines, to a few numbers of
/// the same high-risk range; sometimes through call forwarding.
fn irsf(world: &World, ep: &mut Episode<'_>, rng: &mut Rng) {
    let (i, knobs) = (ep.plan.intensity, ep.knobs);
    let calls = knobs.count(i.pick(rng.range(40, 150), rng.range(12, 40), rng.range(3, 10)));
    let lines = i.pick(rng.range(1, 4), rng.range(1, 2), 1);
    // Quiet episodes keep calls short enough to pass for ordinary ones.
    let median = i.pick(900.0, 420.0, 180.0) * knobs.call_length;
    let unlisted = rng.bernoulli(i.pick(0.15, 0.35, 0.5));
    let count = i.pick(rng.range(3, 20), rng.range(2, 8), rng.range(1, 4)) as usize;
    let destinations = pumped_numbers(world, count, unlisted, rng);
    let forwarding = rng.bernoulli(0.25);
    let mut clocks: Vec<i64> = (0..lines).map(|l| ep.plan.start + l * rng.range(0, 120)).collect();
    for k in 0..calls {
        let line = (k % lines) as usize;
        let duration = rng.lognormal(median, 0.6).clamp(20.0, 2.0 * HOUR as f64) as i64;
        let number = destinations[rng.index(destinations.len())].clone();
        let d = ep.push(clocks[line], EventType::VoiceMo, Some(number), Some(duration as u64), None);
        d.forwarded = forwarding && rng.bernoulli(0.8);
        let gap = match i {
            Intensity::Blatant => knobs.gap(rng.range(2, 60)),
            Intensity::Moderate => 10 + rng.exponential(300.0 * knobs.pace) as i64,
            Intensity::Subtle => 60 + rng.exponential(3600.0 * knobs.pace) as i64,
        };
        clocks[line] += duration + gap;
    }
}

/// Numbers fraudsters pump: often consecutive numbers of one range, else scattered. When
/// `unlisted`, the range is not (yet) on any hot list: ordinary-looking numbers of elevated-risk
/// or ordinary countries, as fraudsters move on to fresh ranges all the time.
fn pumped_numbers(world: &World, n: usize, unlisted: bool, rng: &mut Rng) -> Vec<String> {
    let fresh = |rng: &mut Rng| {
        if !unlisted {
            world.risky_number(rng)
        } else if rng.bernoulli(0.6) && !world.elevated.is_empty() {
            world.number(world.elevated[rng.index(world.elevated.len())], rng.bernoulli(0.5), rng)
        } else {
            world.number(world.roamable[rng.index(world.roamable.len())], false, rng)
        }
    };
    let base = fresh(rng);
    (0..n.max(1))
        .map(|_| {
            if rng.bernoulli(0.5) && base.len() > 6 {
                let mut s = base[..base.len() - 2].to_string();
                rng.push_digits(&mut s, 2);
                s
            } else {
                fresh(rng)
            }
        })
        .collect()
}

/// SIM box: back-to-back calls round the clock to ever-new local numbers, nearly no incoming
/// traffic, no SMS, no data.
fn simbox(world: &World, period: Period, ep: &mut Episode<'_>, rng: &mut Rng) {
    let (i, k) = (ep.plan.intensity, ep.knobs);
    let hours = k.count(i.pick(rng.range(24, 96), rng.range(8, 36), rng.range(2, 10)));
    let end = (ep.plan.start + hours * HOUR).min(period.end);
    let mean_gap = i.pick(rng.uniform(20.0, 60.0), rng.uniform(120.0, 360.0), rng.uniform(480.0, 1200.0)) * k.pace;
    let median = rng.uniform(50.0, 110.0) * k.call_length;
    let humanised = i != Intensity::Blatant && rng.bernoulli(0.5);
    let country = ep.plan.country;
    let mut recent: Vec<String> = Vec::new();
    let mut t = ep.plan.start;
    while t < end {
        let hour = local_hour(t, country);
        if i == Intensity::Subtle && !ep.out.is_empty() && (1..6).contains(&hour) && rng.bernoulli(0.7) {
            // Subtle boxes rest at night to look human.
            t += HOUR;
            continue;
        }
        let duration = rng.lognormal(median, 0.8).clamp(5.0, 1800.0) as i64;
        if humanised && rng.bernoulli(0.02) {
            let caller = world.number(country, true, rng);
            ep.push(t, EventType::VoiceMt, Some(caller), Some(duration as u64), None);
        } else if humanised && rng.bernoulli(0.01) {
            let to = world.number(country, true, rng);
            ep.push(t, EventType::SmsMo, Some(to), None, None);
        } else {
            let number = if !recent.is_empty() && rng.bernoulli(0.05) {
                recent[rng.index(recent.len())].clone()
            } else {
                let n = world.number(country, rng.bernoulli(0.8), rng);
                if recent.len() < 50 {
                    recent.push(n.clone());
                }
                n
            };
            ep.push(t, EventType::VoiceMo, Some(number), Some(duration as u64), None);
        }
        // Traffic barely follows the clock: slightly slower at night.
        let slow = if hour < 6 { 1.4 } else { 1.0 };
        t += duration + 3 + rng.exponential(mean_gap * slow) as i64;
    }
}

/// Wangiri dialer: bursts of ring-once calls (0–3 s) to many numbers in several countries.
fn wangiri_dialer(world: &World, ep: &mut Episode<'_>, rng: &mut Rng) {
    let (i, k) = (ep.plan.intensity, ep.knobs);
    let bursts = k.count(i.pick(rng.range(2, 5), rng.range(1, 2), 1));
    let mut victims: Vec<CountryCode> = world::WANGIRI_VICTIMS.iter().map(|c| world::code(c)).collect();
    rng.shuffle(&mut victims);
    victims.truncate(rng.range(3, 10) as usize);
    let mut t = ep.plan.start;
    for _ in 0..bursts {
        let size = k.count(i.pick(rng.range(40, 150), rng.range(15, 40), rng.range(5, 15)));
        for _ in 0..size {
            let c = victims[rng.index(victims.len())];
            let number = world.number(c, rng.bernoulli(0.8), rng);
            let duration = if rng.bernoulli(0.5) { 0 } else { rng.range(1, 3) as u64 };
            ep.push(t, EventType::VoiceMo, Some(number), Some(duration), None);
            t += duration as i64 + k.gap(i.pick(rng.range(2, 15), rng.range(10, 60), rng.range(30, 300)));
        }
        t += k.gap(rng.range(20 * 60, 6 * HOUR));
    }
}

/// Wangiri callback: one-ring calls from premium or high-risk numbers, then the subscriber
/// calls some of them back and is kept on the line.
fn wangiri_callback(world: &World, ep: &mut Episode<'_>, rng: &mut Rng) {
    let (i, k) = (ep.plan.intensity, ep.knobs);
    let rings = k.count(i.pick(rng.range(4, 10), rng.range(2, 4), rng.range(1, 2)));
    let one_number = rng.bernoulli(0.3);
    let first = world.risky_number(rng);
    let mut t = ep.plan.start;
    let mut rung: Vec<(i64, String)> = Vec::new();
    for _ in 0..rings {
        let number = if one_number { first.clone() } else { world.risky_number(rng) };
        ep.push(t, EventType::VoiceMt, Some(number.clone()), Some(rng.range(0, 2) as u64), None);
        rung.push((t, number));
        t += k.gap(rng.range(60, 30 * 60));
    }
    let callbacks = k.count(i.pick(rng.range(2, 5), rng.range(1, 2), 1)).min(rung.len() as i64);
    let country = ep.plan.country;
    for _ in 0..callbacks {
        let (rang_at, number) = rung[rng.index(rung.len())].clone();
        let mut at = rang_at + rng.range(5 * 60, 8 * HOUR);
        // People call back once awake.
        while local_hour(at, country) < 7 {
            at += HOUR;
        }
        let duration = rng.lognormal(150.0 * k.call_length, 0.7).clamp(20.0, 1800.0) as u64;
        ep.push(at, EventType::VoiceMo, Some(number), Some(duration), None);
    }
}

/// Data resale or tethering: sustained sessions adding up to many gigabytes per day.
fn data_abuse(ep: &mut Episode<'_>, rng: &mut Rng) {
    let (i, k) = (ep.plan.intensity, ep.knobs);
    let hours = k.count(i.pick(rng.range(12, 60), rng.range(6, 24), rng.range(3, 10)));
    let gb_per_day = i.pick(rng.uniform(15.0, 50.0), rng.uniform(5.0, 15.0), rng.uniform(1.5, 4.0)) * k.volume;
    // A slower pace means fewer, bigger sessions at the same daily volume.
    let mean_gap = rng.uniform(300.0, 1200.0) * k.pace;
    let per_session = gb_per_day * 1000.0 * MB * mean_gap / DAY as f64;
    let end = ep.plan.start + hours * HOUR;
    let mut t = ep.plan.start;
    while t < end {
        let gap = 30 + rng.exponential(mean_gap) as i64;
        let bytes = (per_session * rng.lognormal(1.0, 0.5)) as u64;
        let duration = (gap as f64 * rng.uniform(0.6, 1.0)) as u64;
        ep.push(t, EventType::Data, None, Some(duration), Some(bytes));
        t += gap;
    }
}

/// Cloned SIM far away from the genuine subscriber: its own device, calls (often premium or
/// international), some SMS and data, interleaved with the owner's normal traffic.
fn clone_sim(world: &World, period: Period, sub: &Subscriber, ep: &mut Episode<'_>, rng: &mut Rng) {
    let (i, k) = (ep.plan.intensity, ep.knobs);
    let window =
        k.gap(i.pick(rng.range(6 * HOUR, 48 * HOUR), rng.range(2 * HOUR, 12 * HOUR), rng.range(HOUR / 2, 3 * HOUR)));
    let n = k.count(i.pick(rng.range(25, 80), rng.range(8, 25), rng.range(2, 6)));
    let country = ep.plan.country;
    // Kept inside the period so that even short episodes keep their events.
    let window = window.min(period.end - ep.plan.start).max(1);
    let mut times: Vec<i64> = (0..n).map(|_| ep.plan.start + rng.below(window as u64) as i64).collect();
    times.sort_unstable();
    let mut busy_until = i64::MIN;
    for t in times {
        match rng.weighted(&[0.6, 0.15, 0.15, 0.1]) {
            0 => {
                let t = t.max(busy_until + 5);
                let number = match rng.weighted(&[0.4, 0.3, 0.3]) {
                    0 => world.risky_number(rng),
                    1 => world.number(country, true, rng),
                    _ => {
                        let c = world::code(rng.pick(world::WANGIRI_VICTIMS));
                        world.number(if rng.bernoulli(0.3) { sub.home } else { c }, true, rng)
                    }
                };
                let duration = rng.lognormal(240.0 * k.call_length, 0.9).clamp(5.0, 3600.0) as u64;
                ep.push(t, EventType::VoiceMo, Some(number), Some(duration), None);
                busy_until = t + duration as i64;
            }
            1 => {
                let to = world.number(country, true, rng);
                ep.push(t, EventType::SmsMo, Some(to), None, None);
            }
            2 => {
                let bytes = (rng.lognormal(80.0, 1.0) * MB) as u64;
                let duration = rng.lognormal(900.0, 0.8).clamp(5.0, 4.0 * HOUR as f64) as u64;
                ep.push(t, EventType::Data, None, Some(duration), Some(bytes));
            }
            _ => {
                let t = t.max(busy_until + 5);
                let caller = world.number(country, true, rng);
                let duration = rng.lognormal(120.0, 0.8).clamp(3.0, 1800.0) as u64;
                ep.push(t, EventType::VoiceMt, Some(caller), Some(duration), None);
                busy_until = t + duration as i64;
            }
        }
    }
}

/// Stolen device or SIM swap: a never-seen IMEI, then a burst of expensive usage.
fn device_swap(world: &World, ep: &mut Episode<'_>, rng: &mut Rng) {
    let (i, k) = (ep.plan.intensity, ep.knobs);
    let window = k.gap(i.pick(rng.range(HOUR, 6 * HOUR), rng.range(HOUR, 4 * HOUR), rng.range(HOUR / 2, 2 * HOUR)));
    let calls = k.count(i.pick(rng.range(15, 50), rng.range(6, 15), rng.range(2, 5)));
    let median = i.pick(420.0, 300.0, 200.0) * k.call_length;
    let mut t = ep.plan.start + rng.range(60, 30 * 60);
    let end = ep.plan.start + window;
    let spacing = (window / calls.max(1)).max(60);
    // Besides listed premium ranges, thieves call (or sell calls to) ordinary international
    // numbers, more so in quieter episodes.
    let ordinary_share = i.pick(0.3, 0.4, 0.6);
    for _ in 0..calls {
        let number = if rng.bernoulli(ordinary_share) {
            let c = if rng.bernoulli(0.5) && !world.elevated.is_empty() {
                world.elevated[rng.index(world.elevated.len())]
            } else {
                world::code(rng.pick(world::WANGIRI_VICTIMS))
            };
            world.number(c, true, rng)
        } else {
            world.risky_number(rng)
        };
        let duration = rng.lognormal(median, 0.7).clamp(10.0, 3600.0) as i64;
        ep.push(t, EventType::VoiceMo, Some(number), Some(duration as u64), None);
        t += duration + rng.range(5, spacing.min(HOUR));
    }
    let sessions = k.count(i.pick(rng.range(1, 4), rng.range(1, 2), rng.range(0, 1)));
    let total_gb = i.pick(rng.uniform(1.0, 5.0), rng.uniform(0.5, 2.0), rng.uniform(0.2, 1.0)) * k.volume;
    for _ in 0..sessions {
        let at = ep.plan.start + rng.range(60, (end - ep.plan.start).max(120));
        let bytes = (total_gb * 1000.0 * MB / sessions as f64 * rng.lognormal(1.0, 0.3)) as u64;
        ep.push(at, EventType::Data, None, Some(rng.range(600, 2 * HOUR) as u64), Some(bytes));
    }
    if i == Intensity::Blatant {
        for _ in 0..rng.range(0, 10) {
            let at = ep.plan.start + rng.range(60, (end - ep.plan.start).max(120));
            let c = world::code(rng.pick(world::WANGIRI_VICTIMS));
            ep.push(at, EventType::SmsMo, Some(world.number(c, true, rng)), None, None);
        }
    }
}
