use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use roamguard::decision::{DecisionMode, ThresholdsFile};
use roamguard::model::FraudModel;
use roamguard::pipeline::{Counts, Outcome, Pipeline, Record, StageTimings};
use roamguard::profile::SubscriberProfile;
use roamguard::verdict::Verdict;

use super::jsonl::{self, EventLines, read_profiles};
use super::ports;

/// Score a JSON Lines file of roaming events with the embedded pipeline.
///
/// Records are read in file order (as they arrive on a Kinesis shard) and scored in batches:
/// decode + validate, profile and live-state lookup, features, model, decision thresholds, then
/// the analysts' rules (--rules). Every record ends as exactly one verdict or one dead letter:
///   --db           the verdict table (SQLite; idempotent by event_id: re-scoring the same
///                  events keeps one row each and returns the stored verdict)
///   --out          the verdict stream (JSON Lines, Verdict v1)
///   --dead-letter  records that can never be scored, with the raw record and the reason
/// A summary goes to stderr: counts per decision, dead letters, blank lines skipped, verdicts
/// decided by a rule and rule evaluation failures (with --rules), events/s, per-event latency
/// and µs per event by pipeline stage.
/// Exits 0 when the run completed, even if some records were dead-lettered.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Subscriber profiles (JSON Lines, SubscriberProfile v1).
    #[arg(long)]
    pub profiles: PathBuf,
    /// Events to score (JSON Lines, RoamingEvent v1), in arrival order.
    #[arg(long)]
    pub events: PathBuf,
    /// Verdict table (SQLite file, created if missing). Without it, the last 100,000 verdicts
    /// are kept in memory: an event_id seen again within 100,000 events gets its first verdict
    /// back ("already scored"); one seen again later is scored again.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Verdict stream output (JSON Lines).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Dead-letter output (JSON Lines).
    #[arg(long, default_value = "dead-letters.jsonl")]
    pub dead_letter: PathBuf,
    /// Records per pipeline batch (a Kinesis batch is up to 10,000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// Scoring workers (default: one a core). Records are shared out by IMSI, so each
    /// subscriber's records are still scored in file order; 1 scores the file in one thread.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: Option<u32>,
    /// Analysts' rules and lists (YAML, docs/rules.md), applied after the model: the first rule
    /// that matches decides. A file that does not compile stops the run, naming the rule.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub challenger: ChallengerArgs,
}

/// Which model: `--model-dir`, with the same help, loading and checks in every command that uses
/// a model (flattened into [`ModelArgs`], and alone where nothing is decided).
#[derive(clap::Args, Clone, Default)]
pub struct ModelDir {
    /// Model directory (model.json + metadata.json, as `make train` writes it; the same as a
    /// Lambda's MODEL_URI prefix), refused unless its metadata is complete and its features are
    /// this build's, in order. Default: the model built into this binary.
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
}

impl ModelDir {
    pub fn load(&self) -> anyhow::Result<FraudModel> {
        match &self.model_dir {
            Some(dir) => FraudModel::from_dir(dir).with_context(|| format!("loading the model from {}", dir.display())),
            None => FraudModel::embedded().context("loading the built-in model"),
        }
    }
}

/// A challenger model beside the champion (`score`, `serve`, `demo`).
#[derive(clap::Args, Clone, Default)]
pub struct ChallengerArgs {
    /// Challenger model directory (checked as --model-dir): scored on every event on the same
    /// features as the champion, its score and its decision (by its own thresholds) recorded on
    /// the verdict as `challenger`. It never decides. `roamguard compare --db` reports how the
    /// two differ.
    #[arg(long, value_name = "DIR")]
    pub challenger_model_dir: Option<PathBuf>,
}

impl ChallengerArgs {
    pub fn load(&self) -> anyhow::Result<Option<Arc<FraudModel>>> {
        let Some(dir) = &self.challenger_model_dir else { return Ok(None) };
        let model = FraudModel::from_dir(dir)
            .with_context(|| format!("loading the challenger model from {}", dir.display()))?;
        eprintln!("challenger model {} (scored beside the champion, never deciding)", model.version());
        Ok(Some(Arc::new(model)))
    }

