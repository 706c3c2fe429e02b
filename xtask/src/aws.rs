//! `xtask bench-aws` (`make bench-aws`): what the production path costs in AWS calls, and how the
//! release binary starts. Writes its section of BENCHMARKS.md (`make bench` keeps it).
//!
//! `xtask bench-aws [--out BENCHMARKS.md] [--sizes 1,100,500,1000,10000] [--latency-ms 5]
//! [--cold-runs 5] [--score-stream target/release/score-stream]` (moto_server from the PATH or .venv/bin).
//!
//! - Calls: the `score-stream` handler, built exactly as `main.rs` builds it (real adapters,
//!   real SDK clients, embedded scorer: the default configuration), scores batches of distinct
//!   subscribers whose profiles were loaded first. Its clients talk to moto through a counting
//!   HTTP proxy on 127.0.0.1 that records, per call, the operation (`X-Amz-Target`), the bytes
//!   sent and the start and end time. The dependent round trips are the longest chain of calls
//!   each of which started after the previous one ended (computed from the recorded intervals):
//!   calls that overlap were in flight together and did not wait for each other.
//! - Time: a second batch per size (new events of the same subscribers: a warm function with
//!   live state) with a fixed latency injected by the proxy before each call; handler wall time
//!   and the CPU time of the thread that ran it.
//! - Cold start: the release `score-stream` binary under a local Lambda Runtime API, against
//!   moto: time from spawn to its first poll (model loaded, clients built) and to its first
//!   response (a one-record batch), then the peak RSS (VmHWM) after a 10,000-record batch.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_lambda_events::event::kinesis::KinesisEvent;
use roamguard::countries::CountryCode;
use roamguard::model::FraudModel;
use roamguard::pipeline::{Outcome, Pipeline};
use roamguard::profile::{Plan, SubscriberProfile};
use roamguard_aws::config::ScorerChoice;
use roamguard_aws::{
    DynamoSubscriberStore, DynamoVerdictStore, SdkConfig, StreamResources, load_profiles, stream_pipeline,
};
use roamguard_testkit::aws::emulator_config;
use roamguard_testkit::moto::Moto;
use roamguard_testkit::proxy::{Call, Proxy, ProxyOptions};
use roamguard_testkit::runtime_api::RuntimeApi;

use crate::report;

const REGION: &str = "us-east-1";
const PROFILES: &str = "rg-profiles";
const STATES: &str = "rg-states";
const VERDICTS: &str = "rg-verdicts";
const STREAM: &str = "rg-results";
const QUEUE: &str = "rg-dead-letters";

