//! Micro-benchmarks of the per-event hot path (run by `make bench`, summarised in BENCHMARKS.md).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use roamguard::events::RoamingEvent;
use roamguard::features::{self, FeatureVector, Replay};
use roamguard::model::FraudModel;
use roamguard_sim::{self as generator, GeneratorConfig};

fn bench(c: &mut Criterion) {
    let ds = generator::generate(&GeneratorConfig { subscribers: 300, days: 3, seed: 7, ..GeneratorConfig::default() });
    let json: Vec<Vec<u8>> = ds.events.iter().map(|e| serde_json::to_vec(e).unwrap()).collect();
    let model = FraudModel::embedded().unwrap();

    // Feature rows with realistic state: replay everything once.
    let mut replay = Replay::new(ds.profiles.clone());
    let rows: Vec<FeatureVector> = ds.events.iter().map(|e| replay.next(e)).collect();
    let flagged: Vec<&FeatureVector> = rows
        .iter()
        .filter(|r| model.thresholds().decide(model.probability(r)) != roamguard::verdict::Decision::Allow)
        .collect();

    let mut i = 0;
    c.bench_function("decode_validate_event", |b| {
        b.iter(|| {
            i = (i + 1) % json.len();
            black_box(RoamingEvent::from_json(black_box(&json[i])).is_ok())
        });
    });

    // Features against warmed-up states. Replayed events are already applied, so this measures
    // the feature computation plus the applied-event check: the steady-state per-event cost.
    let mut j = 0;
    c.bench_function("features_compute", |b| {
        b.iter(|| {
            j = (j + 1) % ds.events.len();
            black_box(replay.next(black_box(&ds.events[j])))
        });
    });

    let mut k = 0;
    c.bench_function("model_predict_proba_row", |b| {
        b.iter(|| {
            k = (k + 1) % rows.len();
            black_box(model.probability(black_box(&rows[k])))
        });
    });

    if !flagged.is_empty() {
        let mut m = 0;
        let mut contribs = [0f32; features::NUM_FEATURES + 1];
        c.bench_function("model_shap_contributions_row", |b| {
            b.iter(|| {
                m = (m + 1) % flagged.len();
                model.booster().contributions(black_box(flagged[m]), &mut contribs);
                black_box(contribs[0])
            });
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
