//! `xtask bench` (`make bench`): the embedded pipeline, the CLI as users run it, and a Python
//! per-record handler, on steady-state subscribers; writes the head of BENCHMARKS.md, keeping the
//! sections other reports wrote.
//!
//! The workload is generated traffic (`--subscribers` × `--days`); every measurement replays all
//! days but the last first (subscribers then have days of history and live state at its steady
//! size) and measures the last day. Each pipeline configuration runs in a child process of its own
//! (`xtask bench-pipeline`), pinned to one core, so peak RSS is per configuration.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use roamguard::model::{FraudModel, ModelScorer};
use roamguard::pipeline::{Pipeline, Ports, Record, Replays, StageTimings};
use roamguard::ports::{Discard, SubscriberStore, VerdictStore};
use roamguard::profile::SubscriberProfile;
use roamguard::rules::{ActiveRules, RuleSet};
use roamguard_local::metered::{Footprint, Metered};
use roamguard_local::{MemoryDeadLetters, MemorySubscriberStore};
use roamguard_sim::{self as generator, GeneratorConfig};
use serde::{Deserialize, Serialize};

use crate::report;

/// One pipeline run (`xtask bench-pipeline`).
#[derive(clap::Args)]
pub struct RunArgs {
    #[arg(long)]
    batch_size: usize,
    /// Directory of a prepared workload (profiles.jsonl, warmup.jsonl, measure.jsonl).
    #[arg(long)]
    data: PathBuf,
    /// Use the SQLite verdict table (in a temporary file) instead of none.
    #[arg(long)]
    sqlite: bool,
    /// Tally what the run would store in DynamoDB (encodes every state: not for timing).
    #[arg(long)]
    meter: bool,
    /// Apply this rules file (list files relative to it) after the model.
    #[arg(long)]
    rules: Option<PathBuf>,
}

#[derive(Serialize, Deserialize)]
pub struct RunResult {
    batch_size: usize,
    sqlite: bool,
    /// Events of the measured day.
    events: usize,
    seconds: f64,
    events_per_sec: f64,
    /// µs per event by stage, in pipeline order.
    stages: Vec<(String, f64)>,
    peak_rss_kib: u64,
    footprint: Option<FootprintSummary>,
}

#[derive(Serialize, Deserialize)]
struct FootprintSummary {
    state_bytes: (usize, usize, usize),
    state_saves: usize,
    read_units_per_event: f64,
    write_units_per_event: f64,
    dollars_per_million: f64,
    /// Per decision (ALLOW, REVIEW, BLOCK): verdicts, their bytes in the DynamoDB table (items
    /// and index entries) and on the results stream.
    verdict_counts: [u64; 3],
    verdict_table_bytes: [u64; 3],
    verdict_stream_bytes: [u64; 3],
}

/// A Kinesis-like place for the i-th record (a 56-digit sequence number in one shard): the live
/// state keeps the last one, so its size is the production size.
pub(crate) fn sequence_of(i: usize) -> String {
    format!("4959033827149025660855969253836157109592157{i:013}")
}

pub(crate) fn read_lines(path: &Path) -> anyhow::Result<impl Iterator<Item = std::io::Result<Vec<u8>>>> {
    let reader =
        BufReader::with_capacity(1 << 20, std::fs::File::open(path).with_context(|| path.display().to_string())?);
    Ok(reader.split(b'\n'))
}

/// Feeds a JSON Lines file through the pipeline in batches; returns the events and stage times.
pub(crate) fn feed(
    pipeline: &Pipeline,
    path: &Path,
    batch_size: usize,
    first: usize,
) -> anyhow::Result<(usize, StageTimings)> {
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let mut timings = StageTimings::default();
    let mut lines = read_lines(path)?;
    let mut n = first;
    loop {
        let batch: Vec<Vec<u8>> = lines.by_ref().take(batch_size).collect::<Result<_, _>>()?;
        if batch.is_empty() {
            return Ok((n - first, timings));
        }
        let positions: Vec<String> = (n..n + batch.len()).map(sequence_of).collect();
        let records: Vec<Record<'_>> =
            batch.iter().zip(&positions).map(|(d, p)| Record::in_sequence(p, d, "shardId-000000000000", p)).collect();
        n += batch.len();
        timings.add(&runtime.block_on(pipeline.process(&records)).timings);
    }
}

