//! Drift: how far live traffic has moved from the rows the model was trained on, as the
//! population stability index (PSI) of each feature and of the score against the baseline
//! histograms in the model's metadata (`baseline_histograms` and `baseline_score_histogram`,
//! written by `training/train.py`). Pure: the caller feeds feature rows and scores.
//!
//! A baseline histogram has quantile edges over the training rows' present values and the
//! share of those values in each bin, with numpy's `np.histogram` semantics: bin `i` holds
//! `edges[i] <= v < edges[i + 1]`, the last bin is closed on the right. Missing values (NaN)
//! are a bin of their own, with the baseline's `missing_share`. Live values below the first
//! edge count in the first bin, above the last edge in the last bin.
//!
//! `PSI = Σ (actual − expected) · ln(actual / expected)` over the bins (missing included), the
//! shares floored at [`EPSILON`] so an empty bin gives a large but finite term.
//! Bands: below 0.1 stable, 0.1 to 0.25 moderate, above 0.25 major.

use serde::{Deserialize, Serialize};

use crate::model::ModelMetadata;

/// Floor of a bin's share (expected or actual) in the PSI: an empty bin counts as 0.01 % of
/// the rows, so `ln(actual / expected)` stays finite (a common choice).
pub const EPSILON: f64 = 1e-4;
/// PSI below this: stable.
pub const STABLE_BELOW: f64 = 0.1;
/// PSI above this: major shift (0.1 to 0.25 inclusive is moderate).
pub const MAJOR_ABOVE: f64 = 0.25;

/// How far a baseline's shares may add up from 1 (rounding in the metadata).
const SHARE_TOLERANCE: f64 = 1e-3;

/// One baseline histogram, as `training/train.py` `histograms()` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineHistogram {
    /// Share of the training rows where the value was missing.
    pub missing_share: f64,
    /// Bin edges over the present values, ascending: `shares.len() + 1` of them, or one when
    /// every present value was the same (one bin); none when every value was missing.
    #[serde(default)]
    pub edges: Vec<f64>,
    /// Share of the present values in each bin (they sum to 1, up to rounding).
    #[serde(default)]
    pub shares: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriftError {
    #[error("the model metadata has no baseline_histograms object")]
    NoBaselines,
    #[error("baseline_histograms has no entry for feature {0}")]
    MissingFeature(String),
    #[error("baseline histogram of {name}: {reason}")]
    Invalid { name: String, reason: String },
    #[error("no rows observed: nothing to compare")]
    NoObservations,
}

impl BaselineHistogram {
    /// Checks the shape: edges ascending and finite, one share a bin, shares and missing share
    /// within 0–1, shares adding up to 1 (or, without bins, every value missing).
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.missing_share) {
            return Err(format!("missing_share {} is not within 0–1", self.missing_share));
        }
        let bins_expected = match self.edges.len() {
            0 => 0,
            1 => 1,
            n => n - 1,
        };
        if self.shares.len() != bins_expected {
            return Err(format!("{} edges need {bins_expected} shares, found {}", self.edges.len(), self.shares.len()));
        }
        if self.edges.iter().any(|e| !e.is_finite()) || self.edges.windows(2).any(|w| w[0] > w[1]) {
            return Err("edges are not finite and ascending".to_string());
        }
        if self.shares.iter().any(|s| !(0.0..=1.0).contains(s)) {
            return Err("a share is not within 0–1".to_string());
        }
        // train.py rounds each share to 6 decimals: their sum is 1 within 1e-5 for ten bins.
        let sum: f64 = self.shares.iter().sum();
        if self.shares.is_empty() && self.missing_share < 1.0 - SHARE_TOLERANCE {
            return Err(format!("no bins, yet missing_share {} says some values were present", self.missing_share));
        }
        if !self.shares.is_empty() && (sum - 1.0).abs() > SHARE_TOLERANCE {
            return Err(format!("the shares add up to {sum:.6}, not 1"));
        }
        Ok(())
    }

    /// Bins of present values (the missing bin not counted).
    pub fn bins(&self) -> usize {
        self.shares.len()
    }

    /// The bin of a present value: np.histogram's, values outside the edges clamped to the
    /// first or last bin. `None` when the baseline has no bins (every training value missing).
    pub fn bin_of(&self, value: f64) -> Option<usize> {
        let bins = self.bins();
        if bins == 0 {
            return None;
        }
        // Edges at or below the value; the last edge itself belongs to the last bin.
        let at_or_below = self.edges.partition_point(|e| *e <= value);
        Some(at_or_below.saturating_sub(1).min(bins - 1))
    }

    /// Expected shares of all rows: the missing bin first, then each bin of present values.
    pub fn expected_shares(&self) -> Vec<f64> {
        let present = 1.0 - self.missing_share;
        std::iter::once(self.missing_share).chain(self.shares.iter().map(|s| s * present)).collect()
    }
}

