//! `xtask bench-aws` (`make bench-aws`): what score-stream costs in AWS calls, DynamoDB request
//! units and CPU on steady-state subscribers, and how the release binary starts. Writes its
//! section of BENCHMARKS.md (`make bench` keeps it).
//!
//! - Steady state: generated traffic (`--subscribers` × `--days`); the days before the last are
//!   replayed through the embedded pipeline (the same pipeline code, in memory), and the live
//!   states it ends with are written to the state table. Each batch size then starts from those
//!   states with a score-stream pipeline wired exactly as `main.rs` wires it (real adapters,
//!   real SDK clients, the default embedded scorer) whose profile cache is warm (a Lambda that has
//!   been running), and scores events of the last day in Kinesis batches.
//! - Calls and units: its SDK clients talk to moto through the test kit's proxy, which keeps
//!   every call's operation, bytes, timing and bodies. Read and write units are computed from
//!   those bodies with DynamoDB's sizing rules (`roamguard::cost`): each item written and each
//!   item read (or key not found), index entries included. Dependent round trips = the longest
//!   chain of calls each of which started after the previous one ended.
//! - CPU: the handler runs on a thread of its own with a single-threaded runtime (a Lambda of
//!   ≤ 1,769 MB has at most one vCPU): that thread's CPU time is the handler's, SDK included.
//! - Cold start: the release `score-stream` binary under the test kit's Lambda Runtime API,
//!   against moto: spawn → first poll, → first response, peak RSS after a big batch.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_lambda_events::event::kinesis::KinesisEvent;
use roamguard::cost::{self, price};
use roamguard::events::RoamingEvent;
use roamguard::model::{FraudModel, ModelScorer};
use roamguard::pipeline::{Outcome, Pipeline, Ports, Replays};
use roamguard::ports::{Discard, StateUpdate, SubscriberStore};
use roamguard::profile::SubscriberProfile;
use roamguard_aws::config::ScorerChoice;
use roamguard_aws::{
    DynamoSubscriberStore, DynamoVerdictStore, StreamResources, load_profiles, stream_pipeline_over, stream_subscribers,
};
use roamguard_local::{MemoryDeadLetters, MemorySubscriberStore};
use roamguard_testkit::aws::emulator_config;
use roamguard_testkit::moto::Moto;
use roamguard_testkit::proxy::{Call, Proxy, ProxyOptions};
use roamguard_testkit::runtime_api::RuntimeApi;
use serde_json::Value;

use crate::pipeline::{Workload, feed, read_lines, sequence_of};
use crate::report;

const REGION: &str = "us-east-1";
const PROFILES: &str = "rg-profiles";
const STATES: &str = "rg-states";
const VERDICTS: &str = "rg-verdicts";
const STREAM: &str = "rg-results";
const QUEUE: &str = "rg-dead-letters";
const SHARD: &str = "shardId-000000000000";

/// What `xtask bench-aws` measures.
#[derive(clap::Args)]
pub struct Args {
    /// The report to write the section into.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Batch sizes (records per Kinesis batch), comma-separated.
    #[arg(long, default_value = "1,100,500,1000,10000", value_delimiter = ',')]
    sizes: Vec<usize>,
    /// Subscribers of the generated workload.
    #[arg(long, default_value_t = 5000)]
    subscribers: usize,
    /// Days of traffic: all but the last make the steady state, the last is scored.
    #[arg(long, default_value_t = 3)]
    days: u32,
    #[arg(long, default_value_t = 5)]
    seed: u64,
    /// Events scored per batch size (at least one batch).
    #[arg(long, default_value_t = 2000)]
    events: usize,
    /// Latency injected before each AWS call for the wall-time measurement.
    #[arg(long, default_value_t = 5)]
    latency_ms: u64,
    /// Cold starts of the release binary (0: none).
    #[arg(long, default_value_t = 5)]
    cold_runs: usize,
    /// The release score-stream binary for the cold start (`cargo build --release -p score-stream`).
    #[arg(long, default_value = "target/release/score-stream")]
    score_stream: PathBuf,
}

