//! Label v1: what an analyst (or the simulator) knows about an event after the fact. Operators
//! label in their own taxonomies, so `fraud_type` is free text; only `fraud` drives calibration
//! and the reports.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::events::ValidationError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub event_id: String,
    pub fraud: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud_type: Option<String>,
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
    fn when_relabelled_should_keep_the_last_line() {
        let labels =
            Label::read_jsonl("{\"event_id\":\"a\",\"fraud\":true}\n{\"event_id\":\"a\",\"fraud\":false}").unwrap();
        assert!(!labels["a"].fraud);
    }
}