/// Counts live values in a baseline's bins, plus a missing bin.
#[derive(Debug, Clone)]
pub struct Histogram {
    baseline: BaselineHistogram,
    counts: Vec<u64>,
    missing: u64,
    /// Present values where the baseline has no bin (every training value missing): they
    /// still differ from the baseline, so they count in the PSI as a bin expected empty.
    unbinned: u64,
}

impl Histogram {
    pub fn new(baseline: BaselineHistogram) -> Histogram {
        Histogram { counts: vec![0; baseline.bins()], baseline, missing: 0, unbinned: 0 }
    }

    /// Counts one value; NaN is missing.
    pub fn add(&mut self, value: f64) {
        if value.is_nan() {
            self.missing += 1;
            return;
        }
        match self.baseline.bin_of(value) {
            Some(bin) => self.counts[bin] += 1,
            None => self.unbinned += 1,
        }
    }

    pub fn baseline(&self) -> &BaselineHistogram {
        &self.baseline
    }
    /// Values counted per bin of present values.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }
    pub fn missing(&self) -> u64 {
        self.missing
    }
    pub fn total(&self) -> u64 {
        self.missing + self.unbinned + self.counts.iter().sum::<u64>()
    }

    /// PSI of the values counted against the baseline, the missing bin included; `None` before
    /// any value.
    pub fn psi(&self) -> Option<f64> {
        let mut expected = self.baseline.expected_shares();
        let mut actual: Vec<u64> = std::iter::once(self.missing).chain(self.counts.iter().copied()).collect();
        if self.unbinned > 0 {
            expected.push(0.0);
            actual.push(self.unbinned);
        }
        psi(&expected, &actual)
    }
}

/// Population stability index of `actual_counts` against `expected_shares`, bin by bin:
/// `Σ (a − e) · ln(a / e)` with `a` the bin's share of the counts and both shares floored at
/// [`EPSILON`]. 0 for identical distributions; `None` when no value was counted.
///
/// # Panics
/// If the two slices differ in length (a caller bug).
pub fn psi(expected_shares: &[f64], actual_counts: &[u64]) -> Option<f64> {
    assert_eq!(expected_shares.len(), actual_counts.len(), "psi: one expected share per bin");
    let total: u64 = actual_counts.iter().sum();
    if total == 0 {
        return None;
    }
    let total = total as f64;
    let value = expected_shares
        .iter()
        .zip(actual_counts)
        .map(|(&e, &n)| {
            let (e, a) = (e.max(EPSILON), (n as f64 / total).max(EPSILON));
            (a - e) * (a / e).ln()
        })
        .sum::<f64>();
    Some(value.max(0.0))
}

/// How worrying a PSI is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    /// PSI < 0.1
    Stable,
    /// 0.1 ≤ PSI ≤ 0.25
    Moderate,
    /// PSI > 0.25
    Major,
}

impl Band {
    pub fn of(psi: f64) -> Band {
        if psi < STABLE_BELOW {
            Band::Stable
        } else if psi <= MAJOR_ABOVE {
            Band::Moderate
        } else {
            Band::Major
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Stable => "stable",
            Band::Moderate => "moderate",
            Band::Major => "major",
        }
    }
}

