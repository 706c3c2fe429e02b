use roamguard::evaluation::OperatingPoint;

use super::calibrate::{LabelledHistory, point_text, replay};
use super::score::ModelArgs;

/// Show what customers would feel: score labelled traffic and report the operating point.
///
/// Replays the events through the pipeline (as `score` does) with the model and thresholds
/// given, and reports: PR-AUC; legitimate events BLOCKed and flagged; legitimate subscribers
/// BLOCKed and flagged at least once; fraud events BLOCKed and flagged; per fraud type, episodes
/// (a subscriber's fraudulent events of one type) caught and the events to the first flag.
/// Events without a label count as legitimate. --since reports only the events from that time
/// on, the earlier ones still building the live state (e.g. the days after a calibration day).
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub history: LabelledHistory,
    /// Report only events at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Print Markdown tables (for a report) instead of text.
    #[arg(long)]
    pub markdown: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let (mut observations, _) = replay(&model, &args.history)?;
    if let Some(since) = args.since {
        observations.retain(|o| o.event_time >= since.timestamp());
    }
    let point = OperatingPoint::of(&observations);
    let t = model.thresholds();
    if args.markdown {
        println!("| | |\n|---|---|");
        println!("| thresholds | REVIEW ≥ {:.4}, BLOCK ≥ {:.4} |", t.review, t.block);
        print!("{}", point.markdown_rows());
        println!();
        print!("{}", point.markdown_by_type());
    } else {
        println!("model {}, REVIEW at ≥ {:.6}, BLOCK at ≥ {:.6}", model.version(), t.review, t.block);
        print!("{}", point_text(&point));
    }
    Ok(())
}
