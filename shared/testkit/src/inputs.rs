//! proptest strategies for hostile inputs, shared by the no-panic tests of `roamguard`,
//! `score-stream` and `score-api`.
//!
//! Three kinds of record bytes: raw bytes, arbitrary JSON, and RoamingEvent-shaped objects whose
//! every field is absent, valid, at a boundary, of the wrong type or garbage — the last kind gets
//! past the decoder into live state, features, the model and the verdict table. Few IMSIs and
//! event ids, so events of one batch share subscribers and collide on ids.

use proptest::prelude::*;
use roamguard::api::Api;
use roamguard::events::FIELDS;
use serde_json::{Map, Value};

use crate::fixtures::{InMemory, model};

/// The API on fresh in-memory ports and the built-in model.
pub fn in_memory_api() -> Api {
    InMemory::new(model()).api()
}

/// Any JSON value, a few levels deep.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{0,10}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

fn s(text: &str) -> Value {
    Value::from(text)
}

fn digits(len: std::ops::Range<usize>) -> BoxedStrategy<Value> {
    prop::collection::vec(0u8..10, len)
        .prop_map(|d| Value::from(d.iter().map(|n| char::from(b'0' + n)).collect::<String>()))
        .boxed()
}

fn event_time() -> BoxedStrategy<Value> {
    prop_oneof![
        // June 2026, RFC 3339 with a few offsets.
        6 => (1u32..=30, 0u32..24, 0u32..60, 0u32..60, prop::sample::select(vec!["Z", "+02:00", "-11:30", ".250Z", "+23:59"]))
            .prop_map(|(day, h, m, sec, suffix)| Value::from(format!("2026-06-{day:02}T{h:02}:{m:02}:{sec:02}{suffix}"))),
        2 => prop::sample::select(vec![
            "0000-01-01T00:00:00Z",
            "0000-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-23:59",
            "1970-01-01T00:00:00Z",
            "2026-06-01T12:00:00.999999999Z",
            "2026-02-30T12:00:00Z",
            "2026-06-01 12:00:00",
            "",
        ])
        .prop_map(s),
        1 => "\\PC{0,30}".prop_map(Value::from),
    ]
    .boxed()
}

fn count() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => (0i64..100_000).prop_map(Value::from),
        2 => prop::sample::select(vec![i64::MAX, i64::MAX - 1, i64::MIN, -1, 0, 1 << 53, u32::MAX as i64]).prop_map(Value::from),
        1 => Just(Value::from(u64::MAX)),
        1 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        1 => Just(s("60")),
    ]
    .boxed()
}

fn country() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => prop::sample::select(vec!["FR", "ES", "IT", "DE", "US", "GB", "CU", "SO", "AQ", "es", "Fr", "KP", "RU", "JP", "AU"]).prop_map(s),
        1 => prop::sample::select(vec!["XX", "FRA", "F", "", "12", "ÉS", "\u{0}"]).prop_map(s),
        1 => "\\PC{0,4}".prop_map(Value::from),
    ]
    .boxed()
}

fn e164() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "34911234567", "+33612345678", "881612345678", "8821234567", "37491234567", "900123456", "1900555123",
            "252612345678", "53512345678", "447700900123", "999", "123456789012345",
        ])
        .prop_map(s),
        2 => digits(1..17),
        1 => prop::sample::select(vec!["0612345678", "+", "", "33-6123", "+0123", "1234567890123456"]).prop_map(s),
    ]
    .boxed()
}

/// A field value: plausible, at a boundary, of the wrong type or garbage.
fn any_field_value(name: &'static str) -> BoxedStrategy<Option<Value>> {
    let plausible = match name {
        "event_id" => prop_oneof![
            2 => "[a-z0-9/%-]{1,12}".prop_map(Value::from),
            1 => Just(s("")),
            1 => Just(Value::from("é".repeat(128))),
            1 => Just(Value::from("x".repeat(129))),
        ]
        .boxed(),
        "event_time" => event_time(),
        "imsi" | "visited_network" => prop_oneof![digits(0..18), "\\PC{0,16}".prop_map(Value::from)].boxed(),
        "imei" => digits(10..18),
        "msisdn" | "called_number" => e164(),
        "event_type" => prop::sample::select(vec!["voice_mo", "data", "VOICE_MO", "mms", ""]).prop_map(s).boxed(),
        "visited_country" | "called_country" => country(),
        "duration_s" | "data_bytes" => count(),
        _ => any::<bool>().prop_map(Value::from).boxed(),
    };
    prop_oneof![
        3 => plausible.prop_map(Some),
        1 => Just(None),
        1 => json_value().prop_map(Some),
    ]
    .boxed()
}

