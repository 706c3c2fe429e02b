//! World parameters: how a synthetic operator's subscribers behave, drawn per world number.
//!
//! World 0 is the generator's original world: every value below equals the constant the
//! generator used before worlds existed, and every look-alike behaviour is off, so datasets of
//! world 0 are unchanged. Worlds N ≥ 1 draw each parameter from a wide but plausible range (what
//! differs between real operators' populations: a business-heavy MVNO, a youth brand with big
//! data plans, a border-region operator…), from a PRNG stream of their own derived from N only,
//! so the same world can be generated with any seed. A model trained on several worlds and
//! validated on a held-out one cannot lean on one world's magnitudes.
//!
//! Probabilities are stored in the form the generator compares them (e.g. the share of
//! single-country holidays rather than its complement) so that world 0 reproduces the original
//! floating-point values exactly.

use std::fmt;

use roamguard::rng::{Rng, hash_words};

use super::FraudType;
use super::behaviours::Persona;
use super::fraud::Intensity;

/// Everything that varies between worlds.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldParams {
    /// The world number these parameters were drawn for.
    pub world: u64,
    /// Relative weight of each persona, in [`Persona::ALL`] order.
    pub persona_weights: [f64; 7],
    /// Usage of each persona, in [`Persona::ALL`] order.
    pub personas: [PersonaParams; 7],
    pub usage: UsageParams,
    pub calls: CallParams,
    pub trips: TripParams,
    pub devices: DeviceParams,
    pub habits: HabitParams,
    pub lookalikes: LookalikeParams,
    /// Fraud intensity, in [`FraudType::ALL`] order.
    pub fraud: [FraudKnobs; 6],
}

/// Multipliers of a persona's typical usage (1 in world 0) and the spread of its subscribers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PersonaParams {
    /// Calls per day (both directions).
    pub voice: f64,
    /// SMS per day (both directions).
    pub sms: f64,
    /// Data sessions per day.
    pub data: f64,
    /// Median call length.
    pub call_median: f64,
    /// Median data session volume.
    pub session_mb: f64,
    /// Log-space standard deviation of a subscriber's overall usage level around the persona's.
    pub spread: f64,
}

/// Per-subscriber variation shared by all personas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UsageParams {
    /// Bounds of a subscriber's overall usage level (multiplier of the persona's).
    pub level_clamp: (f64, f64),
    /// Activity profiles shifted by this many hours (positive: later in the day).
    pub hour_shift: i64,
    /// Share of subscribers active late at night, and how much more active from 0 to 6 h.
    pub night_owl_share: f64,
    pub night_owl_factor: f64,
    /// Share of light users who switch data off abroad.
    pub data_off_share: f64,
    /// Busy days of business travellers and drivers (more calls): per-day probability and
    /// the range of the multiplier.
    pub busy_day: f64,
    pub busy_factor: (f64, f64),
    /// Data binge days of holiday makers, long stays and heavy users.
    pub binge_day: f64,
}

/// Call lengths besides the personas' medians.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallParams {
    /// Share of answered calls that are long (conference calls, family chats) and their median.
    pub long_share: f64,
    pub long_median_s: f64,
    /// The same mixture as the profile's baseline estimates it: weights of long and ordinary
    /// calls and the mean long call (world 0 keeps the original rounded figures).
    pub long_weight: f64,
    pub ordinary_weight: f64,
    pub long_mean_s: f64,
}

/// Travel patterns (scales are 1 in world 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TripParams {
    /// Scale of the time between business trips (1 to 5 days in world 0).
    pub business_gap: f64,
    /// Scale of the length of a business stay (0.6 to 3 days in world 0).
    pub business_stay: f64,
    /// Weights of 1, 2 and 3 countries per business trip.
    pub business_legs: [f64; 3],
    /// Scale of a holiday's length (3 to 14 days in world 0).
    pub holiday_days: f64,
    /// Share of holidays spent in one country (the others visit two).
    pub holiday_one_country: f64,
    /// Share of long stays that move on to a second country.
    pub long_stay_move_on: f64,
    /// Share of commuters who live in one foreign country and work in another.
    pub commuter_two_country: f64,
    /// Scale of a lorry driver's time in one country (3 to 30 h in world 0).
    pub driver_leg: f64,
}

