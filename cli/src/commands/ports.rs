//! The embedded ports the commands wire: profiles and live state in memory, the in-process model,
//! the verdict table (SQLite with --db, else in memory: all of it for `serve`, the most recent
//! verdicts for `score`), the verdict stream (JSON Lines with --out, else discarded) and the dead
//! letters (JSON Lines).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use roamguard::api::ApiPorts;
use roamguard::model::{FraudModel, ModelScorer};
use roamguard::pipeline::Ports;
use roamguard::ports::{DeadLetterSink, Discard, VerdictSink, VerdictStore};
use roamguard::profile::SubscriberProfile;
use roamguard::state::LiveState;
use roamguard_local::sqlite::SqliteVerdictStore;
use roamguard_local::{JsonlFile, MemorySubscriberStore, MemoryVerdictStore};

/// The verdict table: the SQLite file `db`, else in memory, where `keep` bounds it to that many
/// of the most recent verdicts (None: all of them).
pub fn verdict_store(db: Option<&Path>, keep: Option<usize>) -> anyhow::Result<Arc<dyn VerdictStore>> {
    Ok(match (db, keep) {
        (Some(path), _) => {
            Arc::new(SqliteVerdictStore::open(path).with_context(|| format!("opening {}", path.display()))?)
        }
        (None, Some(capacity)) => Arc::new(MemoryVerdictStore::bounded(capacity)),
        (None, None) => Arc::new(MemoryVerdictStore::default()),
    })
}

pub fn verdict_stream(out: Option<&Path>) -> anyhow::Result<Arc<dyn VerdictSink>> {
    Ok(match out {
        Some(path) => {
            Arc::new(JsonlFile::create(path, "verdict stream").with_context(|| format!("creating {}", path.display()))?)
        }
        None => Arc::new(Discard),
    })
}

/// The pipeline's ports; dead letters go to `dead_letter` (JSON Lines). Without `db`, the verdict
/// table in memory keeps the `keep` most recent verdicts (None: all).
pub fn pipeline_ports(
    model: Arc<FraudModel>,
    profiles: Vec<SubscriberProfile>,
    db: Option<&Path>,
    keep: Option<usize>,
    out: Option<&Path>,
    dead_letter: &Path,
) -> anyhow::Result<Ports> {
    let api = ports(model, MemorySubscriberStore::new(profiles), verdict_store(db, keep)?, out)?;
    let dead_letters = JsonlFile::create(dead_letter, "dead letters")
        .with_context(|| format!("creating {}", dead_letter.display()))?;
    Ok(with_dead_letters(api, Arc::new(dead_letters)))
}

fn with_dead_letters(api: ApiPorts, dead_letters: Arc<dyn DeadLetterSink>) -> Ports {
    Ports {
        subscribers: api.subscribers,
        scorer: api.scorer,
        fallback: api.fallback,
        verdict_store: api.verdict_store,
        verdict_sink: api.verdict_sink,
        dead_letters,
    }
}

/// A replay of labelled history (`calibrate`, `evaluate`): the pipeline's ports with nothing
/// written anywhere (dead letters are counted, not kept); the verdict table in memory keeps the
/// `keep` most recent verdicts, so a repeated event is not scored twice.
pub fn replay_ports(model: Arc<FraudModel>, profiles: Vec<SubscriberProfile>, keep: usize) -> anyhow::Result<Ports> {
    let api = ports(model, MemorySubscriberStore::new(profiles), verdict_store(None, Some(keep))?, None)?;
    Ok(with_dead_letters(api, Arc::new(Discard)))
}

/// The API's ports (an invalid request is answered, never dead-lettered). Without `db`, the
/// verdict table in memory keeps every verdict: a client may repeat any request.
/// The API's ports; `states` are live states to start from (`serve --history`).
pub fn api_ports(
    model: Arc<FraudModel>,
    profiles: Vec<SubscriberProfile>,
    states: HashMap<String, LiveState>,
    db: Option<&Path>,
    out: Option<&Path>,
) -> anyhow::Result<ApiPorts> {
    let subscribers = MemorySubscriberStore::new(profiles).with_states(states);
    ports(model, subscribers, verdict_store(db, None)?, out)
}

fn ports(
    model: Arc<FraudModel>,
    subscribers: MemorySubscriberStore,
    verdict_store: Arc<dyn VerdictStore>,
    out: Option<&Path>,
) -> anyhow::Result<ApiPorts> {
    Ok(ApiPorts {
        subscribers: Arc::new(subscribers),
        scorer: Arc::new(ModelScorer::new(model)),
        fallback: None,
        verdict_store,
        verdict_sink: verdict_stream(out)?,
    })
}