    /// The pipeline with the challenger, if one was given.
    pub fn attach(&self, pipeline: Pipeline) -> anyhow::Result<Pipeline> {
        Ok(match self.load()? {
            Some(challenger) => pipeline.with_challenger(challenger),
            None => pipeline,
        })
    }
}

/// Which model to use, its decision thresholds, and whether decisions are enforced.
#[derive(clap::Args, Clone, Default)]
pub struct ModelArgs {
    #[command(flatten)]
    pub dir: ModelDir,
    /// Thresholds file (Thresholds v1, as `roamguard calibrate` writes it) instead of the
    /// model's own; refused if it was calibrated for another model.
    #[arg(long, value_name = "FILE")]
    pub thresholds: Option<PathBuf>,
    /// Override the REVIEW threshold (0–1), after --thresholds.
    #[arg(long)]
    pub review_threshold: Option<f32>,
    /// Override the BLOCK threshold (0–1), after --thresholds.
    #[arg(long)]
    pub block_threshold: Option<f32>,
    /// `enforce`, or `shadow`: verdicts carry the decision the system would take, marked
    /// `"enforced": false` (run in shadow, label, calibrate, then enforce).
    #[arg(long, default_value = "enforce", value_parser = parse_mode)]
    pub mode: DecisionMode,
}

fn parse_mode(text: &str) -> Result<DecisionMode, String> {
    DecisionMode::parse(text).map_err(|e| e.to_string())
}

impl ModelArgs {
    pub fn load(&self) -> anyhow::Result<Arc<FraudModel>> {
        let mut model = self.dir.load()?;
        if let Some(path) = &self.thresholds {
            let policy =
                read_thresholds(path)?.policy_for(model.version()).with_context(|| path.display().to_string())?;
            model = model.with_policy(policy);
        }
        Ok(Arc::new(model.with_threshold_overrides(self.review_threshold, self.block_threshold)?))
    }
}

pub fn read_thresholds(path: &Path) -> anyhow::Result<ThresholdsFile> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    ThresholdsFile::from_json(&bytes).with_context(|| path.display().to_string())
}

/// What a scoring run produced.
#[derive(Default)]
pub struct RunStats {
    pub counts: Counts,
    pub timings: StageTimings,
    pub elapsed: Duration,
    /// Per-event latency (the time its batch took), sorted.
    pub latencies: Vec<Duration>,
    pub verdicts: Vec<Verdict>,
    /// Empty or whitespace-only lines of the events file: skipped, not records.
    pub blank_lines: usize,
    /// The analysts' rules in force at the end of the run; None without rules.
    pub rules: Option<RulesUsed>,
}

/// Which rules a run applied and how often each one failed to evaluate.
pub struct RulesUsed {
    pub version: String,
    /// Per rule id, in file order: evaluations that failed (the rule did not match).
    pub failures: Vec<(String, u64)>,
}

impl RunStats {
    /// Adds a worker's share.
    fn merge(&mut self, other: RunStats) {
        self.counts.add(&other.counts);
        self.timings.add(&other.timings);
        self.latencies.extend(other.latencies);
        self.verdicts.extend(other.verdicts);
        self.blank_lines += other.blank_lines;
    }

