//! SubscriberProfile v1: the home operator's view of one subscriber, keyed by `imsi`.

use serde::{Deserialize, Serialize};

use crate::countries::CountryCode;
use crate::events::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Prepaid,
    Postpaid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriberProfile {
    pub imsi: String,
    pub home_country: CountryCode,
    pub plan: Plan,
    pub tenure_days: u32,
    /// Countries this subscriber usually roams in.
    #[serde(default)]
    pub usual_countries: Vec<CountryCode>,
    /// Device IMEIs registered to or long seen with this subscriber.
    #[serde(default)]
    pub known_imeis: Vec<String>,
    pub avg_daily_voice_min: f32,
    pub avg_daily_sms: f32,
    pub avg_daily_data_mb: f32,
}

/// A line of a profiles file that is not a valid profile.
#[derive(Debug, thiserror::Error)]
#[error("profile line {line}: {error}")]
pub struct ProfileError {
    pub line: usize,
    pub error: ValidationError,
}

impl SubscriberProfile {
    /// Parses one JSON profile; baselines must be finite and ≥ 0. The error names the field.
    pub fn from_json(bytes: &[u8]) -> Result<SubscriberProfile, ValidationError> {
        let p: SubscriberProfile = ValidationError::parse(bytes)?;
        if p.imsi.len() < 6 || p.imsi.len() > 15 || !p.imsi.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new("imsi", format!("must be 6–15 digits, got {:?}", p.imsi)));
        }
        for (name, v) in [
            ("avg_daily_voice_min", p.avg_daily_voice_min),
            ("avg_daily_sms", p.avg_daily_sms),
            ("avg_daily_data_mb", p.avg_daily_data_mb),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(ValidationError::new(name, format!("must be a number ≥ 0, got {v}")));
            }
        }
        Ok(p)
    }

    /// Reads a JSON Lines file of profiles (blank lines skipped).
    pub fn read_jsonl(text: &str) -> Result<Vec<SubscriberProfile>, ProfileError> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                SubscriberProfile::from_json(l.as_bytes()).map_err(|error| ProfileError { line: i + 1, error })
            })
            .collect()
    }
}
