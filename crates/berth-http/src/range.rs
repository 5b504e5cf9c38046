//! `Range: bytes=...` on blob reads (RFC 9110 section 14), parsed by `http-range-header` and
//! resolved against the blob's size; and the `Content-Range` of an upload chunk. Public so
//! that fuzz targets and property tests reach the parsers the handlers use.

use berth_blobstore::ByteRange;
use berth_registry::ChunkBounds;
use http_range_header::{parse_range_header, EndPosition, RangeUnsatisfiableError, StartPosition};

use crate::error::RequestError;

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

/// Reads an upload chunk's `Content-Range: <start>-<end>` (inclusive; also tolerating a
/// `bytes ` or `bytes=` prefix and a `/size` suffix) and checks it against the request's
/// `Content-Length`, when given.
///
/// Errors: [`RequestError::ContentRangeInvalid`] for anything but two whole numbers with
/// `start <= end` whose length fits a `u64`; [`RequestError::LengthMismatch`] when
/// `content_length` disagrees with the range's length.
pub fn content_range(text: &str, content_length: Option<u64>) -> Result<ChunkBounds, RequestError> {
    let invalid = || RequestError::ContentRangeInvalid(text.to_owned());
    let spec = text
        .trim()
        .trim_start_matches("bytes")
        .trim_start_matches(['=', ' ']);
    let spec = spec.split('/').next().unwrap_or_default();
    let (start, end) = spec.split_once('-').ok_or_else(invalid)?;
    let start: u64 = start.parse().map_err(|_| invalid())?;
    let end: u64 = end.parse().map_err(|_| invalid())?;
    if end < start {
        return Err(invalid());
    }
    // `0-18446744073709551615` declares more bytes than any count can hold.
    let range_length = (end - start).checked_add(1).ok_or_else(invalid)?;
    if let Some(content_length) = content_length.filter(|&l| l != range_length) {
        return Err(RequestError::LengthMismatch {
            content_length,
            range_length,
        });
    }
    Ok(ChunkBounds {
        start: Some(start),
        len: Some(range_length),
    })
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
