//! Which events a live state has already applied, so a redelivered record never counts twice —
//! in a few dozen bytes whatever the subscriber's volume:
//!
//! - the last record applied from an ordered source (a Kinesis shard and its sequence number):
//!   all records of one subscriber come from one source in order, so a record at or before it was
//!   applied. This covers every redelivery of the stream (a retried batch, a bisected one, a lost
//!   response) exactly;
//! - fingerprints of the last [`RECENT_IDS`] event ids, for records without a place in a source
//!   (an API request retried by its client) and for a producer's duplicate sent right after the
//!   original. A fingerprint is 32 bits of the id's hash: a new event is mistaken for one of 8
//!   recent ones with probability 8 / 2³² ≈ 2·10⁻⁹.

use super::{Sequence, stable_hash};

/// Event-id fingerprints kept.
pub const RECENT_IDS: usize = 8;

/// A decimal sequence number, without leading zeros, two digits a byte. Kinesis sequence numbers
/// have ~56 digits (beyond u128); Kafka offsets and line numbers fit in a few bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SequenceNumber {
    digits: u16,
    packed: Vec<u8>,
}

impl SequenceNumber {
    /// None unless `text` is all decimal digits (and at most 1,000 of them).
    pub fn parse(text: &str) -> Option<SequenceNumber> {
        let trimmed = text.trim_start_matches('0');
        if text.is_empty() || text.len() > 1000 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits: Vec<u8> = trimmed.bytes().map(|b| b - b'0').collect();
        let packed = digits.chunks(2).map(|pair| pair[0] << 4 | pair.get(1).copied().unwrap_or(0)).collect();
        Some(SequenceNumber { digits: digits.len() as u16, packed })
    }

    pub fn digits(&self) -> u16 {
        self.digits
    }

    pub fn packed(&self) -> &[u8] {
        &self.packed
    }

    /// From [`digits`](Self::digits) and [`packed`](Self::packed) (the codec); None if inconsistent.
    pub fn from_parts(digits: u16, packed: Vec<u8>) -> Option<SequenceNumber> {
        let valid_nibbles = packed.iter().all(|b| b >> 4 <= 9 && b & 0xf <= 9);
        let odd_tail_zero = digits.is_multiple_of(2) || packed.last().is_some_and(|b| b & 0xf == 0);
        let leading = packed.first().is_none_or(|b| b >> 4 != 0);
        (packed.len() == usize::from(digits).div_ceil(2) && valid_nibbles && odd_tail_zero && leading)
            .then_some(SequenceNumber { digits, packed })
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SequenceNumber {
    /// Numeric order: more digits is larger; equal lengths compare digit by digit.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.digits.cmp(&other.digits).then_with(|| self.packed.cmp(&other.packed))
    }
}

/// The last record applied from an ordered source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastApplied {
    /// 32 bits of the source's hash (shard ids are long strings).
    pub source: u32,
    pub number: SequenceNumber,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub last: Option<LastApplied>,
    /// Fingerprints of the most recently applied event ids, oldest first.
    pub recent: Vec<u32>,
}

/// 32 bits of an event id's hash (the high half: the low bits choose sketch bits elsewhere).
pub fn fingerprint(event_id: &str) -> u32 {
    (stable_hash(event_id) >> 32) as u32
}

fn source_key(source: &str) -> u32 {
    (stable_hash(source) >> 32) as u32
}

impl Applied {
    /// True when the event was already applied: its record is at or before the last one applied
    /// from the same source, or its id is among the recent ones.
    pub fn contains(&self, event_id: &str, sequence: Option<&Sequence<'_>>) -> bool {
        let in_stream = sequence.zip(self.last.as_ref()).is_some_and(|(seq, last)| {
            last.source == source_key(seq.source) && SequenceNumber::parse(seq.number).is_some_and(|n| n <= last.number)
        });
        in_stream || self.recent.contains(&fingerprint(event_id))
    }

    /// Remembers an applied event.
    pub fn record(&mut self, event_id: &str, sequence: Option<&Sequence<'_>>) {
        if self.recent.len() == RECENT_IDS {
            self.recent.remove(0);
        }
        self.recent.push(fingerprint(event_id));
        let Some((seq, number)) = sequence.and_then(|s| Some((s, SequenceNumber::parse(s.number)?))) else { return };
        let source = source_key(seq.source);
        match &mut self.last {
            // Records of a source arrive in order; a late smaller number does not move it back.
            Some(last) if last.source == source => {
                if number > last.number {
                    last.number = number;
                }
            }
            // A new source (after a reshard the subscriber's records move to a child shard).
            other => *other = Some(LastApplied { source, number }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq<'a>(source: &'a str, number: &'a str) -> Sequence<'a> {
        Sequence { source, number }
    }

    #[test]
    fn when_sequence_numbers_compare_should_follow_numeric_order() {
        let n = |t: &str| SequenceNumber::parse(t).unwrap();
        assert!(
            n("49590338271490256608559692538361571095921575989136588898")
                > n("4959033827149025660855969253836157109592157598913658889")
        );
        assert!(n("10") > n("9") && n("0010") == n("10") && n("123") < n("124"));
        assert_eq!(SequenceNumber::parse("12a"), None);
        assert_eq!(SequenceNumber::parse(""), None);
        let x = n("12345");
        assert_eq!(SequenceNumber::from_parts(x.digits(), x.packed().to_vec()), Some(x));
        assert_eq!(SequenceNumber::from_parts(3, vec![0x12]), None);
    }

    #[test]
    fn when_a_record_is_redelivered_should_know_it_by_its_sequence_number() {
        let mut a = Applied::default();
        for (i, number) in ["100", "105", "230"].iter().enumerate() {
            a.record(&format!("e{i}"), Some(&seq("shardId-000000000001", number)));
        }
        assert!(a.contains("other-id", Some(&seq("shardId-000000000001", "105"))));
        assert!(a.contains("other-id", Some(&seq("shardId-000000000001", "230"))));
        assert!(!a.contains("other-id", Some(&seq("shardId-000000000001", "231"))));
        assert!(!a.contains("other-id", Some(&seq("shardId-000000000002", "1"))), "another shard is not comparable");
    }

    #[test]
    fn when_a_request_without_sequence_repeats_should_know_the_recent_ids_only() {
        let mut a = Applied::default();
        for i in 0..20 {
            a.record(&format!("api-{i}"), None);
        }
        assert_eq!(a.recent.len(), RECENT_IDS);
        assert!(a.contains("api-19", None) && a.contains("api-12", None));
        assert!(!a.contains("api-11", None), "older than the last {RECENT_IDS}");
    }
}