/// The longest chain of calls each starting after the previous one ended. Error answers are
/// left out: an SDK retry of a call the emulator failed is the same logical call.
fn longest_chain(calls: &[Call]) -> Vec<String> {
    let mut sorted: Vec<&Call> = calls.iter().filter(|c| c.ok).collect();
    sorted.sort_by_key(|c| c.start);
    let mut depth = vec![0usize; sorted.len()];
    let mut previous: Vec<Option<usize>> = vec![None; sorted.len()];
    for i in 0..sorted.len() {
        let before = (0..i).filter(|&j| sorted[j].end <= sorted[i].start).max_by_key(|&j| depth[j]);
        depth[i] = before.map_or(0, |j| depth[j]) + 1;
        previous[i] = before;
    }
    let mut chain = Vec::new();
    let mut at = (0..sorted.len()).max_by_key(|&i| depth[i]);
    while let Some(i) = at {
        chain.push(sorted[i].operation.clone());
        at = previous[i];
    }
    chain.reverse();
    chain
}

// ---- request units from what was sent ------------------------------------------------------

/// An item of DynamoDB's JSON protocol (`{"name": {"S": "..."}, ...}`), sized as DynamoDB sizes it.
fn item_bytes(item: &serde_json::Map<String, Value>) -> usize {
    item.iter().map(|(name, value)| name.len() + value_bytes(value)).sum()
}

fn value_bytes(value: &Value) -> usize {
    let Some((kind, v)) = value.as_object().and_then(|m| m.iter().next()) else { return 0 };
    match kind.as_str() {
        "S" => v.as_str().map_or(0, str::len),
        "N" => cost::number_attribute("", v.as_str().unwrap_or("0")),
        "B" => v.as_str().and_then(|b| roamguard::base64::decode(b).ok()).map_or(0, |b| b.len()),
        "L" => 3 + v.as_array().map_or(0, |l| l.iter().map(|e| 1 + value_bytes(e)).sum()),
        "M" => 3 + v.as_object().map_or(0, |m| m.iter().map(|(k, e)| 1 + k.len() + value_bytes(e)).sum()),
        "SS" => v.as_array().map_or(0, |l| l.iter().map(|e| e.as_str().map_or(0, str::len)).sum()),
        _ => 1,
    }
}

/// DynamoDB work of a set of calls.
#[derive(Default)]
struct Units {
    read: f64,
    write: u64,
    state_items: Vec<usize>,
    verdict_items: usize,
    /// Kinesis PutRecords records and payload bytes.
    records_out: usize,
    bytes_out: usize,
}

impl Units {
    fn of(calls: &[Call]) -> Units {
        let mut u = Units::default();
        for call in calls.iter().filter(|c| c.ok) {
            let request: Value = serde_json::from_slice(&call.request_body).unwrap_or(Value::Null);
            let response: Value = serde_json::from_slice(&call.response_body).unwrap_or(Value::Null);
            match call.operation.split(" (").next().unwrap_or_default() {
                "DynamoDB BatchWriteItem" => {
                    for (table, requests) in request["RequestItems"].as_object().into_iter().flatten() {
                        for r in requests.as_array().into_iter().flatten() {
                            if let Some(item) = r["PutRequest"]["Item"].as_object() {
                                u.written(table, item);
                            }
                        }
                    }
                }
                "DynamoDB PutItem" => {
                    if let (Some(table), Some(item)) = (request["TableName"].as_str(), request["Item"].as_object()) {
                        u.written(table, item);
                    }
                }
                "DynamoDB UpdateItem" => u.write += 1,
                "DynamoDB BatchGetItem" => u.read_back(&request, &response),
                "Kinesis PutRecords" => {
                    for r in request["Records"].as_array().into_iter().flatten() {
                        u.records_out += 1;
                        u.bytes_out +=
                            r["Data"].as_str().and_then(|d| roamguard::base64::decode(d).ok()).map_or(0, |d| d.len());
                    }
                }
                _ => {}
            }
        }
        u
    }

