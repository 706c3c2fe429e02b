//! JSON Lines files: the verdict stream and the dead letters of the embedded pipeline.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use async_trait::async_trait;
use roamguard::ports::{DeadLetter, DeadLetterSink, PortError, VerdictSink};
use roamguard::verdict::Verdict;

use crate::lock;

/// Appends JSON Lines to a file (verdict stream or dead letters), flushed after every batch.
pub struct JsonlFile {
    name: &'static str,
    out: Mutex<BufWriter<File>>,
}

impl JsonlFile {
    /// Creates (truncates) the file.
    pub fn create(path: &Path, name: &'static str) -> std::io::Result<JsonlFile> {
        Ok(JsonlFile { name, out: Mutex::new(BufWriter::new(File::create(path)?)) })
    }

    fn append<T: serde::Serialize>(&self, items: &[T]) -> Result<(), PortError> {
        let mut out = lock(&self.out, self.name)?;
        let io = |e: std::io::Error| PortError::transient(self.name, e.to_string());
        for item in items {
            serde_json::to_writer(&mut *out, item).map_err(|e| PortError::permanent(self.name, e.to_string()))?;
            out.write_all(b"\n").map_err(io)?;
        }
        out.flush().map_err(io)
    }
}

#[async_trait]
impl VerdictSink for JsonlFile {
    async fn publish(&self, verdicts: &[Verdict]) -> Result<Vec<usize>, PortError> {
        self.append(verdicts).map(|()| Vec::new())
    }
}

#[async_trait]
impl DeadLetterSink for JsonlFile {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), PortError> {
        self.append(letters)
    }
}
