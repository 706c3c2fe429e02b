use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use roamguard::decision::ThresholdsFile;
use roamguard::evaluation::{self, Observation, OperatingPoint, Targets};
use roamguard::labels::Label;
use roamguard::pipeline::Pipeline;
use roamguard::verdict::Verdict;

use super::jsonl;
use super::ports;
use super::score::{self, ModelArgs};

/// Choose the REVIEW and BLOCK thresholds on the operator's own labelled history.
///
/// Replays the history through the same pipeline as `score` (live state built in event order,
/// the same features and model), then picks the lowest thresholds whose decisions stay within
/// the false-positive rates on its legitimate events:
///   --flag-fpr   legitimate events flagged (REVIEW or BLOCK), e.g. 0.005 = 0.5 %
///   --block-fpr  legitimate events BLOCKed, e.g. 0.0005 = 0.05 %
/// A BLOCK needs an earlier flagged event of the subscriber (the model's escalation rule), so
/// the BLOCK threshold is searched on the replayed decisions, not on scores alone.
/// Events without a label count as legitimate. --since calibrates on the events from that time
/// on only: every event is still replayed in order, so the earlier ones build the live state
/// (the subscriber's history and earlier flags, as `evaluate --since` counts them), but only the
/// later ones choose the thresholds and are counted (e.g. the validation days of a history whose
/// earlier days trained the model).
/// Prints the operating point reached (the figures of `roamguard evaluate`) and writes the
/// thresholds file (Thresholds v1) that `score`, `serve`, `demo` (--thresholds) and the Lambdas
/// (THRESHOLDS_URI) read.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub history: LabelledHistory,
    /// Calibrate on the events at or after this time only (RFC 3339); the earlier ones are
    /// replayed to build the live state.
    #[arg(long)]
    pub since: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Target share of legitimate events BLOCKed.
    #[arg(long, default_value_t = 0.0005)]
    pub block_fpr: f64,
    /// Target share of legitimate events flagged (REVIEW or BLOCK).
    #[arg(long, default_value_t = 0.005)]
    pub flag_fpr: f64,
    /// Where to write the thresholds file.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Labelled traffic: profiles, events and what is known about them.
#[derive(clap::Args)]
pub struct LabelledHistory {
    /// Subscriber profiles (JSON Lines, SubscriberProfile v1).
    #[arg(long)]
    pub profiles: PathBuf,
    /// Events (JSON Lines, RoamingEvent v1), in arrival order.
    #[arg(long)]
    pub events: PathBuf,
    /// Labels (JSON Lines, Label v1: {"event_id", "fraud", "fraud_type"?}); events without one
    /// are legitimate.
    #[arg(long)]
    pub labels: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let (mut observations, labels) = replay(&model, &args.history)?;
    let replayed = observations.len();
    let since = args.since.map(|s| s.timestamp());
    let counted = |o: &Observation| since.is_none_or(|s| o.event_time >= s);
    let calibration_events = observations.iter().filter(|o| counted(o)).count();
    if let Some(s) = &args.since {
        anyhow::ensure!(
            calibration_events > 0,
            "no event at or after --since {} ({replayed} events replayed): nothing to calibrate on",
            rfc3339(s)
        );
    }
    let targets = Targets { flag_fpr: args.flag_fpr, block_fpr: args.block_fpr };
    let policy = evaluation::calibrate(&mut observations, targets, model.policy().escalation, since)?;
    observations.retain(|o| counted(o));
    let labelled = observations.iter().filter(|o| labels.contains_key(&o.event_id)).count();
    let point = OperatingPoint::of(&observations);
    let since_text = args.since.as_ref().map(rfc3339);
    let mut calibration = serde_json::json!({
        "targets": targets,
        "events": calibration_events,
        "labelled_events": labelled,
        "operating_point": point,
    });
    if let Some(s) = &since_text {
        calibration["since"] = serde_json::json!(s);
        calibration["replayed_events"] = serde_json::json!(replayed);
    }
    let file = ThresholdsFile {
        model_version: Some(model.version().to_string()),
        review: policy.thresholds.review,
        block: policy.thresholds.block,
        escalation: policy.escalation,
        calibration: Some(calibration),
    };
    let json = serde_json::to_string_pretty(&file).context("writing the thresholds")?;
    std::fs::write(&args.out, json + "\n").with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "REVIEW at score ≥ {:.6}, BLOCK at score ≥ {:.6} (after {} earlier flag(s) within {} h) for model {}",
        policy.thresholds.review,
        policy.thresholds.block,
        policy.escalation.earlier_flags,
        policy.escalation.window_hours,
        model.version()
    );
    match &since_text {
        Some(s) => println!(
            "calibrated on {calibration_events} events at or after {s} ({labelled} labelled; {replayed} events replayed)"
        ),
        None => println!("calibrated on {calibration_events} events ({labelled} labelled)"),
    }
    println!("operating point on these events:");
    print!("{}", point_text(&point));
    println!("wrote {}", args.out.display());
    Ok(())
}