pub fn run_pipeline(args: &RunArgs) -> anyhow::Result<RunResult> {
    anyhow::ensure!(args.batch_size > 0, "--batch-size must be at least 1");
    let profiles = SubscriberProfile::read_jsonl(&std::fs::read_to_string(args.data.join("profiles.jsonl"))?)?;
    let model = Arc::new(FraudModel::embedded()?);
    let tmp = std::env::temp_dir().join(format!("roamguard-bench-{}.db", std::process::id()));
    let meter = Arc::new(Mutex::new(Footprint::default()));
    let mut subscribers: Arc<dyn SubscriberStore> = Arc::new(MemorySubscriberStore::new(profiles));
    let mut verdict_store: Arc<dyn VerdictStore> = if args.sqlite {
        Arc::new(roamguard_local::sqlite::SqliteVerdictStore::open(&tmp)?)
    } else {
        // No table: the in-memory store would hold every verdict of the run and measure itself.
        Arc::new(Discard)
    };
    if args.meter {
        subscribers = Arc::new(Metered::new(subscribers, meter.clone()));
        verdict_store = Arc::new(Metered::new(verdict_store, meter.clone()));
    }
    let ports = Ports {
        subscribers,
        scorer: Arc::new(ModelScorer::new(model.clone())),
        fallback: None,
        verdict_store,
        verdict_sink: Arc::new(Discard),
        dead_letters: Arc::new(MemoryDeadLetters::default()),
    };
    let rules = match &args.rules {
        Some(path) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let yaml = std::fs::read_to_string(path)?;
            RuleSet::compile(&yaml, |file| std::fs::read_to_string(dir.join(file)).map_err(|e| e.to_string()))?
        }
        None => RuleSet::empty(),
    };
    // As score-stream runs it: replays recognised by the live state.
    let pipeline =
        Pipeline::new(model, ports).with_replays(Replays::AskLiveState).with_rules(Arc::new(ActiveRules::new(rules)));
    let (warmed, _) = feed(&pipeline, &args.data.join("warmup.jsonl"), 500, 0)?;
    *meter.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Footprint::default();
    let started = Instant::now();
    let (events, timings) = feed(&pipeline, &args.data.join("measure.jsonl"), args.batch_size, warmed)?;
    let seconds = started.elapsed().as_secs_f64();
    if args.sqlite {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", tmp.display()));
        }
    }
    let n = events.max(1) as f64;
    let stages = timings.stages().iter().map(|(k, d)| (k.to_string(), d.as_secs_f64() * 1e6 / n)).collect();
    let footprint = args.meter.then(|| {
        let f = meter.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let units = f.per_event(events);
        FootprintSummary {
            state_bytes: f.state_item_percentiles(),
            state_saves: f.state_item_bytes.len(),
            read_units_per_event: units.read,
            write_units_per_event: units.write,
            dollars_per_million: units.dollars_per_million(),
            verdict_counts: f.verdicts.map(|v| v.count),
            verdict_table_bytes: f.verdicts.map(|v| v.table_bytes),
            verdict_stream_bytes: f.verdicts.map(|v| v.stream_bytes),
        }
    });
    Ok(RunResult {
        batch_size: args.batch_size,
        sqlite: args.sqlite,
        events,
        seconds,
        events_per_sec: n / seconds,
        stages,
        peak_rss_kib: report::status_kb("self", "VmHWM:"),
        footprint,
    })
}