/// Legitimate device changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeviceParams {
    /// Share of subscribers who change phones during the period.
    pub change: f64,
    /// Share who move the SIM into a second device (tablet, hotspot) now and then, and the
    /// share of days on which they do.
    pub second: f64,
    pub second_day: f64,
}

/// Other legitimate habits of the original world.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HabitParams {
    pub prepaid_share: f64,
    /// Diaspora subscribers (relatives in a often higher-risk country), the share of their calls
    /// going there and how much longer those calls are.
    pub diaspora_share: f64,
    pub diaspora_call_share: f64,
    pub diaspora_call_factor: f64,
    /// Subscribers who forward some incoming calls (voicemail, office).
    pub forward_share: f64,
    /// Subscribers with one-off calls to premium, satellite or high-risk numbers.
    pub odd_call_share: f64,
}

/// The legitimate look-alikes of fraud (all off in world 0); see `lookalikes.rs`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LookalikeParams {
    /// Share of phone changes followed by a setup burst (backup restore, first calls), and the
    /// median volume restored.
    pub upgrade_burst: f64,
    pub restore_gb: f64,
    /// Share of business travellers and drivers with conference days, their per-weekday
    /// probability and the median conference call.
    pub conference_share: f64,
    pub conference_day: f64,
    pub conference_call_median_s: f64,
    /// Share of night workers (activity shifted to the night).
    pub night_worker: f64,
    /// Share of data-heavy tourists, their per-day probability of a multi-GB day and its median.
    pub heavy_data: f64,
    pub heavy_day: f64,
    pub heavy_day_gb: f64,
    /// Share of data-only (eSIM) travellers: no voice, no SMS.
    pub data_only: f64,
    /// Share of travellers hopping through several countries a day by road or rail, and the
    /// fastest speed they travel at (over the lower-bound distance between countries).
    pub border_hops: f64,
    pub hop_speed_kmh: f64,
    /// Share of travellers who call home at length, their per-day probability of an evening of
    /// calls and its median call.
    pub calls_home: f64,
    pub calls_home_day: f64,
    pub home_call_median_s: f64,
    /// Per-day probability that a diaspora subscriber spends an evening calling relatives.
    pub diaspora_day: f64,
}

/// How loud one fraud type is in a world (1 in world 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FraudKnobs {
    /// Intensities of the episodes of this type, cycled over (each intensity appears in every
    /// cycle, so small datasets still get all of them).
    pub cycle: [Intensity; 5],
    /// Scale of counts and volumes: calls, bursts, hours, gigabytes.
    pub volume: f64,
    /// Scale of the gaps between fraudulent events (above 1: low and slow).
    pub pace: f64,
    /// Scale of fraudulent call lengths.
    pub call_length: f64,
}

const STREAM_WORLD: u64 = 0x0077_6F72_6C64; // "world" in ASCII

impl WorldParams {
    /// The parameters of world `n`: the original world for 0, else drawn from wide ranges.
    pub fn for_world(n: u64) -> WorldParams {
        if n == 0 {
            return WorldParams::original();
        }
        let mut rng = Rng::new(hash_words(&[STREAM_WORLD, n]));
        let r = &mut rng;
        WorldParams {
            world: n,
            // An operator's customer mix differs by up to ~4× either way per persona.
            persona_weights: ORIGINAL_PERSONA_WEIGHTS.map(|w| w * log_uniform(r, 0.3, 3.0)),
            personas: [(); 7].map(|_| draw_persona(r)),
            usage: draw_usage(r),
            calls: draw_calls(r),
            trips: draw_trips(r),
            devices: DeviceParams {
                // Phones are replaced every 2–4 years; a week abroad sees 2–12 % change (lost,
                // broken, upgraded, dual phones).
                change: r.uniform(0.02, 0.12),
                second: r.uniform(0.02, 0.15),
                second_day: r.uniform(0.2, 0.7),
            },
            habits: HabitParams {
                prepaid_share: r.uniform(0.1, 0.5),
                // Migrant communities are 3–15 % of a European operator's base.
                diaspora_share: r.uniform(0.03, 0.15),
                diaspora_call_share: r.uniform(0.1, 0.35),
                diaspora_call_factor: r.uniform(1.5, 4.0),
                forward_share: r.uniform(0.01, 0.08),
                odd_call_share: r.uniform(0.02, 0.1),
            },
            lookalikes: draw_lookalikes(r),
            fraud: [(); 6].map(|_| draw_fraud(r)),
        }
    }

