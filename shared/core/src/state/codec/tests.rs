//! Round trips, sizes on busy subscribers, the JSON form of earlier versions, hostile bytes.

use proptest::prelude::*;

use super::*;
use crate::events::RoamingEvent;
use crate::rng::Rng;
use crate::state::Sequence;

/// A subscriber's events over `days`, `per_day` a day, to `numbers` distinct called numbers,
/// with a phone change and a trip.
fn busy_state(days: i64, per_day: i64, numbers: u64, rng: &mut Rng) -> LiveState {
    let mut s = LiveState::default();
    let start = 1_780_000_000i64;
    let n = days * per_day;
    for i in 0..n {
        let t = start + i * 86_400 / per_day;
        let kind = ["voice_mo", "voice_mt", "sms_mo", "sms_mt", "data"][rng.below(5) as usize];
        let country = if i > n / 2 { "PT" } else { "ES" };
        let imei = if rng.f64() < 0.1 { "86012345678901" } else { "35693803564380" };
        let extra = match kind {
            "data" => format!(r#","data_bytes":{}"#, rng.below(50_000_000)),
            "voice_mo" | "sms_mo" => {
                format!(r#","called_number":"3491{:07}","duration_s":{}"#, rng.below(numbers), rng.below(600))
            }
            _ => r#","duration_s":30"#.to_string(),
        };
        let time = chrono::DateTime::from_timestamp(t, 0).unwrap().to_rfc3339();
        let json = format!(
            r#"{{"event_id":"e{i}","event_time":"{time}","imsi":"208011234567890","event_type":"{kind}","visited_country":"{country}","imei":"{imei}"{extra}}}"#
        );
        let e = RoamingEvent::from_json(json.as_bytes()).unwrap();
        let number = format!("{}", 49_590_338_271_490_256u64 + i as u64);
        s.apply(&e, None, Some(&Sequence { source: "shardId-000000000003", number: &number }));
        if i % 7 == 0 {
            s.mark_score(&format!("e{i}"), t, rng.f64() as f32);
        }
    }
    s
}

#[test]
fn when_a_state_is_encoded_should_decode_to_the_same_state() {
    let mut rng = Rng::new(3);
    for (days, per_day, numbers) in [(0, 1, 1), (1, 3, 5), (3, 40, 30), (7, 5000, 1_000_000)] {
        let mut s = busy_state(days, per_day, numbers, &mut rng);
        s.version = 0; // the store's, not encoded
        let bytes = encode(&s);
        assert_eq!(decode(&bytes).unwrap(), s, "{days} days × {per_day}");
    }
}

#[test]
fn when_a_subscriber_is_busy_should_the_state_stay_within_the_item_budget() {
    let mut rng = Rng::new(5);
    let typical = encode(&busy_state(7, 30, 40, &mut rng)).len();
    let heavy = encode(&busy_state(7, 300, 200, &mut rng)).len();
    let simbox = encode(&busy_state(3, 5000, 10_000_000, &mut rng)).len();
    assert!(typical <= 700, "a traveller's state: {typical} bytes");
    assert!(heavy <= 1500, "a heavy user's state: {heavy} bytes");
    assert!(simbox <= 3000, "a SIM box's state (5,000 calls a day): {simbox} bytes");
}

#[test]
fn when_an_earlier_version_stored_json_should_migrate_it() {
    // As the previous version wrote it: 10-minute buckets over 24 h, hashed numbers and ids.
    let newest = 1_780_012_800i64; // a multiple of 3600
    let json = format!(
        r#"{{"version":7,"last_event_time":{newest},"last_country":"ES","last_imei":"35693803564380",
           "buckets":[{{"start":{},"usage":{{"events":2,"voice_secs":120,"voice_mo":2,"voice_mt":0,"short_mo_calls":0,"sms_mo":0,"sms_mt":0,"data_bytes":0,"risky_mo":0,"intl_mo":0,"night_events":0,"forwarded_calls":0}}}},
                      {{"start":{},"usage":{{"events":1,"voice_secs":60,"voice_mo":1,"voice_mt":0,"short_mo_calls":0,"sms_mo":0,"sms_mt":0,"data_bytes":0,"risky_mo":0,"intl_mo":0,"night_events":0,"forwarded_calls":0}}}}],
           "called_numbers":[{{"hash":{},"last_seen":{}}}],
           "called_countries":[{{"country":"ES","first_seen":{newest},"last_seen":{newest}}}],
           "devices":[{{"imei":"35693803564380","first_seen":{},"last_seen":{newest}}}],
           "visited":[{{"country":"ES","first_seen":{},"last_seen":{newest}}}],
           "applied":[{{"hash":{},"last_seen":{newest}}}],"pruned_at":{newest}}}"#,
        newest - 5 * 3600,
        newest,
        crate::state::stable_hash("34911234567"),
        newest,
        newest - 86_400 * 3,
        newest - 86_400 * 10,
        crate::state::stable_hash("e-old"),
    );
    let s = decode(json.as_bytes()).unwrap();
    let (w1, w24) = s.hour_and_day(newest, &UsageCounts::default());
    assert_eq!((w1.voice_mo, w24.voice_mo), (1, 3));
    assert_eq!(s.distinct_called_hour_and_day(newest, None), (1, 1));
    assert!(s.device("356938035643801").is_some() && s.last_device == Some(crate::state::device_key("35693803564380")));
    assert!(s.has_applied("e-old", None));
    assert_eq!(s.visited_country(CountryCode::from_static("ES")).map(|c| c.first_seen), Some(newest - 86_400 * 10));
    // The next save writes the binary form.
    assert_eq!(decode(&encode(&s)).unwrap(), s);
}

