//! The pipeline's metrics as CloudWatch Embedded Metric Format documents: the stream-triggered
//! functions print one JSON line per invocation on stdout, which Lambda ships to CloudWatch Logs
//! and CloudWatch turns into metrics (no PutMetricData calls, no latency). Pure JSON: here so
//! every function (Kinesis, Kafka) prints the same metrics without linking an adapter.

use crate::drift::DriftReport;
use crate::pipeline::BatchReport;
use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = crate::METRICS_NAMESPACE;

/// An EMF document of one count (dimension `Function`): what the functions print at start and
/// on reloads (`ThresholdsRejected`, `RulesRejected`, `ChallengerRejected`).
pub fn count_emf(function: &str, metric: &str, value: u64, timestamp_ms: i64) -> Value {
    let mut doc = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Function"]],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
        "Function": function,
    });
    doc[metric] = json!(value);
    doc
}

/// The EMF document for one batch.
pub fn emf(function: &str, report: &BatchReport, timestamp_ms: i64) -> Value {
    let c = &report.counts;
    let mut values = Map::new();
    let mut definitions = Vec::new();
    let mut put = |name: &str, unit: &str, value: Value| {
        definitions.push(json!({"Name": name, "Unit": unit}));
        values.insert(name.to_string(), value);
    };
    put("RecordsIn", "Count", json!(c.records));
    put("Allow", "Count", json!(c.allow));
    put("Review", "Count", json!(c.review));
    put("Block", "Count", json!(c.block));
    put("DeadLetters", "Count", json!(c.dead_letters));
    put("Retries", "Count", json!(c.retries));
    put("Degraded", "Count", json!(c.degraded));
    put("Replayed", "Count", json!(c.replayed));
    // Analysts' rules: verdicts a rule decided, and rule evaluations that failed (a null in a
    // comparison, a type mismatch: the rule did not match; the log names it once a minute).
    put("DecidedByRule", "Count", json!(c.decided_by_rule));
    put("RuleFailures", "Count", json!(c.rule_failures));
    for (stage, took) in report.timings.stages() {
        put(&format!("Stage_{stage}_ms"), "Milliseconds", json!(took.as_secs_f64() * 1e3));
    }
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [["Function"]], "Metrics": definitions}]
        }),
    );
    doc.insert("Function".into(), json!(function));
    doc.extend(values);
    Value::Object(doc)
}

/// The EMF document for one drift window: three metrics (`MaxFeaturePsi`, the highest PSI among
/// the model's `top` features, which the drift alarm watches; `ScorePsi`; `DriftRows`) and, as
/// plain properties a Logs Insights query reads, the PSI of every feature and which top feature
/// drifted most. Per-feature metrics would cost 44 custom metrics per function for what one
/// alarm and one query answer.
pub fn drift_emf(function: &str, report: &DriftReport, top: &[String], timestamp_ms: i64) -> Value {
    let watched = report.features.iter().filter(|f| top.contains(&f.name));
    let worst = watched.max_by(|a, b| a.psi.total_cmp(&b.psi));
    let mut metrics = vec![json!({"Name": "DriftRows", "Unit": "Count"})];
    let mut doc = json!({
        "Function": function,
        "DriftRows": report.events,
        "FeaturePsi": report.features.iter().map(|f| (f.name.clone(), json!(f.psi))).collect::<Map<_, _>>(),
        "TopFeatures": top,
    });
    if let Some(w) = worst {
        metrics.push(json!({"Name": "MaxFeaturePsi", "Unit": "None"}));
        doc["MaxFeaturePsi"] = json!(w.psi);
        doc["MaxPsiFeature"] = json!(w.name);
        doc["MaxPsiBand"] = json!(w.band);
    }
    if let Some(score) = &report.score {
        metrics.push(json!({"Name": "ScorePsi", "Unit": "None"}));
        doc["ScorePsi"] = json!(score.psi);
    }
    doc["_aws"] = json!({
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [["Function"]], "Metrics": metrics}],
    });
    doc
}

/// Outcome kinds of a report, for logs.
pub fn summary(report: &BatchReport) -> String {
    let c = &report.counts;
    format!(
        "records={} allow={} review={} block={} dead_letters={} retries={} degraded={} replayed={} decided_by_rule={} rule_failures={}",
        c.records,
        c.allow,
        c.review,
        c.block,
        c.dead_letters,
        c.retries,
        c.degraded,
        c.replayed,
        c.decided_by_rule,
        c.rule_failures
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Counts, StageTimings};

    #[test]
    fn when_batch_is_reported_should_emit_valid_emf_with_every_metric_defined() {
        let report = BatchReport {
            outcomes: vec![],
            timings: StageTimings::default(),
            counts: Counts {
                records: 5,
                allow: 3,
                block: 1,
                dead_letters: 1,
                decided_by_rule: 2,
                rule_failures: 7,
                ..Counts::default()
            },
            drift: vec![],
        };
        let doc = emf("score-stream", &report, 1_700_000_000_000);
        let metrics = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap();
        for m in metrics {
            let name = m["Name"].as_str().unwrap();
            assert!(doc.get(name).is_some(), "metric {name} has no value");
        }
        assert_eq!(doc["RecordsIn"], 5);
        assert_eq!(doc["DeadLetters"], 1);
        assert_eq!((doc["DecidedByRule"].as_u64(), doc["RuleFailures"].as_u64()), (Some(2), Some(7)));
        assert_eq!(doc["Function"], "score-stream");
    }

    #[test]
    fn when_a_drift_window_is_reported_should_alarm_on_the_worst_top_feature_and_keep_every_psi() {
        use crate::drift::{Band, Drift, FeatureDrift};
        let feature = |name: &str, psi: f64| FeatureDrift { name: name.into(), psi, band: Band::of(psi) };
        let report = DriftReport {
            events: 10_000,
            // Sorted as a report is: the rarely used feature drifted most.
            features: vec![feature("rare", 0.9), feature("data_mb", 0.31), feature("duration_s", 0.02)],
            score: Some(Drift { psi: 0.05, band: Band::Stable }),
        };
        let top = vec!["duration_s".to_string(), "data_mb".to_string()];
        let emf = drift_emf("score-stream", &report, &top, 1);
        assert_eq!(emf["MaxFeaturePsi"], 0.31, "the worst of the top features, not of all: {emf}");
        assert_eq!((emf["MaxPsiFeature"].as_str(), emf["MaxPsiBand"].as_str()), (Some("data_mb"), Some("major")));
        assert_eq!(emf["FeaturePsi"]["rare"], 0.9, "every feature's PSI is kept: {emf}");
        assert_eq!((emf["ScorePsi"].clone(), emf["DriftRows"].clone()), (json!(0.05), json!(10_000)));
        let defined = &emf["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(defined["Namespace"], NAMESPACE);
        for m in defined["Metrics"].as_array().unwrap() {
            assert!(emf[m["Name"].as_str().unwrap()].is_number(), "{m} has a value");
        }
        assert_eq!(defined["Metrics"].as_array().unwrap().len(), 3);
    }
}