/// What `xtask bench-aws` measures.
#[derive(clap::Args)]
pub struct Args {
    /// The report to write the section into.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Batch sizes (records per Kinesis batch), comma-separated.
    #[arg(long, default_value = "1,100,500,1000,10000", value_delimiter = ',')]
    sizes: Vec<usize>,
    /// Latency injected before each AWS call for the handler-time measurement.
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
fn dependent_round_trips(calls: &[Call]) -> usize {
    longest_chain(calls).len()
}

/// The operations of that chain, in order.
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

// ---- data -------------------------------------------------------------------------------------

fn imsi(i: usize) -> String {
    format!("20801{i:010}")
}

fn profile(i: usize) -> SubscriberProfile {
    SubscriberProfile {
        imsi: imsi(i),
        home_country: CountryCode::from_static("FR"),
        plan: if i.is_multiple_of(3) { Plan::Prepaid } else { Plan::Postpaid },
        tenure_days: 30 + (i as u32 % 2000),
        usual_countries: vec![CountryCode::from_static("ES"), CountryCode::from_static("IT")],
        known_imeis: vec!["35693803564380".into()],
        avg_daily_voice_min: 15.0,
        avg_daily_sms: 3.0,
        avg_daily_data_mb: 150.0,
    }
}

/// A Kinesis batch of `n` calls, one per subscriber, as Lambda delivers it.
fn kinesis_event(prefix: &str, n: usize, minute: u32) -> String {
    let records: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let event = format!(
                r#"{{"event_id":"{prefix}-{i}","event_time":"2026-06-01T12:{minute:02}:00Z","imsi":"{}","imei":"35693803564380","event_type":"voice_mo","visited_country":"ES","visited_network":"21407","called_number":"3491{:07}","duration_s":{}}}"#,
                imsi(i),
                i % 10_000_000,
                30 + i % 300
            );
            let sequence = format!("4959033827149025660855969253836157109592157598913{i:07}");
            serde_json::json!({
                "kinesis": {
                    "partitionKey": imsi(i),
                    "kinesisSchemaVersion": "1.0",
                    "data": roamguard::base64::encode(event.as_bytes()),
                    "sequenceNumber": sequence,
                    "approximateArrivalTimestamp": 1_780_315_200.0
                },
                "eventSource": "aws:kinesis",
                "eventID": format!("shardId-000000000000:{sequence}"),
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/score-stream",
                "eventVersion": "1.0",
                "eventName": "aws:kinesis:record",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/roaming-events",
                "awsRegion": REGION
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

/// Fresh tables, stream and queue on moto, and the profiles of `subscribers` subscribers.
async fn set_up(moto: &Moto, subscribers: usize) -> anyhow::Result<String> {
    moto.reset();
    let direct = emulator_config(&moto.endpoint, REGION).await;
    DynamoSubscriberStore::new(&direct, PROFILES, STATES).create_tables().await?;
    DynamoVerdictStore::new(&direct, VERDICTS).create_table().await?;
    aws_sdk_kinesis::Client::new(&direct).create_stream().stream_name(STREAM).shard_count(4).send().await?;
    let queue = aws_sdk_sqs::Client::new(&direct).create_queue().queue_name(QUEUE).send().await?;
    let profiles: Vec<SubscriberProfile> = (0..subscribers).map(profile).collect();
    load_profiles(&roamguard_aws::DynamoDbClient::new(&direct), PROFILES, &profiles, |_| {}).await?;
    Ok(queue.queue_url.unwrap_or_default())
}

/// The pipeline exactly as `main.rs` wires it (default scorer: the embedded model).
fn pipeline(sdk: &SdkConfig, queue_url: &str, model: Arc<FraudModel>) -> Pipeline {
    let resources = StreamResources {
        profiles_table: PROFILES.into(),
        states_table: STATES.into(),
        verdicts_table: VERDICTS.into(),
        results_stream: STREAM.into(),
        dead_letter_queue_url: queue_url.into(),
    };
    stream_pipeline(sdk, &resources, &ScorerChoice::Embedded, model)
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .map_or(Duration::ZERO, Duration::from_nanos)
}

// ---- per batch size ---------------------------------------------------------------------------

struct SizeResult {
    size: usize,
    calls: Vec<Call>,
    depth: usize,
    chain: Vec<String>,
    retries: usize,
    warm_wall: Duration,
    warm_cpu: Duration,
    warm_depth: usize,
    warm_calls: usize,
    warm_retries: usize,
}

/// Runs on a thread of its own with a single-threaded runtime (a Lambda of ≤ 1,769 MB has at
/// most one vCPU), so the thread's CPU time is the handler's, SDK included.
fn run_size(moto: &Moto, proxy: &Proxy, size: usize, latency_ms: u64) -> anyhow::Result<SizeResult> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let queue = set_up(moto, size).await?;
        let sdk = emulator_config(&proxy.endpoint, REGION).await;
        let model = Arc::new(FraudModel::embedded()?);
        let pipeline = pipeline(&sdk, &queue, model);
        let retries = |outcomes: &[Outcome]| outcomes.iter().filter(|o| !matches!(o, Outcome::Verdict(_))).count();

        let first: KinesisEvent = serde_json::from_str(&kinesis_event("a", size, 0))?;
        proxy.set_latency(Duration::ZERO);
        proxy.take_calls();
        let (_, report) = score_stream::handle(&pipeline, &first).await;
        let calls = proxy.take_calls();
        let depth = dependent_round_trips(&calls);
        let chain = longest_chain(&calls);
        let first_retries = retries(&report.outcomes);

        let second: KinesisEvent = serde_json::from_str(&kinesis_event("b", size, 1))?;
        proxy.set_latency(Duration::from_millis(latency_ms));
        let cpu = thread_cpu();
        let started = Instant::now();
        let (_, report) = score_stream::handle(&pipeline, &second).await;
        let warm_wall = started.elapsed();
        let warm_cpu = thread_cpu().saturating_sub(cpu);
        proxy.set_latency(Duration::ZERO);
        let warm = proxy.take_calls();
        Ok(SizeResult {
            size,
            depth,
            chain,
            retries: first_retries,
            warm_wall,
            warm_cpu,
            warm_depth: dependent_round_trips(&warm),
            warm_calls: warm.len(),
            warm_retries: retries(&report.outcomes),
            calls,
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

fn cold_start(moto: &Moto, binary: &Path, runs: usize, big_batch: usize) -> anyhow::Result<ColdResult> {
    // A hang guard, not a performance bound.
    const LIMIT: Duration = Duration::from_secs(600);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let queue = runtime.block_on(set_up(moto, big_batch))?;
    let mut results = Vec::new();
    let mut big = (Duration::ZERO, 0);
    let mut payload = 0;
    for run in 0..runs {
        let api = RuntimeApi::start("score-stream")?;
        api.send(kinesis_event(&format!("cold{run}"), 1, 0));
        let started = Instant::now();
        let mut child = api
            .function_command(binary, "score-stream")
            .env("AWS_ENDPOINT_URL", &moto.endpoint)
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
                let event = kinesis_event(&format!("big{run}"), big_batch, 1);
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

/// US-East-1 list prices as known to the author (public price pages, 2024–2025); no internet
/// at measurement time to re-check them.
mod price {
    pub const LAMBDA_ARM_GB_S: f64 = 0.000_013_333_4;
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    pub const DDB_WRU: f64 = 0.625 / 1e6;
    pub const DDB_RRU: f64 = 0.125 / 1e6;
    pub const KDS_OD_STREAM_HOUR: f64 = 0.04;
    pub const KDS_OD_GB_IN: f64 = 0.08;
    pub const KDS_OD_GB_OUT: f64 = 0.04;
    pub const KDS_SHARD_HOUR: f64 = 0.015;
    pub const KDS_PUT_UNIT: f64 = 0.014 / 1e6;
    pub const SAGEMAKER_M5_LARGE_HOUR: f64 = 0.115;
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn median<T: Copy + Ord>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

fn render(results: &[SizeResult], latency_ms: u64, cold: Option<&ColdResult>, command: &str) -> String {
    let mut md = String::new();
    let date = chrono::Utc::now().format("%Y-%m-%d");
    md.push_str(&format!(
        "## AWS path: calls, round trips, handler time, cold start\n\n\
         Produced by `make bench-aws` (`{command}`) on {date}, against moto (AWS emulator) on 127.0.0.1. \
         Every figure in this section comes from that command.\n\n\
         **Method.** The `score-stream` handler, wired exactly as `main.rs` wires it (real DynamoDB, Kinesis and SQS \
         adapters, real SDK clients, the default embedded scorer), scores one Kinesis batch of N events of N distinct \
         subscribers whose profiles were loaded first. Its SDK clients talk to moto through a counting HTTP proxy on \
         127.0.0.1 that records each call's operation (`X-Amz-Target`, and the table for DynamoDB), the bytes sent \
         (request line, headers and body) and when the call started and ended. *Dependent round trips* = the longest \
         chain of calls each of which started after the previous one had ended, computed from the recorded intervals \
         (calls that overlap were in flight together); error answers of the emulator, retried by the SDK, are counted \
         as calls but left out of the chains. moto runs with one change (`shared/testkit/moto_server.py`): its \
         TransactWriteItems deep-copies every table it touches before each call (O(table) per call: seconds per call \
         at 10,000 items) and concurrent transactions undo each other's rollbacks; moto_server.py runs them one at a \
         time with a snapshot of only the touched items, and the proxy forwards them one at a time too. The client \
         still has all of a round's calls in flight at once. Targets (issue 7): ≤ 0.1 calls per event at N ≥ 500, ≤ 3 \
         dependent round trips per batch.\n\n"
    ));
    md.push_str("### Calls per batch (first batch: new subscribers' first events)\n\n");
    md.push_str("| events | AWS calls | calls / event | dependent round trips | bytes sent | bytes / event | calls by operation | error answers | not scored |\n|---:|---:|---:|---:|---:|---:|---|---:|---:|\n");
    for r in results {
        let mut by_op: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &r.calls {
            *by_op.entry(c.operation.as_str()).or_default() += 1;
        }
        let ops: Vec<String> = by_op.iter().map(|(op, n)| format!("{op} ×{n}")).collect();
        let bytes: usize = r.calls.iter().map(|c| c.sent_bytes).sum();
        md.push_str(&format!(
            "| {} | {} | {:.3} | {} | {} | {:.0} | {} | {} | {} |\n",
            r.size,
            r.calls.len(),
            r.calls.len() as f64 / r.size as f64,
            r.depth,
            bytes,
            bytes as f64 / r.size as f64,
            ops.join(", "),
            r.calls.iter().filter(|c| !c.ok).count(),
            r.retries
        ));
    }
    md.push_str("\nLongest chain found per batch (first batch, no injected latency):\n\n");
    for r in results {
        md.push_str(&format!("- {}: {}\n", r.size, r.chain.join(" → ")));
    }
    md.push_str(
        "\nWithout injected latency moto may answer the first calls of a round before the single-threaded client \
         has sent the last ones (a cold client opens a connection per call in flight: 200 for the first round of a \
         10,000-record batch); the overlap method then chains two calls of the same round (an earlier run of this \
         bench measured 4 at 10,000 that way: two reads in a row). With the 5 ms per call below, every batch size \
         measures 3.\n",
    );
    md.push_str(&format!(
        "\nThe three rounds: (1) verdict lookup (BatchGetItem, verdicts), profile + live-state load (BatchGetItem, \
         profiles, strongly consistent) and dead letters (SQS, only when a batch has some) at once; (2) the verdicts, \
         conditional Puts in TransactWriteItems of 100; (3) the results stream (PutRecords of 500) and the live states, \
         conditional Updates in TransactWriteItems of 100, at once. Every chunk of a round is in flight at once. With \
         `SCORER=sagemaker` one InvokeEndpoint round (5 MB payloads) comes between (1) and (2): 4 dependent round trips.\n\n\
         ### Handler time with {latency_ms} ms injected per call (second batch: same subscribers, new events)\n\n\
         The proxy waits {latency_ms} ms before forwarding each call. Moto's own service time (single Python process, \
         ~30 ms per BatchGetItem of 100 on this machine, more for transactions) is in the wall time too, so it is an \
         upper bound for what real DynamoDB would take; *handler CPU* is the CPU time of the thread that ran the \
         handler (single-threaded runtime: decode, features, model, SDK serialization and signing).\n\n\
         | events | handler wall time | per event | handler CPU | CPU per event | calls | dependent round trips | not scored |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n"
    ));
    for r in results {
        md.push_str(&format!(
            "| {} | {} | {:.3} ms | {} | {:.1} µs | {} | {} | {} |\n",
            r.size,
            ms(r.warm_wall),
            r.warm_wall.as_secs_f64() * 1e3 / r.size as f64,
            ms(r.warm_cpu),
            r.warm_cpu.as_secs_f64() * 1e6 / r.size as f64,
            r.warm_calls,
            r.warm_depth,
            r.warm_retries
        ));
    }
    if let Some(c) = cold {
        let init = median(c.runs.iter().map(|r| r.init).collect());
        let first = median(c.runs.iter().map(|r| r.first_response).collect());
        let rss = median(c.runs.iter().map(|r| r.rss_after_first_kb).collect());
        md.push_str(&format!(
            "\n### Cold start (release binary under a local Lambda Runtime API)\n\n\
             The release `score-stream` binary ({:.1} MB, not stripped) started {} times with the Lambda environment \
             variables, `AWS_ENDPOINT_URL` = moto, and a Runtime API of the test kit's on 127.0.0.1 (median shown).\n\n\
             | measure | value |\n|---|---:|\n\
             | spawn → first poll of `/invocation/next` (config, model loaded, SDK clients built) | {} |\n\
             | spawn → first response posted (a one-record batch: first TCP connections included) | {} |\n\
             | peak RSS after that first response (VmHWM) | {:.1} MB |\n\
             | a {}-record batch then (same process, warm) | {} |\n\
             | peak RSS after the {}-record batch (VmHWM) | {:.1} MB |\n\n\
             The batch time is moto's (see above). That batch is a {:.1} MB invocation payload (Lambda's limit is \
             6 MB: with events this size Lambda delivers fewer records per batch); at that peak RSS a 128 MB function \
             has little headroom, 256 MB has plenty.\n",
            c.binary_bytes as f64 / 1e6,
            c.runs.len(),
            ms(init),
            ms(first),
            rss as f64 / 1024.0,
            c.big_batch,
            ms(c.big_batch_time),
            c.big_batch,
            c.peak_rss_kb as f64 / 1024.0,
            c.payload_bytes as f64 / 1e6
        ));
    }
    md.push_str(&cost(results));
    md
}

/// Per million events, on paper, from the counts above.
fn cost(results: &[SizeResult]) -> String {
    use price::*;
    let mut md = format!(
        "\n### Cost estimate per million events (on paper)\n\n\
         Prices: AWS us-east-1 **list prices as known to the author** (no internet when measured; dated 2026-11-27, \
         last checked against the public price pages in 2025): Lambda arm64 ${LAMBDA_ARM_GB_S} per GB-s and \
         $0.20 per million requests; DynamoDB on-demand $0.625 per million write request units (WRU) and $0.125 per \
         million read request units (RRU); Kinesis Data Streams on-demand $0.04 per stream-hour, $0.08 per GB in, \
         $0.04 per GB out, provisioned $0.015 per shard-hour and $0.014 per million 25 KB PUT payload units; \
         SageMaker real-time ml.m5.large $0.115 per hour. Free tiers ignored.\n\n"
    );
    // Lambda: duration = CPU scaled to the memory size's CPU share + the I/O rounds.
    md.push_str(
        "**Lambda** (one invocation per batch). Duration modelled as the measured handler CPU time × 1,769 MB / memory \
         (below 1,769 MB a function gets that fraction of a vCPU) + 3 dependent rounds × 25 ms (an assumed DynamoDB \
         TransactWriteItems / BatchGetItem latency for 100 items; the moto wall times above are not representative).\n\n\
         | batch | memory | modelled duration | GB-s per M events | duration $ per M | request $ per M | Lambda $ per M events |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in results.iter().filter(|r| r.size >= 100) {
        for mem in [128u32, 256, 512] {
            let scale = (1769.0 / f64::from(mem)).max(1.0);
            let duration = r.warm_cpu.as_secs_f64() * scale + 3.0 * 0.025;
            let invocations = 1e6 / r.size as f64;
            let gb_s = invocations * duration * f64::from(mem) / 1024.0;
            let requests = invocations * LAMBDA_REQUEST;
            md.push_str(&format!(
                "| {} | {mem} MB | {:.0} ms | {:.0} | ${:.4} | ${:.4} | ${:.4} |\n",
                r.size,
                duration * 1e3,
                gb_s,
                gb_s * LAMBDA_ARM_GB_S,
                requests,
                gb_s * LAMBDA_ARM_GB_S + requests
            ));
        }
    }
    // DynamoDB: request units per event from the counted calls.
    let verdict_kb = 1.0; // a verdict item is ~0.4–0.6 KB: one 1 KB unit
    let state_kb = 1.0; // a live state after a few events (JSON string) + profile: under 1 KB, more when busy
    let wru_per_event = 2.0 * verdict_kb + 2.0 * 1.0 + 2.0 * state_kb; // tx put + 2 GSI puts + tx update
    let rru_per_event = 0.5 + 1.0; // eventually consistent verdict lookup + strongly consistent state read
    let ddb = wru_per_event * 1e6 * DDB_WRU + rru_per_event * 1e6 * DDB_RRU;
    md.push_str(&format!(
        "\n**DynamoDB on-demand**, per event: reads 0.5 RRU (verdict lookup, eventually consistent, a miss still \
         costs the minimum) + 1 RRU (profile + state, strongly consistent, < 4 KB) = {rru_per_event} RRU; writes \
         2 WRU (transactional Put of a < 1 KB verdict) + 2 WRU (the two GSIs, projection ALL, a plain write each) + \
         2 WRU (transactional Update of the subscriber item, < 1 KB; a busy subscriber's state grows toward a few KB, \
         2 WRU per KB) = {wru_per_event} WRU → **${ddb:.2} per million events** (writes ${:.2}, reads ${:.2}). \
         Transactions double the base-table write units against conditional PutItem / UpdateItem (which would be \
         4 WRU/event, $2.50/M, but one call per item: 2 calls per event); that is the price of one call per 100 items.\n\n",
        wru_per_event * 1e6 * DDB_WRU,
        rru_per_event * 1e6 * DDB_RRU
    ));
    // Kinesis: input events (~300 B) and verdicts (~400 B) per event.
    let gb_in = 1e6 * (300.0 + 450.0) / 1e9;
    let gb_out = gb_in;
    md.push_str(&format!(
        "**Kinesis** (input stream ~300 B per event, results stream ~450 B per verdict, each read once): on-demand \
         ${:.3} per million events in data charges (${:.3} in + ${:.3} out) plus ${:.2} per stream-month for each of \
         the two streams; provisioned: ${:.3} per million events in PUT payload units plus ${:.2} per shard-month \
         (1 shard takes 1,000 records/s or 1 MB/s in).\n\n",
        gb_in * KDS_OD_GB_IN + gb_out * KDS_OD_GB_OUT,
        gb_in * KDS_OD_GB_IN,
        gb_out * KDS_OD_GB_OUT,
        KDS_OD_STREAM_HOUR * 730.0,
        2e6 * KDS_PUT_UNIT,
        KDS_SHARD_HOUR * 730.0
    ));
    md.push_str(&format!(
        "**SageMaker** (only with `SCORER=sagemaker`; the default scores in-process at no extra charge): one \
         ml.m5.large endpoint instance is ${:.0} a month whatever the volume: ${:.2} per million events at a sustained \
         100 events/s, ${:.3} at 1,000 events/s.\n",
        SAGEMAKER_M5_LARGE_HOUR * 730.0,
        SAGEMAKER_M5_LARGE_HOUR * 730.0 / (100.0 * 730.0 * 3600.0 / 1e6),
        SAGEMAKER_M5_LARGE_HOUR * 730.0 / (1000.0 * 730.0 * 3600.0 / 1e6)
    ));
    md
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let big_batch = args.sizes.iter().copied().max().unwrap_or(10_000);
    // moto with isolated, O(items) transactions (shared/testkit/moto_server.py).
    let moto = Moto::start();
    let upstream: SocketAddr = ([127, 0, 0, 1], moto.port).into();
    let runtime = tokio::runtime::Runtime::new()?;
    let options = ProxyOptions {
        serialize_transactions: true,
        table_labels: vec![(PROFILES.into(), "profiles".into()), (VERDICTS.into(), "verdicts".into())],
        ..ProxyOptions::default()
    };
    let proxy = runtime.block_on(Proxy::start(upstream, options));
    let _guard = runtime.enter();

    let mut results = Vec::new();
    for &size in &args.sizes {
        let r = std::thread::scope(|s| s.spawn(|| run_size(&moto, &proxy, size, args.latency_ms)).join())
            .map_err(|_| anyhow::anyhow!("bench thread panicked"))??;
        eprintln!(
            "{size:>6} events: {} calls, {} dependent round trips ({}); warm {} ({} CPU), {} round trips",
            r.calls.len(),
            r.depth,
            r.chain.join(" → "),
            ms(r.warm_wall),
            ms(r.warm_cpu),
            r.warm_depth
        );
        results.push(r);
    }
    let cold = if args.cold_runs > 0 {
        let c = cold_start(&moto, &args.score_stream, args.cold_runs, big_batch)?;
        eprintln!("cold start: {} runs, peak RSS {} kB after {} records", c.runs.len(), c.peak_rss_kb, c.big_batch);
        Some(c)
    } else {
        None
    };
    let command = format!(
        "xtask bench-aws --out {} --sizes {} --latency-ms {} --cold-runs {}",
        args.out.display(),
        args.sizes.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        args.latency_ms,
        args.cold_runs
    );
    report::write_section(&args.out, "aws", &render(&results, args.latency_ms, cold.as_ref(), &command))
}
