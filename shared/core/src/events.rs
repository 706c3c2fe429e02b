//! RoamingEvent v1: one usage record of a subscriber abroad (modelled on GSMA NRTRDE records).
//!
//! Decoding is strict about the fields it knows and ignores the others, so newer producers can
//! add fields without breaking us. Every violation names the offending field.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::countries::{self, CountryCode};

/// Version of the event contract this module implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    VoiceMo,
    VoiceMt,
    SmsMo,
    SmsMt,
    Data,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::VoiceMo => "voice_mo",
            EventType::VoiceMt => "voice_mt",
            EventType::SmsMo => "sms_mo",
            EventType::SmsMt => "sms_mt",
            EventType::Data => "data",
        }
    }
    pub fn is_voice(self) -> bool {
        matches!(self, EventType::VoiceMo | EventType::VoiceMt)
    }
    /// Mobile-originated: the subscriber dialled or texted someone.
    pub fn is_originating(self) -> bool {
        matches!(self, EventType::VoiceMo | EventType::SmsMo)
    }
}

/// The RoamingEvent v1 fields, in the schema's order.
pub const FIELDS: [&str; 13] = [
    "event_id",
    "event_time",
    "imsi",
    "msisdn",
    "imei",
    "event_type",
    "visited_country",
    "visited_network",
    "called_number",
    "called_country",
    "duration_s",
    "data_bytes",
    "call_forwarded",
];

/// A validated roaming event. Construct it with [`RoamingEvent::from_json`] or
/// [`RoamingEvent::validate`]; both enforce the v1 contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoamingEvent {
    pub event_id: String,
    #[serde(with = "rfc3339")]
    pub event_time: DateTime<Utc>,
    pub imsi: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msisdn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imei: Option<String>,
    pub event_type: EventType,
    pub visited_country: CountryCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visited_network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_country: Option<CountryCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_forwarded: Option<bool>,
}

/// Why a record does not satisfy the contract. `field` is the JSON field at fault
/// (empty when the record is not a JSON object at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub(crate) fn new(field: &str, message: impl Into<String>) -> Self {
        ValidationError { field: field.to_string(), message: message.into() }
    }
    /// Deserializes `bytes`, naming the field at fault (a JSON path) when they do not fit.
    pub(crate) fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ValidationError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            ValidationError::new(if field == "." { "" } else { &field }, e.into_inner().to_string())
        })
    }

    fn describe(&self) -> String {
        if self.field.is_empty() { self.message.clone() } else { format!("field `{}`: {}", self.field, self.message) }
    }
}

/// Wire shape: every known field optional and loosely typed where a precise message helps.
#[derive(Deserialize)]
struct WireEvent {
    event_id: Option<String>,
    event_time: Option<String>,
    imsi: Option<String>,
    msisdn: Option<String>,
    imei: Option<String>,
    event_type: Option<String>,
    visited_country: Option<String>,
    visited_network: Option<String>,
    called_number: Option<String>,
    called_country: Option<String>,
    duration_s: Option<i64>,
    data_bytes: Option<i64>,
    call_forwarded: Option<bool>,
}

impl RoamingEvent {
    /// Decodes and validates one JSON record.
    pub fn from_json(bytes: &[u8]) -> Result<RoamingEvent, ValidationError> {
        // Fast path: plain serde. Only a record that fails is decoded again with path tracking,
        // to name the field at fault.
        if let Ok(wire) = serde_json::from_slice::<WireEvent>(bytes) {
            return Self::from_wire(wire);
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let wire: WireEvent = match serde_path_to_error::deserialize(&mut de) {
            Ok(w) => w,
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let field = if path == "." { String::new() } else { path };
                let message = if inner.is_syntax() || inner.is_eof() {
                    format!("not valid JSON: {inner}")
                } else if field.is_empty() {
                    format!("expected a JSON object with the RoamingEvent v1 fields: {inner}")
                } else {
                    strip_position(&inner.to_string())
                };
                return Err(ValidationError { field, message });
            }
        };
        if let Err(e) = de.end() {
            return Err(ValidationError::new("", format!("not valid JSON: {e}")));
        }
        Self::from_wire(wire)
    }

