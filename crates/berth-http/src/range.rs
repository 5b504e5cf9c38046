//! `Range: bytes=...` on blob reads (RFC 9110 section 14), parsed by `http-range-header` and
//! resolved against the blob's size.

use berth_blobstore::ByteRange;
use http_range_header::{parse_range_header, EndPosition, RangeUnsatisfiableError, StartPosition};

/// What a blob read serves for a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeChoice {
    /// The whole blob, 200: no header, a malformed one, or several ranges (which RFC 9110
    /// lets a server ignore; Berth serves no multipart bodies).
    Whole,
    /// One range, 206.
    Part(ByteRange),
    /// 416 with `Content-Range: bytes */<size>`.
    Unsatisfiable,
}

/// Resolves a `Range` header value against a blob of `size` bytes.
pub fn choose(header: Option<&str>, size: u64) -> RangeChoice {
    let Some(header) = header else {
        return RangeChoice::Whole;
    };
    let parsed = match parse_range_header(header.trim()) {
        Ok(parsed) => parsed,
        // `bytes=-0` is well formed and asks for nothing.
        Err(RangeUnsatisfiableError::ZeroSuffix) => return RangeChoice::Unsatisfiable,
        Err(_) => return RangeChoice::Whole,
    };
    let [range] = parsed.ranges.as_slice() else {
        return RangeChoice::Whole;
    };
    let (start, end) = match (range.start, range.end) {
        // A last position before the first makes the header invalid: it is ignored.
        (StartPosition::Index(first), EndPosition::Index(last)) if last < first => {
            return RangeChoice::Whole
        }
        (StartPosition::Index(first), EndPosition::Index(last)) => {
            (first, last.saturating_add(1).min(size))
        }
        (StartPosition::Index(first), EndPosition::LastByte) => (first, size),
        // A suffix longer than the blob selects all of it.
        (StartPosition::FromLast(n), _) => (size.saturating_sub(n), size),
    };
    if start >= end {
        return RangeChoice::Unsatisfiable;
    }
    RangeChoice::Part(ByteRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: u64, end: u64) -> RangeChoice {
        RangeChoice::Part(ByteRange { start, end })
    }

    #[test]
    fn ranges_resolve_against_the_size() {
        let cases = [
            ("bytes=0-9", part(0, 10)),
            ("bytes=90-", part(90, 100)),
            ("bytes=90-200", part(90, 100)),
            ("bytes=-10", part(90, 100)),
            ("bytes=-500", part(0, 100)),
            ("bytes=99-99", part(99, 100)),
            ("bytes=100-", RangeChoice::Unsatisfiable),
            ("bytes=200-300", RangeChoice::Unsatisfiable),
            ("bytes=-0", RangeChoice::Unsatisfiable),
        ];
        for (header, expected) in cases {
            assert_eq!(choose(Some(header), 100), expected, "{header}");
        }
        assert_eq!(choose(Some("bytes=0-"), 0), RangeChoice::Unsatisfiable);
        assert_eq!(choose(Some("bytes=-5"), 0), RangeChoice::Unsatisfiable);
    }

    #[test]
    fn malformed_or_multiple_ranges_serve_the_whole_blob() {
        for header in [
            "",
            "bytes=",
            "bytes=-",
            "bytes=5-1",
            "items=0-1",
            "bytes=a-b",
            "bytes=0-1,3-4",
            "bytes=+0-1",
        ] {
            assert_eq!(choose(Some(header), 100), RangeChoice::Whole, "{header:?}");
        }
        assert_eq!(choose(None, 100), RangeChoice::Whole);
    }
}