/// The drift baselines of a model: one histogram per feature, in the model's column order, and
/// the score's when the metadata has one.
#[derive(Debug, Clone)]
pub struct Baselines {
    pub features: Vec<(String, BaselineHistogram)>,
    /// `None` for metadata written before `baseline_score_histogram` existed.
    pub score: Option<BaselineHistogram>,
}

impl Baselines {
    /// Reads the baselines from the model's metadata; every feature of the model needs one.
    pub fn from_metadata(metadata: &ModelMetadata) -> Result<Baselines, DriftError> {
        let all = metadata.baseline_histograms.as_object().ok_or(DriftError::NoBaselines)?;
        let parse = |name: &str, value: &serde_json::Value| -> Result<BaselineHistogram, DriftError> {
            let invalid = |reason: String| DriftError::Invalid { name: name.to_string(), reason };
            let h = BaselineHistogram::deserialize(value).map_err(|e| invalid(e.to_string()))?;
            h.validate().map_err(invalid)?;
            Ok(h)
        };
        let features = metadata
            .feature_names
            .iter()
            .map(|name| {
                let value = all.get(name).ok_or_else(|| DriftError::MissingFeature(name.clone()))?;
                Ok((name.clone(), parse(name, value)?))
            })
            .collect::<Result<Vec<_>, DriftError>>()?;
        let score = match &metadata.baseline_score_histogram {
            serde_json::Value::Null => None,
            value => Some(parse("score", value)?),
        };
        Ok(Baselines { features, score })
    }
}

/// Accumulates feature rows and scores against a model's baselines.
#[derive(Debug, Clone)]
pub struct DriftMonitor {
    features: Vec<(String, Histogram)>,
    score: Option<Histogram>,
    rows: u64,
}

/// One line of a drift report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub psi: f64,
    pub band: Band,
}

/// A feature's drift, by its feature name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureDrift {
    pub name: String,
    pub psi: f64,
    pub band: Band,
}

/// What a [`DriftMonitor`] saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Rows observed.
    pub events: u64,
    /// One entry per model feature, highest PSI first (ties in column order).
    pub features: Vec<FeatureDrift>,
    /// `None` when the model has no score baseline.
    pub score: Option<Drift>,
}

impl DriftMonitor {
    pub fn new(baselines: &Baselines) -> DriftMonitor {
        DriftMonitor {
            features: baselines.features.iter().map(|(n, b)| (n.clone(), Histogram::new(b.clone()))).collect(),
            score: baselines.score.clone().map(Histogram::new),
            rows: 0,
        }
    }

    /// Counts one feature row (in the model's column order) and the model's score of it.
    ///
    /// # Panics
    /// If the row has another number of values than the baselines have features.
    pub fn add(&mut self, row: &[f32], score: f32) {
        assert_eq!(row.len(), self.features.len(), "drift: one value per feature");
        for ((_, h), &v) in self.features.iter_mut().zip(row) {
            h.add(f64::from(v));
        }
        if let Some(h) = &mut self.score {
            h.add(f64::from(score));
        }
        self.rows += 1;
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Forgets every row counted (the baselines stay).
    pub fn reset(&mut self) {
        for (_, h) in &mut self.features {
            *h = Histogram::new(h.baseline().clone());
        }
        if let Some(h) = &mut self.score {
            *h = Histogram::new(h.baseline().clone());
        }
        self.rows = 0;
    }

    /// PSI per feature, highest first, and of the score.
    pub fn report(&self) -> Result<DriftReport, DriftError> {
        let drift = |h: &Histogram| {
            let psi = h.psi().ok_or(DriftError::NoObservations)?;
            Ok::<_, DriftError>(Drift { psi, band: Band::of(psi) })
        };
        if self.rows == 0 {
            return Err(DriftError::NoObservations);
        }
        let mut features = self
            .features
            .iter()
            .map(|(name, h)| drift(h).map(|d| FeatureDrift { name: name.clone(), psi: d.psi, band: d.band }))
            .collect::<Result<Vec<_>, _>>()?;
        features.sort_by(|a, b| b.psi.total_cmp(&a.psi));
        let score = self.score.as_ref().map(drift).transpose()?;
        Ok(DriftReport { events: self.rows, features, score })
    }
}

/// Drift over consecutive windows of scored rows: a report each time `every` rows have been
/// counted, then a fresh window (what score-stream emits as metrics, per execution environment).
#[derive(Debug, Clone)]
pub struct DriftWindow {
    monitor: DriftMonitor,
    every: u64,
}

impl DriftWindow {
    /// A window of `every` rows (at least 1).
    pub fn new(baselines: &Baselines, every: u64) -> DriftWindow {
        DriftWindow { monitor: DriftMonitor::new(baselines), every: every.max(1) }
    }

