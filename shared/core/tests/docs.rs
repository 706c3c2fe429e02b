//! docs/features.md documents every feature in one line; keep it in step with the code.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use roamguard::features::FEATURES;

#[test]
fn when_features_change_should_the_documented_table_match() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/features.md")).unwrap();
    let start = doc.find("<!-- features:begin").expect("features:begin marker");
    let end = doc.find("<!-- features:end -->").expect("features:end marker");
    let rows: Vec<&str> = doc[start..end].lines().filter(|l| l.starts_with("| ") && !l.starts_with("| #")).collect();
    let expected: Vec<String> =
        FEATURES.iter().enumerate().map(|(i, (name, doc))| format!("| {i} | `{name}` | {doc} |")).collect();
    assert_eq!(rows, expected, "regenerate the feature table in docs/features.md from shared/core/src/features.rs");
}
