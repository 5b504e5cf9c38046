//! `X-Request-Id`: the client's when it is sane, else a new one; echoed in every response and
//! named in the request's access log line, so that a client's report finds the server's line.

use http::{HeaderMap, HeaderValue};

/// The header carrying the id both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// Longest client id kept; a longer one is replaced rather than cut, as a cut id would match
/// nothing the client logged.
const MAX_LEN: usize = 128;

/// The id of a request: the client's `X-Request-Id` when it is 1 to 128 printable ASCII
/// characters without spaces, else a new random UUID (32 hex digits).
pub(crate) fn of(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(REQUEST_ID)
        .filter(|v| {
            (1..=MAX_LEN).contains(&v.len()) && v.as_bytes().iter().all(|b| b.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string())
                .expect("hex digits are a valid header value")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_bytes(value).unwrap());
        headers
    }

    #[test]
    fn sane_client_ids_are_kept_and_others_replaced() {
        assert_eq!(of(&with(b"abc-123_x.y")), "abc-123_x.y");
        assert_eq!(of(&with(&[b'a'; 128])).len(), 128);
        for insane in [
            &b"has space"[..],
            &[b'a'; 129],
            b"tab\there",
            b"caf\xc3\xa9",
            b"",
        ] {
            let id = of(&with(insane));
            assert_eq!(id.len(), 32, "{insane:?}");
            assert!(id.as_bytes().iter().all(u8::is_ascii_hexdigit));
        }
        let (a, b) = (of(&HeaderMap::new()), of(&HeaderMap::new()));
        assert_ne!(a, b, "generated ids differ");
    }
}
