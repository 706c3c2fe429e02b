//! Local adapters of the pipeline's ports: in memory or on local files, so the whole pipeline
//! runs on a laptop with no AWS account. The AWS adapters are in `roamguard-aws`.

mod jsonl;
mod memory;
pub mod metered;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use std::sync::{Mutex, MutexGuard};

pub use jsonl::JsonlFile;
pub use memory::{MemoryDeadLetters, MemorySubscriberStore, MemoryVerdictSink, MemoryVerdictStore};
use roamguard::ports::PortError;

fn lock<'a, T>(m: &'a Mutex<T>, dependency: &'static str) -> Result<MutexGuard<'a, T>, PortError> {
    m.lock().map_err(|_| PortError::permanent(dependency, "lock poisoned by an earlier panic"))
}
