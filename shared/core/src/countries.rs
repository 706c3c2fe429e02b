//! Country reference data: ISO 3166-1 alpha-2 codes, E.164 country calling codes, approximate
//! geography (for impossible-travel checks) and standard UTC offsets (for local night time),
//! plus the table of premium-rate and high-risk destination ranges.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod table;
pub use table::{COUNTRIES, DESTINATION_RANGES, EXTRA_DIAL_PREFIXES, MAIN_DIAL_CODE_OWNERS};

/// An assigned ISO 3166-1 alpha-2 code, stored as two upper-case ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses a code case-insensitively; `None` unless it is an assigned alpha-2 code.
    pub fn parse(text: &str) -> Option<CountryCode> {
        let b = text.as_bytes();
        if b.len() != 2 || !b[0].is_ascii_alphabetic() || !b[1].is_ascii_alphabetic() {
            return None;
        }
        let code = CountryCode([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()]);
        info(code).map(|_| code)
    }
    /// For tables and tests: a code known to be valid.
    pub const fn from_static(text: &'static str) -> CountryCode {
        let b = text.as_bytes();
        CountryCode([b[0], b[1]])
    }
    /// The two letters, for compact encodings.
    pub fn to_bytes(self) -> [u8; 2] {
        self.0
    }
    /// The inverse of [`to_bytes`](Self::to_bytes): None unless an assigned code.
    pub fn from_bytes(bytes: [u8; 2]) -> Option<CountryCode> {
        let code = CountryCode(bytes);
        info(code).map(|_| code)
    }
    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        CountryCode::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an assigned ISO 3166-1 alpha-2 code: {text:?}")))
    }
}

/// Reference facts about one country.
#[derive(Debug, Clone, Copy)]
pub struct CountryInfo {
    pub code: CountryCode,
    /// E.164 country calling code of the country's main numbering range (e.g. "33", "1", "1876").
    pub dial_code: &'static str,
    /// Approximate centroid.
    pub lat: f32,
    pub lon: f32,
    /// Radius of a disc with the country's land area: the centroid-to-border slack used when
    /// estimating the shortest possible trip between two countries.
    pub radius_km: f32,
    /// Standard-time UTC offset of the most populated area, in minutes.
    pub utc_offset_min: i16,
    /// 0 = ordinary destination, 1 = elevated, 2 = high (frequent IRSF / Wangiri terminations).
    pub risk_tier: u8,
}

/// Facts for an assigned code.
pub fn info(code: CountryCode) -> Option<&'static CountryInfo> {
    COUNTRIES.binary_search_by(|c| c.code.cmp(&code)).ok().map(|i| &COUNTRIES[i])
}

/// Country of an E.164 number by longest matching calling-code or national prefix (e.g. 1876… → JM,
/// 1… → US, 441534… → JE).
pub fn country_of_number(number: &str) -> Option<CountryCode> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    let index = dial_index();
    for len in (1..=7.min(digits.len())).rev() {
        let prefix = &digits[..len];
        if let Ok(i) = index.binary_search_by(|(d, _)| (*d).cmp(prefix)) {
            return Some(index[i].1);
        }
    }
    None
}

fn dial_index() -> &'static [(&'static str, CountryCode)] {
    static INDEX: std::sync::OnceLock<Vec<(&'static str, CountryCode)>> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        // Shared calling codes ("1", "7", "44", ...) belong to their main country; the rest of the
        // table adds each country's own code and extra national prefixes.
        let mut v: Vec<(&'static str, CountryCode)> = MAIN_DIAL_CODE_OWNERS.to_vec();
        for (dial, code) in COUNTRIES.iter().map(|c| (c.dial_code, c.code)).chain(EXTRA_DIAL_PREFIXES.iter().copied()) {
            if !v.iter().any(|(d, _)| *d == dial) {
                v.push((dial, code));
            }
        }
        v.sort_by(|a, b| a.0.cmp(b.0));
        v
    })
}

/// Lower bound of the travel distance between two countries, in km: centroid distance less both
/// countries' radii, so neighbours (border commuters) come out near zero.
pub fn min_travel_km(a: CountryCode, b: CountryCode) -> Option<f32> {
    if a == b {
        return Some(0.0);
    }
    let (a, b) = (info(a)?, info(b)?);
    Some((haversine_km(a.lat, a.lon, b.lat, b.lon) - a.radius_km - b.radius_km).max(0.0))
}

fn haversine_km(lat1: f32, lon1: f32, lat2: f32, lon2: f32) -> f32 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

/// Kind of number range a called number falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RangeKind {
    /// Premium-rate or shared-revenue range (IRSF and Wangiri callbacks terminate here).
    PremiumRate,
    /// Satellite / international networks (e.g. +881, +882, +883): high cost, often abused.
    Satellite,
    /// Ranges repeatedly reported as IRSF terminations (hot ranges).
    HotRange,
}

/// One documented premium-rate / high-risk destination range.
#[derive(Debug, Clone, Copy)]
pub struct DestinationRange {
    /// E.164 prefix (country code + national range).
    pub prefix: &'static str,
    pub kind: RangeKind,
    pub note: &'static str,
}

/// Risk of calling a number: the matching range kind (longest prefix) and the destination
/// country's risk tier.
pub fn destination_range(number: &str) -> Option<&'static DestinationRange> {
    let digits = number.strip_prefix('+').unwrap_or(number);
    DESTINATION_RANGES.iter().filter(|r| digits.starts_with(r.prefix)).max_by_key(|r| r.prefix.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_table_is_loaded_should_be_sorted_and_unique() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].code < w[1].code), "COUNTRIES must be sorted by code");
        assert!(COUNTRIES.len() >= 240, "expected the assigned ISO 3166-1 codes");
    }

    #[test]
    fn when_parsing_codes_should_accept_only_assigned_ones() {
        assert_eq!(CountryCode::parse("fr").map(|c| c.to_string()), Some("FR".into()));
        assert!(CountryCode::parse("XX").is_none());
        assert!(CountryCode::parse("FRA").is_none());
    }

    #[test]
    fn when_number_has_shared_calling_code_should_pick_longest_prefix() {
        let cc = |n: &str| country_of_number(n).map(|c| c.to_string());
        assert_eq!(cc("12125550100"), Some("US".into()));
        assert_eq!(cc("18765550100"), Some("JM".into()));
        assert_eq!(cc("33612345678"), Some("FR".into()));
        assert_eq!(cc("74951234567"), Some("RU".into()));
        assert_eq!(cc("77011234567"), Some("KZ".into()));
        assert_eq!(cc("447911123456"), Some("GB".into()));
        assert_eq!(cc("2521234567"), Some("SO".into()));
    }

    #[test]
    fn when_countries_are_neighbours_should_need_little_travel() {
        let km = |a: &'static str, b: &'static str| {
            min_travel_km(CountryCode::from_static(a), CountryCode::from_static(b)).unwrap()
        };
        assert!(km("FR", "DE") < 300.0);
        assert!(km("BE", "NL") < 150.0);
        assert!(km("FR", "AU") > 12_000.0);
        assert_eq!(km("FR", "FR"), 0.0);
    }

    #[test]
    fn when_number_is_in_a_premium_range_should_match_it() {
        assert!(destination_range("88161234567").is_some());
        assert!(destination_range("33612345678").is_none());
    }
}