    /// World 0: the generator's original constants, look-alikes off.
    fn original() -> WorldParams {
        let persona =
            PersonaParams { voice: 1.0, sms: 1.0, data: 1.0, call_median: 1.0, session_mb: 1.0, spread: 0.45 };
        let knobs = FraudKnobs { cycle: ORIGINAL_CYCLE, volume: 1.0, pace: 1.0, call_length: 1.0 };
        WorldParams {
            world: 0,
            persona_weights: ORIGINAL_PERSONA_WEIGHTS,
            personas: [persona; 7],
            usage: UsageParams {
                level_clamp: (0.2, 3.0),
                hour_shift: 0,
                night_owl_share: 0.1,
                night_owl_factor: 4.0,
                data_off_share: 0.4,
                busy_day: 0.06,
                busy_factor: (3.0, 6.0),
                binge_day: 0.05,
            },
            calls: CallParams {
                long_share: 0.03,
                long_median_s: 1500.0,
                long_weight: 0.03,
                ordinary_weight: 0.89,
                long_mean_s: 1700.0,
            },
            trips: TripParams {
                business_gap: 1.0,
                business_stay: 1.0,
                business_legs: [0.6, 0.3, 0.1],
                holiday_days: 1.0,
                holiday_one_country: 0.85,
                long_stay_move_on: 0.12,
                commuter_two_country: 0.3,
                driver_leg: 1.0,
            },
            devices: DeviceParams { change: 0.04, second: 0.05, second_day: 0.4 },
            habits: HabitParams {
                prepaid_share: 0.25,
                diaspora_share: 0.06,
                diaspora_call_share: 0.15,
                diaspora_call_factor: 2.5,
                forward_share: 0.03,
                odd_call_share: 0.04,
            },
            lookalikes: LookalikeParams::OFF,
            fraud: [knobs; 6],
        }
    }

    pub fn persona(&self, p: Persona) -> &PersonaParams {
        &self.personas[p.index()]
    }

    /// Personas with their weights, for drawing one.
    pub fn persona_mix(&self) -> [(Persona, f64); 7] {
        let mut out = [(Persona::Business, 0.0); 7];
        for (slot, (p, w)) in out.iter_mut().zip(Persona::ALL.iter().zip(self.persona_weights)) {
            *slot = (*p, w);
        }
        out
    }

    pub fn fraud(&self, t: FraudType) -> &FraudKnobs {
        let i = FraudType::ALL.iter().position(|x| *x == t).unwrap_or(0);
        &self.fraud[i]
    }
}

impl Default for WorldParams {
    fn default() -> Self {
        WorldParams::original()
    }
}

/// Persona weights of the original world, in [`Persona::ALL`] order.
const ORIGINAL_PERSONA_WEIGHTS: [f64; 7] = [20.0, 28.0, 8.0, 10.0, 14.0, 5.0, 15.0];

const ORIGINAL_CYCLE: [Intensity; 5] =
    [Intensity::Blatant, Intensity::Moderate, Intensity::Subtle, Intensity::Blatant, Intensity::Moderate];

impl LookalikeParams {
    pub const OFF: LookalikeParams = LookalikeParams {
        upgrade_burst: 0.0,
        restore_gb: 0.0,
        conference_share: 0.0,
        conference_day: 0.0,
        conference_call_median_s: 0.0,
        night_worker: 0.0,
        heavy_data: 0.0,
        heavy_day: 0.0,
        heavy_day_gb: 0.0,
        data_only: 0.0,
        border_hops: 0.0,
        hop_speed_kmh: 0.0,
        calls_home: 0.0,
        calls_home_day: 0.0,
        home_call_median_s: 0.0,
        diaspora_day: 0.0,
    };
}

