use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use roamguard::drift::{Band, DriftMonitor, DriftReport, EPSILON};
use roamguard::features::{FeatureVector, NUM_FEATURES, Replay};
use roamguard::model::FraudModel;
use serde::Serialize;

use super::jsonl::{self, EventLines};
use super::score::ModelDir;

/// Compare traffic with the model's training data: population stability index (PSI) per feature
/// and of the score.
///
/// Replays the events in file order through the profiles and per-subscriber live state (the
/// feature code of `score` and `export-features`), scores every row with the model, and compares
/// each feature's distribution with the baseline histogram in the model's metadata.json (decile
/// edges over the training rows, plus a bin for missing values); the score is compared with the
/// histogram of the model's scores on its training rows. Deciles that tie merge into one bin (a
/// 0/1 flag has a single bin: only its share of missing values can drift).
///   PSI = Σ over bins (actual share − expected share) · ln(actual share / expected share)
/// with empty bins counted as a 0.01 % share. Values outside the training range count in the
/// first or last bin. Bands:
///   stable    PSI < 0.1
///   moderate  0.1 ≤ PSI ≤ 0.25
///   major     PSI > 0.25   (the model sees traffic unlike its training data)
/// Prints the features by PSI, highest first, then the score's line (or that the model has no
/// score baseline). --format json prints
///   {"model_version", "events", "features": [{"name", "psi", "band"}, ...], "score": {"psi", "band"} | null}
/// with one entry per model feature. Events that fail validation are skipped and counted on
/// stderr. Live states start empty, as in training (7-day worlds): on a file of a few days, the
/// features of a subscriber's own history (history_days, *_first_seen_h, *_vs_peak) drift for
/// that reason alone.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Subscriber profiles (JSON Lines, SubscriberProfile v1).
    #[arg(long)]
    pub profiles: PathBuf,
    /// Events (JSON Lines, RoamingEvent v1), in arrival order.
    #[arg(long)]
    pub events: PathBuf,
    #[command(flatten)]
    pub model: ModelDir,
    /// `table` (text) or `json`.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The JSON output: `DriftReport` with the model's version in front.
#[derive(Serialize)]
struct Output<'a> {
    model_version: &'a str,
    #[serde(flatten)]
    report: &'a DriftReport,
}

/// Rows scored at a time with the booster's batch prediction.
const BATCH_ROWS: usize = 4096;

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let mut replay = Replay::new(jsonl::read_profiles(&args.profiles)?);
    let (report, invalid) = measure(&model, &mut replay, &args.events)?;
    if invalid > 0 {
        eprintln!("{invalid} invalid events skipped");
    }
    match args.format {
        Format::Json => {
            let out = Output { model_version: model.version(), report: &report };
            println!("{}", serde_json::to_string(&out).context("writing the report")?);
        }
        Format::Table => print!("{}", table(model.version(), &report)),
    }
    Ok(())
}

/// Feature rows of the events of `path` (the pipeline's feature code, in file order, through
/// `replay`'s live states) and their scores, counted against the model's baselines. Returns the
/// report and the number of invalid events; `replay` keeps the live states the events left.
pub fn measure(model: &FraudModel, replay: &mut Replay, path: &Path) -> anyhow::Result<(DriftReport, usize)> {
    let mut monitor = DriftMonitor::new(model.baselines());
    let mut lines = EventLines::open(path)?;
    let progress = std::io::stderr().is_terminal();
    let (started, mut last_progress) = (Instant::now(), Instant::now());
    let mut invalid = 0usize;
    let mut rows: Vec<f32> = Vec::with_capacity(BATCH_ROWS * NUM_FEATURES);
    let mut scores = Vec::with_capacity(BATCH_ROWS);
    let mut flush = |rows: &mut Vec<f32>, monitor: &mut DriftMonitor| {
        model.booster().predict_proba_batch(rows, &mut scores);
        for (row, &score) in rows.chunks_exact(NUM_FEATURES).zip(&scores) {
            monitor.add(row, score);
        }
        rows.clear();
    };
    while let Some(event) = lines.next_event(&mut invalid) {
        let row: FeatureVector = replay.next(&event?);
        rows.extend_from_slice(&row);
        if rows.len() == BATCH_ROWS * NUM_FEATURES {
            flush(&mut rows, &mut monitor);
        }
        if progress && last_progress.elapsed() > Duration::from_millis(200) {
            last_progress = Instant::now();
            let pct = lines.percent_read();
            let rate = monitor.rows() as f64 / started.elapsed().as_secs_f64().max(1e-9);
            eprint!("\r  drift: {pct:>5.1}%  {} events  {rate:.0} events/s   ", monitor.rows());
        }
    }
    flush(&mut rows, &mut monitor);
    if progress {
        eprint!("\r{}\r", " ".repeat(70));
    }
    let report = monitor.report().with_context(|| format!("no valid events in {}", path.display()))?;
    Ok((report, invalid))
}

fn table(model_version: &str, report: &DriftReport) -> String {
    let mut out = format!(
        "drift of {} events against the training baselines of model {model_version} (PSI; empty bins as {EPSILON})\n",
        report.events
    );
    let width = report.features.iter().map(|f| f.name.len()).max().unwrap_or(0).max("feature".len());
    out.push_str(&format!("{:<width$}  {:>8}  band\n", "feature", "PSI"));
    for f in &report.features {
        out.push_str(&format!("{:<width$}  {:>8.4}  {}\n", f.name, f.psi, f.band.as_str()));
    }
    match &report.score {
        Some(s) => out.push_str(&format!("{:<width$}  {:>8.4}  {}\n", "score", s.psi, s.band.as_str())),
        None => out.push_str("score: no baseline in the model's metadata (baseline_score_histogram missing)\n"),
    }
    let count = |band| report.features.iter().filter(|f| f.band == band).count();
    out.push_str(&format!(
        "{} features major (PSI > 0.25), {} moderate (0.1–0.25), {} stable (< 0.1)\n",
        count(Band::Major),
        count(Band::Moderate),
        count(Band::Stable)
    ));
    out
}