    /// Re-checks an event built in code (e.g. by the generator) against the contract.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let json = serde_json::to_vec(self).map_err(|e| ValidationError::new("", e.to_string()))?;
        Self::from_json(&json).map(|_| ())
    }

    fn from_wire(w: WireEvent) -> Result<RoamingEvent, ValidationError> {
        let event_id = required(w.event_id, "event_id")?;
        let n = event_id.chars().count();
        if n == 0 || n > 128 {
            return Err(ValidationError::new("event_id", format!("must be 1–128 characters, got {n}")));
        }
        let time = required(w.event_time, "event_time")?;
        let event_time = DateTime::parse_from_rfc3339(&time)
            .map_err(|_| {
                ValidationError::new(
                    "event_time",
                    format!("must be an RFC 3339 timestamp such as 2026-05-01T12:00:00Z, got {time:?}"),
                )
            })?
            .with_timezone(&Utc);
        // "0000-01-01T00:00:00+01:00" is year -1 in UTC: stored and written back as UTC, it
        // would no longer be RFC 3339.
        if !(0..=9999).contains(&event_time.year()) {
            return Err(ValidationError::new(
                "event_time",
                format!("must fall within the years 0000–9999 in UTC, got {time:?}"),
            ));
        }
        let imsi = required(w.imsi, "imsi")?;
        check_digits(&imsi, "imsi", 6, 15)?;
        let msisdn = w.msisdn.map(|m| normalize_e164(m, "msisdn")).transpose()?;
        if let Some(imei) = &w.imei {
            check_digits(imei, "imei", 14, 16)?;
        }
        let type_text = required(w.event_type, "event_type")?;
        let event_type = match type_text.as_str() {
            "voice_mo" => EventType::VoiceMo,
            "voice_mt" => EventType::VoiceMt,
            "sms_mo" => EventType::SmsMo,
            "sms_mt" => EventType::SmsMt,
            "data" => EventType::Data,
            other => {
                return Err(ValidationError::new(
                    "event_type",
                    format!("must be one of voice_mo, voice_mt, sms_mo, sms_mt, data; got {other:?}"),
                ));
            }
        };
        let visited_country = parse_country(&required(w.visited_country, "visited_country")?, "visited_country")?;
        if let Some(net) = &w.visited_network {
            check_digits(net, "visited_network", 5, 6)?;
        }
        let called_number = w.called_number.map(|c| normalize_e164(c, "called_number")).transpose()?;
        if event_type.is_originating() && called_number.is_none() {
            return Err(ValidationError::new("called_number", format!("is required for {}", event_type.as_str())));
        }
        let called_country = match (w.called_country, &called_number) {
            (Some(c), _) => Some(parse_country(&c, "called_country")?),
            (None, Some(number)) => countries::country_of_number(number),
            (None, None) => None,
        };
        let duration_s = non_negative(w.duration_s, "duration_s")?;
        if event_type.is_voice() && duration_s.is_none() {
            return Err(ValidationError::new("duration_s", format!("is required for {}", event_type.as_str())));
        }
        let data_bytes = non_negative(w.data_bytes, "data_bytes")?;
        if event_type == EventType::Data && data_bytes.is_none() {
            return Err(ValidationError::new("data_bytes", "is required for data"));
        }
        Ok(RoamingEvent {
            event_id,
            event_time,
            imsi,
            msisdn,
            imei: w.imei,
            event_type,
            visited_country,
            visited_network: w.visited_network,
            called_number,
            called_country,
            duration_s,
            data_bytes,
            call_forwarded: w.call_forwarded,
        })
    }

    /// Voice seconds of this event (0 when not a call).
    pub fn voice_seconds(&self) -> u64 {
        if self.event_type.is_voice() { self.duration_s.unwrap_or(0) } else { 0 }
    }
    /// Data volume of this event (0 when not a data session).
    pub fn bytes(&self) -> u64 {
        if self.event_type == EventType::Data { self.data_bytes.unwrap_or(0) } else { 0 }
    }
}

fn required(value: Option<String>, field: &str) -> Result<String, ValidationError> {
    value.ok_or_else(|| ValidationError::new(field, "is required"))
}

fn check_digits(value: &str, field: &str, min: usize, max: usize) -> Result<(), ValidationError> {
    let len = value.len();
    if !value.bytes().all(|b| b.is_ascii_digit()) || len < min || len > max {
        return Err(ValidationError::new(field, format!("must be {min}–{max} digits, got {value:?}")));
    }
    Ok(())
}

