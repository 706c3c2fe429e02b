//! `score_stream::handle` on a Kinesis event whose records carry arbitrary bytes: the input is
//! split on `\n` into up to 64 records (so a JSON Lines file is a batch of good records).
#![no_main]

use aws_lambda_events::event::kinesis::KinesisEvent;
use libfuzzer_sys::fuzz_target;
use roamguard::base64;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let records: Vec<_> = roamguard_fuzz::lines(data, 64)
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            json!({
                "kinesis": {
                    "data": base64::encode(bytes),
                    "sequenceNumber": i.to_string(),
                    "partitionKey": "pk",
                    "approximateArrivalTimestamp": 1_780_315_200.0
                },
                "eventID": format!("shardId-000000000000:{i}"),
                "eventSource": "aws:kinesis"
            })
        })
        .collect();
    let event: KinesisEvent = serde_json::from_value(json!({ "Records": records })).expect("a Kinesis event");
    roamguard_fuzz::check_kinesis(&event);
});
