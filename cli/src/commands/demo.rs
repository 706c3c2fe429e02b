use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use roamguard::evaluation::OperatingPoint;
use roamguard::labels::Label;
use roamguard::model::FraudModel;
use roamguard::pipeline::{Pipeline, Ports, Replays};
use roamguard::verdict::{Decision, Verdict};
use roamguard_local::metered::{Footprint, Metered};
use roamguard_sim::{self as generator, GeneratorConfig, WorldParams};

use super::calibrate::{self, LabelledHistory};
use super::ports;
use super::score::{self, ChallengerArgs, ModelArgs};

/// Run the whole job end to end on embedded defaults and print a readable report.
///
/// 1. generates a labelled roaming data set (every fraud type present),
/// 2. scores it through the embedded pipeline (in-memory profiles and live state, the built-in
///    XGBoost model, decision rules, the SQLite verdict table, JSON Lines stream and dead letters),
/// 3. compares verdicts with the truth, as customers and the fraud team would feel it: PR-AUC,
///    legitimate events and subscribers BLOCKed and flagged, fraud events BLOCKed and flagged,
///    episodes caught per fraud type and the events to the first flag; the reasons most given,
/// 4. does the same on other worlds (other populations, never the demo's) so that the figures
///    are not only those of the world the model knows best.
///
/// Files land in --out: profiles.jsonl, events.jsonl, labels.jsonl, verdicts.db, verdicts.jsonl,
/// dead-letters.jsonl, and world-N/ for the other worlds. Explore them afterwards with
/// `roamguard verdicts --db <out>/verdicts.db`.
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
    /// World of the main run (see `roamguard generate --help`).
    #[arg(long, default_value_t = 0)]
    world: u64,
    /// Other worlds to report on (comma-separated; empty for none). 11 calibrated the committed
    /// thresholds, 12 was never seen in training or calibration.
    #[arg(long, default_value = "11,12", value_parser = parse_worlds)]
    other_worlds: Worlds,
    /// Subscribers per other world (3 days each).
    #[arg(long, default_value_t = 1000)]
    other_subscribers: usize,
    /// Output directory.
    #[arg(long, short, default_value = "out/demo")]
    out: PathBuf,
    /// Records per pipeline batch.
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
    /// Analysts' rules and lists (YAML, docs/rules.md), applied after the model in the main run
    /// (the other worlds are the model's alone).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
    // In the main run.
    #[command(flatten)]
    challenger: ChallengerArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.subscribers > 0 && args.days > 0, "--subscribers and --days must be at least 1");
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    let model = args.model.load()?;
    let rules = super::rules::active(args.rules.as_deref())?;
    println!("RoamGuard demo — model {}", model.version());
    if let Some(path) = &args.rules {
        println!("rules {}: {}", path.display(), super::rules::describe(&rules.get()));
    }
    println!();

    let started = Instant::now();
    let cfg = GeneratorConfig {
        subscribers: args.subscribers,
        days: args.days,
        seed: args.seed,
        world: args.world,
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
        dataset.profiles,
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
    let pipeline = Pipeline::new(model.clone(), ports)
        .with_replays(Replays::AskLiveState)
        .with_mode(args.model.mode)
        .with_rules(rules);
    let pipeline = args.challenger.attach(pipeline)?;
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

    let labels = read_labels(&args.out)?;
    println!("3. Verdicts against the truth (world {})", args.world);
    print!("{}", calibrate::point_text(&OperatingPoint::of(&calibrate::observe(&stats.verdicts, &labels))));
    print_reasons(&stats.verdicts);
    if !args.other_worlds.0.is_empty() {
        println!();
        println!(
            "4. The same model and thresholds on other worlds ({} subscribers, 3 days each)",
            args.other_subscribers
        );
        for world in &args.other_worlds.0 {
            other_world(&model, *world, &args)?;
        }
    }

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
    println!();
    println!("Open them in the analysts' console (queue, verdicts, subscribers, overview; Ctrl-C stops it):");
    println!(
        "   {me} serve --db {} --profiles {} --history {}",
        db.display(),
        args.out.join("profiles.jsonl").display(),
        args.out.join("events.jsonl").display()
    );
    println!("   then browse http://127.0.0.1:8080/");
    Ok(())
}

/// `--other-worlds`: comma-separated world numbers, or empty for none (`--other-worlds ''`).
#[derive(Clone)]
struct Worlds(Vec<u64>);

fn parse_worlds(text: &str) -> Result<Worlds, String> {
    let worlds = text.split(',').map(str::trim).filter(|w| !w.is_empty()).map(str::parse::<u64>);
    worlds.collect::<Result<_, _>>().map(Worlds).map_err(|e| format!("{e} (a comma-separated list of world numbers)"))
}

fn read_labels(dir: &std::path::Path) -> anyhow::Result<HashMap<String, Label>> {
    super::jsonl::read_labels(&dir.join("labels.jsonl"))
}

fn print_reasons(verdicts: &[Verdict]) {
    let mut reasons: HashMap<&str, usize> = HashMap::new();
    for r in verdicts.iter().flat_map(|v| &v.reasons) {
        *reasons.entry(r.feature.as_str()).or_default() += 1;
    }
    let mut top: Vec<(&str, usize)> = reasons.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!("   reasons given most often on REVIEW and BLOCK verdicts:");
    for (feature, count) in top.iter().take(8) {
        println!("   {count:>9}  {feature}");
    }
}

/// Generates another world into `<out>/world-N` and prints its operating point.
fn other_world(model: &Arc<FraudModel>, world: u64, args: &Args) -> anyhow::Result<()> {
    let cfg = GeneratorConfig {
        subscribers: args.other_subscribers,
        days: 3,
        seed: args.seed,
        world,
        ..GeneratorConfig::default()
    };
    let dir = args.out.join(format!("world-{world}"));
    generator::write_dataset(&generator::generate(&cfg), &dir)
        .with_context(|| format!("writing the data set into {}", dir.display()))?;
    let history = LabelledHistory {
        profiles: dir.join("profiles.jsonl"),
        events: dir.join("events.jsonl"),
        labels: dir.join("labels.jsonl"),
    };
    let (observations, _) = calibrate::replay(model, &history)?;
    println!("   {}", WorldParams::for_world(world));
    print!("{}", calibrate::point_text(&OperatingPoint::of(&observations)));
    Ok(())
}
