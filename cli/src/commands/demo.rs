use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use roamguard::pipeline::{Pipeline, Ports, Replays};
use roamguard::verdict::{Decision, Verdict};
use roamguard_local::metered::{Footprint, Metered};
use roamguard_sim::{self as generator, FraudType, GeneratorConfig};

use super::ports;
use super::score::{self, ModelArgs};

/// Run the whole job end to end on embedded defaults and print a readable report.
///
/// 1. generates a labelled roaming data set (every fraud type present),
/// 2. scores it through the embedded pipeline (in-memory profiles and live state, the built-in
///    XGBoost model, decision rules, the SQLite verdict table, JSON Lines stream and dead letters),
/// 3. compares verdicts with the truth: decisions per fraud type, precision / recall, PR-AUC,
///    the reasons most often given, throughput.
///
/// Files land in --out: profiles.jsonl, events.jsonl, labels.jsonl, verdicts.db, verdicts.jsonl,
/// dead-letters.jsonl. Explore them afterwards with `roamguard verdicts --db <out>/verdicts.db`.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Subscribers to simulate.
    #[arg(long, default_value_t = 2000)]
    subscribers: usize,
    /// Days of traffic.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Random seed (the committed model was trained on seed 1; the default is unseen data).
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Output directory.
    #[arg(long, short, default_value = "out/demo")]
    out: PathBuf,
    /// Records per pipeline batch.
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.subscribers > 0 && args.days > 0, "--subscribers and --days must be at least 1");
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    let model = args.model.load()?;
    println!("RoamGuard demo — model {}", model.version());
    println!();

    let started = Instant::now();
    let cfg = GeneratorConfig {
        subscribers: args.subscribers,
        days: args.days,
        seed: args.seed,
        ..GeneratorConfig::default()
    };
    let dataset = generator::generate(&cfg);
    let summary = generator::write_dataset(&dataset, &args.out)
        .with_context(|| format!("writing the data set into {}", args.out.display()))?;
    println!("1. Generated {} ({:.1} s)", args.out.display(), started.elapsed().as_secs_f64());
    println!("   {summary}");
    println!();

    let db = args.out.join("verdicts.db");
    // A fresh table per demo run; `score` shows the idempotent re-run behaviour.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    // The ports behind meters: what score-stream would store in DynamoDB for this traffic.
    let meter = Arc::new(Mutex::new(Footprint::default()));
    let ports = ports::pipeline_ports(
        model.clone(),
        dataset.profiles.clone(),
        Some(&db),
        None,
        Some(&args.out.join("verdicts.jsonl")),
        &args.out.join("dead-letters.jsonl"),
    )?;
    let ports = Ports {
        subscribers: Arc::new(Metered::new(ports.subscribers, meter.clone())),
        verdict_store: Arc::new(Metered::new(ports.verdict_store, meter.clone())),
        ..ports
    };
    // As score-stream finds replays (the table is new: there are none).
    let pipeline = Pipeline::new(model, ports).with_replays(Replays::AskLiveState).with_mode(args.model.mode);
    let stats =
        score::run_file(&pipeline, &args.out.join("events.jsonl"), args.batch_size, score::default_threads(), true)?;
    println!("2. Scored the events through the embedded pipeline (batches of {})", args.batch_size);
    let mut summary_text = Vec::new();
    stats.print_summary(&mut summary_text)?;
    for line in String::from_utf8_lossy(&summary_text).lines() {
        println!("   {line}");
    }
    let footprint = meter.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let (p50, p99, max) = footprint.state_item_percentiles();
    let units = footprint.per_event(stats.counts.records);
    println!("   in DynamoDB, as score-stream stores it: live-state items p50 {p50} B, p99 {p99} B, max {max} B;");
    println!(
        "   {:.2} read and {:.2} write units per event: ${:.2} per million events (on-demand list prices, 2026-11-27)",
        units.read,
        units.write,
        units.dollars_per_million()
    );
    println!();

    let truth: HashMap<&str, Option<FraudType>> =
        dataset.labels.iter().map(|l| (l.event_id.as_str(), if l.fraud { l.fraud_type } else { None })).collect();
    print_report(&stats.verdicts, &truth);

    println!();
    // Show the command as it can be pasted: this binary, relative to the working directory.
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    let me = match (&exe, &cwd) {
        (Some(exe), Some(cwd)) => exe.strip_prefix(cwd).unwrap_or(exe).display().to_string(),
        _ => "roamguard".to_string(),
    };
    println!("Explore the verdict table:");
    println!("   {me} verdicts --db {} --decision BLOCK --limit 10", db.display());
    if let Some(v) = stats.verdicts.iter().find(|v| v.decision == Decision::Block) {
        println!("   {me} verdicts --db {} --imsi {}", db.display(), v.imsi);
    }
    Ok(())
}

