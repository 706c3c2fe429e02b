use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use roamguard_sim::{self as generator, GeneratorConfig, WorldParams};

/// Generate labelled synthetic roaming traffic.
///
/// Writes three JSON Lines files into --out: profiles.jsonl (SubscriberProfile v1, one per
/// subscriber), events.jsonl (RoamingEvent v1, time-ordered) and labels.jsonl (per event: fraud or
/// not, and the fraud type). Normal personas (business travellers, holiday makers, heavy data
/// users, border commuters, light users) are mixed with injected fraud episodes (irsf, simbox,
/// wangiri, data_abuse, impossible_travel, device_swap). The same seed and world give the same
/// files.
///
/// --world picks how the population behaves. World 0 is the default world. Any other value
/// draws a different world: persona mix, usage levels, call lengths, data volumes, trips,
/// active hours, device changes and fraud loudness from wide ranges, plus legitimate
/// look-alikes of every fraud type (phone changes with a setup burst, conference days, night
/// workers, multi-GB tourists, data-only eSIMs, border hoppers, long calls home, diaspora
/// evenings). The world's parameters depend on its number only, not on --seed. Train the model
/// on several worlds and validate it on a held-out one. The parameters drawn are printed on
/// stderr in one line.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Number of subscribers.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Days of traffic.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Random seed (same seed, same data).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// World whose behaviour to generate: 0 = the default world; other values draw a different
    /// world (train on several, validate on a held-out one).
    #[arg(long, default_value_t = 0)]
    world: u64,
    /// Share of subscribers that get a fraud episode (0–1).
    #[arg(long, default_value_t = GeneratorConfig::default().fraud_share)]
    fraud_share: f64,
    /// First day of traffic (RFC 3339).
    #[arg(long, default_value = "2026-06-01T00:00:00Z")]
    start: chrono::DateTime<chrono::Utc>,
    /// Output directory (created if missing).
    #[arg(long, short, default_value = "data")]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.subscribers > 0, "--subscribers must be at least 1");
    anyhow::ensure!(args.days > 0, "--days must be at least 1");
    anyhow::ensure!((0.0..=1.0).contains(&args.fraud_share), "--fraud-share must be within 0–1");
    let cfg = GeneratorConfig {
        subscribers: args.subscribers,
        days: args.days,
        seed: args.seed,
        start: args.start,
        fraud_share: args.fraud_share,
        world: args.world,
    };
    eprintln!("{}", WorldParams::for_world(args.world));
    let started = Instant::now();
    let dataset = generator::generate(&cfg);
    let summary = generator::write_dataset(&dataset, &args.out)
        .with_context(|| format!("writing the data set into {}", args.out.display()))?;
    eprintln!("{summary}");
    eprintln!("wrote {} in {:.1} s", args.out.display(), started.elapsed().as_secs_f64());
    Ok(())
}