#[test]
fn when_an_earlier_version_stored_format_2_should_read_it_without_history() {
    // Format 3 is format 2 followed by the history (behind a flag) and the score marks.
    let mut s = busy_state(2, 40, 20, &mut Rng::new(4));
    (s.version, s.history, s.scores) = (0, DailyHistory::default(), ScoreMarks::default());
    let mut v2 = encode(&s);
    assert_eq!(v2.pop(), Some(0), "no score marks");
    v2[0] = 2;
    assert_eq!(decode(&v2).unwrap(), s);
    // A format 2 item with format 3's flag is corrupt, not misread.
    let mut flagged = v2.clone();
    flagged[1] |= 16;
    assert!(matches!(decode(&flagged), Err(CodecError::Corrupt(_))));
}

#[test]
fn when_history_and_marks_are_stored_should_keep_them_exactly() {
    let s = busy_state(5, 30, 20, &mut Rng::new(8));
    assert!(s.history.days >= 4 && !s.scores.marks.is_empty());
    let back = decode(&encode(&s)).unwrap();
    assert_eq!((back.history, back.scores), (s.history, s.scores));
}

#[test]
fn when_the_bytes_are_not_a_state_should_say_so() {
    assert_eq!(decode(&[]), Err(CodecError::Empty));
    assert_eq!(decode(&[9, 0]), Err(CodecError::UnknownFormat(9)));
    assert!(matches!(decode(&[FORMAT]), Err(CodecError::Corrupt(_))));
    let mut good = encode(&busy_state(1, 10, 5, &mut Rng::new(1)));
    good.push(0);
    assert!(matches!(decode(&good), Err(CodecError::Corrupt(_))), "trailing bytes");
    assert!(matches!(decode(b"{not json"), Err(CodecError::Legacy(_))));
}

proptest! {
    #[test]
    fn when_bytes_are_hostile_should_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        for format in [FORMAT, FORMAT_2] {
            let mut with_format = vec![format];
            with_format.extend_from_slice(&bytes);
            let _ = decode(&with_format);
        }
        let _ = decode(&bytes);
    }

    #[test]
    fn when_an_encoding_is_cut_or_flipped_should_never_panic(cut in 0usize..400, flip in 0usize..400, bit in 0u8..8) {
        let mut bytes = encode(&busy_state(2, 50, 20, &mut Rng::new(9)));
        let at = flip % bytes.len();
        bytes[at] ^= 1 << bit;
        bytes.truncate(cut.min(bytes.len()));
        let _ = decode(&bytes);
    }
}
