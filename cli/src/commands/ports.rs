//! The embedded ports the commands wire: profiles and live state in memory, the in-process model,
//! the verdict table (SQLite with --db, else in memory), the verdict stream (JSON Lines with
//! --out, else discarded) and the dead letters (JSON Lines).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use roamguard::api::ApiPorts;
use roamguard::model::{FraudModel, ModelScorer};
use roamguard::pipeline::Ports;
use roamguard::ports::{Discard, VerdictSink, VerdictStore};
use roamguard::profile::SubscriberProfile;
use roamguard_local::sqlite::SqliteVerdictStore;
use roamguard_local::{JsonlFile, MemorySubscriberStore, MemoryVerdictStore};

pub fn verdict_store(db: Option<&Path>) -> anyhow::Result<Arc<dyn VerdictStore>> {
    Ok(match db {
        Some(path) => Arc::new(SqliteVerdictStore::open(path).with_context(|| format!("opening {}", path.display()))?),
        None => Arc::new(MemoryVerdictStore::default()),
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

/// The pipeline's ports; dead letters go to `dead_letter` (JSON Lines).
pub fn pipeline_ports(
    model: Arc<FraudModel>,
    profiles: Vec<SubscriberProfile>,
    db: Option<&Path>,
    out: Option<&Path>,
    dead_letter: &Path,
) -> anyhow::Result<Ports> {
    let api = api_ports(model, profiles, db, out)?;
    let dead_letters = JsonlFile::create(dead_letter, "dead letters")
        .with_context(|| format!("creating {}", dead_letter.display()))?;
    Ok(Ports {
        subscribers: api.subscribers,
        scorer: api.scorer,
        fallback: api.fallback,
        verdict_store: api.verdict_store,
        verdict_sink: api.verdict_sink,
        dead_letters: Arc::new(dead_letters),
    })
}

/// The API's ports (an invalid request is answered, never dead-lettered).
pub fn api_ports(
    model: Arc<FraudModel>,
    profiles: Vec<SubscriberProfile>,
    db: Option<&Path>,
    out: Option<&Path>,
) -> anyhow::Result<ApiPorts> {
    Ok(ApiPorts {
        subscribers: Arc::new(MemorySubscriberStore::new(profiles)),
        scorer: Arc::new(ModelScorer::new(model)),
        fallback: None,
        verdict_store: verdict_store(db)?,
        verdict_sink: verdict_stream(out)?,
    })
}
