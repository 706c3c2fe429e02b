use roamguard::decision::{DecisionPolicy, Escalation};
use roamguard::evaluation::{self, Observation, OperatingPoint};

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
/// Beside the figures, what the BLOCK escalation (a BLOCK needs an earlier flag of the same
/// subscriber) costs and saves: the same scores decided as if one high score were enough.
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
    let (observations, _) = replay(&model, &args.history)?;
    let policy = model.policy();
    let single_score = DecisionPolicy { escalation: Escalation::NONE, ..*policy };
    let since = args.since.map(|s| s.timestamp());
    let point = point_since(observations.clone(), since);
    let without = {
        let mut o = observations;
        evaluation::decide_all(&mut o, &single_score);
        point_since(o, since)
    };
    let t = model.thresholds();
    let e = policy.escalation;
    let rule = format!("BLOCK after {} earlier flag(s) within {} h", e.earlier_flags, e.window_hours);
    if args.markdown {
        println!("| | {rule} | a single score BLOCKs |\n|---|---:|---:|");
        println!("| thresholds | REVIEW ≥ {:.4}, BLOCK ≥ {:.4} | same |", t.review, t.block);
        print!("{}", side_by_side(&point.markdown_rows(), &without.markdown_rows()));
        println!();
        print!("{}", point.markdown_by_type());
    } else {
        println!("model {}, REVIEW at ≥ {:.6}, BLOCK at ≥ {:.6}, {rule}", model.version(), t.review, t.block);
        print!("{}", point_text(&point));
        println!(
            "if a single score BLOCKed: {:.3} % of legitimate events BLOCKed ({}), {:.2} % of legitimate subscribers, {:.2} % of fraud events",
            without.legit_blocked_pct(),
            without.legit_blocked,
            without.legit_subscribers_blocked_pct(),
            without.fraud_blocked_pct()
        );
    }
    Ok(())
}

fn point_since(mut observations: Vec<Observation>, since: Option<i64>) -> OperatingPoint {
    if let Some(since) = since {
        observations.retain(|o| o.event_time >= since);
    }
    OperatingPoint::of(&observations)
}

/// Two `| name | value |` tables as one `| name | a | b |` table.
fn side_by_side(a: &str, b: &str) -> String {
    a.lines()
        .zip(b.lines())
        .map(|(ra, rb)| {
            let value = rb.trim_end_matches('|').rsplit('|').next().unwrap_or("").trim();
            format!("{ra} {value} |\n")
        })
        .collect()
}
