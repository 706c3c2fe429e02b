use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use roamguard::api::{Api, ApiRequest, ApiResponse, MAX_BODY_BYTES, ProblemKind, Route, problem};
use roamguard::drift::DriftReport;
use roamguard::features::Replay;
use roamguard::model::FraudModel;
use roamguard::profile::SubscriberProfile;
use roamguard::rules::ActiveRules;
use roamguard::state::LiveState;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::jsonl::read_profiles;
use super::score::{ChallengerArgs, ModelArgs};
use super::{ports, rules};

/// How often `--rules` is looked at: a change is applied at the poll after the one that saw it
/// (so a file being written is not read half-way), within about 2 s.
const RULES_POLL: Duration = Duration::from_secs(1);

/// Serve the scoring API over plain HTTP on 127.0.0.1, with the embedded defaults.
///
/// The same handler as the score-api Lambda (see infra/openapi.yaml), no AWS needed:
///   POST /v1/score                          one RoamingEvent v1 (application/json, ≤ 16 KiB)
///                                           → its Verdict v1 (idempotent by event_id)
///   GET  /v1/verdicts/{event_id}            the stored verdict (with its analyst's label, if
///                                           any), 404 if none
///   POST /v1/verdicts/{event_id}/label      an analyst's label {"fraud": true, "fraud_type",
///                                           "note", "analyst"} on a stored verdict; the last
///                                           label wins (kept in --db); 404 if no verdict
///   GET  /v1/subscribers/{imsi}/verdicts    newest first; ?since=&until= (RFC 3339),
///                                           &decision=ALLOW|REVIEW|BLOCK, &limit=1..1000 (50),
///                                           &next=<token from the previous page>
///   GET  /v1/health                         model version and dependency status
/// For the analysts' console (served at / from this binary, docs/console.md):
///   GET  /v1/cases                          the queue: REVIEW and BLOCK verdicts, newest first,
///                                           reasons in words; ?decision=&since=&until=&rule=
///                                           &model_version=&labelled=&limit=&next=
///   GET  /v1/cases/{event_id}               one verdict as an analyst reads it
///   GET  /v1/subscribers/{imsi}             profile, last 24 h of usage against the usual day
///   GET  /v1/overview                       flagged verdicts by decision and hour, score
///                                           histogram, top reasons and rules; ?since=&until=
/// Errors are application/problem+json (RFC 9457).
///
/// The console at http://127.0.0.1:PORT/ reads and labels the verdicts of --db; --history
/// (the events file those verdicts came from) rebuilds the subscribers' live state first, so
/// its subscriber view shows their usage.
///
/// With --rules, the analysts' rules decide after the model (docs/rules.md). The file (and the
/// list files it names) is re-read when it changes, within about 2 s: a good new version replaces
/// the rules for the next requests; a broken one is refused with a line naming the rule, and the
/// last good version stays; a removed file keeps the last good version too.
///
/// Prints `listening on http://127.0.0.1:PORT` on stderr when ready, then one line per request
/// (method, route template, status, milliseconds; never an IMSI or event id). Ctrl-C or SIGTERM
/// stops accepting connections, lets in-flight requests finish, and exits 0.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// TCP port on 127.0.0.1 (0: pick a free port; the chosen one is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Subscriber profiles (JSON Lines, SubscriberProfile v1). Without it every subscriber is
    /// unknown to the model (it still scores them).
    #[arg(long)]
    pub profiles: Option<PathBuf>,
    /// Verdict table (SQLite file, created if missing). Without it, verdicts are kept in memory
    /// for the life of the server.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Events already scored (JSON Lines, RoamingEvent v1, e.g. the file `score --db` read):
    /// replayed into the subscribers' live state before serving, without scoring them, so the
    /// console's subscriber view shows their usage and new events are scored on their history.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Verdict stream output (JSON Lines, Verdict v1): every verdict answered is appended.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Analysts' rules and lists (YAML, docs/rules.md), applied after the model and re-read when
    /// the file changes. A file that does not compile at start stops the server, naming the rule.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub challenger: ChallengerArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let watched = args.rules.as_deref().map(rules::Watched::open).transpose()?;
    let profiles = match &args.profiles {
        Some(path) => read_profiles(path)?,
        None => Vec::new(),
    };
    eprintln!("model {} ({} profiles loaded)", model.version(), profiles.len());
    let (states, drift) = match &args.history {
        Some(path) => {
            let (states, report) = replay_history(&model, path, &profiles)?;
            (states, Some(report))
        }
        None => (HashMap::new(), None),
    };
    let ports = ports::api_ports(model.clone(), profiles, states, args.db.as_deref(), args.out.as_deref())?;
    let mut api = Api::new(model, ports).with_mode(args.model.mode);
    if let Some(report) = drift {
        api = api.with_drift(report);
    }
    if let Some(challenger) = args.challenger.load()? {
        api = api.with_challenger(challenger);
    }
    if let (Some((watched, first)), Some(path)) = (watched, &args.rules) {
        eprintln!("rules {}: {} (re-read when it changes)", path.display(), rules::describe(&first));
        let active = Arc::new(ActiveRules::new(first));
        watched.watch(active.clone(), RULES_POLL).context("starting the rules watcher")?;
        api = api.with_rules(active);
    }
    let api = Arc::new(api);
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_io().build().context("starting the async runtime")?;
    runtime.block_on(serve(api, args.port))
}

