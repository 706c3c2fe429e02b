//! Parity of the pure-Rust XGBoost evaluator with Python xgboost.
//!
//! The fixture in `tests/fixtures/xgb_small/` is produced by `training/make_parity_fixture.py`:
//! a small `binary:logistic` model (JSON + UBJ) and `parity.csv` with xgboost's probabilities
//! and `pred_contribs` for rows with missing values and values sitting exactly on thresholds.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::path::{Path, PathBuf};

use roamguard::model::xgboost::{ModelError, XgbModel};

const PROB_TOLERANCE: f64 = 1e-6;
const CONTRIB_TOLERANCE: f64 = 1e-5;
/// Fast TreeSHAP vs the `f32` reference, relative to `max(1, |value|)` (see
/// `assert_fast_matches_reference`).
const REFERENCE_TOLERANCE: f64 = 1e-6;
/// sum(contributions) vs margin: both are f32 sums, of different terms, over every tree; the
/// gap grows with the tree count (~2e-6 on the 60-tree fixture), hence the margin for ~200 trees.
const SUM_TOLERANCE: f64 = 1e-4;

fn manifest_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn fixture(name: &str) -> PathBuf {
    manifest_path("tests/fixtures/xgb_small").join(name)
}

fn load_json(path: &Path) -> XgbModel {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    XgbModel::from_json_slice(&bytes).unwrap_or_else(|e| panic!("load {}: {e}", path.display()))
}

/// One row of `parity.csv`.
struct ParityRow {
    features: Vec<f32>,
    prob: f64,
    contribs: Vec<f64>,
}

/// Parses `parity.csv` by hand: header `f0..f{N-1},prob,contrib_0..contrib_N`, an empty cell is
/// a missing feature.
fn read_parity(path: &Path) -> (usize, Vec<ParityRow>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("parity.csv has a header").split(',').collect();
    let n = header.iter().filter(|h| h.starts_with('f')).count();
    let mut expected: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
    expected.push("prob".into());
    expected.extend((0..=n).map(|i| format!("contrib_{i}")));
    assert_eq!(header, expected, "unexpected parity.csv header");

    let rows = lines
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), header.len(), "row {i}: wrong number of cells");
            let features =
                cells[..n].iter().map(|c| if c.is_empty() { f32::NAN } else { c.parse().unwrap() }).collect();
            let prob = cells[n].parse().unwrap();
            let contribs = cells[n + 1..].iter().map(|c| c.parse().unwrap()).collect();
            ParityRow { features, prob, contribs }
        })
        .collect();
    (n, rows)
}

/// Asserts the model at `model_path` reproduces every probability and contribution recorded in
/// `parity_path` (written by `training/make_parity_fixture.py`'s `write_parity_csv`).
fn assert_parity(model_path: &Path, parity_path: &Path) {
    let model = load_json(model_path);
    let (n, rows) = read_parity(parity_path);
    assert_eq!(model.num_features(), n, "parity file and model disagree on the feature count");
    assert!(!rows.is_empty(), "parity file has no rows");

    let (mut max_prob, mut max_contrib, mut max_sum) = (0f64, 0f64, 0f64);
    let mut contribs = vec![0f32; n + 1];
    for (i, row) in rows.iter().enumerate() {
        let prob = f64::from(model.predict_proba(&row.features));
        let d = (prob - row.prob).abs();
        assert!(d <= PROB_TOLERANCE, "row {i}: prob {prob} vs xgboost {} (diff {d:e})", row.prob);
        max_prob = max_prob.max(d);

        model.contributions(&row.features, &mut contribs);
        for (j, (&ours, &theirs)) in contribs.iter().zip(&row.contribs).enumerate() {
            let d = (f64::from(ours) - theirs).abs();
            assert!(d <= CONTRIB_TOLERANCE, "row {i} contrib {j}: {ours} vs xgboost {theirs} (diff {d:e})");
            max_contrib = max_contrib.max(d);
        }

        let margin = f64::from(model.predict_margin(&row.features));
        let sum: f64 = contribs.iter().map(|&c| f64::from(c)).sum();
        let d = (sum - margin).abs();
        assert!(d <= SUM_TOLERANCE, "row {i}: sum(contribs) {sum} vs margin {margin} (diff {d:e})");
        max_sum = max_sum.max(d);
    }

    let mut batch = Vec::new();
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.features.iter().copied()).collect();
    model.predict_proba_batch(&flat, &mut batch);
    assert_eq!(batch.len(), rows.len());
    for (i, (row, &p)) in rows.iter().zip(&batch).enumerate() {
        assert_eq!(p.to_bits(), model.predict_proba(&row.features).to_bits(), "batch row {i}");
    }

    eprintln!(
        "parity {}: {} rows, max |prob diff| {max_prob:e}, max |contrib diff| {max_contrib:e}, \
         max |sum(contribs) - margin| {max_sum:e}",
        model_path.display(),
        rows.len()
    );
}

#[test]
fn when_fixture_model_is_scored_should_match_python_xgboost() {
    assert_parity(&fixture("model.json"), &fixture("parity.csv"));
}

