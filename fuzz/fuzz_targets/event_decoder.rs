//! `RoamingEvent::from_json`: what the pipeline decodes every raw record with (Kinesis data, API
//! bodies, JSON Lines files). Any bytes: no panic; an accepted event round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| roamguard_fuzz::check_decoder(data));
