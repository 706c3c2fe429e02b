//! The stored form of a [`LiveState`]: a compact, versioned binary encoding (a DynamoDB Binary
//! attribute), and the reader of the JSON form earlier versions stored (migrated on read; the
//! next save writes the binary form).
//!
//! Format 3 (format 2 plus the subscriber's daily history and score marks), after a version byte: integers as LEB128 varints, signed ones zig-zagged, times as
//! offsets back from the newest event (a few bytes each), a usage bucket as a mask of its
//! non-zero counters followed by those counters, a called-number sketch as its set bits when few
//! (one byte each) or its 16 bytes. Zero counters and empty lists cost nothing, so the size
//! follows the subscriber's activity and stays bounded by the state's own bounds: at most 29
//! buckets × (12 counters + 17 bytes), 16 devices, the countries, 4 score marks. Decoding checks
//! every length and never panics: a corrupt item is an error the store reports. Format 2 items
//! (without history) are read as they are; the next save writes format 3.

use serde::Deserialize;

use super::history::{DAY_SECS, MEAN_UNITS};
use super::{
    Applied, BUCKET_SECS, DailyHistory, DayUsage, Distinct, HOUR_SECS, LastApplied, LiveState, MAX_SCORE_MARKS,
    ScoreMark, ScoreMarks, SeenCountry, SeenDevice, SequenceNumber, UsageBucket, UsageCounts, bucket_at, bucket_start,
    day_from, hour_start, recent_from,
};
use crate::countries::CountryCode;

/// The first byte of the binary form.
pub const FORMAT: u8 = 3;
/// The binary form before the daily history (still read).
const FORMAT_2: u8 = 2;
/// A list longer than this is corrupt (the state's own bounds are far lower).
const MAX_LIST: u64 = 4096;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("live state is empty")]
    Empty,
    #[error("live state format {0} is unknown (this build reads 1 = JSON, 2 and {FORMAT})")]
    UnknownFormat(u8),
    #[error("live state is truncated or corrupt at byte {0}")]
    Corrupt(usize),
    #[error("live state in the JSON form cannot be read: {0}")]
    Legacy(String),
}

const HAS_TIME: u64 = 1;
const HAS_COUNTRY: u64 = 2;
const HAS_DEVICE: u64 = 4;
const HAS_LAST_APPLIED: u64 = 8;
const HAS_HISTORY: u64 = 16;
/// Flag bits each format knows.
const FLAGS_2: u64 = 0b1111;
const FLAGS_3: u64 = 0b1_1111;

/// The binary form of `state` (its `version` is the store's business and is not included).
pub fn encode(state: &LiveState) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(256));
    w.0.push(FORMAT);
    let flags = [
        (state.last_event_time.is_some(), HAS_TIME),
        (state.last_country.is_some(), HAS_COUNTRY),
        (state.last_device.is_some(), HAS_DEVICE),
        (state.applied.last.is_some(), HAS_LAST_APPLIED),
        (state.history != DailyHistory::default(), HAS_HISTORY),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .fold(0, |acc, (_, bit)| acc | bit);
    w.varint(flags);
    let base = state.last_event_time.unwrap_or(0);
    if let Some(t) = state.last_event_time {
        w.signed(t);
    }
    if let Some(c) = state.last_country {
        w.0.extend_from_slice(&c.to_bytes());
    }
    if let Some(d) = state.last_device {
        w.0.extend_from_slice(&d.to_le_bytes());
    }
    w.buckets(&state.recent, bucket_start(base), BUCKET_SECS);
    w.buckets(&state.hours, hour_start(base), HOUR_SECS);
    w.varint(state.called_countries.len() as u64);
    for c in &state.called_countries {
        w.0.extend_from_slice(&c.country.to_bytes());
        w.signed(base - c.first_seen);
        w.signed(base - c.last_seen);
    }
    w.varint(state.devices.len() as u64);
    for d in &state.devices {
        w.0.extend_from_slice(&d.key.to_le_bytes());
        w.signed(base - d.first_seen);
        w.signed(base - d.last_seen);
    }
    w.varint(state.visited.len() as u64);
    for c in &state.visited {
        w.0.extend_from_slice(&c.country.to_bytes());
        w.signed(base - c.first_seen);
        w.signed(base - c.last_seen);
    }
    w.varint(state.applied.recent.len() as u64);
    for f in &state.applied.recent {
        w.0.extend_from_slice(&f.to_le_bytes());
    }
    if let Some(last) = &state.applied.last {
        w.0.extend_from_slice(&last.source.to_le_bytes());
        w.varint(u64::from(last.number.digits()));
        w.0.extend_from_slice(last.number.packed());
    }
    if flags & HAS_HISTORY != 0 {
        w.history(&state.history, base);
    }
    w.varint(state.scores.marks.len() as u64);
    for m in &state.scores.marks {
        w.signed(base - m.at);
        w.0.extend_from_slice(&m.score.to_le_bytes());
        w.0.extend_from_slice(&m.event.to_le_bytes());
    }
    w.0
}

