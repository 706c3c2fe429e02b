//! The score-stream Lambda's payload: arbitrary bytes deserialised as lambda_runtime does
//! (serde_json into a KinesisEvent; an error fails the invocation before the handler), then
//! handled.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(event) = roamguard_fuzz::parse_kinesis_event(data) {
        roamguard_fuzz::check_kinesis(&event);
    }
});