#[test]
fn when_production_model_is_scored_should_match_python_xgboost() {
    let model = manifest_path("../../models/model.json");
    let parity = manifest_path("../../models/parity.csv");
    assert_parity(&model, &parity);
}

/// The fast TreeSHAP behind `contributions` against `contributions_reference`, the transcription
/// of xgboost's own algorithm, on every parity row (missing values, values on thresholds and just
/// below them, an all-missing row). The reference rounds to `f32` at every step of ~60-200 trees
/// while the fast path works in `f64`, so they differ by the reference's rounding: a few `f32`
/// ulps of the value, hence a tolerance relative to `max(1, |value|)`. The bias is the same sum.
fn assert_fast_matches_reference(model_path: &Path, parity_path: &Path) {
    let model = load_json(model_path);
    let (n, rows) = read_parity(parity_path);
    let (mut fast, mut reference) = (vec![0f32; n + 1], vec![0f32; n + 1]);
    let mut worst = 0f64;
    for (i, row) in rows.iter().enumerate() {
        model.contributions(&row.features, &mut fast);
        model.contributions_reference(&row.features, &mut reference);
        assert_eq!(fast[n].to_bits(), reference[n].to_bits(), "row {i}: bias");
        for (j, (&a, &b)) in fast.iter().zip(&reference).enumerate() {
            let d = (f64::from(a) - f64::from(b)).abs() / f64::from(b.abs()).max(1.0);
            assert!(d <= REFERENCE_TOLERANCE, "row {i} contrib {j}: fast {a} vs reference {b}");
            worst = worst.max(d);
        }
    }
    eprintln!(
        "fast vs reference TreeSHAP {}: {} rows, max |diff| / max(1, |value|) {worst:e}",
        model_path.display(),
        rows.len()
    );
}

#[test]
fn when_fast_shap_runs_on_fixture_rows_should_match_xgboosts_algorithm() {
    assert_fast_matches_reference(&fixture("model.json"), &fixture("parity.csv"));
}

#[test]
fn when_fast_shap_runs_on_production_rows_should_match_xgboosts_algorithm() {
    let model = manifest_path("../../models/model.json");
    let parity = manifest_path("../../models/parity.csv");
    assert_fast_matches_reference(&model, &parity);
}

#[test]
fn when_model_is_loaded_from_ubj_should_score_identically_to_json() {
    let json = load_json(&fixture("model.json"));
    let ubj = XgbModel::from_ubj_slice(&std::fs::read(fixture("model.ubj")).unwrap()).unwrap();
    assert_eq!(ubj.num_features(), json.num_features());
    assert_eq!(ubj.num_trees(), json.num_trees());
    assert_eq!(ubj.feature_names(), json.feature_names());
    assert_eq!(ubj.base_margin().to_bits(), json.base_margin().to_bits());

    let (n, rows) = read_parity(&fixture("parity.csv"));
    let (mut a, mut b) = (vec![0f32; n + 1], vec![0f32; n + 1]);
    for (i, row) in rows.iter().enumerate() {
        let (pj, pu) = (json.predict_proba(&row.features), ubj.predict_proba(&row.features));
        assert_eq!(pj.to_bits(), pu.to_bits(), "row {i}: prob");
        json.contributions(&row.features, &mut a);
        ubj.contributions(&row.features, &mut b);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b), "row {i}: contributions");
    }
}

#[test]
fn when_fixture_is_loaded_should_expose_model_metadata() {
    let model = load_json(&fixture("model.json"));
    assert_eq!(model.num_features(), 10);
    assert_eq!(model.num_trees(), 60);
    let names: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    assert_eq!(model.feature_names(), Some(names.as_slice()));
    // base_score "[3.1625E-1]" in the fixture.
    let p = 0.31625f64;
    assert!((model.base_margin() - (p / (1.0 - p)).ln()).abs() < 1e-6);
}

#[test]
fn when_row_is_shorter_than_num_features_should_treat_the_tail_as_missing() {
    let model = load_json(&fixture("model.json"));
    let (n, rows) = read_parity(&fixture("parity.csv"));
    let short = &rows[0].features[..n - 3];
    let mut padded = short.to_vec();
    padded.resize(n, f32::NAN);
    assert_eq!(model.predict_proba(short).to_bits(), model.predict_proba(&padded).to_bits());
    let (mut a, mut b) = (vec![0f32; n + 1], vec![0f32; n + 1]);
    model.contributions(short, &mut a);
    model.contributions(&padded, &mut b);
    assert_eq!(a, b);
}

#[test]
fn when_all_features_are_missing_should_still_score() {
    let model = load_json(&fixture("model.json"));
    let row = vec![f32::NAN; model.num_features()];
    let p = model.predict_proba(&row);
    assert!(p > 0.0 && p < 1.0);
    let mut contribs = vec![0f32; model.num_features() + 1];
    model.contributions(&row, &mut contribs);
    assert!(contribs.iter().all(|c| c.is_finite()));
}