    /// Counts a row; the window's report when this row filled it.
    pub fn add(&mut self, row: &[f32], score: f32) -> Option<DriftReport> {
        self.monitor.add(row, score);
        if self.monitor.rows() < self.every {
            return None;
        }
        let report = self.monitor.report().ok();
        self.monitor.reset();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deciles of 0..1000 (no missing values).
    fn uniform_baseline() -> BaselineHistogram {
        BaselineHistogram {
            missing_share: 0.0,
            edges: (0..=10).map(|i| f64::from(i) * 100.0).collect(),
            shares: vec![0.1; 10],
        }
    }

    /// `counts[i]` values inside bin `i` of [`uniform_baseline`].
    fn values_per_bin(counts: &[u32]) -> Vec<f64> {
        counts.iter().zip(0u32..).flat_map(|(&n, bin)| (0..n).map(move |_| f64::from(bin) * 100.0 + 50.0)).collect()
    }

    fn counted(baseline: BaselineHistogram, values: impl IntoIterator<Item = f64>) -> Histogram {
        let mut h = Histogram::new(baseline);
        for v in values {
            h.add(v);
        }
        h
    }

    #[test]
    fn when_values_fall_on_edges_should_bin_as_numpy_histogram() {
        let b =
            BaselineHistogram { missing_share: 0.0, edges: vec![0.0, 1.0, 2.0, 4.0], shares: vec![0.25, 0.25, 0.5] };
        assert_eq!(b.bin_of(0.0), Some(0));
        assert_eq!(b.bin_of(0.5), Some(0));
        assert_eq!(b.bin_of(1.0), Some(1)); // left-closed
        assert_eq!(b.bin_of(3.9), Some(2));
        assert_eq!(b.bin_of(4.0), Some(2)); // the last bin is closed on the right
        assert_eq!(b.bin_of(-7.0), Some(0)); // below the first edge: first bin
        assert_eq!(b.bin_of(1e9), Some(2)); // above the last edge: last bin
        assert_eq!(b.bin_of(f64::INFINITY), Some(2));
        let single = BaselineHistogram { missing_share: 0.5, edges: vec![1.0], shares: vec![1.0] };
        assert_eq!(single.bin_of(-3.0), Some(0));
        assert_eq!(single.bin_of(1.0), Some(0));
        let empty = BaselineHistogram { missing_share: 1.0, edges: vec![], shares: vec![] };
        assert_eq!(empty.bin_of(1.0), None);
    }

    #[test]
    fn when_distribution_is_identical_should_psi_be_zero_and_stable() {
        let h = counted(uniform_baseline(), (0..1000).map(f64::from));
        assert_eq!(h.counts(), &[100; 10][..]);
        let psi = h.psi().unwrap();
        assert!(psi.abs() < 1e-12, "{psi}");
        assert_eq!(Band::of(psi), Band::Stable);
    }

    #[test]
    fn when_distribution_shifts_should_psi_be_the_known_value_in_its_band() {
        // Half the mass moves from the lower five bins to the upper five: every lower bin holds
        // 5 %, every upper one 15 %. PSI = 5·(0.05−0.1)·ln(0.5) + 5·(0.15−0.1)·ln(1.5).
        let values = values_per_bin(&[50, 50, 50, 50, 50, 150, 150, 150, 150, 150]);
        let h = counted(uniform_baseline(), values);
        assert_eq!(h.counts(), &[50, 50, 50, 50, 50, 150, 150, 150, 150, 150][..]);
        let known = 5.0 * (-0.05 * 0.5f64.ln()) + 5.0 * (0.05 * 1.5f64.ln());
        let psi = h.psi().unwrap();
        assert!((psi - known).abs() < 1e-12, "{psi} vs {known}");
        assert!((psi - 0.2747).abs() < 1e-4, "{psi}");
        assert_eq!(Band::of(psi), Band::Major);
        // A smaller move (6.5 % and 13.5 %): 0.128, moderate.
        let smaller = counted(uniform_baseline(), values_per_bin(&[65, 65, 65, 65, 65, 135, 135, 135, 135, 135]));
        let psi = smaller.psi().unwrap();
        let known = 5.0 * (-0.035 * 0.65f64.ln()) + 5.0 * (0.035 * 1.35f64.ln());
        assert!((psi - known).abs() < 1e-12 && (psi - 0.128).abs() < 1e-3, "{psi} vs {known}");
        assert_eq!(Band::of(psi), Band::Moderate);
        // Everything in the top decile: far beyond.
        let top = counted(uniform_baseline(), values_per_bin(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1000]));
        let psi = top.psi().unwrap();
        assert!(psi > 1.0, "{psi}");
        assert_eq!(Band::of(psi), Band::Major);
    }

