//! The subscriber's own history beyond the 24 h windows, in a few dozen bytes:
//!
//! - [`DailyHistory`]: usage of the subscriber's active roaming days (days with at least one
//!   event), the day in progress plus a decayed mean of the completed ones. Features compare the
//!   last hour and day with it rather than with the profile's static averages alone, so a
//!   business traveller who talks two hours a day is measured against two hours, not against the
//!   operator's idea of him;
//! - [`ScoreMarks`]: the highest recent scores, so that a BLOCK can require an earlier flagged
//!   event of the same subscriber (see [`crate::decision::Escalation`]). Kept whatever the
//!   thresholds are (every score above [`SCORE_MARK_FLOOR`]), so a calibration can replay them
//!   under other thresholds exactly.

use super::{UsageCounts, fingerprint};

pub const DAY_SECS: i64 = 86_400;

/// Weight of the newest completed day in the mean once a few days are known: the mean then
/// follows a change of habits within about a week (the first days are a plain average).
const DECAY: f32 = 0.25;
/// Completed days counted (beyond this the count only says "long enough").
pub const MAX_HISTORY_DAYS: u16 = 60;
/// The mean is kept in 1/16 units (exactly representable, so the codec stores it as integers
/// and a decoded state equals the encoded one).
pub const MEAN_UNITS: f32 = 16.0;

/// One day's usage: totals and its busiest hour.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DayUsage {
    pub voice_secs: f32,
    pub sms: f32,
    pub data_bytes: f32,
    pub mo_calls: f32,
    /// The most voice seconds and data bytes within one hour (sliding, at the day's events).
    pub peak_voice_secs_1h: f32,
    pub peak_data_bytes_1h: f32,
}

impl DayUsage {
    pub const FIELDS: usize = 6;

    pub fn to_array(self) -> [f32; Self::FIELDS] {
        [self.voice_secs, self.sms, self.data_bytes, self.mo_calls, self.peak_voice_secs_1h, self.peak_data_bytes_1h]
    }

    pub fn from_array(a: [f32; Self::FIELDS]) -> DayUsage {
        DayUsage {
            voice_secs: a[0],
            sms: a[1],
            data_bytes: a[2],
            mo_calls: a[3],
            peak_voice_secs_1h: a[4],
            peak_data_bytes_1h: a[5],
        }
    }