    fn written(&mut self, table: &str, item: &serde_json::Map<String, Value>) {
        let bytes = item_bytes(item);
        let units = cost::write_units(bytes);
        if table == VERDICTS {
            self.verdict_items += 1;
            // The item, its by_subscriber entry, its by_decision_day entry when flagged.
            let indexes = 1 + u64::from(item.contains_key("decision_day"));
            self.write += units * (1 + indexes);
        } else {
            if table == STATES {
                self.state_items.push(bytes);
            }
            self.write += units;
        }
    }

    fn read_back(&mut self, request: &Value, response: &Value) {
        for (table, keys) in request["RequestItems"].as_object().into_iter().flatten() {
            let consistent = keys["ConsistentRead"].as_bool().unwrap_or(false);
            let requested = keys["Keys"].as_array().map_or(0, Vec::len);
            let unprocessed = response["UnprocessedKeys"][table]["Keys"].as_array().map_or(0, Vec::len);
            let found: Vec<usize> = response["Responses"][table]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i.as_object().map(item_bytes))
                .collect();
            self.read += found.iter().map(|&b| cost::read_units(b, consistent)).sum::<f64>();
            let missing = requested.saturating_sub(found.len() + unprocessed);
            self.read += missing as f64 * cost::read_units(0, consistent);
        }
    }
}

// ---- steady state --------------------------------------------------------------------------

/// The profiles, and the live states the warm-up days leave, by the embedded pipeline.
fn steady_states(w: &Workload) -> anyhow::Result<(Vec<SubscriberProfile>, Vec<StateUpdate>, usize)> {
    let profiles = SubscriberProfile::read_jsonl(&std::fs::read_to_string(w.dir.join("profiles.jsonl"))?)?;
    let known: HashSet<String> = profiles.iter().map(|p| p.imsi.clone()).collect();
    let model = Arc::new(FraudModel::embedded()?);
    let store = Arc::new(MemorySubscriberStore::new(profiles.clone()));
    let ports = Ports {
        subscribers: store.clone(),
        scorer: Arc::new(ModelScorer::new(model.clone())),
        fallback: None,
        verdict_store: Arc::new(Discard),
        verdict_sink: Arc::new(Discard),
        dead_letters: Arc::new(MemoryDeadLetters::default()),
    };
    let pipeline = Pipeline::new(model, ports).with_replays(Replays::AskLiveState);
    eprintln!("replaying the first {} days in memory …", w.days - 1);
    let (warmed, _) = feed(&pipeline, &w.dir.join("warmup.jsonl"), 500, 0)?;
    let mut imsis: Vec<String> = read_lines(&w.dir.join("warmup.jsonl"))?
        .filter_map(|l| RoamingEvent::from_json(&l.ok()?).ok().map(|e| e.imsi))
        .collect();
    imsis.sort_unstable();
    imsis.dedup();
    let states = imsis
        .into_iter()
        .filter_map(|imsi| {
            let state = store.get(&imsi)?.state;
            let has_profile = known.contains(&imsi);
            Some(StateUpdate {
                imsi,
                expected_version: 0,
                state: roamguard::state::LiveState { version: 0, ..state },
                has_profile,
            })
        })
        .collect();
    Ok((profiles, states, warmed))
}

/// Fresh tables, stream and queue on moto, the profiles, and the steady states.
async fn seed(moto: &Moto, profiles: &[SubscriberProfile], states: &[StateUpdate]) -> anyhow::Result<String> {
    moto.reset();
    let direct = emulator_config(&moto.endpoint, REGION).await;
    let store = DynamoSubscriberStore::new(&direct, PROFILES, STATES).single_writer();
    store.create_tables().await?;
    DynamoVerdictStore::new(&direct, VERDICTS).create_table().await?;
    aws_sdk_kinesis::Client::new(&direct).create_stream().stream_name(STREAM).shard_count(4).send().await?;
    let queue = aws_sdk_sqs::Client::new(&direct).create_queue().queue_name(QUEUE).send().await?;
    load_profiles(&roamguard_aws::DynamoDbClient::new(&direct), PROFILES, profiles, |_| {}).await?;
    store.save(states.to_vec()).await?;
    Ok(queue.queue_url.unwrap_or_default())
}