    #[test]
    fn when_bins_are_empty_should_psi_stay_finite_with_the_epsilon() {
        // Expected empty, actual full and the other way round: the floor keeps both finite.
        let psi = psi(&[1.0, 0.0], &[0, 10]).unwrap();
        let known = (1.0 - EPSILON) * (1.0 / EPSILON).ln() * 2.0;
        assert!(psi.is_finite() && (psi - known).abs() < 1e-9, "{psi} vs {known}");
        // No value counted: nothing to say.
        assert_eq!(super::psi(&[0.5, 0.5], &[0, 0]), None);
        assert_eq!(Histogram::new(uniform_baseline()).psi(), None);
        // A baseline with no present values: present live values still count as a shift.
        let all_missing = BaselineHistogram { missing_share: 1.0, edges: vec![], shares: vec![] };
        assert!(counted(all_missing.clone(), [f64::NAN; 10]).psi().unwrap() < 1e-12);
        assert!(counted(all_missing, [1.0; 10]).psi().unwrap() > 0.25);
    }

    #[test]
    fn when_the_missing_share_shifts_should_psi_count_it() {
        let baseline = BaselineHistogram { missing_share: 0.5, ..uniform_baseline() };
        let present = (0..500).map(f64::from).map(|i| i * 2.0);
        let same = counted(baseline.clone(), present.clone().chain([f64::NAN; 500]));
        assert_eq!(same.missing(), 500);
        assert!(same.psi().unwrap() < 1e-12);
        // Same present distribution, but only 10 % missing instead of 50 %.
        let fewer_missing = counted(baseline, present.clone().chain(present).chain([f64::NAN; 111]));
        let psi = fewer_missing.psi().unwrap();
        assert!(psi > 0.25, "{psi}");
    }

    #[test]
    fn when_baselines_come_from_metadata_should_follow_feature_order_and_reject_gaps() {
        let model = crate::model::FraudModel::embedded().unwrap();
        let baselines = Baselines::from_metadata(model.metadata()).unwrap();
        let names: Vec<&str> = baselines.features.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, crate::features::names().collect::<Vec<_>>());
        assert!(baselines.score.is_some(), "the committed model has a score baseline");

        let mut older = model.metadata().clone();
        older.baseline_score_histogram = serde_json::Value::Null;
        assert!(Baselines::from_metadata(&older).unwrap().score.is_none());
        if let Some(all) = older.baseline_histograms.as_object_mut() {
            all.remove("data_mb");
        }
        assert_eq!(Baselines::from_metadata(&older).unwrap_err(), DriftError::MissingFeature("data_mb".into()));
        older.baseline_histograms = serde_json::Value::Null;
        assert_eq!(Baselines::from_metadata(&older).unwrap_err(), DriftError::NoBaselines);
    }