/// A valid RoamingEvent (every optional field sometimes present), as JSON. Counts and times
/// include the contract's extremes.
pub fn valid_event() -> impl Strategy<Value = Value> {
    let types = vec!["voice_mo", "voice_mt", "sms_mo", "sms_mt", "data"];
    let countries = vec!["FR", "ES", "IT", "DE", "US", "GB", "CU", "SO", "AQ", "es", "KP", "RU", "JP", "AU", "BR"];
    let numbers = vec![
        "34911234567",
        "+33612345678",
        "881612345678",
        "8821234567",
        "37491234567",
        "900123456",
        "1900555123",
        "252612345678",
        "53512345678",
        "447700900123",
        "999",
        "123456789012345",
    ];
    let valid_count = prop_oneof![
        6 => 0i64..100_000,
        1 => prop::sample::select(vec![0, 1, 9, 10, 1 << 53, i64::from(u32::MAX), i64::MAX - 1, i64::MAX]),
    ];
    (
        (
            prop::sample::select(vec!["e-1", "e-2", "e-3", "e-4", "e-5", "e-6", "e-7", "e-8"]),
            prop_oneof![
                8 => event_time(),
                1 => prop::sample::select(vec!["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z"]).prop_map(s),
            ],
            prop::sample::select(vec!["208011234567890", "208019999999999", "214070000000001", "310150"]),
            prop::option::of(prop::sample::select(numbers.clone())),
            prop::option::of(prop::sample::select(vec!["35693803564380", "356938035643809", "3569380356438012", "86000000000000", "86000000000001"])),
            prop::sample::select(types),
            prop::sample::select(countries.clone()),
        ),
        (
            prop::option::of(prop::sample::select(vec!["21407", "208010", "31015"])),
            prop::sample::select(numbers),
            prop::option::weighted(0.2, prop::sample::select(countries)),
            valid_count.clone(),
            valid_count,
            prop::option::of(any::<bool>()),
            prop::option::weighted(0.2, ("[a-z_]{1,10}", json_value())),
        ),
    )
        .prop_map(
            |(
                (event_id, event_time, imsi, msisdn, imei, event_type, visited_country),
                (visited_network, called_number, called_country, duration_s, data_bytes, call_forwarded, extra),
            )| {
                let mut e = Map::new();
                e.insert("event_id".into(), s(event_id));
                e.insert("event_time".into(), event_time);
                e.insert("imsi".into(), s(imsi));
                e.insert("event_type".into(), s(event_type));
                e.insert("visited_country".into(), s(visited_country));
                let optional = [
                    ("msisdn", msisdn.map(s)),
                    ("imei", imei.map(s)),
                    ("visited_network", visited_network.map(s)),
                    ("called_country", called_country.map(s)),
                    ("call_forwarded", call_forwarded.map(Value::from)),
                ];
                for (name, value) in optional {
                    if let Some(v) = value {
                        e.insert(name.into(), v);
                    }
                }
                if event_type.ends_with("_mo") {
                    e.insert("called_number".into(), s(called_number));
                }
                if event_type.starts_with("voice") {
                    e.insert("duration_s".into(), Value::from(duration_s));
                }
                if event_type == "data" {
                    e.insert("data_bytes".into(), Value::from(data_bytes));
                }
                if let Some((name, value)) = extra {
                    e.insert(name, value);
                }
                Value::Object(e)
            },
        )
}

/// A RoamingEvent-shaped JSON object: a valid event, half the time with one to three fields
/// removed or replaced by something plausible, extreme, of the wrong type or garbage.
pub fn event_like() -> impl Strategy<Value = Value> {
    let edit = prop::sample::select(FIELDS.to_vec()).prop_flat_map(|name| (Just(name), any_field_value(name)));
    (valid_event(), prop_oneof![1 => Just(Vec::new()), 1 => prop::collection::vec(edit, 1..4)]).prop_map(
        |(mut event, edits)| {
            if let Value::Object(map) = &mut event {
                for (name, value) in edits {
                    match value {
                        Some(v) => map.insert(name.to_string(), v),
                        None => map.remove(name),
                    };
                }
            }
            event
        },
    )
}

/// Bytes of one record: an event-like object (sometimes cut short or with a byte changed), any
/// JSON, or any bytes.
pub fn record_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => event_like().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        1 => (event_like(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, at, byte)| {
            let mut bytes = serde_json::to_vec(&v).unwrap_or_default();
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                if byte % 2 == 0 { bytes.truncate(i) } else { bytes[i] = byte }
            }
            bytes
        }),
        1 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}