    fn add(&mut self, event: &UsageCounts, last_hour: &UsageCounts) {
        self.voice_secs += event.voice_secs as f32;
        self.sms += (event.sms_mo + event.sms_mt) as f32;
        self.data_bytes += event.data_bytes as f32;
        self.mo_calls += event.voice_mo as f32;
        self.peak_voice_secs_1h = self.peak_voice_secs_1h.max(last_hour.voice_secs as f32);
        self.peak_data_bytes_1h = self.peak_data_bytes_1h.max(last_hour.data_bytes as f32);
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DailyHistory {
    /// UTC day number (unix seconds / 86,400) of `today`; meaningful once an event was applied.
    pub day: i64,
    pub today: DayUsage,
    /// Decayed mean over the completed active days.
    pub mean: DayUsage,
    /// Completed active days in `mean` (at most [`MAX_HISTORY_DAYS`]).
    pub days: u16,
}

impl DailyHistory {
    /// Counts an event at `t` (with the last hour's usage up to it, itself included). The first
    /// event of a later day closes the day in progress. A late event of an earlier day counts
    /// into the day in progress: the mean is an approximation, not an invoice.
    pub fn add(&mut self, t: i64, event: &UsageCounts, last_hour: &UsageCounts, first_event: bool) {
        let day = t.div_euclid(DAY_SECS);
        if first_event {
            self.day = day;
        } else if day > self.day {
            self.close_day();
            self.day = day;
        }
        self.today.add(event, last_hour);
    }

    fn close_day(&mut self) {
        let weight = (1.0 / f32::from(self.days + 1)).max(DECAY);
        let (mean, today) = (self.mean.to_array(), self.today.to_array());
        let mut next = [0f32; DayUsage::FIELDS];
        for i in 0..DayUsage::FIELDS {
            next[i] = ((mean[i] + weight * (today[i] - mean[i])) * MEAN_UNITS).round() / MEAN_UNITS;
        }
        self.mean = DayUsage::from_array(next);
        self.days = (self.days + 1).min(MAX_HISTORY_DAYS);
        self.today = DayUsage::default();
    }

    /// The mean of the completed days, when there is one.
    pub fn completed(&self) -> Option<(&DayUsage, u16)> {
        (self.days > 0).then_some((&self.mean, self.days))
    }

    /// The mean of the days completed by time `t`: the day in progress counts once `t` is in a
    /// later day (the state closes it only when that day's first event is applied). `active`:
    /// whether any event was applied at all.
    pub fn completed_at(&self, t: i64, active: bool) -> Option<(DayUsage, u16)> {
        if active && t.div_euclid(DAY_SECS) > self.day {
            let mut closed = *self;
            closed.close_day();
            return closed.completed().map(|(d, days)| (*d, days));
        }
        self.completed().map(|(d, days)| (*d, days))
    }
}

/// Scores below this are not kept (no threshold is that low).
pub const SCORE_MARK_FLOOR: f32 = 0.01;
/// Most earlier flags an escalation may ask for: marks are kept so that, for any threshold and
/// window, the count of marks at or above the threshold within the window is exact up to this.
pub const MAX_FLAGS_COUNTED: usize = 4;
/// Marks stored at most (the item's bound).
pub const MAX_SCORE_MARKS: usize = 8;
/// How far back marks are kept: the longest escalation window allowed.
pub const SCORE_MARK_HORIZON_SECS: i64 = 48 * 3600;

/// One scored event: when, its score, and its event-id fingerprint (a redelivered event is not
/// its own corroboration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreMark {
    pub at: i64,
    pub score: f32,
    pub event: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreMarks {
    /// Highest score first.
    pub marks: Vec<ScoreMark>,
}

impl ScoreMarks {
    /// Remembers a score. Keeps, within the horizon of `now`, every mark that fewer than
    /// [`MAX_FLAGS_COUNTED`] other marks beat on both score and recency: a mark that four
    /// others beat can never be needed (whatever the threshold and window, those four count
    /// first), while keeping only the highest scores would let an old burst crowd out the
    /// recent flags an escalation looks for. At most [`MAX_SCORE_MARKS`], the most recent kept.
    pub fn mark(&mut self, event_id: &str, at: i64, score: f32, now: i64) {
        let event = fingerprint(event_id);
        if score >= SCORE_MARK_FLOOR && score.is_finite() && !self.marks.iter().any(|m| m.event == event) {
            self.marks.push(ScoreMark { at, score, event });
        }
        self.marks.retain(|m| m.at > now - SCORE_MARK_HORIZON_SECS);
        // Highest first, the most recent first among equal scores: then only marks before a mark
        // can beat it, and at most one of two equal marks is the other's better.
        self.marks.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.at.cmp(&a.at)));
        let mut kept: Vec<ScoreMark> = Vec::with_capacity(self.marks.len());
        for m in &self.marks {
            if kept.iter().filter(|k| k.at >= m.at).count() < MAX_FLAGS_COUNTED {
                kept.push(*m);
            }
        }
        if kept.len() > MAX_SCORE_MARKS {
            // Escalation windows end now: beyond the bound, the most recent marks matter.
            kept.sort_by_key(|m| std::cmp::Reverse(m.at));
            kept.truncate(MAX_SCORE_MARKS);
            kept.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.at.cmp(&a.at)));
        }
        self.marks = kept;
    }

    /// Scores of other events at or before `at`, within `window_secs` of it.
    pub fn earlier(&self, event_id: &str, at: i64, window_secs: i64) -> impl Iterator<Item = f32> + '_ {
        let event = fingerprint(event_id);
        self.marks.iter().filter(move |m| m.event != event && m.at <= at && m.at > at - window_secs).map(|m| m.score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(voice_secs: u64, data_bytes: u64) -> UsageCounts {
        UsageCounts { events: 1, voice_secs, data_bytes, ..UsageCounts::default() }
    }

    #[test]
    fn when_days_complete_should_average_then_decay() {
        let mut h = DailyHistory::default();
        h.add(10, &usage(600, 0), &usage(600, 0), true);
        assert!(h.completed().is_none());
        h.add(DAY_SECS + 10, &usage(1200, 0), &usage(1200, 0), false);
        assert_eq!(h.completed().map(|(m, d)| (m.voice_secs, d)), Some((600.0, 1)));
        h.add(2 * DAY_SECS + 10, &usage(0, 0), &usage(0, 0), false);
        assert_eq!(h.completed().map(|(m, d)| (m.voice_secs, d)), Some((900.0, 2)));
        // A gap of days without events counts no day: the mean is of active days.
        h.add(9 * DAY_SECS, &usage(0, 0), &usage(0, 0), false);
        assert_eq!(h.days, 3);
    }

    #[test]
    fn when_a_long_history_meets_a_new_habit_should_follow_within_days() {
        let mut h = DailyHistory::default();
        for d in 0..30 {
            h.add(d * DAY_SECS, &usage(60, 0), &usage(60, 0), d == 0);
        }
        for d in 30..38 {
            h.add(d * DAY_SECS, &usage(3600, 0), &usage(3600, 0), false);
        }
        let (mean, _) = h.completed().unwrap();
        assert!(mean.voice_secs > 3000.0, "{}", mean.voice_secs);
    }

    #[test]
    fn when_hours_peak_should_keep_the_busiest_hour_of_the_day() {
        let mut h = DailyHistory::default();
        h.add(0, &usage(60, 5), &usage(60, 5), true);
        h.add(100, &usage(60, 5), &usage(1800, 9), false);
        h.add(5000, &usage(60, 5), &usage(120, 1), false);
        assert_eq!(h.today.peak_voice_secs_1h, 1800.0);
        assert_eq!(h.today.peak_data_bytes_1h, 9.0);
        assert_eq!(h.today.voice_secs, 180.0);
    }

    #[test]
    fn when_marking_scores_should_keep_the_highest_recent_ones_once_each() {
        let mut m = ScoreMarks::default();
        for (i, s) in [0.5, 0.001, 0.9, 0.2, 0.3, 0.7].iter().enumerate() {
            m.mark(&format!("e{i}"), i as i64, *s, i as i64);
        }
        m.mark("e2", 2, 0.9, 6);
        let kept: Vec<f32> = m.marks.iter().map(|m| m.score).collect();
        assert_eq!(kept, [0.9, 0.7, 0.5, 0.3, 0.2], "none is beaten by four others on score and recency");
        assert_eq!(m.earlier("e2", 10, 100).collect::<Vec<_>>(), [0.7, 0.5, 0.3, 0.2]);
        assert_eq!(m.earlier("x", 4, 2).collect::<Vec<_>>(), [0.3, 0.2]);
        m.mark("late", 3 * SCORE_MARK_HORIZON_SECS, 0.4, 3 * SCORE_MARK_HORIZON_SECS);
        assert_eq!(m.marks.len(), 1);
    }

    #[test]
    fn when_an_old_burst_scored_higher_should_recent_flags_still_count() {
        let mut m = ScoreMarks::default();
        let hour = 3600;
        // Four very high scores 30 h ago, then two lower flags within the last hours.
        for i in 0..4 {
            m.mark(&format!("old{i}"), i, 0.99, i);
        }
        m.mark("recent1", 29 * hour, 0.3, 29 * hour);
        m.mark("recent2", 30 * hour, 0.2, 30 * hour);
        let in_24h: Vec<f32> = m.earlier("now", 30 * hour, 24 * hour).collect();
        assert_eq!(in_24h, [0.3, 0.2]);
        // Whatever the pattern, the item stays bounded: a new high every minute beats all.
        for i in 0..1_000 {
            m.mark(&format!("e{i}"), 31 * hour + i * 60, (i as f32).mul_add(-1e-4, 0.9), 31 * hour + i * 60);
            assert!(m.marks.len() <= MAX_SCORE_MARKS);
        }
        // Beyond the bound the most recent are kept: the last hour's flags still count.
        let last_hour = m.earlier("q", 31 * hour + 999 * 60, hour).count();
        assert_eq!(last_hour, MAX_SCORE_MARKS);
    }
}
