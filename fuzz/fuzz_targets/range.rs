//! `Range` headers of blob reads resolved against a blob size (`range::choose`), and upload
//! `Content-Range` headers checked against a `Content-Length` (`range::content_range`).
//! Nothing may panic, a served part must lie inside the blob, and accepted chunk bounds must
//! describe the range they were read from.

#![no_main]

use arbitrary::Arbitrary;
use berth_http::range::{choose, content_range, RangeChoice};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    size: u64,
    small_size: u8,
    content_length: Option<u64>,
    header: String,
}

fuzz_target!(|input: Input| {
    for size in [input.size, u64::from(input.small_size)] {
        if let RangeChoice::Part(part) = choose(Some(&input.header), size) {
            assert!(part.start < part.end, "{:?} {part:?}", input.header);
            assert!(part.end <= size, "{:?} {part:?} of {size}", input.header);
        }
    }
    for length in [input.content_length, None] {
        if let Ok(bounds) = content_range(&input.header, length) {
            let start = bounds.start.expect("a start");
            let len = bounds.len.expect("a length");
            assert!(len >= 1);
            assert!(start.checked_add(len - 1).is_some(), "{bounds:?}");
            if let Some(length) = length {
                assert_eq!(len, length);
            }
        }
    }
});