    pub fn events_per_sec(&self) -> f64 {
        self.counts.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub fn latency_quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[i]
    }
    pub fn print_summary(&self, out: &mut impl Write) -> std::io::Result<()> {
        let c = &self.counts;
        writeln!(
            out,
            "scored {} records in {:.2} s: {} ALLOW, {} REVIEW, {} BLOCK, {} dead-lettered, {} to retry{}{}",
            c.records,
            self.elapsed.as_secs_f64(),
            c.allow,
            c.review,
            c.block,
            c.dead_letters,
            c.retries,
            if c.replayed > 0 {
                format!(", {} already scored (stored verdict returned)", c.replayed)
            } else {
                String::new()
            },
            if c.degraded > 0 { format!(", {} degraded", c.degraded) } else { String::new() },
        )?;
        if let Some(rules) = &self.rules {
            let failing: Vec<String> =
                rules.failures.iter().filter(|(_, n)| *n > 0).map(|(id, n)| format!("{id} {n}")).collect();
            writeln!(
                out,
                "rules {}: {} verdict{} decided by a rule, {} rule evaluation failure{}{}",
                rules.version,
                c.decided_by_rule,
                if c.decided_by_rule == 1 { "" } else { "s" },
                c.rule_failures,
                if c.rule_failures == 1 { "" } else { "s" },
                if failing.is_empty() {
                    String::new()
                } else {
                    format!(" ({}; a failing rule does not match)", failing.join(", "))
                },
            )?;
        }
        if self.blank_lines > 0 {
            let s = if self.blank_lines == 1 { "" } else { "s" };
            writeln!(out, "{} blank line{s} skipped (not records)", self.blank_lines)?;
        }
        writeln!(
            out,
            "throughput {:.0} events/s; per-event latency p50 {:.2} ms, p99 {:.2} ms (time of the event's batch)",
            self.events_per_sec(),
            self.latency_quantile(0.5).as_secs_f64() * 1e3,
            self.latency_quantile(0.99).as_secs_f64() * 1e3,
        )?;
        let n = self.counts.records.max(1) as f64;
        let stages: Vec<String> = self
            .timings
            .stages()
            .iter()
            .filter(|(_, d)| !d.is_zero())
            .map(|(name, d)| format!("{name} {:.2}", d.as_secs_f64() * 1e6 / n))
            .collect();
        writeln!(out, "µs per event by stage: {}", stages.join(", "))
    }
}

/// Feeds the lines of `events` through the pipeline in batches, on `threads` workers;
/// `keep_verdicts` retains the verdicts for a report.
///
/// Records are routed to a worker by their IMSI, so each subscriber's records are scored by one
/// worker, in file order (as a Kinesis shard keeps them): its live state sees them in order, and
/// no two workers touch the same subscriber. The verdict stream then holds each batch's verdicts
/// together, batches of different workers interleaved.
pub fn run_file(
    pipeline: &Pipeline,
    events: &Path,
    batch_size: usize,
    threads: usize,
    keep_verdicts: bool,
) -> anyhow::Result<RunStats> {
    let mut lines = EventLines::open(events)?;
    let progress = std::io::stderr().is_terminal();
    let threads = threads.max(1);
    let started = Instant::now();
    let mut stats = std::thread::scope(|scope| -> anyhow::Result<RunStats> {
        let (senders, workers): (Vec<_>, Vec<_>) = (0..threads)
            .map(|_| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<(String, Vec<u8>)>>(2);
                (tx, scope.spawn(move || score_batches(pipeline, &rx, keep_verdicts)))
            })
            .unzip();
        let mut pending: Vec<Vec<(String, Vec<u8>)>> = (0..threads).map(|_| Vec::with_capacity(batch_size)).collect();
        let mut blank_lines = 0usize;
        let mut last_progress = Instant::now();
        while let Some(buf) = lines.next() {
            let buf = buf?;
            if jsonl::is_blank(&buf) {
                blank_lines += 1;
                continue;
            }
            let line_no = lines.line_number();
            let shard = shard_of(&buf, threads);
            pending[shard].push((format!("line {line_no}"), buf));
            if pending[shard].len() == batch_size {
                let batch = std::mem::replace(&mut pending[shard], Vec::with_capacity(batch_size));
                // A worker that stopped has failed: its error comes from the join below.
                let _ = senders[shard].send(batch);
            }
            if progress && last_progress.elapsed() > Duration::from_millis(200) {
                last_progress = Instant::now();
                let pct = lines.percent_read();
                let rate = line_no as f64 / started.elapsed().as_secs_f64().max(1e-9);
                eprint!("\r  scoring: {pct:>5.1}%  {line_no} lines  {rate:.0} lines/s   ");
            }
        }
        for (sender, batch) in senders.iter().zip(pending) {
            if !batch.is_empty() {
                let _ = sender.send(batch);
            }
        }
        drop(senders);
        let mut stats = RunStats { blank_lines, ..RunStats::default() };
        for worker in workers {
            let done = worker.join().map_err(|_| anyhow::anyhow!("a scoring worker panicked"))??;
            stats.merge(done);
        }
        Ok(stats)
    })?;
    if progress {
        eprint!("\r{}\r", " ".repeat(70));
    }
    stats.elapsed = started.elapsed();
    stats.latencies.sort_unstable();
    let rules = pipeline.rules().get();
    stats.rules = rules.version().map(|version| RulesUsed {
        version: version.to_string(),
        failures: rules.failures().into_iter().map(|(id, n)| (id.to_string(), n)).collect(),
    });
    Ok(stats)
}