/// The live states `path`'s events leave, in file order, and their drift against the model's
/// training baselines.
fn replay_history(
    model: &FraudModel,
    path: &Path,
    profiles: &[SubscriberProfile],
) -> anyhow::Result<(HashMap<String, LiveState>, DriftReport)> {
    let mut replay = Replay::new(profiles.iter().cloned());
    let (report, invalid) = super::drift::measure(model, &mut replay, path)?;
    eprintln!("history {}: {} events ({invalid} invalid skipped)", path.display(), report.events);
    let states = replay.into_states();
    eprintln!("history: live state of {} subscribers", states.len());
    Ok((states, report))
}

async fn serve(api: Arc<Api>, port: u16) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.with_context(|| format!("binding 127.0.0.1:{port}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    eprintln!("listening on http://{addr}");

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let api = api.clone();
                    let mut stop = stop_rx.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req| respond(api.clone(), req));
                        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                        tokio::pin!(conn);
                        tokio::select! {
                            _ = conn.as_mut() => {}
                            _ = stop.changed() => {
                                // Finish the request in flight (if any), then close.
                                conn.as_mut().graceful_shutdown();
                                let _ = conn.await;
                            }
                        }
                    });
                }
                Err(e) => eprintln!("accept failed: {e}"),
            },
            signal = &mut shutdown => {
                eprintln!("{signal}: shutting down");
                break;
            }
        }
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    eprintln!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM, with the signal's name.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "interrupt",
                _ = term.recv() => "terminated",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "interrupt"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "interrupt"
    }
}

async fn respond(api: Arc<Api>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let content_type = req.headers().get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let console = roamguard_console::answer(&method, &path);
    let route = if console.is_some() { "(console)" } else { Route::matching(&path).0.template() };
    let response = match console {
        Some(page) => page,
        None => match read_at_most(req.into_body(), MAX_BODY_BYTES + 1).await {
            Ok(body) => {
                api.handle(ApiRequest { method: method.clone(), path: path.clone(), query, content_type, body }).await
            }
            Err(()) => problem(ProblemKind::InvalidJson, "the request body could not be read", &[]),
        },
    };
    eprintln!(
        "{method} {} {} {:.2}ms{}",
        route,
        response.status,
        started.elapsed().as_secs_f64() * 1e3,
        response.log_note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
    );
    Ok(to_hyper(response))
}

/// Reads the body up to `limit` bytes; a longer body is cut at `limit` (the API answers 413 for
/// anything over its maximum, so the rest need not be read or buffered).
async fn read_at_most(mut body: Incoming, limit: usize) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ())?;
        if let Ok(data) = frame.into_data() {
            let room = limit.saturating_sub(out.len());
            out.extend_from_slice(&data[..data.len().min(room)]);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

fn to_hyper(r: ApiResponse) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(r.body)));
    *response.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in r.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