    #[test]
    fn when_a_baseline_is_checked_should_its_shares_add_up() {
        assert_eq!(uniform_baseline().validate(), Ok(()));
        // Rounded as train.py writes them.
        let thirds =
            BaselineHistogram { missing_share: 0.0, edges: vec![0.0, 1.0, 2.0, 3.0], shares: vec![0.333333; 3] };
        assert_eq!(thirds.validate(), Ok(()));
        let all_missing = BaselineHistogram { missing_share: 1.0, edges: vec![], shares: vec![] };
        assert_eq!(all_missing.validate(), Ok(()));
        let half = BaselineHistogram { shares: vec![0.05; 10], ..uniform_baseline() };
        assert!(half.validate().unwrap_err().contains("add up to 0.5"), "{:?}", half.validate());
        let no_bins = BaselineHistogram { missing_share: 0.0, edges: vec![], shares: vec![] };
        assert!(no_bins.validate().unwrap_err().contains("no bins"), "{:?}", no_bins.validate());
    }

    #[test]
    fn when_a_monitor_sees_rows_should_report_every_feature_sorted_with_bands() {
        let a = uniform_baseline();
        let b = BaselineHistogram { missing_share: 0.2, ..uniform_baseline() };
        let baselines = Baselines { features: vec![("a".into(), a.clone()), ("b".into(), b)], score: Some(a) };
        let mut monitor = DriftMonitor::new(&baselines);
        assert_eq!(monitor.report().unwrap_err(), DriftError::NoObservations);
        for i in 0..1000 {
            // a as in training; b never missing and all in the top bin; the score as in training.
            monitor.add(&[i as f32, 999.0], i as f32);
        }
        let report = monitor.report().unwrap();
        assert_eq!(report.events, 1000);
        assert_eq!(report.features.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!((report.features[0].band, report.features[1].band), (Band::Major, Band::Stable));
        assert_eq!(report.score.map(|s| s.band), Some(Band::Stable));
        let json = serde_json::to_value(&report.features[0]).unwrap();
        assert_eq!(json["band"], "major");
    }

    #[test]
    fn when_a_window_fills_should_report_it_alone_and_start_afresh() {
        let a = uniform_baseline();
        let baselines = Baselines { features: vec![("a".into(), a.clone())], score: Some(a) };
        let mut window = DriftWindow::new(&baselines, 1000);
        // First window: all in the top bin (major); second: as in training (stable).
        let first: Vec<_> = (0..1000).filter_map(|_| window.add(&[999.0], 999.0)).collect();
        let second: Vec<_> = (0..1000).filter_map(|i| window.add(&[i as f32], i as f32)).collect();
        assert_eq!((first.len(), second.len()), (1, 1));
        assert_eq!((first[0].events, first[0].features[0].band), (1000, Band::Major));
        assert_eq!((second[0].events, second[0].features[0].band), (1000, Band::Stable), "{:?}", second[0]);
        assert!(second[0].features[0].psi < 1e-9, "identical distributions: {:?}", second[0]);
    }

    #[test]
    fn when_ranking_features_should_put_the_ones_the_trees_split_on_most_first() {
        let model = crate::model::FraudModel::embedded().unwrap();
        let top = model.top_features(10);
        assert_eq!(top.len(), 10);
        let cover = model.booster().total_cover();
        let index = |name: &str| crate::features::names().position(|n| n == name).unwrap();
        let covers: Vec<f64> = top.iter().map(|n| cover[index(n)]).collect();
        assert!(covers.windows(2).all(|w| w[0] >= w[1]), "{top:?} {covers:?}");
        let least = cover.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(covers[9] > least, "not every feature ties: {covers:?}");
    }

    #[test]
    fn when_psi_is_on_a_boundary_should_band_as_documented() {
        assert_eq!(Band::of(0.0), Band::Stable);
        assert_eq!(Band::of(0.0999), Band::Stable);
        assert_eq!(Band::of(0.1), Band::Moderate);
        assert_eq!(Band::of(0.25), Band::Moderate);
        assert_eq!(Band::of(0.2501), Band::Major);
    }
}
