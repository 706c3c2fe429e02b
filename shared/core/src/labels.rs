//! Label v1: what an analyst (or the simulator) knows about an event after the fact. Operators
//! label in their own taxonomies, so `fraud_type` is free text; only `fraud` drives calibration
//! and the reports.
//!
//! [`StoredLabel`] is what an analyst posts on a verdict (`POST /v1/verdicts/{event_id}/label`),
//! kept with the verdict in the verdict table; with its event_id it is a Label v1
//! ([`StoredLabel::to_label`]), the export's line.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::ValidationError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub event_id: String,
    pub fraud: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud_type: Option<String>,
}

/// An analyst's label as the verdict table keeps it: the last one posted for an event (a new
/// label replaces the whole previous one). `note` and `analyst` stay in the table for audit and
/// are not part of Label v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLabel {
    pub fraud: bool,
    /// Free text, in the operator's taxonomy (at most [`StoredLabel::MAX_FRAUD_TYPE`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Who labelled (an id or a name, as the operator's tools give it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyst: Option<String>,
    /// When the label was stored (RFC 3339 UTC).
    #[serde(with = "crate::events::rfc3339")]
    pub labelled_at: DateTime<Utc>,
}

impl StoredLabel {
    /// Longest `fraud_type`, in characters.
    pub const MAX_FRAUD_TYPE: usize = 64;
    /// Longest `note`, in characters.
    pub const MAX_NOTE: usize = 1000;
    /// Longest `analyst`, in characters.
    pub const MAX_ANALYST: usize = 128;

    /// The Label v1 line of this event (what `make train` and `calibrate` read).
    pub fn to_label(&self, event_id: &str) -> Label {
        Label { event_id: event_id.to_string(), fraud: self.fraud, fraud_type: self.fraud_type.clone() }
    }
}

/// A labels file that cannot be read, by line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {error}")]
pub struct LabelError {
    pub line: usize,
    pub error: ValidationError,
}

impl Label {
    /// Parses and checks one label: a non-empty event_id, a boolean `fraud`.
    pub fn from_json(bytes: &[u8]) -> Result<Label, ValidationError> {
        let label: Label = ValidationError::parse(bytes)?;
        if label.event_id.is_empty() || label.event_id.len() > 128 {
            return Err(ValidationError::new("event_id", "must be 1–128 characters"));
        }
        Ok(label)
    }

    /// Labels of a JSON Lines file by event_id (blank lines skipped; a later line for the same
    /// event replaces an earlier one, as a relabelling would).
    pub fn read_jsonl(text: &str) -> Result<HashMap<String, Label>, LabelError> {
        let mut labels = HashMap::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let label = Label::from_json(line.as_bytes()).map_err(|error| LabelError { line: i + 1, error })?;
            labels.insert(label.event_id.clone(), label);
        }
        Ok(labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_reading_labels_should_accept_free_text_types_and_skip_blank_lines() {
        let text = "{\"event_id\":\"a\",\"fraud\":true,\"fraud_type\":\"PBX hacking\"}\n\n{\"event_id\":\"b\",\"fraud\":false}\n";
        let labels = Label::read_jsonl(text).unwrap();
        assert_eq!(labels["a"].fraud_type.as_deref(), Some("PBX hacking"));
        assert!(!labels["b"].fraud);
    }

    #[test]
    fn when_a_label_is_malformed_should_name_line_and_field() {
        let err = Label::read_jsonl("{\"event_id\":\"a\",\"fraud\":true}\n{\"event_id\":\"b\",\"fraud\":\"yes\"}")
            .unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.error.field, "fraud");
        assert!(Label::from_json(br#"{"event_id":"","fraud":true}"#).is_err());
        assert!(Label::from_json(br#"{"fraud":true}"#).is_err());
    }

    #[test]
    fn when_a_stored_label_is_exported_should_give_label_v1_without_note_or_analyst() {
        let t = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 6, 2, 9, 30, 0).unwrap();
        let stored = StoredLabel {
            fraud: true,
            fraud_type: Some("irsf".into()),
            note: Some("called back".into()),
            analyst: Some("ana".into()),
            labelled_at: t,
        };
        let label = stored.to_label("e-1");
        assert_eq!(label, Label { event_id: "e-1".into(), fraud: true, fraud_type: Some("irsf".into()) });
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(json["labelled_at"], "2026-06-02T09:30:00Z");
        assert_eq!(serde_json::from_value::<StoredLabel>(json).unwrap(), stored);
    }

    #[test]
    fn when_relabelled_should_keep_the_last_line() {
        let labels =
            Label::read_jsonl("{\"event_id\":\"a\",\"fraud\":true}\n{\"event_id\":\"a\",\"fraud\":false}").unwrap();
        assert!(!labels["a"].fraud);
    }
}