#[test]
fn when_batch_has_a_trailing_partial_row_should_ignore_it() {
    let model = load_json(&fixture("model.json"));
    let n = model.num_features();
    let rows = vec![0.5f32; n * 11 + 2];
    let mut out = vec![42.0];
    model.predict_proba_batch(&rows, &mut out);
    assert_eq!(out.len(), 11);
    assert!(out.iter().all(|&p| p == model.predict_proba(&rows[..n])));
}

#[test]
fn when_model_is_shared_across_threads_should_be_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<XgbModel>();
    let model = std::sync::Arc::new(load_json(&fixture("model.json")));
    let row = vec![1.0f32; model.num_features()];
    let expected = model.predict_proba(&row);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (model, row) = (model.clone(), row.clone());
            std::thread::spawn(move || {
                let mut c = vec![0f32; model.num_features() + 1];
                model.contributions(&row, &mut c);
                model.predict_proba(&row)
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), expected);
    }
}

// --- malformed models: errors, never panics -------------------------------------------------

fn fixture_value() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixture("model.json")).unwrap()).unwrap()
}

fn load_value(value: &serde_json::Value) -> Result<XgbModel, ModelError> {
    XgbModel::from_json_slice(&serde_json::to_vec(value).unwrap())
}

fn first_tree(value: &mut serde_json::Value) -> &mut serde_json::Value {
    &mut value["learner"]["gradient_booster"]["model"]["trees"][0]
}

#[test]
fn when_json_is_truncated_should_return_an_error() {
    let bytes = std::fs::read(fixture("model.json")).unwrap();
    for cut in [0, 1, 100, bytes.len() / 2, bytes.len() - 1] {
        let err = XgbModel::from_json_slice(&bytes[..cut]).unwrap_err();
        assert!(matches!(err, ModelError::Json(_)), "cut {cut}: {err}");
    }
}

#[test]
fn when_ubj_is_truncated_or_garbage_should_return_an_error() {
    let bytes = std::fs::read(fixture("model.ubj")).unwrap();
    for cut in [0, 1, 100, bytes.len() / 2, bytes.len() - 1] {
        assert!(XgbModel::from_ubj_slice(&bytes[..cut]).is_err(), "cut {cut}");
    }
    assert!(XgbModel::from_ubj_slice(b"[$Z#L\x7f\xff\xff\xff\xff\xff\xff\xff").is_err());
    assert!(XgbModel::from_ubj_slice(b"{}").is_err());
    assert!(XgbModel::from_ubj_slice(&[b'['; 10_000]).is_err());
}

#[test]
fn when_objective_is_not_logistic_should_return_unsupported() {
    let mut value = fixture_value();
    value["learner"]["objective"]["name"] = "reg:squarederror".into();
    let err = load_value(&value).unwrap_err();
    assert!(matches!(err, ModelError::Unsupported(_)), "{err}");
}

#[test]
fn when_booster_is_not_gbtree_should_return_unsupported() {
    let mut value = fixture_value();
    value["learner"]["gradient_booster"]["name"] = "dart".into();
    let err = load_value(&value).unwrap_err();
    assert!(matches!(err, ModelError::Unsupported(_)), "{err}");
}

#[test]
fn when_tree_has_a_categorical_split_should_return_unsupported() {
    let mut value = fixture_value();
    first_tree(&mut value)["split_type"][0] = 1.into();
    let err = load_value(&value).unwrap_err();
    assert!(matches!(err, ModelError::Unsupported(_)), "{err}");
}

#[test]
fn when_tree_is_structurally_broken_should_return_invalid() {
    type Mutation = fn(&mut serde_json::Value);
    let cases: [(&str, Mutation); 6] = [
        ("split feature out of range", |t| t["split_indices"][0] = 10.into()),
        ("child index out of range", |t| t["left_children"][0] = 1000.into()),
        ("cycle back to the root", |t| t["left_children"][1] = 0.into()),
        ("child shared by two parents", |t| t["right_children"][0] = 1.into()),
        ("array length mismatch", |t| {
            t["sum_hessian"].as_array_mut().unwrap().pop();
        }),
        ("wrong JSON type", |t| t["split_conditions"][0] = "x".into()),
    ];
    for (case, mutate) in cases {
        let mut value = fixture_value();
        mutate(first_tree(&mut value));
        let err = load_value(&value).unwrap_err();
        assert!(matches!(err, ModelError::Invalid(_)), "{case}: {err}");
    }
}

#[test]
fn when_base_score_is_malformed_should_return_invalid() {
    for bad in ["[abc]", "[1.5E0]", "0", ""] {
        let mut value = fixture_value();
        value["learner"]["learner_model_param"]["base_score"] = bad.into();
        let err = load_value(&value).unwrap_err();
        assert!(matches!(err, ModelError::Invalid(_)), "{bad:?}: {err}");
    }
}

#[test]
fn when_base_score_is_a_plain_string_should_load() {
    let mut value = fixture_value();
    value["learner"]["learner_model_param"]["base_score"] = "5E-1".into();
    let model = load_value(&value).unwrap();
    assert_eq!(model.base_margin(), 0.0);
}
