//! Reasons in words an analyst reads: a feature and its value as a short sentence ("42 outgoing
//! calls in the last hour", "voice in the last hour 9× this subscriber's usual day"), for the
//! console and any reader of verdicts. One sentence per feature of [`crate::features::FEATURES`].

/// The sentence for a reason: `feature` at `value` (`None`: the value was missing).
pub fn reason_text(feature: &str, value: Option<f32>) -> String {
    let Some(v) = value.filter(|v| v.is_finite()) else {
        return format!("{} not known", missing_subject(feature));
    };
    let n = count(v);
    let x = ratio(v);
    match feature {
        "is_voice_mo" => flag(v, "an outgoing call", "not an outgoing call"),
        "is_voice_mt" => flag(v, "an incoming call", "not an incoming call"),
        "is_sms_mo" => flag(v, "an outgoing SMS", "not an outgoing SMS"),
        "is_data" => flag(v, "a data session", "not a data session"),
        "duration_s" => format!("a call of {}", duration(v)),
        "data_mb" => format!("{} of data in this session", megabytes(v)),
        "call_forwarded" => flag(v, "a forwarded call", "not forwarded"),
        "called_range_kind" => match n.as_str() {
            "1" => "called an IRSF hot range".into(),
            "2" => "called a satellite number".into(),
            "3" => "called a premium-rate number".into(),
            _ => "called an ordinary number".into(),
        },
        "called_country_risk" => match n.as_str() {
            "0" => "called a low-risk country".into(),
            "1" => "called a medium-risk country".into(),
            _ => "called a high-risk country".into(),
        },
        "called_is_international" => {
            flag(v, "called a third country (neither home nor visited)", "called home or locally")
        }
        "local_hour" => format!("at {:02}:{:02} local time", (v as u32) % 24, ((v.fract() * 60.0) as u32) % 60),
        "is_prepaid" => flag(v, "a prepaid subscription", "a postpaid subscription"),
        "tenure_days" => format!("a subscriber for {n} days"),
        "country_is_new" => flag(v, "in a country never seen for this subscriber", "in a country seen before"),
        "country_first_seen_h" => format!("first seen in this country {} ago", hours(v)),
        "travel_speed_kmh" => format!("moved between countries at {n} km/h"),
        "secs_since_last_event" => format!("{} after the previous event", duration(v)),
        "imei_unknown" => flag(v, "a device not in the profile", "a known device"),
        "imei_first_seen_h" => format!("new device first seen {} ago", hours(v)),
        "imei_changed" => flag(v, "a different device than the previous event", "the same device as before"),
        "distinct_imeis_24h" => format!("{n} devices in the last 24 h"),
        "voice_min_1h" => format!("{n} voice minutes in the last hour"),
        "voice_1h_vs_baseline" => format!("voice in the last hour {x} this subscriber's usual day"),
        "voice_24h_vs_baseline" => format!("voice in the last 24 h {x} this subscriber's usual day"),
        "sms_1h_vs_baseline" => format!("SMS in the last hour {x} this subscriber's usual day"),
        "sms_24h_vs_baseline" => format!("SMS in the last 24 h {x} this subscriber's usual day"),
        "data_mb_24h" => format!("{} of data in the last 24 h", megabytes(v)),
        "data_1h_vs_baseline" => format!("data in the last hour {x} this subscriber's usual day"),
        "data_24h_vs_baseline" => format!("data in the last 24 h {x} this subscriber's usual day"),
        "mo_calls_1h" => format!("{n} outgoing calls in the last hour"),
        "mo_calls_24h" => format!("{n} outgoing calls in the last 24 h"),
        "mo_share_24h" => format!("{} of the last 24 h's calls outgoing", percent(v)),
        "short_call_share_24h" => format!("{} of the last 24 h's outgoing calls under 10 s", percent(v)),
        "distinct_called_1h" => format!("about {n} different numbers called in the last hour"),
        "distinct_called_24h" => format!("about {n} different numbers called in the last 24 h"),
        "distinct_called_countries_24h" => format!("{n} countries called in the last 24 h"),
        "risky_calls_24h" => format!("{n} calls or SMS to premium, satellite, hot or high-risk destinations in 24 h"),
        "intl_calls_24h" => format!("{n} calls or SMS to third countries in the last 24 h"),
        "night_share_24h" => format!("{} of the last 24 h's events at night (00–06 local)", percent(v)),
        "forwarded_calls_24h" => format!("{n} forwarded calls in the last 24 h"),
        "events_1h" => format!("{n} events in the last hour"),
        "history_days" => format!("{n} days of own roaming history"),
        "voice_1h_vs_peak" => format!("voice in the last hour {x} this subscriber's busiest usual hour"),
        "data_1h_vs_peak" => format!("data in the last hour {x} this subscriber's busiest usual hour"),
        other => format!("{other} = {v}"),
    }
}