/// Uniform in log space: ratios above and below 1 equally likely.
fn log_uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    rng.uniform(lo.ln(), hi.ln()).exp()
}

fn draw_persona(r: &mut Rng) -> PersonaParams {
    PersonaParams {
        // Roaming bundles, not people, decide most of the level: "roam like at home" operators
        // see 2–3× the calls and several times the data of operators charging per MB. Ranges
        // are centred (geometrically) on the original world.
        voice: log_uniform(r, 0.4, 2.5),
        sms: log_uniform(r, 0.3, 3.3),
        data: log_uniform(r, 0.3, 3.3),
        call_median: log_uniform(r, 0.5, 2.0),
        session_mb: log_uniform(r, 0.4, 2.5),
        // How alike the subscribers of one persona are (the original world: 0.45).
        spread: r.uniform(0.3, 0.8),
    }
}

fn draw_usage(r: &mut Rng) -> UsageParams {
    UsageParams {
        level_clamp: (0.15, 4.0),
        // Daily rhythms differ by culture and season (Spanish evenings vs Nordic mornings).
        hour_shift: r.range(-2, 2),
        night_owl_share: r.uniform(0.03, 0.25),
        night_owl_factor: r.uniform(2.0, 8.0),
        data_off_share: r.uniform(0.1, 0.6),
        busy_day: r.uniform(0.02, 0.15),
        busy_factor: (r.uniform(2.0, 3.5), r.uniform(4.0, 8.0)),
        binge_day: r.uniform(0.02, 0.15),
    }
}

fn draw_calls(r: &mut Rng) -> CallParams {
    let long_share = r.uniform(0.01, 0.08);
    let long_median_s = r.uniform(900.0, 2700.0);
    // Answered calls are 92 %; the long ones' log-normal (sigma 0.5) has mean median·e^0.125.
    CallParams {
        long_share,
        long_median_s,
        long_weight: 0.92 * long_share,
        ordinary_weight: 0.92 * (1.0 - long_share),
        long_mean_s: long_median_s * 0.125f64.exp(),
    }
}

fn draw_trips(r: &mut Rng) -> TripParams {
    let multi = r.uniform(0.15, 0.7);
    TripParams {
        business_gap: log_uniform(r, 0.4, 2.5),
        business_stay: log_uniform(r, 0.5, 2.0),
        business_legs: [1.0 - multi, multi * 0.75, multi * 0.25],
        holiday_days: log_uniform(r, 0.5, 2.0),
        holiday_one_country: r.uniform(0.55, 0.95),
        long_stay_move_on: r.uniform(0.05, 0.3),
        commuter_two_country: r.uniform(0.1, 0.6),
        driver_leg: log_uniform(r, 0.5, 1.5),
    }
}

fn draw_lookalikes(r: &mut Rng) -> LookalikeParams {
    LookalikeParams {
        upgrade_burst: r.uniform(0.3, 0.9),
        // A phone backup with photos is 1–10 GB; part of it restores over the roaming network.
        restore_gb: r.uniform(0.8, 4.0),
        conference_share: r.uniform(0.1, 0.5),
        conference_day: r.uniform(0.15, 0.5),
        conference_call_median_s: r.uniform(900.0, 2400.0),
        night_worker: r.uniform(0.01, 0.06),
        heavy_data: r.uniform(0.02, 0.12),
        heavy_day: r.uniform(0.3, 0.8),
        // HD streaming is ~3 GB an hour; a family on one hotspot gets through 2–10 GB a day.
        heavy_day_gb: r.uniform(2.0, 6.0),
        data_only: r.uniform(0.01, 0.08),
        border_hops: r.uniform(0.01, 0.06),
        // Motorways to high-speed rail, over the lower bound of the distance between countries.
        hop_speed_kmh: r.uniform(100.0, 220.0),
        calls_home: r.uniform(0.03, 0.15),
        calls_home_day: r.uniform(0.2, 0.6),
        home_call_median_s: r.uniform(900.0, 2400.0),
        diaspora_day: r.uniform(0.1, 0.4),
    }
}