fn resources(queue_url: &str) -> StreamResources {
    StreamResources {
        profiles_table: PROFILES.into(),
        states_table: STATES.into(),
        verdicts_table: VERDICTS.into(),
        results_stream: STREAM.into(),
        dead_letter_queue_url: queue_url.into(),
        allow_verdict_ttl_days: None,
    }
}

/// A Kinesis batch of the given events, numbered from `first` in one shard, as Lambda delivers it.
fn kinesis_event(events: &[Vec<u8>], first: usize) -> anyhow::Result<KinesisEvent> {
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let sequence = sequence_of(first + i);
            serde_json::json!({
                "kinesis": {
                    "partitionKey": "p",
                    "kinesisSchemaVersion": "1.0",
                    "data": roamguard::base64::encode(data),
                    "sequenceNumber": sequence,
                    "approximateArrivalTimestamp": 1_780_315_200.0
                },
                "eventSource": "aws:kinesis",
                "eventID": format!("{SHARD}:{sequence}"),
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/score-stream",
                "eventVersion": "1.0",
                "eventName": "aws:kinesis:record",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/roaming-events",
                "awsRegion": REGION
            })
        })
        .collect();
    Ok(serde_json::from_value(serde_json::json!({ "Records": records }))?)
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .map_or(Duration::ZERO, Duration::from_nanos)
}

// ---- per batch size ----------------------------------------------------------------------------

struct SizeResult {
    size: usize,
    events: usize,
    batches: usize,
    calls: Vec<Call>,
    units: Units,
    /// Longest chain of dependent calls over the batches, and that chain.
    depth: usize,
    chain: Vec<String>,
    not_scored: usize,
    cpu: Duration,
    /// One more batch with latency injected before each call.
    latency_wall: Duration,
    latency_depth: usize,
    /// What warming the profile cache read (a cold environment pays it on first sight).
    cache_warm_read: f64,
    cache_warm_subscribers: usize,
}

struct Scenario<'a> {
    moto: &'a Moto,
    proxy: &'a Proxy,
    profiles: &'a [SubscriberProfile],
    states: &'a [StateUpdate],
    /// The last day's events, and the number of records before them.
    events: &'a [Vec<u8>],
    first: usize,
}

fn run_size(s: &Scenario<'_>, size: usize, wanted: usize, latency_ms: u64) -> anyhow::Result<SizeResult> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let queue = seed(s.moto, s.profiles, s.states).await?;
        let sdk = emulator_config(&s.proxy.endpoint, REGION).await;
        let resources = resources(&queue);
        let subscribers = Arc::new(stream_subscribers(&sdk, &resources));
        let batches = wanted.div_ceil(size).max(1);
        let scored = (batches * size).min(s.events.len());
        let imsis: Vec<String> = {
            let mut i: Vec<String> = s.events[..scored + size.min(s.events.len() - scored)]
                .iter()
                .filter_map(|d| RoamingEvent::from_json(d).ok().map(|e| e.imsi))
                .collect();
            i.sort_unstable();
            i.dedup();
            i
        };
        s.proxy.set_latency(Duration::ZERO);
        s.proxy.take_calls();
        let refs: Vec<&str> = imsis.iter().map(String::as_str).collect();
        subscribers.load(&refs).await?;
        let cache_warm_read = Units::of(&s.proxy.take_calls()).read;
        let model = Arc::new(FraudModel::embedded()?);
        let pipeline = stream_pipeline_over(&sdk, &resources, &ScorerChoice::Embedded, model, subscribers);

        let (mut calls, mut depth, mut chain, mut not_scored, mut cpu) = (Vec::new(), 0, Vec::new(), 0, Duration::ZERO);
        for b in 0..batches {
            let (from, to) = (b * size, ((b + 1) * size).min(s.events.len()));
            if from >= to {
                break;
            }
            let event = kinesis_event(&s.events[from..to], s.first + from)?;
            let before = thread_cpu();
            let (_, report) = score_stream::handle(&pipeline, &event).await;
            cpu += thread_cpu().saturating_sub(before);
            not_scored += report.outcomes.iter().filter(|o| !matches!(o, Outcome::Verdict(_))).count();
            let batch_calls = s.proxy.take_calls();
            let batch_chain = longest_chain(&batch_calls);
            if batch_chain.len() > depth {
                (depth, chain) = (batch_chain.len(), batch_chain);
            }
            calls.extend(batch_calls);
        }
        let units = Units::of(&calls);
        // The next batch with latency: wall time.
        let (from, to) = (scored, (scored + size).min(s.events.len()));
        let (latency_wall, latency_depth) = if from < to {
            let event = kinesis_event(&s.events[from..to], s.first + from)?;
            s.proxy.set_latency(Duration::from_millis(latency_ms));
            let started = Instant::now();
            score_stream::handle(&pipeline, &event).await;
            let wall = started.elapsed();
            s.proxy.set_latency(Duration::ZERO);
            (wall, longest_chain(&s.proxy.take_calls()).len())
        } else {
            (Duration::ZERO, 0)
        };
        Ok(SizeResult {
            size,
            events: scored,
            batches,
            calls,
            units,
            depth,
            chain,
            not_scored,
            cpu,
            latency_wall,
            latency_depth,
            cache_warm_read,
            cache_warm_subscribers: imsis.len(),
        })
    })
}

