//! The score-kafka Lambda's payload: arbitrary bytes deserialised as lambda_runtime does
//! (serde_json into a KafkaEvent; an error fails the invocation before the handler), then
//! handled: records of any partitions and offsets, values of any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(event) = roamguard_fuzz::parse_kafka_event(data) {
        roamguard_fuzz::check_kafka(&event);
    }
});
