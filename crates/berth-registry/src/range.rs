//! Byte ranges requested by clients (`Range: bytes=...`), resolved against a blob's size.

use berth_blobstore::ByteRange;

/// One range of an HTTP `Range` header, before the blob's size is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// `bytes=first-` or `bytes=first-last` (inclusive).
    From { first: u64, last: Option<u64> },
    /// `bytes=-n`: the final `n` bytes.
    Suffix(u64),
}

impl RangeRequest {
    /// Parses `bytes=a-b`, `bytes=a-` or `bytes=-n`; multiple ranges are not supported.
    pub fn parse(header: &str) -> Option<RangeRequest> {
        let spec = header.trim().strip_prefix("bytes=")?;
        let (first, last) = spec.split_once('-')?;
        let number = |s: &str| s.trim().parse::<u64>().ok();
        match (first.trim().is_empty(), last.trim().is_empty()) {
            (true, false) => Some(RangeRequest::Suffix(number(last)?)),
            (false, true) => Some(RangeRequest::From {
                first: number(first)?,
                last: None,
            }),
            (false, false) => {
                let (first, last) = (number(first)?, number(last)?);
                (first <= last).then_some(RangeRequest::From {
                    first,
                    last: Some(last),
                })
            }
            (true, true) => None,
        }
    }

    /// The half-open range within a blob of `size` bytes; `None` when it is not satisfiable.
    pub fn resolve(self, size: u64) -> Option<ByteRange> {
        match self {
            RangeRequest::From { first, last } if first < size => Some(ByteRange {
                start: first,
                end: last.map_or(size, |l| l.saturating_add(1).min(size)),
            }),
            RangeRequest::Suffix(n) if n > 0 && size > 0 => Some(ByteRange {
                start: size - n.min(size),
                end: size,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_ranges() {
        let r = |s| RangeRequest::parse(s).unwrap();
        assert_eq!(
            r("bytes=0-9").resolve(100),
            Some(ByteRange { start: 0, end: 10 })
        );
        assert_eq!(
            r("bytes=90-").resolve(100),
            Some(ByteRange {
                start: 90,
                end: 100
            })
        );
        assert_eq!(
            r("bytes=90-200").resolve(100),
            Some(ByteRange {
                start: 90,
                end: 100
            })
        );
        assert_eq!(
            r("bytes=-10").resolve(100),
            Some(ByteRange {
                start: 90,
                end: 100
            })
        );
        assert_eq!(
            r("bytes=-500").resolve(100),
            Some(ByteRange { start: 0, end: 100 })
        );
        assert_eq!(r("bytes=100-").resolve(100), None);
        assert_eq!(r("bytes=-0").resolve(100), None);
        for bad in [
            "",
            "bytes=",
            "bytes=-",
            "bytes=5-1",
            "items=0-1",
            "bytes=a-b",
            "bytes=0-1,3-4",
        ] {
            assert_eq!(RangeRequest::parse(bad), None, "{bad}");
        }
    }
}