// ---- cold start -------------------------------------------------------------------------------

struct ColdRun {
    init: Duration,
    first_response: Duration,
    rss_after_first_kb: u64,
}

struct ColdResult {
    runs: Vec<ColdRun>,
    big_batch: usize,
    payload_bytes: usize,
    big_batch_time: Duration,
    peak_rss_kb: u64,
    binary_bytes: u64,
}

fn cold_start(s: &Scenario<'_>, binary: &Path, runs: usize, big_batch: usize) -> anyhow::Result<ColdResult> {
    // A hang guard, not a performance bound.
    const LIMIT: Duration = Duration::from_secs(600);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let queue = runtime.block_on(seed(s.moto, s.profiles, s.states))?;
    let mut results = Vec::new();
    let mut big = (Duration::ZERO, 0);
    let mut payload = 0;
    let big_batch = big_batch.min(s.events.len());
    for run in 0..runs {
        let api = RuntimeApi::start("score-stream")?;
        api.send(serde_json::to_string(&kinesis_event(&s.events[run..run + 1], s.first + run)?)?);
        let started = Instant::now();
        let mut child = api
            .function_command(binary, "score-stream")
            .env("AWS_ENDPOINT_URL", &s.moto.endpoint)
            .env("PROFILES_TABLE", PROFILES)
            .env("STATES_TABLE", STATES)
            .env("VERDICTS_TABLE", VERDICTS)
            .env("RESULTS_STREAM", STREAM)
            .env("DEAD_LETTER_QUEUE_URL", &queue)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!("starting {} (build it: cargo build --release -p score-stream)", binary.display())
            })?;
        let pid = child.id().to_string();
        let posted_ok = |api: &RuntimeApi| -> anyhow::Result<Instant> {
            let (at, body) = api.wait_posted(LIMIT).map_err(anyhow::Error::msg)?;
            body.map_err(|e| anyhow::anyhow!("the function posted an error: {e}"))?;
            Ok(at)
        };
        let outcome = (|| -> anyhow::Result<()> {
            let init = api.wait_poll(LIMIT).map_err(anyhow::Error::msg)? - started;
            let first_response = posted_ok(&api)? - started;
            results.push(ColdRun { init, first_response, rss_after_first_kb: report::status_kb(&pid, "VmHWM:") });
            if run + 1 == runs {
                api.wait_poll(LIMIT).map_err(anyhow::Error::msg)?;
                let at = Instant::now();
                let event = serde_json::to_string(&kinesis_event(&s.events[..big_batch], s.first)?)?;
                payload = event.len();
                api.send(event);
                let done = posted_ok(&api)?;
                big = (done - at, report::status_kb(&pid, "VmHWM:"));
            }
            Ok(())
        })();
        let _ = child.kill();
        let _ = child.wait();
        outcome?;
    }
    Ok(ColdResult {
        runs: results,
        big_batch,
        payload_bytes: payload,
        big_batch_time: big.0,
        peak_rss_kb: big.1,
        binary_bytes: std::fs::metadata(binary).map_or(0, |m| m.len()),
    })
}