/// What a missing value of `feature` is about.
fn missing_subject(feature: &str) -> &str {
    match feature {
        "imei_unknown" | "imei_first_seen_h" => "device",
        "tenure_days" | "is_prepaid" => "subscriber (no profile)",
        "travel_speed_kmh" | "secs_since_last_event" => "previous event",
        other => other,
    }
}

fn flag(v: f32, yes: &str, no: &str) -> String {
    if v >= 0.5 { yes.into() } else { no.into() }
}

fn count(v: f32) -> String {
    format!("{}", v.round() as i64)
}

/// `9×`, `1.5×`, `0.2×`.
fn ratio(v: f32) -> String {
    if v >= 10.0 { format!("{}×", v.round() as i64) } else { format!("{}×", (v * 10.0).round() / 10.0) }
}

fn percent(share: f32) -> String {
    format!("{} %", (share * 100.0).round() as i64)
}

fn megabytes(mb: f32) -> String {
    if mb >= 1000.0 { format!("{:.1} GB", mb / 1000.0) } else { format!("{} MB", mb.round() as i64) }
}

fn duration(secs: f32) -> String {
    let s = secs.max(0.0).round() as i64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn hours(h: f32) -> String {
    let h = h.max(0.0);
    if h < 1.0 {
        format!("{} min", (h * 60.0).round() as i64)
    } else if h < 48.0 {
        format!("{} h", h.round() as i64)
    } else {
        format!("{} days", (h / 24.0).round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_explaining_should_say_every_feature_in_words_not_its_name() {
        for name in crate::features::names() {
            let text = reason_text(name, Some(3.0));
            assert!(!text.contains(name), "{name}: {text}");
            assert!(!text.contains('='), "{name}: {text}");
            assert!(!reason_text(name, None).is_empty());
        }
    }

    #[test]
    fn when_explaining_should_read_as_an_analyst_would() {
        assert_eq!(reason_text("mo_calls_1h", Some(42.0)), "42 outgoing calls in the last hour");
        assert_eq!(
            reason_text("voice_1h_vs_baseline", Some(9.04)),
            "voice in the last hour 9× this subscriber's usual day"
        );
        assert_eq!(
            reason_text("data_1h_vs_baseline", Some(23.6)),
            "data in the last hour 24× this subscriber's usual day"
        );
        assert_eq!(reason_text("called_range_kind", Some(1.0)), "called an IRSF hot range");
        assert_eq!(reason_text("imei_first_seen_h", Some(2.0)), "new device first seen 2 h ago");
        assert_eq!(reason_text("imei_first_seen_h", Some(0.25)), "new device first seen 15 min ago");
        assert_eq!(reason_text("duration_s", Some(3725.0)), "a call of 1 h 2 min");
        assert_eq!(reason_text("data_mb_24h", Some(2500.0)), "2.5 GB of data in the last 24 h");
        assert_eq!(
            reason_text("short_call_share_24h", Some(0.87)),
            "87 % of the last 24 h's outgoing calls under 10 s"
        );
        assert_eq!(reason_text("local_hour", Some(3.5)), "at 03:30 local time");
        assert_eq!(reason_text("imei_unknown", None), "device not known");
    }
}
