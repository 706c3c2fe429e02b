//! CloudWatch Embedded Metric Format: one JSON line per invocation on stdout, which Lambda ships
//! to CloudWatch Logs and CloudWatch turns into metrics (no PutMetricData calls, no latency).

use roamguard::pipeline::BatchReport;
use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = roamguard::METRICS_NAMESPACE;

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

#[cfg(test)]
mod tests {
    use super::*;
    use roamguard::pipeline::{Counts, StageTimings};

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
}