// ---- report -----------------------------------------------------------------------------------

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn median<T: Copy + Ord>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

fn percentiles(sizes: &[usize]) -> (usize, usize, usize) {
    let mut s = sizes.to_vec();
    s.sort_unstable();
    let at = |q: f64| s.get(((s.len().max(1) - 1) as f64 * q).round() as usize).copied().unwrap_or(0);
    (at(0.5), at(0.99), s.last().copied().unwrap_or(0))
}

/// Lambda duration modelled as the measured handler CPU scaled to a memory size's CPU share plus
/// three dependent rounds of 10 ms (an assumed DynamoDB batch-call latency).
fn lambda_dollars_per_million(r: &SizeResult, memory_mb: u32) -> f64 {
    let per_batch_cpu = r.cpu.as_secs_f64() / r.batches.max(1) as f64;
    let duration = per_batch_cpu * (1769.0 / f64::from(memory_mb)).max(1.0) + 3.0 * 0.010;
    let invocations = 1e6 / r.size as f64;
    invocations * (duration * f64::from(memory_mb) / 1024.0 * price::LAMBDA_ARM_GB_S + price::LAMBDA_REQUEST)
}

fn render(
    a: &Args,
    w: &Workload,
    warmed: usize,
    states: &[StateUpdate],
    results: &[SizeResult],
    cold: Option<&ColdResult>,
) -> String {
    let mut md = String::new();
    let date = chrono::Utc::now().format("%Y-%m-%d");
    let seeded: Vec<usize> = states
        .iter()
        .map(|u| cost::state_item_bytes(&u.imsi, roamguard::state::codec::encode(&u.state).len(), 1))
        .collect();
    let (p50, p99, max) = percentiles(&seeded);
    md.push_str(&format!(
        "## AWS path on steady-state subscribers: calls, request units, CPU, cold start\n\n\
         Produced by `make bench-aws` (`xtask bench-aws --subscribers {} --days {} --seed {} --events {} --sizes {} --latency-ms {} --cold-runs {}`) on {date}, \
         against moto (AWS emulator) on 127.0.0.1. Every figure in this section comes from that command.\n\n\
         **Method.** `roamguard generate --subscribers {} --days {} --seed {}`: the first {} days ({warmed} events) are replayed through \
         the embedded pipeline and the {} live states they leave are written to the state table (item sizes then: p50 {p50} B, p99 {p99} B, \
         max {max} B, as DynamoDB counts them). Each batch size then scores events of the last day through the `score-stream` handler, \
         wired exactly as `main.rs` wires it (real adapters and SDK clients, embedded scorer), starting from those states with a warm \
         profile cache. Its clients talk to moto through the test kit's proxy, which keeps each call's operation, bytes, timing and \
         bodies; *read and write units* are computed from those bodies with DynamoDB's sizing rules (`roamguard::cost`): every item \
         written (a verdict's index entries too), every item read or key not found, consistency as requested. *Dependent round trips* = \
         the longest chain of calls each of which started after the previous one ended. *Handler CPU* = the CPU time of the thread \
         that ran the handler (single-threaded runtime: decode, features, model, SDK serialization and signing, HTTP). Targets (issue \
         12): ≤ 3 write units and ≤ 1 read unit per event, ≤ 15 µs of Lambda CPU per event, at batch 500.\n\n",
        a.subscribers,
        a.days,
        a.seed,
        a.events,
        a.sizes.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        a.latency_ms,
        a.cold_runs,
        w.subscribers,
        w.days,
        w.seed,
        w.days - 1,
        states.len()
    ));
    md.push_str(
        "| batch | events | AWS calls / event | dependent round trips | state items written / event | state item p50 / p99 / max | read units / event | write units / event | handler CPU / event | not scored |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in results {
        let n = r.events.max(1) as f64;
        let (p50, p99, max) = percentiles(&r.units.state_items);
        md.push_str(&format!(
            "| {} | {} | {:.3} | {} | {:.3} | {p50} / {p99} / {max} B | {:.3} | {:.3} | {:.1} µs | {} |\n",
            r.size,
            r.events,
            r.calls.len() as f64 / n,
            r.depth,
            r.units.state_items.len() as f64 / n,
            r.units.read / n,
            r.units.write as f64 / n,
            r.cpu.as_secs_f64() * 1e6 / n,
            r.not_scored
        ));
    }
    md.push_str("\nCalls by operation:\n\n");
    for r in results {
        let mut by_op: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &r.calls {
            *by_op.entry(c.operation.as_str()).or_default() += 1;
        }
        let ops: Vec<String> = by_op.iter().map(|(op, n)| format!("{op} ×{n}")).collect();
        md.push_str(&format!(
            "- {} ({} batches): {}; longest chain: {}\n",
            r.size,
            r.batches,
            ops.join(", "),
            r.chain.join(" → ")
        ));
    }
    if let Some(r) = results.iter().find(|r| r.size == 500).or(results.last()) {
        md.push_str(&format!(
            "\nA cold execution environment first reads the profiles of the subscribers it sees (eventually consistent, cached for 5 \
             minutes): here {:.0} read units for {} subscribers, {:.2} a subscriber, once per environment and cache lifetime.\n",
            r.cache_warm_read,
            r.cache_warm_subscribers,
            r.cache_warm_read / r.cache_warm_subscribers.max(1) as f64
        ));
    }
    md.push_str(&format!(
        "\n### Handler time with {} ms injected per call\n\nOne more batch per size, the proxy waiting {} ms before forwarding each call \
         (moto's own service time is in the wall time too: an upper bound).\n\n| batch | handler wall time | dependent round trips |\n|---:|---:|---:|\n",
        a.latency_ms, a.latency_ms
    ));
    for r in results {
        md.push_str(&format!("| {} | {} | {} |\n", r.size, ms(r.latency_wall), r.latency_depth));
    }
    if let Some(c) = cold {
        let init = median(c.runs.iter().map(|r| r.init).collect());
        let first = median(c.runs.iter().map(|r| r.first_response).collect());
        let rss = median(c.runs.iter().map(|r| r.rss_after_first_kb).collect());
        md.push_str(&format!(
            "\n### Cold start (release binary under a local Lambda Runtime API)\n\n\
             The release `score-stream` binary ({:.1} MB, not stripped) started {} times with the Lambda environment variables, \
             `AWS_ENDPOINT_URL` = moto, and the test kit's Runtime API on 127.0.0.1 (median shown).\n\n\
             | measure | value |\n|---|---:|\n\
             | spawn → first poll of `/invocation/next` (config, model loaded, SDK clients built) | {} |\n\
             | spawn → first response posted (a one-record batch: first TCP connections included) | {} |\n\
             | peak RSS after that first response (VmHWM) | {:.1} MB |\n\
             | a {}-record batch then (same process, moto-bound) | {} |\n\
             | peak RSS after it (VmHWM) | {:.1} MB |\n\n\
             That batch is a {:.1} MB invocation payload (Lambda's limit is 6 MB).\n",
            c.binary_bytes as f64 / 1e6,
            c.runs.len(),
            ms(init),
            ms(first),
            rss as f64 / 1024.0,
            c.big_batch,
            ms(c.big_batch_time),
            c.peak_rss_kb as f64 / 1024.0,
            c.payload_bytes as f64 / 1e6
        ));
    }
    md.push_str(&cost_section(results));
    md
}

