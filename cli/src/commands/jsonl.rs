//! The operator's JSON Lines input files (profiles, events, labels), read the same way by every
//! command. Exports from other tools may start with a UTF-8 byte-order mark and end lines with
//! CR LF: both are accepted. An events line that is not UTF-8 is one invalid event (skipped and
//! counted, or a dead letter when scoring), never the end of the run; a profiles or labels file
//! that is not UTF-8 is refused, naming the line.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::Context;
use roamguard::events::RoamingEvent;
use roamguard::labels::Label;
use roamguard::profile::SubscriberProfile;

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// SubscriberProfile v1 lines (blank lines skipped); a line that does not parse stops the read.
pub fn read_profiles(path: &Path) -> anyhow::Result<Vec<SubscriberProfile>> {
    SubscriberProfile::read_jsonl(&read_text(path)?).with_context(|| path.display().to_string())
}

/// Label v1 lines by event_id (blank lines skipped; the last label of an event wins).
pub fn read_labels(path: &Path) -> anyhow::Result<HashMap<String, Label>> {
    Label::read_jsonl(&read_text(path)?).with_context(|| path.display().to_string())
}

/// A whole file as text, without its byte-order mark.
fn read_text(path: &Path) -> anyhow::Result<String> {
    let mut bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(BYTE_ORDER_MARK) {
        bytes.drain(..BYTE_ORDER_MARK.len());
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = 1 + bytes[..at].iter().filter(|b| **b == b'\n').count();
        anyhow::anyhow!(
            "{}: line {line}: not UTF-8 text (byte 0x{:02X}): save the file as UTF-8",
            path.display(),
            bytes[at]
        )
    })
}

/// The lines of an events file in order, as bytes without their line break (LF or CR LF) and
/// without the file's byte-order mark. Blank lines are returned too: callers skip or count them.
pub struct EventLines {
    path: PathBuf,
    reader: BufReader<File>,
    line_number: usize,
    bytes_read: u64,
    total_bytes: u64,
}

impl EventLines {
    pub fn open(path: &Path) -> anyhow::Result<EventLines> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(EventLines {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, file),
            line_number: 0,
            bytes_read: 0,
            total_bytes,
        })
    }

    /// The number (from 1) of the line last returned.
    pub fn line_number(&self) -> usize {
        self.line_number
    }

    /// The next valid event: blank lines skipped, and a line that is not a RoamingEvent v1
    /// counted in `invalid` and skipped (the commands that replay a history report the count).
    pub fn next_event(&mut self, invalid: &mut usize) -> Option<anyhow::Result<RoamingEvent>> {
        for line in self.by_ref() {
            let line = match line {
                Ok(line) => line,
                Err(e) => return Some(Err(e)),
            };
            if is_blank(&line) {
                continue;
            }
            match RoamingEvent::from_json(&line) {
                Ok(event) => return Some(Ok(event)),
                Err(_) => *invalid += 1,
            }
        }
        None
    }

    /// How far through the file the reader is, in percent (for progress lines).
    pub fn percent_read(&self) -> f64 {
        if self.total_bytes == 0 { 0.0 } else { self.bytes_read as f64 * 100.0 / self.total_bytes as f64 }
    }
}

/// True for a line holding nothing but whitespace.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

impl Iterator for EventLines {
    type Item = anyhow::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(0) => return None,
            Ok(n) => self.bytes_read += n as u64,
            Err(e) => return Some(Err(e).with_context(|| format!("reading {}", self.path.display()))),
        }
        self.line_number += 1;
        if self.line_number == 1 && line.starts_with(BYTE_ORDER_MARK) {
            line.drain(..BYTE_ORDER_MARK.len());
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        Some(Ok(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file holding `bytes`, deleted on drop.
    struct TempFile(PathBuf);

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn file(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("roamguard-jsonl-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        TempFile(path)
    }

    #[test]
    fn when_an_events_file_has_a_byte_order_mark_and_cr_lf_should_return_the_bare_lines() {
        let path = file("bom-crlf", b"\xEF\xBB\xBF{\"a\":1}\r\n\r\n{\"b\":2}\r\n{\"c\":3}");
        let mut lines = EventLines::open(&path.0).unwrap();
        let read: Vec<Vec<u8>> = lines.by_ref().map(Result::unwrap).collect();
        assert_eq!(read, [&b"{\"a\":1}"[..], b"", b"{\"b\":2}", b"{\"c\":3}"]);
        assert_eq!((lines.line_number(), lines.percent_read()), (4, 100.0));
        assert!(is_blank(&read[1]) && !is_blank(&read[0]));
    }

    #[test]
    fn when_an_events_line_is_not_utf8_should_return_it_for_the_caller_to_refuse() {
        let path = file("latin1", b"{\"a\":1}\n{\"id\":\"caf\xE9\"}\n{\"b\":2}\n");
        let read: Vec<Vec<u8>> = EventLines::open(&path.0).unwrap().map(Result::unwrap).collect();
        assert_eq!(read.len(), 3);
        assert_eq!(read[1], b"{\"id\":\"caf\xE9\"}");
    }

    #[test]
    fn when_replaying_events_should_skip_blank_lines_and_count_the_invalid_ones() {
        let event = r#"{"event_id":"e-1","event_time":"2026-06-01T00:00:00Z","imsi":"208011234567890","event_type":"data","visited_country":"FR","data_bytes":1}"#;
        let path =
            file("events", format!("\n{event}\n{{not json\n  \n{}\n{event}\n", "{\"id\":\"caf\u{e9}\"}").as_bytes());
        let (mut lines, mut invalid) = (EventLines::open(&path.0).unwrap(), 0);
        let mut events = Vec::new();
        while let Some(event) = lines.next_event(&mut invalid) {
            events.push(event.unwrap().event_id);
        }
        assert_eq!((events, invalid), (vec!["e-1".to_string(), "e-1".to_string()], 2));
    }

    #[test]
    fn when_a_labels_file_is_not_utf8_should_name_the_line_and_the_byte() {
        let path = file("labels-latin1", b"{\"event_id\":\"a\",\"fraud\":false}\n\n{\"event_id\":\"b\",\"fraud\":true,\"fraud_type\":\"fraude t\xE9l\xE9phonique\"}\n");
        let error = format!("{:#}", read_labels(&path.0).unwrap_err());
        assert!(error.ends_with("line 3: not UTF-8 text (byte 0xE9): save the file as UTF-8"), "{error}");
    }

    #[test]
    fn when_a_labels_file_starts_with_a_byte_order_mark_should_read_its_first_line() {
        let path = file("labels-bom", b"\xEF\xBB\xBF{\"event_id\":\"a\",\"fraud\":true}\r\n");
        let labels = read_labels(&path.0).unwrap();
        assert!(labels["a"].fraud);
    }
}