fn which(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn child(args: &RunArgs) -> anyhow::Result<RunResult> {
    let exe = std::env::current_exe()?;
    let mut argv = vec![
        "bench-pipeline".to_string(),
        "--batch-size".into(),
        args.batch_size.to_string(),
        "--data".into(),
        args.data.display().to_string(),
    ];
    argv.extend(args.sqlite.then(|| "--sqlite".to_string()));
    argv.extend(args.meter.then(|| "--meter".to_string()));
    if let Some(rules) = &args.rules {
        argv.extend(["--rules".to_string(), rules.display().to_string()]);
    }
    // One core: the per-core figure the targets are stated in.
    let output = if which("taskset") {
        Command::new("taskset").arg("-c").arg("0").arg(&exe).args(&argv).output()?
    } else {
        Command::new(&exe).args(&argv).output()?
    };
    if !output.status.success() {
        bail!("{} {:?} failed: {}", exe.display(), argv, String::from_utf8_lossy(&output.stderr));
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// Runs per configuration: a shared VM varies by ~15 % from run to run, so the report gives
/// the median run (by throughput).
const RUNS: usize = 3;

fn median_run(args: &RunArgs) -> anyhow::Result<RunResult> {
    let mut results = (0..RUNS).map(|_| child(args)).collect::<anyhow::Result<Vec<_>>>()?;
    results.sort_by(|a, b| a.events_per_sec.total_cmp(&b.events_per_sec));
    Ok(results.swap_remove(RUNS / 2))
}

/// The generated traffic, split into the days replayed first and the day measured.
pub(crate) struct Workload {
    pub(crate) dir: PathBuf,
    pub(crate) subscribers: usize,
    pub(crate) days: u32,
    pub(crate) seed: u64,
    pub(crate) events: usize,
    pub(crate) measured: usize,
}

impl Workload {
    pub(crate) fn prepare(subscribers: usize, days: u32, seed: u64) -> anyhow::Result<Workload> {
        anyhow::ensure!(days >= 2, "--days must be at least 2: the last is measured after the others");
        let dir = std::env::temp_dir().join(format!("roamguard-bench-data-{}", std::process::id()));
        eprintln!("generating the workload ({subscribers} subscribers × {days} days, seed {seed}) …");
        let config = GeneratorConfig { subscribers, days, seed, ..GeneratorConfig::default() };
        let ds = generator::generate(&config);
        generator::write_dataset(&ds, &dir)?;
        let last_day = config.start + chrono::Duration::days(i64::from(days) - 1);
        let split = ds.events.partition_point(|e| e.event_time < last_day);
        let write = |name: &str, events: &[roamguard::events::RoamingEvent]| -> anyhow::Result<()> {
            let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join(name))?);
            for e in events {
                serde_json::to_writer(&mut out, e)?;
                out.write_all(b"\n")?;
            }
            Ok(out.flush()?)
        };
        write("warmup.jsonl", &ds.events[..split])?;
        write("measure.jsonl", &ds.events[split..])?;
        Ok(Workload { dir, subscribers, days, seed, events: ds.events.len(), measured: ds.events.len() - split })
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A whole process, timed from spawn to exit, with its peak RSS when GNU time is there.
struct ProcessRun {
    seconds: f64,
    peak_rss_kib: Option<u64>,
    stdout: String,
}

fn run_process(program: &Path, args: &[String]) -> anyhow::Result<ProcessRun> {
    let gnu_time = Path::new("/usr/bin/time");
    let rss_file = std::env::temp_dir().join(format!("roamguard-bench-rss-{}", std::process::id()));
    let mut command = if gnu_time.is_file() {
        let mut c = Command::new(gnu_time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_file).arg(program);
        c
    } else {
        Command::new(program)
    };
    let started = Instant::now();
    let output = command.args(args).output().with_context(|| format!("running {}", program.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("{} {:?} failed: {}", program.display(), args, String::from_utf8_lossy(&output.stderr));
    }
    let peak_rss_kib = std::fs::read_to_string(&rss_file).ok().and_then(|t| t.trim().lines().last()?.parse().ok());
    let _ = std::fs::remove_file(&rss_file);
    Ok(ProcessRun { seconds, peak_rss_kib, stdout: String::from_utf8_lossy(&output.stdout).into_owned() })
}

/// `roamguard score` on the whole workload file, as users run it: with the JSON Lines stream,
/// with the SQLite table, with neither.
fn cli_runs(cli: &Path, w: &Workload) -> anyhow::Result<(usize, Vec<(&'static str, ProcessRun)>)> {
    let p = |name: &str| w.dir.join(name).display().to_string();
    let base: [String; 7] = [
        "score".into(),
        "--profiles".into(),
        p("profiles.jsonl"),
        "--events".into(),
        p("events.jsonl"),
        "--dead-letter".into(),
        p("dlq.jsonl"),
    ];
    let mut runs = Vec::new();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let out = || vec!["--out".to_string(), p("verdicts.jsonl")];
    for (label, extra) in [
        ("`--out verdicts.jsonl` (the JSON Lines stream)", out()),
        ("`--out verdicts.jsonl --threads 1` (one worker)", [out(), vec!["--threads".into(), "1".into()]].concat()),
        ("`--db verdicts.db` (the SQLite table)", vec!["--db".to_string(), p("verdicts.db")]),
        ("neither", vec![]),
    ] {
        let _ = std::fs::remove_file(w.dir.join("verdicts.db"));
        let args: Vec<String> = base.iter().cloned().chain(extra).collect();
        eprintln!("roamguard score, {label} …");
        runs.push((label, run_process(cli, &args)?));
    }
    Ok((threads, runs))
}

/// The Python per-record handler on the same file (its first `limit` events when not 0).
fn python_run(python: &Path, w: &Workload, limit: usize) -> anyhow::Result<(usize, f64)> {
    let p = |name: &str| w.dir.join(name).display().to_string();
    let mut args = vec![
        "tests/load/python_baseline.py".to_string(),
        "--profiles".into(),
        p("profiles.jsonl"),
        "--events".into(),
        p("events.jsonl"),
        "--model-dir".into(),
        "models".into(),
        "--out".into(),
        p("python-verdicts.jsonl"),
    ];
    if limit > 0 {
        args.extend(["--limit".into(), limit.to_string()]);
    }
    eprintln!("the Python per-record handler (a few minutes on the whole file) …");
    let run = run_process(python, &args)?;
    let summary: serde_json::Value = serde_json::from_str(run.stdout.trim().lines().last().unwrap_or("{}"))
        .context("the Python handler prints a JSON summary line")?;
    let events =
        summary["events"].as_u64().unwrap_or(0) as usize + summary["dead_letters"].as_u64().unwrap_or(0) as usize;
    Ok((events, summary["events_per_sec"].as_f64().unwrap_or(0.0)))
}

/// Process start → first verdict: `roamguard score` on a one-event file, spawn to exit.
fn start_to_first_verdict(cli: &Path, w: &Workload) -> anyhow::Result<Vec<Duration>> {
    let first = std::fs::read_to_string(w.dir.join("measure.jsonl"))?.lines().next().unwrap_or_default().to_string();
    std::fs::write(w.dir.join("one.jsonl"), format!("{first}\n"))?;
    let p = |name: &str| w.dir.join(name).display().to_string();
    let args = [
        "score".to_string(),
        "--profiles".into(),
        p("profiles.jsonl"),
        "--events".into(),
        p("one.jsonl"),
        "--dead-letter".into(),
        p("one-dlq.jsonl"),
    ];
    let mut times = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        let output = Command::new(cli).args(&args).output().with_context(|| format!("running {}", cli.display()))?;
        times.push(started.elapsed());
        if !output.status.success() {
            bail!("{} score failed: {}", cli.display(), String::from_utf8_lossy(&output.stderr));
        }
    }
    times.sort();
    Ok(times)
}

/// Criterion point estimates (mean, ns) by benchmark id.
fn criterion_results(dir: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(groups) = std::fs::read_dir(dir) else { return out };
    let mut stack: Vec<PathBuf> = groups.filter_map(|e| e.ok().map(|e| e.path())).collect();
    while let Some(p) = stack.pop() {
        let (estimates, bench) = (p.join("new/estimates.json"), p.join("new/benchmark.json"));
        let json = |path: &Path| {
            std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        };
        if estimates.is_file() && bench.is_file() {
            let id = json(&bench).and_then(|v| v["full_id"].as_str().map(str::to_string));
            let mean = json(&estimates).and_then(|v| v["mean"]["point_estimate"].as_f64());
            if let (Some(id), Some(mean)) = (id, mean) {
                out.insert(id, mean);
            }
        } else if p.is_dir()
            && let Ok(entries) = std::fs::read_dir(&p)
        {
            stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
        }
    }
    out
}

/// What `xtask bench` measures.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// Output Markdown file.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Subscribers in the generated workload.
    #[arg(long, default_value_t = 5000)]
    subscribers: usize,
    /// Days of traffic: all but the last are replayed first, the last is measured.
    #[arg(long, default_value_t = 4)]
    days: u32,
    #[arg(long, default_value_t = 5)]
    seed: u64,
    /// The `roamguard` binary run as users run it.
    #[arg(long, default_value = "target/release/roamguard")]
    cli: PathBuf,
    /// The Python of the project's venv (xgboost) for the per-record baseline.
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    /// Events the Python handler scores (0: the whole file, as `roamguard score` scores it).
    #[arg(long, default_value_t = 0)]
    python_events: usize,
    /// Criterion's output directory (micro-benchmarks from `cargo bench`).
    #[arg(long, default_value = "target/criterion")]
    criterion: PathBuf,
}

const BATCH_SIZES: [usize; 5] = [1, 100, 500, 1_000, 10_000];

pub fn report(a: &ReportArgs) -> anyhow::Result<()> {
    let w = Workload::prepare(a.subscribers, a.days, a.seed)?;
    let run = |batch_size, sqlite, meter| RunArgs { batch_size, data: w.dir.clone(), sqlite, meter, rules: None };
    let mut timed = Vec::new();
    for &batch in &BATCH_SIZES {
        eprintln!("pipeline, batch size {batch} ({RUNS} runs) …");
        timed.push(median_run(&run(batch, false, false))?);
    }
    let mut metered = Vec::new();
    for &batch in &BATCH_SIZES[1..] {
        eprintln!("what batch size {batch} stores …");
        metered.push(child(&run(batch, false, true))?);
    }
    eprintln!("pipeline with the SQLite verdict table, batch size 1,000 ({RUNS} runs) …");
    let sqlite = median_run(&run(1_000, true, false))?;
    eprintln!("pipeline with three rules and two 10,000-entry lists, batch size 1,000 ({RUNS} runs) …");
    let rules = median_run(&RunArgs { rules: Some(write_bench_rules(&w.dir)?), ..run(1_000, false, false) })?;
    let (threads, cli) = cli_runs(&a.cli, &w)?;
    let python = python_run(&a.python, &w, a.python_events)?;
    eprintln!("start → first verdict …");
    let start = start_to_first_verdict(&a.cli, &w)?;
    let md = render(
        a,
        &w,
        &timed,
        &metered,
        (&sqlite, &rules),
        (threads, &cli),
        python,
        &start,
        &criterion_results(&a.criterion),
    );
    let previous = std::fs::read_to_string(&a.out).unwrap_or_default();
    let mut doc = md;
    // The sections of `make chaos`, `make bench-serve` and `make bench-aws` come from their own
    // commands: keep them as they are.
    for name in KEPT_SECTIONS {
        if let Some(section) = report::section(&previous, name) {
            doc.push('\n');
            doc.push_str(section);
            doc.push('\n');
        }
    }
    std::fs::File::create(&a.out)?.write_all(doc.as_bytes())?;
    eprintln!("wrote {}", a.out.display());
    Ok(())
}

/// The issue's rules file (docs/rules.md) with two 10,000-entry lists: VIP IMSIs in a list file
/// and IRSF prefixes served by the prefix index.
pub(crate) const BENCH_RULES: &str = r#"lists:
  vip_imsis: {file: vip_imsis.txt}
  irsf_ranges: {file: irsf_ranges.txt}
rules:
  - id: vip-never-blocked
    when: event.imsi in lists.vip_imsis
    then: ALLOW
  - id: irsf-range
    when: has(event.called_number) && lists.irsf_ranges.exists(p, event.called_number.startsWith(p))
    then: BLOCK
  - id: night-data-spike
    when: event.event_type == "data" && features.data_1h_vs_baseline > 20.0 && score > 0.2
    then: REVIEW
"#;

fn write_bench_rules(dir: &Path) -> anyhow::Result<PathBuf> {
    let vips: String = (0..10_000u64).map(|i| format!("20899{i:010}\n")).collect();
    let ranges: String = (0..10_000u32).map(|i| format!("8821{i:04}\n")).collect();
    std::fs::write(dir.join("vip_imsis.txt"), vips)?;
    std::fs::write(dir.join("irsf_ranges.txt"), ranges)?;
    let path = dir.join("rules.yaml");
    std::fs::write(&path, BENCH_RULES)?;
    Ok(path)
}

/// Sections other commands write into BENCHMARKS.md.
const KEPT_SECTIONS: [&str; 3] = ["chaos", "serve", "aws"];

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[allow(clippy::too_many_arguments)] // the report's sections, each measured once
fn render(
    a: &ReportArgs,
    w: &Workload,
    timed: &[RunResult],
    metered: &[RunResult],
    (sqlite, rules): (&RunResult, &RunResult),
    (threads, cli): (usize, &[(&str, ProcessRun)]),
    (python_events, python_rate): (usize, f64),
    start: &[Duration],
    micro: &BTreeMap<String, f64>,
) -> String {
    let mut md = String::new();
    let date = chrono::Utc::now().format("%Y-%m-%d");
    md.push_str("# Benchmarks\n\n");
    md.push_str(&format!(
        "Produced by `make bench` on {date} (machine: {}): `cargo bench -p roamguard` (criterion micro-benchmarks), then \
`target/release/xtask bench --subscribers {} --days {} --seed {}`.\n\n\
**Workload**: `roamguard generate --subscribers {} --days {} --seed {}` ({} events). Every pipeline run replays the first \
{} days (untimed, batches of 500) and measures the last day ({} events): subscribers then have days of history and their live \
state its steady size. Each configuration runs {RUNS} times (the median run is shown), each in its own process pinned to one \
core (`taskset -c 0`), with the stream's replay detection (`Replays::AskLiveState`) and Kinesis-like sequence numbers.\n\n",
        report::machine(),
        w.subscribers,
        w.days,
        w.seed,
        w.subscribers,
        w.days,
        w.seed,
        w.events,
        w.days - 1,
        w.measured
    ));
    md.push_str("## Embedded pipeline throughput (one core, in-memory ports, no verdict table)\n\n");
    md.push_str("Whole pipeline per batch: decode + validate, profile/state load, features, model, decision + reasons (SHAP on REVIEW/BLOCK), verdict store, sink, state save. The verdict table and stream are discarding stand-ins (the SQLite table and the CLI are measured below).\n\n");
    md.push_str("| batch size | events | events/s | µs/event | peak RSS |\n|---:|---:|---:|---:|---:|\n");
    for r in timed {
        md.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {} |\n",
            r.batch_size,
            r.events,
            r.events_per_sec,
            1e6 / r.events_per_sec,
            mib(r.peak_rss_kib)
        ));
    }
    md.push_str("\n## Time per event by stage (µs, batch 1,000)\n\n| stage | µs/event |\n|---|---:|\n");
    if let Some(r) = timed.iter().find(|r| r.batch_size == 1_000) {
        for (stage, us) in &r.stages {
            md.push_str(&format!("| {stage} | {us:.3} |\n"));
        }
    }
    md.push_str(
        "\n## What the live state and the verdicts cost in DynamoDB (steady state)\n\n\
         The same runs through metering stores (`roamguard_local::metered`): every state saved is encoded as the AWS adapter \
         encodes it (`state::codec`) and sized as DynamoDB sizes items (`roamguard::cost`); reads are the strongly consistent \
         state reads (profiles are cached by the adapter), writes the state items plus each verdict item and its index entries \
         (`by_subscriber` always, `by_decision_day` for REVIEW/BLOCK). On-demand list prices (us-east-1, dated 2026-11-27). \
         `make bench-aws` measures the same on what the AWS adapters send.\n\n\
         | batch size | state saves / event | state item p50 | p99 | max | read units / event | write units / event | DynamoDB $ / M events |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in metered {
        if let Some(f) = &r.footprint {
            md.push_str(&format!(
                "| {} | {:.3} | {} B | {} B | {} B | {:.3} | {:.3} | ${:.2} |\n",
                r.batch_size,
                f.state_saves as f64 / r.events.max(1) as f64,
                f.state_bytes.0,
                f.state_bytes.1,
                f.state_bytes.2,
                f.read_units_per_event,
                f.write_units_per_event,
                f.dollars_per_million
            ));
        }
    }
    if let Some(f) = metered.iter().find(|r| r.batch_size == 1_000).and_then(|r| r.footprint.as_ref()) {
        md.push_str(&verdict_storage(f));
    }
    let no_table = timed.iter().find(|r| r.batch_size == 1_000).map_or(1.0, |r| r.events_per_sec);
    let table_cost = 1e6 / sqlite.events_per_sec - 1e6 / no_table;
    md.push_str(&format!(
        "\n## The SQLite verdict table\n\nBatch 1,000: {:.0} events/s with the table against {:.0} without: {:.0} % of the throughput, \
         {:.2} µs per event for the table (`roamguard score --db`, `roamguard serve --db`). Peak RSS {}.\n",
        sqlite.events_per_sec,
        no_table,
        100.0 * sqlite.events_per_sec / no_table,
        table_cost,
        mib(sqlite.peak_rss_kib)
    ));
    let decide = |r: &RunResult| r.stages.iter().find(|(k, _)| k == "decide").map_or(0.0, |(_, v)| *v);
    md.push_str(&format!(
        "\n## Analysts' rules\n\nBatch 1,000 with the rules file of the issue (`vip-never-blocked`: `event.imsi in lists.vip_imsis`; \
         `irsf-range`: the `exists(p, event.called_number.startsWith(p))` form, served by the prefix index; `night-data-spike` on \
         a feature and the score) and two lists of 10,000 entries (`xtask/src/pipeline.rs` `BENCH_RULES`): {:.0} events/s against \
         {:.0} without rules: **{:.0} %** of the throughput; the decide stage {:.2} µs per event against {:.2}.\n",
        rules.events_per_sec,
        no_table,
        100.0 * rules.events_per_sec / no_table,
        decide(rules),
        timed.iter().find(|r| r.batch_size == 1_000).map_or(0.0, decide),
    ));
    md.push_str(&format!(
        "\n## The CLI as users run it, and a Python per-record handler\n\n`roamguard score` on the whole workload file ({} events), spawn to exit, \
         reading the file, scoring in batches of 500 on one worker a core ({threads} here; records shared out by IMSI) and writing its outputs:\n\n\
         | `roamguard score` with | events/s | peak RSS |\n|---|---:|---:|\n",
        w.events
    ));
    for (label, run) in cli {
        md.push_str(&format!(
            "| {label} | {:.0} | {} |\n",
            w.events as f64 / run.seconds,
            run.peak_rss_kib.map_or("?".into(), mib)
        ));
    }
    let jsonl_rate = cli.first().map_or(0.0, |(_, r)| w.events as f64 / r.seconds);
    let one_worker = cli.get(1).map_or(0.0, |(_, r)| w.events as f64 / r.seconds);
    md.push_str(&format!(
        "\nThe Python baseline (`tests/load/python_baseline.py`, run by `{}`): the per-record pattern of the AWS Lambda samples, \
         doing the same work per event (decode and validate, profile and live-state lookup, the {} features, the same XGBoost \
         model one row per call, the decision with its BLOCK escalation, one verdict line out), on {python_events} events of the same file: \
         {python_rate:.0} events/s. `roamguard score --out` is **{:.0}×** that ({:.0}× on one worker; the Python handler computes no \
         SHAP reasons, RoamGuard does for every REVIEW and BLOCK).\n",
        a.python.display(),
        roamguard::features::NUM_FEATURES,
        jsonl_rate / python_rate.max(1e-9),
        one_worker / python_rate.max(1e-9)
    ));
    md.push_str("\n## Micro-benchmarks (criterion, mean)\n\n| benchmark | time |\n|---|---:|\n");
    for (id, ns) in micro {
        md.push_str(&format!("| {id} | {} |\n", fmt_ns(*ns)));
    }
    if micro.is_empty() {
        md.push_str("| (no criterion results found: run `cargo bench -p roamguard` first) | |\n");
    }
    let q = |p: f64| start[((start.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    md.push_str(&format!(
        "\n## Process start → first verdict\n\n`roamguard score` on a one-event file with the built-in model, spawn to exit, {} runs: \
         median {:.1} ms, min {:.1} ms, max {:.1} ms (an upper bound: it includes loading the profile file and process teardown).\n\n",
        start.len(),
        q(0.5),
        q(0.0),
        q(1.0)
    ));
    let best = timed.iter().map(|r| r.events_per_sec).fold(0.0, f64::max);
    let rss10k = timed.iter().find(|r| r.batch_size == 10_000).map_or(0, |r| r.peak_rss_kib);
    let at500 = metered.iter().find(|r| r.batch_size == 500).and_then(|r| r.footprint.as_ref());
    let bounded = cli.iter().find(|(label, _)| *label == "neither").and_then(|(_, r)| r.peak_rss_kib);
    md.push_str("## Targets\n\n| target | measured |\n|---|---|\n");
    md.push_str(&format!("| ≥ 300,000 events/s/core (no SQLite) | best {best:.0} events/s |\n"));
    md.push_str(&format!("| peak RSS ≤ 64 MiB at batch 10,000 | {} |\n", mib(rss10k)));
    md.push_str(&format!("| start → first verdict ≤ 20 ms | median {:.1} ms |\n", q(0.5)));
    if let Some(f) = at500 {
        md.push_str(&format!(
            "| state item ≤ 1 KB at p99, ≤ 4 KB max | p99 {} B, max {} B |\n| DynamoDB ≤ 3 write units and ≤ 1 read unit per event at batch 500 (estimate; measured in the AWS section) | {:.2} write, {:.2} read |\n",
            f.state_bytes.1, f.state_bytes.2, f.write_units_per_event, f.read_units_per_event
        ));
    }
    md.push_str(&format!(
        "| SQLite table ≤ 3 µs per event (≥ 60 % of the throughput without it) | {table_cost:.2} µs, {:.0} % |\n",
        100.0 * sqlite.events_per_sec / no_table
    ));
    md.push_str(&format!(
        "| three rules and two 10,000-entry lists: ≥ 80 % of the throughput without rules | {:.0} % |\n",
        100.0 * rules.events_per_sec / no_table
    ));
    md.push_str(&format!(
        "| `roamguard score` without `--db` in bounded memory | peak RSS {} on {} events |\n",
        bounded.map_or("?".into(), mib),
        w.events
    ));
    md.push_str(&format!(
        "| `roamguard score` ≥ 50× a Python per-record handler | {:.0}× |\n",
        jsonl_rate / python_rate.max(1e-9)
    ));
    md
}

/// Prices behind [`verdict_storage`] (us-east-1 list prices as known to the author, dated
/// 2026-11-27, not checked online): DynamoDB Standard storage per GB-month; Firehose per GB
/// ingested (records rounded up to 5 KB), per GB converted to Parquet, per GB dynamically
/// partitioned; S3 Standard per GB-month.
const DYNAMODB_GB_MONTH: f64 = 0.25;
const FIREHOSE_GB: f64 = 0.029;
const FIREHOSE_RECORD_BYTES: f64 = 5_000.0;
const FIREHOSE_CONVERSION_GB: f64 = 0.018;
const FIREHOSE_PARTITIONING_GB: f64 = 0.02;
const S3_GB_MONTH: f64 = 0.023;

/// Keeping verdicts, from the sizes the metered run wrote: a year of 1 M events a month in
/// DynamoDB with and without the ALLOW TTL, and what the lake costs for the same verdicts.
fn verdict_storage(f: &FootprintSummary) -> String {
    const GB: f64 = 1e9;
    let total: u64 = f.verdict_counts.iter().sum();
    let n = total.max(1) as f64;
    let mean = |bytes: u64, count: u64| bytes as f64 / count.max(1) as f64;
    let allow_share = f.verdict_counts[0] as f64 / n;
    let allow_bytes = mean(f.verdict_table_bytes[0], f.verdict_counts[0]);
    let flagged_count = f.verdict_counts[1] + f.verdict_counts[2];
    let flagged_bytes = mean(f.verdict_table_bytes[1] + f.verdict_table_bytes[2], flagged_count);
    let stream_bytes = mean(f.verdict_stream_bytes.iter().sum(), total);
    // A year of 1 M events a month: 12 M verdicts, or with a TTL of d days only d / 30.4 of a
    // month's ALLOW verdicts besides every flagged one.
    let monthly = 1e6;
    let flagged_gb = 12.0 * monthly * (1.0 - allow_share) * flagged_bytes / GB;
    let allow_kept_gb = |months: f64| months * monthly * allow_share * allow_bytes / GB;
    let no_ttl = flagged_gb + allow_kept_gb(12.0);
    let ttl = |days: f64| flagged_gb + allow_kept_gb(days / 30.4);
    let firehose_gb = monthly * FIREHOSE_RECORD_BYTES.max(stream_bytes) / GB;
    let processed_gb = monthly * stream_bytes / GB;
    let firehose = firehose_gb * (FIREHOSE_GB + FIREHOSE_CONVERSION_GB) + processed_gb * FIREHOSE_PARTITIONING_GB;
    let lake_json_gb = 12.0 * monthly * stream_bytes / GB;
    format!(
        "\n### Keeping verdicts: the DynamoDB table against the lake (batch 1,000)\n\n\
         From the verdicts the run wrote: {:.1} % ALLOW; an ALLOW verdict takes {:.0} B in the table with its `by_subscriber` \
         entry, a REVIEW or BLOCK {:.0} B with both index entries; {:.0} B of JSON on the results stream. A year of 1 M events a \
         month, at DynamoDB Standard storage ${DYNAMODB_GB_MONTH}/GB-month (list price as known to the author, dated 2026-11-27):\n\n\
         | ALLOW verdicts kept in DynamoDB (`AllowVerdictTtlDays`) | table size after a year | storage $ / month |\n\
         |---|---:|---:|\n\
         | for ever (0, the default) | {:.2} GB | ${:.2} |\n\
         | 30 days | {:.2} GB | ${:.2} |\n\
         | 7 days | {:.2} GB | ${:.2} |\n\n\
         The lake keeps every verdict instead: Firehose bills ingestion in 5 KB steps per record (${FIREHOSE_GB}/GB) and Parquet \
         conversion on the same volume (${FIREHOSE_CONVERSION_GB}/GB), dynamic partitioning on the bytes (${FIREHOSE_PARTITIONING_GB}/GB): \
         ${:.2} per month for 1 M verdicts. In S3 (${S3_GB_MONTH}/GB-month) a year of them is at most {:.2} GB (${:.3} a month) \
         as JSON; Parquet with Snappy is smaller (not measured here: no Parquet writer in this build). TTL deletes are free. \
         The request units above do not change: an ALLOW verdict is written once either way.\n",
        100.0 * allow_share,
        allow_bytes,
        flagged_bytes,
        stream_bytes,
        no_ttl,
        no_ttl * DYNAMODB_GB_MONTH,
        ttl(30.0),
        ttl(30.0) * DYNAMODB_GB_MONTH,
        ttl(7.0),
        ttl(7.0) * DYNAMODB_GB_MONTH,
        firehose,
        lake_json_gb,
        lake_json_gb * S3_GB_MONTH,
    )
}
