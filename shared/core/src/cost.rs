//! What storing the pipeline's items costs in DynamoDB, from their sizes as DynamoDB counts them:
//! request units per write and read, and dollars per million events at list prices. The demo
//! estimates with it from what it would store; `xtask bench-aws` applies the same rules to the
//! requests the AWS adapters actually send; the AWS adapter tests check that a verdict item's size
//! as computed here is the size of the item the adapter writes.

use crate::verdict::{Decision, Verdict};

/// A write request unit covers an item of up to 1 KB; a read request unit, a strongly consistent
/// read of up to 4 KB (an eventually consistent read costs half).
pub const WRITE_UNIT_BYTES: usize = 1024;
pub const READ_UNIT_BYTES: usize = 4096;

/// us-east-1 list prices, dated 2026-11-27 as known to the author (public price pages, checked
/// in 2025; no internet when measured); free tiers ignored.
pub mod price {
    /// $ per write request unit (on-demand, $0.625 per million).
    pub const DYNAMODB_WRU: f64 = 0.625 / 1e6;
    /// $ per read request unit (on-demand, $0.125 per million).
    pub const DYNAMODB_RRU: f64 = 0.125 / 1e6;
    /// Lambda arm64, $ per GB-second and per request.
    pub const LAMBDA_ARM_GB_S: f64 = 0.000_013_333_4;
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// Kinesis Data Streams on-demand: per stream-hour, per GB in, per GB out.
    pub const KINESIS_STREAM_HOUR: f64 = 0.04;
    pub const KINESIS_GB_IN: f64 = 0.08;
    pub const KINESIS_GB_OUT: f64 = 0.04;
    /// SageMaker real-time ml.m5.large, per hour.
    pub const SAGEMAKER_M5_LARGE_HOUR: f64 = 0.115;
}

/// Write units for one item of `bytes` (whole KB, at least one).
pub fn write_units(bytes: usize) -> u64 {
    bytes.div_ceil(WRITE_UNIT_BYTES).max(1) as u64
}

/// Read units for reading one item of `bytes` (whole 4 KB, at least one; half when eventually
/// consistent). A key that finds no item costs the minimum.
pub fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(READ_UNIT_BYTES).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// An attribute as DynamoDB sizes it: its name's bytes plus its value's.
pub fn string_attribute(name: &str, value: &str) -> usize {
    name.len() + value.len()
}

/// A number: about one byte per two significant digits, plus one.
pub fn number_attribute(name: &str, text: &str) -> usize {
    let digits = text.trim_start_matches('-').bytes().filter(u8::is_ascii_digit).count();
    name.len() + digits.div_ceil(2) + 1
}

pub fn binary_attribute(name: &str, bytes: usize) -> usize {
    name.len() + bytes
}

/// The state item (`imsi`, `state` B, `state_version` N, `expires_at` N) for an encoded state.
pub fn state_item_bytes(imsi: &str, encoded: usize, version: u64) -> usize {
    string_attribute("imsi", imsi)
        + binary_attribute("state", encoded)
        + number_attribute("state_version", &version.to_string())
        + number_attribute("expires_at", "1780000000")
}

/// The verdict item as the DynamoDB verdict table stores it (see roamguard-aws's verdict store:
/// fixed-width RFC 3339 times, reasons as a JSON string, `time_id`, `decision_day` on flagged
/// verdicts only, `enforced` on shadow-mode verdicts only, `challenger` as a map).
pub fn verdict_item_bytes(v: &Verdict) -> usize {
    const TIME: usize = "2026-06-01T12:00:00.000000000Z".len();
    let reasons = serde_json::to_string(&v.reasons).map_or(2, |r| r.len());
    let flagged = v.decision != Decision::Allow;
    string_attribute("event_id", &v.event_id)
        + string_attribute("imsi", &v.imsi)
        + "time_id".len()
        + TIME
        + 1
        + v.event_id.len()
        + "event_time".len()
        + TIME
        + string_attribute("decision", v.decision.as_str())
        + number_attribute("score", &v.score.to_string())
        + string_attribute("reasons", "")
        + reasons
        + string_attribute("model_version", &v.model_version)
        + "degraded".len()
        + 1
        + "scored_at".len()
        + TIME
        + if flagged { "decision_day".len() + v.decision.as_str().len() + "#2026-06-01".len() } else { 0 }
        + if v.enforced { 0 } else { "enforced".len() + 1 }
        + if v.decided_by == crate::verdict::DECIDED_BY_MODEL {
            0
        } else {
            string_attribute("decided_by", &v.decided_by)
        }
        + if v.rules_matched.is_empty() {
            0
        } else {
            // A list: 3 bytes, and 1 byte per element besides the element's own size.
            "rules_matched".len() + 3 + v.rules_matched.iter().map(|id| 1 + id.len()).sum::<usize>()
        }
        + v.rules_version.as_deref().map_or(0, |r| string_attribute("rules_version", r))
        + v.challenger.as_ref().map_or(0, |c| {
            // A map: 3 bytes, and 1 byte per entry besides the entry's name and value.
            "challenger".len()
                + 3
                + 3
                + string_attribute("model_version", &c.model_version)
                + number_attribute("score", &c.score.to_string())
                + string_attribute("decision", c.decision.as_str())
        })
}

/// Units of one verdict write: the item, its `by_subscriber` entry, and its `by_decision_day`
/// entry when flagged (indexes project every attribute).
pub fn verdict_write_units(v: &Verdict) -> u64 {
    let item = write_units(verdict_item_bytes(v));
    let indexes = if v.decision == Decision::Allow { 1 } else { 2 };
    item * (1 + indexes)
}

/// Request units per event and what they cost per million events.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UnitsPerEvent {
    pub read: f64,
    pub write: f64,
}

impl UnitsPerEvent {
    pub fn dollars_per_million(&self) -> f64 {
        1e6 * (self.read * price::DYNAMODB_RRU + self.write * price::DYNAMODB_WRU)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_items_grow_should_units_round_up_per_kilobyte_and_4_kb() {
        assert_eq!((write_units(0), write_units(1024), write_units(1025)), (1, 1, 2));
        assert_eq!((read_units(100, true), read_units(100, false), read_units(4097, true)), (1.0, 0.5, 2.0));
        assert_eq!(number_attribute("v", "12345"), 1 + 3 + 1);
        let per_event = UnitsPerEvent { read: 1.0, write: 3.0 };
        assert!((per_event.dollars_per_million() - 2.0).abs() < 1e-9, "0.125 + 3 × 0.625");
    }
}