/// One worker: scores the batches it is sent until the reader is done.
fn score_batches(
    pipeline: &Pipeline,
    batches: &std::sync::mpsc::Receiver<Vec<(String, Vec<u8>)>>,
    keep_verdicts: bool,
) -> anyhow::Result<RunStats> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().context("starting the async runtime")?;
    let mut stats = RunStats::default();
    for lines in batches {
        let records: Vec<Record<'_>> = lines.iter().map(|(p, d)| Record::new(p, d)).collect();
        let batch_started = Instant::now();
        let report = runtime.block_on(pipeline.process(&records));
        let took = batch_started.elapsed();
        stats.latencies.extend(std::iter::repeat_n(took, records.len()));
        stats.counts.add(&report.counts);
        stats.timings.add(&report.timings);
        if keep_verdicts {
            stats.verdicts.extend(report.outcomes.into_iter().filter_map(|o| match o {
                Outcome::Verdict(v) => Some(v),
                _ => None,
            }));
        }
    }
    Ok(stats)
}

/// The worker of a record: by its IMSI's hash, read from the raw JSON (`"imsi":"..."`), so a
/// subscriber's records all go to one worker. A record without one (it will be dead-lettered)
/// goes to the first.
fn shard_of(line: &[u8], shards: usize) -> usize {
    if shards == 1 {
        return 0;
    }
    const KEY: &[u8] = b"\"imsi\"";
    let Some(at) = line.windows(KEY.len()).position(|w| w == KEY) else { return 0 };
    let rest = &line[at + KEY.len()..];
    let Some(open) = rest.iter().position(|&b| b == b'"') else { return 0 };
    let value = &rest[open + 1..];
    let end = value.iter().position(|&b| b == b'"').unwrap_or(value.len());
    let text = String::from_utf8_lossy(&value[..end]);
    (roamguard::state::stable_hash(&text) % shards as u64) as usize
}

/// How many workers `score` runs by default: one a core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Verdicts the in-memory table keeps without --db (the most recent ones), so a file of any
/// length scores in bounded memory: ~670 bytes a verdict, ~65 MB in all. Keeping every verdict
/// took 665 MB of peak RSS for 947k events (5,000 subscribers, 7 days), 110 MB with the bound.
pub const VERDICTS_IN_MEMORY: usize = 100_000;

/// Wires the embedded pipeline: in-memory profiles/state, in-process model, the SQLite table
/// (else the last [`VERDICTS_IN_MEMORY`] verdicts in memory), JSON Lines stream and dead letters.
pub fn embedded_pipeline(
    model: Arc<FraudModel>,
    profiles: Vec<SubscriberProfile>,
    db: Option<&Path>,
    out: Option<&Path>,
    dead_letter: &Path,
) -> anyhow::Result<Pipeline> {
    let ports = ports::pipeline_ports(model.clone(), profiles, db, Some(VERDICTS_IN_MEMORY), out, dead_letter)?;
    Ok(Pipeline::new(model, ports))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let rules = super::rules::active(args.rules.as_deref())?;
    let profiles = read_profiles(&args.profiles)?;
    eprintln!("model {} ({} profiles loaded)", model.version(), profiles.len());
    if let Some(path) = &args.rules {
        eprintln!("rules {}: {}", path.display(), super::rules::describe(&rules.get()));
    }
    let pipeline = embedded_pipeline(model, profiles, args.db.as_deref(), args.out.as_deref(), &args.dead_letter)?
        .with_mode(args.model.mode)
        .with_rules(rules);
    let pipeline = args.challenger.attach(pipeline)?;
    let threads = args.threads.map_or_else(default_threads, |t| t as usize);
    let stats = run_file(&pipeline, &args.events, args.batch_size as usize, threads, false)?;
    let mut err = std::io::stderr();
    stats.print_summary(&mut err)?;
    if stats.counts.dead_letters > 0 {
        eprintln!("dead letters (raw record + reason): {}", args.dead_letter.display());
    }
    if stats.counts.retries > 0 {
        anyhow::bail!(
            "{} records could not be scored because a dependency failed; run again to retry them",
            stats.counts.retries
        );
    }
    Ok(())
}
