//! The README documents every feature in one line; keep it in step with the code.

use roamguard::features::FEATURES;

#[test]
fn when_features_change_should_readme_table_match() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme.find("<!-- features:begin").expect("features:begin marker");
    let end = readme.find("<!-- features:end -->").expect("features:end marker");
    let rows: Vec<&str> = readme[start..end].lines().filter(|l| l.starts_with("| ") && !l.starts_with("| #")).collect();
    let expected: Vec<String> =
        FEATURES.iter().enumerate().map(|(i, (name, doc))| format!("| {i} | `{name}` | {doc} |")).collect();
    assert_eq!(rows, expected, "regenerate the README feature table from shared/src/features.rs");
}