/// `2026-06-02T00:00:00Z` (an offset other than UTC is kept).
fn rfc3339(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Scores `events` through the pipeline and joins the verdicts with their labels, in each
/// subscriber's event order. Returns the observations and the labels read.
pub fn replay(
    model: &std::sync::Arc<roamguard::model::FraudModel>,
    history: &LabelledHistory,
) -> anyhow::Result<(Vec<Observation>, HashMap<String, Label>)> {
    let path = &history.labels;
    let labels = jsonl::read_labels(path)?;
    let profiles = jsonl::read_profiles(&history.profiles)?;
    let ports = ports::replay_ports(model.clone(), profiles, score::VERDICTS_IN_MEMORY)?;
    let pipeline = Pipeline::new(model.clone(), ports);
    let stats = score::run_file(&pipeline, &history.events, 500, score::default_threads(), true)?;
    if stats.counts.dead_letters > 0 {
        eprintln!("{} records could not be scored (invalid) and are left out", stats.counts.dead_letters);
    }
    anyhow::ensure!(stats.counts.retries == 0, "{} records could not be scored", stats.counts.retries);
    let observations = observe(&stats.verdicts, &labels);
    let labelled = observations.iter().filter(|o| labels.contains_key(&o.event_id)).count();
    if labelled < labels.len() {
        eprintln!("{} labels match no scored event", labels.len() - labelled);
    }
    Ok((observations, labels))
}

/// Verdicts with their labels. A worker's verdicts keep file order, and each subscriber is
/// scored by one worker: the order per subscriber (all that decisions and episodes need) holds.
pub fn observe(verdicts: &[Verdict], labels: &HashMap<String, Label>) -> Vec<Observation> {
    verdicts
        .iter()
        .map(|v| {
            let label = labels.get(&v.event_id);
            Observation {
                event_time: v.event_time.timestamp(),
                score: v.score,
                decision: v.decision,
                fraud: label.is_some_and(|l| l.fraud),
                fraud_type: label.filter(|l| l.fraud).and_then(|l| l.fraud_type.clone()),
                event_id: v.event_id.clone(),
                imsi: v.imsi.clone(),
            }
        })
        .collect()
}

/// The operating point as indented text lines.
pub fn point_text(point: &OperatingPoint) -> String {
    let mut out = String::new();
    for row in point.markdown_rows().lines() {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        if let [name, value] = cells[..] {
            out.push_str(&format!("   {name}: {value}\n"));
        }
    }
    for t in &point.by_type {
        let flag = t.median_events_to_flag.map_or("–".to_string(), |m| format!("{m:.1}"));
        out.push_str(&format!(
            "   {}: {} of {} episodes caught, {} blocked; first flag at event {flag} (median)\n",
            t.fraud_type, t.caught, t.episodes, t.blocked
        ));
    }
    out
}
