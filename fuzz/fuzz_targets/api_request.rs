//! `roamguard::api::Api::handle`, as `roamguard serve` and score-api call it: the input is
//! `method\npath\nquery\ncontent-type\nbody` (an empty content-type line means none), up to four
//! requests in a row on the same API separated by a 0x00 byte (a score, then reads of it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use roamguard::api::ApiRequest;

fuzz_target!(|data: &[u8]| {
    let api = roamguard_fuzz::api();
    let rt = roamguard_fuzz::runtime();
    for request in data.splitn(4, |&b| b == 0) {
        let parts = roamguard_fuzz::lines(request, 5);
        let text = |i: usize| parts.get(i).map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
        let content_type = text(3);
        let req = ApiRequest {
            method: text(0),
            path: text(1),
            query: text(2),
            content_type: (!content_type.is_empty()).then_some(content_type),
            body: parts.get(4).map(|b| b.to_vec()).unwrap_or_default(),
        };
        let r = rt.block_on(api.handle(req));
        roamguard_fuzz::check_response(r.status, r.header("content-type"), &r.body);
    }
});
