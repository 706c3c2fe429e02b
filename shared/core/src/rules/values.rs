//! The CEL values of one event: only the variables and fields the rules read (see
//! [`super::check::Needs`]), built once per event and shared by every rule. Built as CEL values
//! directly, borrowing the event's and profile's strings: no copies per event.

use std::collections::HashMap;

use cel::Context;
use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt};
use cel::common::value::Val;

use super::RuleInput;
use super::check::{EVENT_FIELDS, Fields, Needs, PROFILE_FIELDS};
use crate::events::RoamingEvent;
use crate::features::FEATURES;
use crate::profile::{self, SubscriberProfile};

type Boxed<'v> = Box<dyn Val + 'v>;

/// What to build per event, resolved once per rule set from what the rules read.
#[derive(Default)]
pub struct Plan {
    /// None: the variable is not read.
    event: Option<Vec<&'static str>>,
    profile: Option<Vec<&'static str>>,
    features: Option<Vec<(&'static str, usize)>>,
    score: bool,
    model_decision: bool,
}

impl Plan {
    pub fn of(needs: &Needs) -> Plan {
        let fields =
            |f: &Fields, all: &[&'static str]| f.any().then(|| all.iter().copied().filter(|x| f.wants(x)).collect());
        Plan {
            event: fields(&needs.event, &EVENT_FIELDS),
            profile: fields(&needs.profile, &PROFILE_FIELDS),
            features: needs.features.any().then(|| {
                FEATURES
                    .iter()
                    .enumerate()
                    .filter(|(_, (name, _))| needs.features.wants(name))
                    .map(|(i, (n, _))| (*n, i))
                    .collect()
            }),
            score: needs.score,
            model_decision: needs.model_decision,
        }
    }
}

pub fn bind<'v>(context: &mut Context<'_, 'v>, input: &RuleInput<'v>, plan: &Plan) {
    if let Some(fields) = &plan.event {
        context.add_variable_as_val("event", event(input.event, fields));
    }
    if let Some(fields) = &plan.profile {
        let value = input.profile.map_or_else(|| Box::new(CelNull) as Boxed<'v>, |p| profile(p, fields));
        context.add_variable_as_val("profile", value);
    }
    if let Some(features) = &plan.features {
        // Missing features (NaN) are null: a comparison with them fails and the rule does not match.
        let entries = features.iter().map(|(name, i)| {
            let v = input.features[*i];
            let value: Boxed<'v> = if v.is_nan() { Box::new(CelNull) } else { double(v) };
            (*name, value)
        });
        context.add_variable_as_val("features", map(entries));
    }
    if plan.score {
        context.add_variable_as_val("score", double(input.score));
    }
    if plan.model_decision {
        context.add_variable_as_val("model_decision", string(input.model_decision.as_str()));
    }
}

/// A string field of the event, for the prefix index (None: absent, or not a string).
pub fn event_str<'a>(e: &'a RoamingEvent, field: &str) -> Option<&'a str> {
    match field {
        "event_id" => Some(&e.event_id),
        "imsi" => Some(&e.imsi),
        "msisdn" => e.msisdn.as_deref(),
        "imei" => e.imei.as_deref(),
        "visited_network" => e.visited_network.as_deref(),
        "called_number" => e.called_number.as_deref(),
        "event_type" => Some(e.event_type.as_str()),
        "visited_country" => Some(e.visited_country.as_str()),
        "called_country" => e.called_country.as_ref().map(|c| c.as_str()),
        _ => None,
    }
}

fn event<'v>(e: &'v RoamingEvent, wanted: &[&'static str]) -> Boxed<'v> {
    let fields = wanted.iter().filter_map(|f| {
        let value: Option<Boxed<'v>> = match *f {
            "event_time" => {
                Some(Box::new(CelString::from(e.event_time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))))
            }
            "duration_s" => e.duration_s.map(uint),
            "data_bytes" => e.data_bytes.map(uint),
            "call_forwarded" => e.call_forwarded.map(|b| Box::new(CelBool::from(b)) as Boxed<'v>),
            other => event_str(e, other).map(string),
        };
        // Absent optional fields are absent, so `has(event.x)` tells.
        value.map(|v| (*f, v))
    });
    map(fields)
}

fn profile<'v>(p: &'v SubscriberProfile, wanted: &[&'static str]) -> Boxed<'v> {
    let fields = wanted.iter().map(|f| {
        let value: Boxed<'v> = match *f {
            "imsi" => string(&p.imsi),
            "home_country" => string(p.home_country.as_str()),
            "plan" => string(match p.plan {
                profile::Plan::Prepaid => "prepaid",
                profile::Plan::Postpaid => "postpaid",
            }),
            "tenure_days" => Box::new(CelInt::from(i64::from(p.tenure_days))),
            "usual_countries" => list(p.usual_countries.iter().map(|c| c.as_str())),
            "known_imeis" => list(p.known_imeis.iter().map(String::as_str)),
            "avg_daily_voice_min" => double(p.avg_daily_voice_min),
            "avg_daily_sms" => double(p.avg_daily_sms),
            _ => double(p.avg_daily_data_mb),
        };
        (*f, value)
    });
    map(fields)
}

fn map<'v>(entries: impl Iterator<Item = (&'static str, Boxed<'v>)>) -> Boxed<'v> {
    let map: HashMap<CelMapKey<'v>, Boxed<'v>> = entries.map(|(k, v)| (CelMapKey::from(k), v)).collect();
    Box::new(CelMap::from(map))
}

fn list<'v>(items: impl Iterator<Item = &'v str>) -> Boxed<'v> {
    Box::new(CelList::from(items.map(string).collect::<Vec<_>>()))
}

fn string(s: &str) -> Boxed<'_> {
    Box::new(CelString::from(s))
}

fn double<'v>(v: f32) -> Boxed<'v> {
    Box::new(CelDouble::from(f64::from(v)))
}

/// Counters are ints to CEL (`event.duration_s > 600` compares an int with an int).
fn uint<'v>(v: u64) -> Boxed<'v> {
    match i64::try_from(v) {
        Ok(i) => Box::new(CelInt::from(i)),
        Err(_) => Box::new(CelUInt::from(v)),
    }
}