/// Reads either stored form: format 2, or the JSON an earlier version wrote (format 1).
pub fn decode(bytes: &[u8]) -> Result<LiveState, CodecError> {
    match bytes.first() {
        None => Err(CodecError::Empty),
        Some(&FORMAT) => Reader { bytes, at: 1 }.state(FLAGS_3),
        Some(&FORMAT_2) => Reader { bytes, at: 1 }.state(FLAGS_2),
        Some(b'{') => from_json_v1(bytes),
        Some(&other) => Err(CodecError::UnknownFormat(other)),
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn signed(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    fn buckets(&mut self, list: &[UsageBucket], base: i64, width: i64) {
        self.varint(list.len() as u64);
        for b in list {
            self.signed((base - b.start).div_euclid(width));
            self.usage(&b.usage);
            self.sketch(b.called);
        }
    }

    fn usage(&mut self, u: &UsageCounts) {
        let counters = counters(u);
        let mask = counters.iter().enumerate().filter(|(_, v)| **v != 0).fold(0u64, |m, (i, _)| m | 1 << i);
        self.varint(mask);
        for v in counters.into_iter().filter(|v| *v != 0) {
            self.varint(v);
        }
    }

    fn history(&mut self, h: &DailyHistory, base: i64) {
        self.signed(base.div_euclid(DAY_SECS) - h.day);
        for v in h.today.to_array() {
            self.varint(v as u64);
        }
        for v in h.mean.to_array() {
            self.varint((v * MEAN_UNITS) as u64);
        }
        self.varint(u64::from(h.days));
    }

    fn sketch(&mut self, d: Distinct) {
        let ones = d.0.count_ones();
        if ones < 16 {
            self.0.push(ones as u8);
            let mut bits = d.0;
            while bits != 0 {
                self.0.push(bits.trailing_zeros() as u8);
                bits &= bits - 1;
            }
        } else {
            self.0.push(0xff);
            self.0.extend_from_slice(&d.0.to_le_bytes());
        }
    }
}

/// The counters of a usage record, in a fixed order (the encoding's mask bits).
fn counters(u: &UsageCounts) -> [u64; 12] {
    [
        u64::from(u.events),
        u.voice_secs,
        u64::from(u.voice_mo),
        u64::from(u.voice_mt),
        u64::from(u.short_mo_calls),
        u64::from(u.sms_mo),
        u64::from(u.sms_mt),
        u.data_bytes,
        u64::from(u.risky_mo),
        u64::from(u.intl_mo),
        u64::from(u.night_events),
        u64::from(u.forwarded_calls),
    ]
}

fn from_counters(c: [u64; 12]) -> UsageCounts {
    let small = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    UsageCounts {
        events: small(c[0]),
        voice_secs: c[1],
        voice_mo: small(c[2]),
        voice_mt: small(c[3]),
        short_mo_calls: small(c[4]),
        sms_mo: small(c[5]),
        sms_mt: small(c[6]),
        data_bytes: c[7],
        risky_mo: small(c[8]),
        intl_mo: small(c[9]),
        night_events: small(c[10]),
        forwarded_calls: small(c[11]),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn corrupt(&self) -> CodecError {
        CodecError::Corrupt(self.at)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let slice = self.bytes.get(self.at..self.at + N).ok_or_else(|| self.corrupt())?;
        self.at += N;
        slice.try_into().map_err(|_| self.corrupt())
    }

    fn byte(&mut self) -> Result<u8, CodecError> {
        Ok(self.take::<1>()?[0])
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.corrupt())
    }

    fn signed(&mut self) -> Result<i64, CodecError> {
        let z = self.varint()?;
        Ok((z >> 1) as i64 ^ -((z & 1) as i64))
    }

    fn len(&mut self) -> Result<usize, CodecError> {
        match self.varint()? {
            n if n <= MAX_LIST => Ok(n as usize),
            _ => Err(self.corrupt()),
        }
    }

    fn country(&mut self) -> Result<CountryCode, CodecError> {
        let bytes = self.take::<2>()?;
        CountryCode::from_bytes(bytes).ok_or_else(|| self.corrupt())
    }

    /// `base - offset`, without overflow.
    fn time(&mut self, base: i64) -> Result<i64, CodecError> {
        let offset = self.signed()?;
        base.checked_sub(offset).ok_or_else(|| self.corrupt())
    }

    fn buckets(&mut self, base: i64, width: i64) -> Result<Vec<UsageBucket>, CodecError> {
        let n = self.len()?;
        let mut list = Vec::with_capacity(n);
        for _ in 0..n {
            let start =
                self.signed()?.checked_mul(width).and_then(|o| base.checked_sub(o)).ok_or_else(|| self.corrupt())?;
            let usage = self.usage()?;
            let called = self.sketch()?;
            list.push(UsageBucket { start, usage, called });
        }
        if !list.windows(2).all(|w| w[0].start < w[1].start) {
            return Err(self.corrupt());
        }
        Ok(list)
    }

    fn usage(&mut self) -> Result<UsageCounts, CodecError> {
        let mask = self.varint()?;
        if mask >> 12 != 0 {
            return Err(self.corrupt());
        }
        let mut c = [0u64; 12];
        for (i, v) in c.iter_mut().enumerate() {
            if mask >> i & 1 == 1 {
                *v = self.varint()?;
            }
        }
        Ok(from_counters(c))
    }

    fn sketch(&mut self) -> Result<Distinct, CodecError> {
        match self.byte()? {
            0xff => Ok(Distinct(u128::from_le_bytes(self.take::<16>()?))),
            n if n < 16 => {
                let mut bits = 0u128;
                for _ in 0..n {
                    let i = self.byte()?;
                    if i >= 128 {
                        return Err(self.corrupt());
                    }
                    bits |= 1 << i;
                }
                Ok(Distinct(bits))
            }
            _ => Err(self.corrupt()),
        }
    }

    fn state(mut self, known_flags: u64) -> Result<LiveState, CodecError> {
        let flags = self.varint()?;
        if flags & !known_flags != 0 {
            return Err(self.corrupt());
        }
        let mut s = LiveState::default();
        if flags & HAS_TIME != 0 {
            s.last_event_time = Some(self.signed()?);
        }
        let base = s.last_event_time.unwrap_or(0);
        if flags & HAS_COUNTRY != 0 {
            s.last_country = Some(self.country()?);
        }
        if flags & HAS_DEVICE != 0 {
            s.last_device = Some(u64::from_le_bytes(self.take::<8>()?));
        }
        s.recent = self.buckets(bucket_start(base), BUCKET_SECS)?;
        s.hours = self.buckets(hour_start(base), HOUR_SECS)?;
        for _ in 0..self.len()? {
            let country = self.country()?;
            let (first_seen, last_seen) = (self.time(base)?, self.time(base)?);
            s.called_countries.push(SeenCountry { country, first_seen, last_seen });
        }
        for _ in 0..self.len()? {
            let key = u64::from_le_bytes(self.take::<8>()?);
            let (first_seen, last_seen) = (self.time(base)?, self.time(base)?);
            s.devices.push(SeenDevice { key, first_seen, last_seen });
        }
        for _ in 0..self.len()? {
            let country = self.country()?;
            let (first_seen, last_seen) = (self.time(base)?, self.time(base)?);
            s.visited.push(SeenCountry { country, first_seen, last_seen });
        }
        for _ in 0..self.len()? {
            s.applied.recent.push(u32::from_le_bytes(self.take::<4>()?));
        }
        if flags & HAS_LAST_APPLIED != 0 {
            let source = u32::from_le_bytes(self.take::<4>()?);
            let digits = u16::try_from(self.varint()?).map_err(|_| self.corrupt())?;
            let packed =
                self.bytes.get(self.at..self.at + usize::from(digits).div_ceil(2)).ok_or_else(|| self.corrupt())?;
            self.at += packed.len();
            let number = SequenceNumber::from_parts(digits, packed.to_vec()).ok_or_else(|| self.corrupt())?;
            s.applied.last = Some(LastApplied { source, number });
        }
        if known_flags == FLAGS_3 {
            if flags & HAS_HISTORY != 0 {
                s.history = self.history(base)?;
            }
            s.scores = self.score_marks(base)?;
        }
        if self.at != self.bytes.len() {
            return Err(self.corrupt());
        }
        Ok(s)
    }

    fn history(&mut self, base: i64) -> Result<DailyHistory, CodecError> {
        let day = base.div_euclid(DAY_SECS).checked_sub(self.signed()?).ok_or_else(|| self.corrupt())?;
        let mut today = [0f32; DayUsage::FIELDS];
        for v in &mut today {
            *v = self.varint()? as f32;
        }
        let mut mean = [0f32; DayUsage::FIELDS];
        for v in &mut mean {
            *v = self.varint()? as f32 / MEAN_UNITS;
        }
        let days = u16::try_from(self.varint()?)
            .ok()
            .filter(|d| *d <= super::MAX_HISTORY_DAYS)
            .ok_or_else(|| self.corrupt())?;
        Ok(DailyHistory { day, today: DayUsage::from_array(today), mean: DayUsage::from_array(mean), days })
    }

    fn score_marks(&mut self, base: i64) -> Result<ScoreMarks, CodecError> {
        let n = self.len()?;
        if n > MAX_SCORE_MARKS {
            return Err(self.corrupt());
        }
        let mut marks = Vec::with_capacity(n);
        for _ in 0..n {
            let at = self.time(base)?;
            let score = f32::from_le_bytes(self.take::<4>()?);
            let event = u32::from_le_bytes(self.take::<4>()?);
            if !score.is_finite() {
                return Err(self.corrupt());
            }
            marks.push(ScoreMark { at, score, event });
        }
        Ok(ScoreMarks { marks })
    }
}

/// The JSON an earlier version stored (10-minute buckets over 24 h, hashed called numbers and
/// applied event ids with their last-seen times, IMEIs).
#[derive(Deserialize)]
struct StateV1 {
    #[serde(default)]
    last_event_time: Option<i64>,
    #[serde(default)]
    last_country: Option<CountryCode>,
    #[serde(default)]
    last_imei: Option<String>,
    #[serde(default)]
    buckets: Vec<BucketV1>,
    #[serde(default)]
    called_numbers: Vec<SeenHashV1>,
    #[serde(default)]
    called_countries: Vec<CountryV1>,
    #[serde(default)]
    devices: Vec<DeviceV1>,
    #[serde(default)]
    visited: Vec<CountryV1>,
    #[serde(default)]
    applied: Vec<SeenHashV1>,
}

#[derive(Deserialize)]
struct BucketV1 {
    start: i64,
    usage: UsageCounts,
}

#[derive(Deserialize)]
struct SeenHashV1 {
    hash: u64,
    last_seen: i64,
}

#[derive(Deserialize)]
struct CountryV1 {
    country: CountryCode,
    first_seen: i64,
    last_seen: i64,
}

#[derive(Deserialize)]
struct DeviceV1 {
    imei: String,
    first_seen: i64,
    last_seen: i64,
}

/// Migrates the JSON form: buckets fold into the new layout by age, each called number sets its
/// sketch bit in the bucket it was last called in, devices become keys, and the most recent
/// applied ids their fingerprints (the same 32 bits: both hash the id with [`super::stable_hash`]).
fn from_json_v1(bytes: &[u8]) -> Result<LiveState, CodecError> {
    let v1: StateV1 = serde_json::from_slice(bytes).map_err(|e| CodecError::Legacy(e.to_string()))?;
    let newest = v1.last_event_time.unwrap_or(0);
    let mut s = LiveState {
        last_event_time: v1.last_event_time,
        last_country: v1.last_country,
        last_device: v1.last_imei.as_deref().map(super::stable_hash),
        ..LiveState::default()
    };
    for b in &v1.buckets {
        if let Some(bucket) = bucket_of(&mut s, newest, b.start) {
            bucket.usage.add(&b.usage);
        }
    }
    for n in &v1.called_numbers {
        if let Some(bucket) = bucket_of(&mut s, newest, n.last_seen) {
            bucket.called.insert(n.hash);
        }
    }
    let country = |c: &CountryV1| SeenCountry { country: c.country, first_seen: c.first_seen, last_seen: c.last_seen };
    s.called_countries = v1.called_countries.iter().map(country).collect();
    s.visited = v1.visited.iter().map(country).collect();
    s.devices = v1
        .devices
        .iter()
        .map(|d| SeenDevice { key: super::stable_hash(&d.imei), first_seen: d.first_seen, last_seen: d.last_seen })
        .collect();
    let mut applied = v1.applied;
    applied.sort_by_key(|a| a.last_seen);
    let keep = applied.len().saturating_sub(super::RECENT_IDS);
    s.applied = Applied { last: None, recent: applied[keep..].iter().map(|a| (a.hash >> 32) as u32).collect() };
    Ok(s)
}

/// The bucket an instant of the JSON form belongs to (None: older than 24 h).
fn bucket_of(s: &mut LiveState, newest: i64, t: i64) -> Option<&mut UsageBucket> {
    if t >= recent_from(newest) {
        Some(bucket_at(&mut s.recent, bucket_start(t)))
    } else if t >= day_from(newest) {
        Some(bucket_at(&mut s.hours, hour_start(t)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