fn print_report(verdicts: &[Verdict], truth: &HashMap<&str, Option<FraudType>>) {
    // Decisions per true class.
    let mut rows: Vec<(String, [usize; 3])> = std::iter::once("normal".to_string())
        .chain(FraudType::ALL.iter().map(|t| t.as_str().to_string()))
        .map(|name| (name, [0; 3]))
        .collect();
    let mut scored: Vec<(f32, bool)> = Vec::with_capacity(verdicts.len());
    let mut reasons: HashMap<&str, usize> = HashMap::new();
    for v in verdicts {
        let class = truth.get(v.event_id.as_str()).copied().flatten();
        let row = match class {
            None => 0,
            Some(t) => 1 + FraudType::ALL.iter().position(|x| *x == t).unwrap_or(0),
        };
        rows[row].1[v.decision as usize] += 1;
        scored.push((v.score, class.is_some()));
        for r in &v.reasons {
            *reasons.entry(r.feature.as_str()).or_default() += 1;
        }
    }
    println!("3. Verdicts against the truth");
    println!("   {:<18} {:>9} {:>9} {:>8} {:>8} {:>9}", "true class", "events", "ALLOW", "REVIEW", "BLOCK", "flagged");
    for (name, [allow, review, block]) in &rows {
        let total = allow + review + block;
        let flagged = if total == 0 { 0.0 } else { (review + block) as f64 * 100.0 / total as f64 };
        println!("   {name:<18} {total:>9} {allow:>9} {review:>8} {block:>8} {flagged:>8.1}%");
    }
    let fraud_total: usize = rows[1..].iter().map(|(_, c)| c.iter().sum::<usize>()).sum();
    let normal = rows[0].1;
    let flagged_fraud: usize = rows[1..].iter().map(|(_, c)| c[1] + c[2]).sum();
    let blocked_fraud: usize = rows[1..].iter().map(|(_, c)| c[2]).sum();
    let pct = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 * 100.0 / b as f64 };
    println!();
    println!(
        "   REVIEW or BLOCK: precision {:.1}%, recall {:.1}%, false-positive rate {:.3}%",
        pct(flagged_fraud, flagged_fraud + normal[1] + normal[2]),
        pct(flagged_fraud, fraud_total),
        pct(normal[1] + normal[2], normal.iter().sum()),
    );
    println!(
        "   BLOCK:           precision {:.1}%, recall {:.1}%, false-positive rate {:.3}%",
        pct(blocked_fraud, blocked_fraud + normal[2]),
        pct(blocked_fraud, fraud_total),
        pct(normal[2], normal.iter().sum()),
    );
    println!("   PR-AUC (average precision of the score): {:.4}", average_precision(&mut scored));
    println!();
    let mut top: Vec<(&str, usize)> = reasons.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!("4. Reasons given most often on REVIEW and BLOCK verdicts");
    for (feature, count) in top.iter().take(8) {
        println!("   {count:>7}  {feature}");
    }
}

/// Step-wise area under the precision-recall curve, ties grouped.
pub fn average_precision(scored: &mut [(f32, bool)]) -> f64 {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = scored.iter().filter(|s| s.1).count();
    if positives == 0 {
        return f64::NAN;
    }
    let (mut tp, mut seen, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < scored.len() {
        let mut j = i;
        while j < scored.len() && scored[j].0 == scored[i].0 {
            tp += usize::from(scored[j].1);
            seen += 1;
            j += 1;
        }
        let recall = tp as f64 / positives as f64;
        ap += (recall - last_recall) * tp as f64 / seen as f64;
        last_recall = recall;
        i = j;
    }
    ap
}

#[cfg(test)]
mod tests {
    use super::average_precision;

    #[test]
    fn when_ranking_is_perfect_should_give_ap_one() {
        assert_eq!(average_precision(&mut [(0.9, true), (0.8, true), (0.1, false)]), 1.0);
    }

    #[test]
    fn when_ranking_is_mixed_should_match_hand_computed_ap() {
        // Ranked: T F T -> precision at the positives 1 and 2/3 -> AP = (1 + 2/3) / 2.
        let ap = average_precision(&mut [(0.9, true), (0.8, false), (0.7, true)]);
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
    }
}
