//! No panic on any input (issue 7, "Inputs"): the handler on Kinesis events whose records carry
//! arbitrary bytes, and on arbitrary JSON given as the Lambda payload (deserialized the way
//! lambda_runtime does, with serde_json, before the handler sees it). In-memory ports.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test panics on what it cannot set up")]

use std::sync::Arc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use proptest::prelude::*;
use roamguard::base64;
use roamguard::events::RoamingEvent;
use roamguard::pipeline::{Outcome, Pipeline};
use roamguard_local::MemoryDeadLetters;
use roamguard_testkit::fixtures::{InMemory, model};
use roamguard_testkit::inputs;
use serde_json::{Value, json};

fn pipeline() -> (Pipeline, Arc<MemoryDeadLetters>) {
    let memory = InMemory::new(model());
    (memory.pipeline(), memory.dead_letters)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}

/// A SAM-shaped Kinesis record around `data`; the event id is sometimes missing or odd.
fn kinesis_record(data: &[u8], sequence: &str, event_id: Option<&str>) -> Value {
    json!({
        "kinesis": {
            "partitionKey": "pk",
            "kinesisSchemaVersion": "1.0",
            "data": base64::encode(data),
            "sequenceNumber": sequence,
            "approximateArrivalTimestamp": 1_780_315_200.0
        },
        "eventSource": "aws:kinesis",
        "eventID": event_id,
        "eventVersion": "1.0",
        "eventName": "aws:kinesis:record",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/events",
        "awsRegion": "us-east-1"
    })
}

/// The handler's invariants on any event: one outcome per record; with in-memory ports no record
/// is reported for retry; the EMF line and the response serialise.
fn check(event: &KinesisEvent, pipeline: &Pipeline) -> Result<(), TestCaseError> {
    let (response, report) = runtime().block_on(score_stream::handle(pipeline, event));
    prop_assert_eq!(report.outcomes.len(), event.records.len());
    prop_assert_eq!(report.counts.records, event.records.len());
    prop_assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    for (record, outcome) in event.records.iter().zip(&report.outcomes) {
        match (RoamingEvent::from_json(&record.kinesis.data.0), outcome) {
            (Ok(e), Outcome::Verdict(v)) => prop_assert_eq!(&v.event_id, &e.event_id),
            (Err(_), Outcome::DeadLetter(d)) => {
                let suffix = format!("/{}", record.kinesis.sequence_number);
                prop_assert!(d.source_position.ends_with(&suffix), "{} at {}", d.source_position, suffix);
            }
            (decoded, other) => prop_assert!(false, "decoder said {:?}, pipeline {:?}", decoded.is_ok(), other),
        }
    }
    serde_json::to_string(&response).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let emf = roamguard::metrics::emf("score-stream", &report, 0);
    prop_assert_eq!(emf["RecordsIn"].as_u64(), Some(event.records.len() as u64));
    Ok(())
}

/// Kinesis-shaped JSON with arbitrary values where the fields are (what a misconfigured trigger
/// or a hand-made test event might send).
fn kinesis_shaped() -> impl Strategy<Value = Value> {
    let data = prop_oneof![
        inputs::record_bytes().prop_map(|b| Value::from(base64::encode(&b))),
        "[A-Za-z0-9+/=]{0,16}".prop_map(Value::from),
        inputs::json_value(),
    ];
    let sequence = prop_oneof![3 => "[0-9]{1,20}".prop_map(Value::from), 1 => inputs::json_value()];
    let arrival = prop_oneof![3 => Just(json!(1_780_315_200.5)), 1 => inputs::json_value()];
    let record = (data, sequence, arrival, inputs::json_value(), any::<bool>()).prop_map(
        |(data, sequence, arrival, event_id, whole)| {
            let kinesis = json!({
                "data": data, "sequenceNumber": sequence, "partitionKey": "pk", "approximateArrivalTimestamp": arrival
            });
            if whole { json!({"kinesis": kinesis, "eventID": event_id}) } else { json!({"kinesis": kinesis}) }
        },
    );
    prop::collection::vec(record, 0..4).prop_map(|records| json!({"Records": records}))
}

/// The payload as lambda_runtime deserialises it, or None when it is not a Kinesis event: an
/// error, or a panic. aws_lambda_events 1.2 multiplies `approximateArrivalTimestamp` seconds into
/// milliseconds unchecked: beyond ±292 million years that overflows, which panics in this debug
/// build and wraps in the release Lambda; Kinesis never sends such a timestamp. Only panics from
/// aws_lambda_events are taken as a rejection (and kept out of the output).
fn parse_kinesis_event(bytes: &[u8]) -> Option<KinesisEvent> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.location().is_some_and(|l| l.file().contains("aws_lambda_events")) {
                default(info);
            }
        }));
    });
    match std::panic::catch_unwind(|| serde_json::from_slice::<KinesisEvent>(bytes)) {
        Ok(parsed) => parsed.ok(),
        Err(panic) => {
            let message =
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            assert!(message.as_deref().is_some_and(|m| m.contains("overflow")), "unexpected panic: {message:?}");
            None
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn when_kinesis_records_carry_arbitrary_bytes_should_end_each_in_exactly_one_outcome(
        records in prop::collection::vec(
            (inputs::record_bytes(), prop::sample::select(vec!["1", "2", "3", "49590338271490256608559692538361571095921575989136588890"]),
             prop::option::of(prop::sample::select(vec!["shardId-000000000006:1", "no-colon", "", ":"]))),
            0..10,
        ),
    ) {
        let event = json!({"Records": records.iter().map(|(data, seq, id)| kinesis_record(data, seq, *id)).collect::<Vec<_>>()});
        let event: KinesisEvent = serde_json::from_value(event).expect("a well-formed Kinesis event deserialises");
        let (pipeline, dead) = pipeline();
        check(&event, &pipeline)?;
        let dead = dead.letters.lock().unwrap();
        prop_assert!(dead.iter().all(|d| d.raw.is_some() != d.raw_base64.is_some()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn when_the_lambda_payload_is_arbitrary_json_should_reject_it_or_handle_it(
        payload in prop_oneof![1 => inputs::json_value(), 3 => kinesis_shaped()],
    ) {
        let bytes = serde_json::to_vec(&payload).unwrap();
        // lambda_runtime deserialises the payload with serde_json; an error fails the invocation
        // before the handler runs, which is the right answer to a payload that is not an event.
        if let Some(event) = parse_kinesis_event(&bytes) {
            let (pipeline, _) = pipeline();
            check(&event, &pipeline)?;
        }
    }
}

#[test]
fn when_an_arrival_timestamp_overflows_the_event_decoder_should_reject_the_payload() {
    for timestamp in [serde_json::json!("1.1234567890123456789"), serde_json::json!(1e300)] {
        let payload = serde_json::json!({"Records": [{"kinesis": {"approximateArrivalTimestamp": timestamp,
            "data": "", "partitionKey": "k", "sequenceNumber": "1", "kinesisSchemaVersion": "1.0"}}]});
        assert!(parse_kinesis_event(&serde_json::to_vec(&payload).unwrap()).is_none(), "{timestamp}");
    }
}