/// Per million events, from the measured units, CPU and bytes.
fn cost_section(results: &[SizeResult]) -> String {
    let mut md = format!(
        "\n### Cost per million events\n\nFrom the figures above at us-east-1 list prices **as known to the author** (dated 2026-11-27, \
         checked against the public price pages in 2025; no internet when measured), free tiers ignored: DynamoDB on-demand \
         ${:.3} per million write units and ${:.3} per million read units; Lambda arm64 ${} per GB-s and $0.20 per million requests, \
         duration modelled as the measured handler CPU × 1,769 MB / memory (below 1,769 MB a function gets that share of a vCPU) \
         plus 3 rounds × 10 ms of DynamoDB latency; Kinesis on-demand ${}/GB in and ${}/GB out on the results stream's payloads, plus \
         ${:.2} per stream-month per stream.\n\n\
         | batch | DynamoDB $ | Lambda $ (256 MB) | Lambda $ (512 MB) | results stream $ | total (512 MB) |\n|---:|---:|---:|---:|---:|---:|\n",
        price::DYNAMODB_WRU * 1e6,
        price::DYNAMODB_RRU * 1e6,
        price::LAMBDA_ARM_GB_S,
        price::KINESIS_GB_IN,
        price::KINESIS_GB_OUT,
        price::KINESIS_STREAM_HOUR * 730.0
    );
    for r in results.iter().filter(|r| r.size >= 100) {
        let n = r.events.max(1) as f64;
        let ddb = cost::UnitsPerEvent { read: r.units.read / n, write: r.units.write as f64 / n }.dollars_per_million();
        let per_event_bytes = r.units.bytes_out as f64 / r.units.records_out.max(1) as f64;
        let kinesis = 1e6 * per_event_bytes / 1e9 * (price::KINESIS_GB_IN + price::KINESIS_GB_OUT);
        let (l256, l512) = (lambda_dollars_per_million(r, 256), lambda_dollars_per_million(r, 512));
        md.push_str(&format!(
            "| {} | ${ddb:.2} | ${l256:.4} | ${l512:.4} | ${kinesis:.3} | ${:.2} |\n",
            r.size,
            ddb + l512 + kinesis
        ));
    }
    md.push_str(&format!(
        "\nSageMaker (only with `SCORER=sagemaker`; the default scores in-process at no extra charge): one ml.m5.large endpoint instance is \
         ${:.0} a month whatever the volume.\n",
        price::SAGEMAKER_M5_LARGE_HOUR * 730.0
    ));
    md
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let w = Workload::prepare(args.subscribers, args.days, args.seed)?;
    let (profiles, states, warmed) = steady_states(&w)?;
    let events: Vec<Vec<u8>> = read_lines(&w.dir.join("measure.jsonl"))?.collect::<Result<_, _>>()?;
    // moto with isolated, O(items) transactions (shared/testkit/moto_server.py).
    let moto = Moto::start();
    let upstream: SocketAddr = ([127, 0, 0, 1], moto.port).into();
    let runtime = tokio::runtime::Runtime::new()?;
    let options = ProxyOptions {
        record_bodies: true,
        table_labels: vec![
            (PROFILES.into(), "profiles".into()),
            (STATES.into(), "states".into()),
            (VERDICTS.into(), "verdicts".into()),
        ],
        ..ProxyOptions::default()
    };
    let proxy = runtime.block_on(Proxy::start(upstream, options));
    let _guard = runtime.enter();
    let scenario =
        Scenario { moto: &moto, proxy: &proxy, profiles: &profiles, states: &states, events: &events, first: warmed };

    let mut results = Vec::new();
    for &size in &args.sizes {
        eprintln!("batch size {size} …");
        let r = std::thread::scope(|s| s.spawn(|| run_size(&scenario, size, args.events, args.latency_ms)).join())
            .map_err(|_| anyhow::anyhow!("bench thread panicked"))??;
        let n = r.events.max(1) as f64;
        eprintln!(
            "{size:>6}: {} events, {:.3} calls/event, {:.3} RRU/event, {:.3} WRU/event, {:.1} µs CPU/event, {} round trips",
            r.events,
            r.calls.len() as f64 / n,
            r.units.read / n,
            r.units.write as f64 / n,
            r.cpu.as_secs_f64() * 1e6 / n,
            r.depth
        );
        results.push(r);
    }
    let cold = if args.cold_runs > 0 {
        let big = args.sizes.iter().copied().max().unwrap_or(10_000);
        let c = cold_start(&scenario, &args.score_stream, args.cold_runs, big)?;
        eprintln!("cold start: {} runs, peak RSS {} kB after {} records", c.runs.len(), c.peak_rss_kb, c.big_batch);
        Some(c)
    } else {
        None
    };
    report::write_section(&args.out, "aws", &render(args, &w, warmed, &states, &results, cold.as_ref()))
}