fn draw_fraud(r: &mut Rng) -> FraudKnobs {
    // Every intensity once, then two more drawn with a world-level lean towards loud or quiet.
    let quiet = r.uniform(0.1, 0.7);
    let mut extra = || {
        let x = r.f64();
        if x < quiet {
            Intensity::Subtle
        } else if x < quiet + (1.0 - quiet) / 2.0 {
            Intensity::Moderate
        } else {
            Intensity::Blatant
        }
    };
    let cycle = [Intensity::Blatant, Intensity::Moderate, Intensity::Subtle, extra(), extra()];
    FraudKnobs {
        cycle,
        // Leaning quiet: low-and-slow episodes are the ones a model trained on loud ones misses.
        volume: log_uniform(r, 0.35, 2.0),
        pace: log_uniform(r, 0.6, 3.0),
        call_length: log_uniform(r, 0.6, 1.5),
    }
}

impl fmt::Display for WorldParams {
    /// One line: what a report needs to say which world it was.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: f64 = self.persona_weights.iter().sum();
        let mix: Vec<String> = Persona::ALL
            .iter()
            .zip(self.persona_weights)
            .map(|(p, w)| format!("{} {:.0}%", p.as_str(), 100.0 * w / total))
            .collect();
        let avg = |g: fn(&PersonaParams) -> f64| self.personas.iter().map(g).sum::<f64>() / 7.0;
        write!(
            f,
            "world {}: personas {}; usage ×{:.2} voice ×{:.2} sms ×{:.2} data, call median ×{:.2}, session ×{:.2}, spread {:.2}; \
             hours {:+}h, night owls {:.0}%; prepaid {:.0}%; trips business gap ×{:.2} stay ×{:.2}, holiday ×{:.2}; \
             phone changes {:.1}%, second devices {:.1}%; diaspora {:.1}%",
            self.world,
            mix.join(" "),
            avg(|p| p.voice),
            avg(|p| p.sms),
            avg(|p| p.data),
            avg(|p| p.call_median),
            avg(|p| p.session_mb),
            avg(|p| p.spread),
            self.usage.hour_shift,
            100.0 * self.usage.night_owl_share,
            100.0 * self.habits.prepaid_share,
            self.trips.business_gap,
            self.trips.business_stay,
            self.trips.holiday_days,
            100.0 * self.devices.change,
            100.0 * self.devices.second,
            100.0 * self.habits.diaspora_share,
        )?;
        write!(f, "; look-alikes {}", self.lookalikes)?;
        let knobs: Vec<String> = FraudType::ALL
            .iter()
            .zip(&self.fraud)
            .map(|(t, k)| {
                let quiet = k.cycle.iter().filter(|i| **i == Intensity::Subtle).count();
                format!("{t} ×{:.2} pace ×{:.2} calls ×{:.2} subtle {quiet}/5", k.volume, k.pace, k.call_length)
            })
            .collect();
        write!(f, "; fraud {}", knobs.join(", "))
    }
}

impl fmt::Display for LookalikeParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == LookalikeParams::OFF {
            return f.write_str("off");
        }
        write!(
            f,
            "upgrade bursts {:.0}% of changes ({:.1} GB), conference days {:.0}% of business×{:.0}%/day ({:.0} min calls), \
             night workers {:.1}%, heavy-data tourists {:.1}% ({:.0}%/day, {:.1} GB), data-only {:.1}%, \
             border hoppers {:.1}% ({:.0} km/h), calls home {:.1}% ({:.0}%/day, {:.0} min), diaspora evenings {:.0}%/day",
            100.0 * self.upgrade_burst,
            self.restore_gb,
            100.0 * self.conference_share,
            100.0 * self.conference_day,
            self.conference_call_median_s / 60.0,
            100.0 * self.night_worker,
            100.0 * self.heavy_data,
            100.0 * self.heavy_day,
            self.heavy_day_gb,
            100.0 * self.data_only,
            100.0 * self.border_hops,
            self.hop_speed_kmh,
            100.0 * self.calls_home,
            100.0 * self.calls_home_day,
            self.home_call_median_s / 60.0,
            100.0 * self.diaspora_day,
        )
    }
}