/// E.164: up to 15 digits, country code first. A leading `+` is accepted and dropped, since many
/// producers write numbers that way.
fn normalize_e164(value: String, field: &str) -> Result<String, ValidationError> {
    let digits = value.strip_prefix('+').unwrap_or(&value);
    let ok = (3..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    if !ok {
        return Err(ValidationError::new(
            field,
            format!(
                "must be an E.164 number (3–15 digits starting with the country code, no leading 0), got {value:?}"
            ),
        ));
    }
    Ok(if digits.len() == value.len() { value } else { digits.to_string() })
}

fn parse_country(value: &str, field: &str) -> Result<CountryCode, ValidationError> {
    CountryCode::parse(value).ok_or_else(|| {
        ValidationError::new(
            field,
            format!("must be an assigned ISO 3166-1 alpha-2 country code such as FR, got {value:?}"),
        )
    })
}

fn non_negative(value: Option<i64>, field: &str) -> Result<Option<u64>, ValidationError> {
    match value {
        Some(v) if v < 0 => Err(ValidationError::new(field, format!("must be an integer ≥ 0, got {v}"))),
        Some(v) => Ok(Some(v as u64)),
        None => Ok(None),
    }
}

/// serde_json appends " at line L column C"; the field name is more useful to a client.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// RFC 3339 with seconds precision (sub-seconds only when present), always UTC `Z`.
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text).map(|t| t.with_timezone(&Utc)).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn valid() -> Value {
        json!({
            "event_id": "e-1",
            "event_time": "2026-05-01T12:00:00Z",
            "imsi": "208011234567890",
            "msisdn": "33612345678",
            "imei": "35693803564380",
            "event_type": "voice_mo",
            "visited_country": "ES",
            "visited_network": "21407",
            "called_number": "34911234567",
            "duration_s": 60,
            "call_forwarded": false
        })
    }

    fn decode(v: &Value) -> Result<RoamingEvent, ValidationError> {
        RoamingEvent::from_json(v.to_string().as_bytes())
    }

    fn field_error(mut v: Value, field: &str, value: Value) -> ValidationError {
        v[field] = value;
        decode(&v).expect_err("should be rejected")
    }

    #[test]
    fn when_event_is_valid_should_decode_and_derive_called_country() {
        let e = decode(&valid()).unwrap();
        assert_eq!(e.event_type, EventType::VoiceMo);
        assert_eq!(e.called_country, CountryCode::parse("ES"));
        assert_eq!(e.duration_s, Some(60));
    }

    #[test]
    fn when_unknown_fields_present_should_ignore_them() {
        let mut v = valid();
        v["cell_id"] = json!("abc");
        v["extra"] = json!({"nested": [1, 2]});
        assert!(decode(&v).is_ok());
    }

    #[test]
    fn when_required_field_missing_should_name_it() {
        for field in ["event_id", "event_time", "imsi", "event_type", "visited_country"] {
            let mut v = valid();
            v.as_object_mut().unwrap().remove(field);
            let err = decode(&v).unwrap_err();
            assert_eq!(err.field, field);
            assert!(err.to_string().contains(field));
        }
    }

    #[test]
    fn when_event_id_length_out_of_range_should_reject() {
        assert_eq!(field_error(valid(), "event_id", json!("")).field, "event_id");
        assert_eq!(field_error(valid(), "event_id", json!("x".repeat(129))).field, "event_id");
        let mut v = valid();
        v["event_id"] = json!("x".repeat(128));
        assert!(decode(&v).is_ok());
    }

    #[test]
    fn when_event_time_not_rfc3339_should_reject() {
        for bad in [json!("2026-05-01 12:00:00"), json!("yesterday"), json!(1714564800)] {
            assert_eq!(field_error(valid(), "event_time", bad).field, "event_time");
        }
        let mut v = valid();
        v["event_time"] = json!("2026-05-01T14:00:00.250+02:00");
        assert_eq!(decode(&v).unwrap().event_time.to_rfc3339(), "2026-05-01T12:00:00.250+00:00");
    }

    #[test]
    fn when_event_time_leaves_years_0000_to_9999_in_utc_should_reject() {
        for bad in ["0000-01-01T00:00:00+00:01", "9999-12-31T23:59:59-00:01"] {
            assert_eq!(field_error(valid(), "event_time", json!(bad)).field, "event_time");
        }
        for good in ["0000-01-01T00:00:00Z", "0000-01-01T00:00:00-23:59", "9999-12-31T23:59:59+23:59"] {
            let mut v = valid();
            v["event_time"] = json!(good);
            let e = decode(&v).unwrap();
            assert_eq!(RoamingEvent::from_json(&serde_json::to_vec(&e).unwrap()).unwrap(), e);
        }
    }

    #[test]
    fn when_imsi_not_6_to_15_digits_should_reject() {
        for bad in [json!("12345"), json!("1234567890123456"), json!("20801abc"), json!(208011234567890u64)] {
            assert_eq!(field_error(valid(), "imsi", bad).field, "imsi");
        }
    }

    #[test]
    fn when_msisdn_or_called_number_not_e164_should_reject() {
        for field in ["msisdn", "called_number"] {
            for bad in [json!("0612345678"), json!("33-6123"), json!("1234567890123456"), json!("12")] {
                assert_eq!(field_error(valid(), field, bad).field, field);
            }
        }
        let mut v = valid();
        v["called_number"] = json!("+34911234567");
        assert_eq!(decode(&v).unwrap().called_number.as_deref(), Some("34911234567"));
    }

    #[test]
    fn when_imei_not_14_to_16_digits_should_reject() {
        for bad in [json!("1234567890123"), json!("12345678901234567"), json!("3569380356438X")] {
            assert_eq!(field_error(valid(), "imei", bad).field, "imei");
        }
    }

    #[test]
    fn when_event_type_unknown_should_reject() {
        let err = field_error(valid(), "event_type", json!("mms"));
        assert_eq!(err.field, "event_type");
        assert!(err.message.contains("voice_mo"));
    }

    #[test]
    fn when_country_code_not_assigned_alpha2_should_reject() {
        for bad in [json!("XX"), json!("FRA"), json!("F"), json!("12")] {
            assert_eq!(field_error(valid(), "visited_country", bad.clone()).field, "visited_country");
            assert_eq!(field_error(valid(), "called_country", bad).field, "called_country");
        }
        let mut v = valid();
        v["visited_country"] = json!("es");
        assert_eq!(decode(&v).unwrap().visited_country, CountryCode::parse("ES").unwrap());
    }

    #[test]
    fn when_visited_network_not_mcc_mnc_should_reject() {
        for bad in [json!("2140"), json!("2140712"), json!("214ab")] {
            assert_eq!(field_error(valid(), "visited_network", bad).field, "visited_network");
        }
    }

    #[test]
    fn when_called_number_missing_on_originating_event_should_reject() {
        let mut v = valid();
        v.as_object_mut().unwrap().remove("called_number");
        assert_eq!(decode(&v).unwrap_err().field, "called_number");
        v["event_type"] = json!("voice_mt");
        assert!(decode(&v).is_ok());
    }

    #[test]
    fn when_duration_missing_or_negative_on_voice_should_reject() {
        assert_eq!(field_error(valid(), "duration_s", json!(-1)).field, "duration_s");
        assert_eq!(field_error(valid(), "duration_s", json!(1.5)).field, "duration_s");
        assert_eq!(field_error(valid(), "duration_s", json!("60")).field, "duration_s");
        let mut v = valid();
        v.as_object_mut().unwrap().remove("duration_s");
        assert_eq!(decode(&v).unwrap_err().field, "duration_s");
    }

    #[test]
    fn when_data_bytes_missing_or_negative_on_data_should_reject() {
        let mut v = valid();
        v["event_type"] = json!("data");
        v.as_object_mut().unwrap().remove("called_number");
        v.as_object_mut().unwrap().remove("duration_s");
        assert_eq!(decode(&v).unwrap_err().field, "data_bytes");
        assert_eq!(field_error(v.clone(), "data_bytes", json!(-5)).field, "data_bytes");
        v["data_bytes"] = json!(1_000_000);
        assert_eq!(decode(&v).unwrap().data_bytes, Some(1_000_000));
    }

    #[test]
    fn when_call_forwarded_not_bool_should_reject() {
        assert_eq!(field_error(valid(), "call_forwarded", json!("yes")).field, "call_forwarded");
    }

    #[test]
    fn when_record_is_not_json_object_should_reject_with_clear_message() {
        for bad in [&b"not json"[..], b"[1,2]", b"", b"{\"event_id\":", b"{} trailing"] {
            let err = RoamingEvent::from_json(bad).unwrap_err();
            assert!(!err.message.is_empty());
        }
    }

    #[test]
    fn when_event_round_trips_through_json_should_be_equal() {
        let e = decode(&valid()).unwrap();
        let again = RoamingEvent::from_json(&serde_json::to_vec(&e).unwrap()).unwrap();
        assert_eq!(e, again);
        assert!(e.validate().is_ok());
    }
}
