//! The helpers every end-to-end target imports as `support::http::*`: digests, deterministic
//! and slowly streamed bodies, upload ranges and the reqwest client. The image builder, the
//! `Registry` client, reply checks, raw-socket requests, on-disk checks and the ORAS script
//! runner live in their own modules and are re-exported here, so the targets' imports do not
//! depend on that split.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Client;

// Each target uses only part of these, like the rest of the harness (see `mod.rs`).
#[allow(unused_imports)]
pub use super::{disk::*, image::*, oras::*, raw::*, registry::*, replies::*};

/// The canonical `sha256:<hex>` digest of `data`.
pub fn digest_of(data: &[u8]) -> String {
    berth_oci::Digest::sha256_of(data).to_string()
}

/// Deterministic pseudo-random bytes (xorshift64*), distinct for distinct seeds.
pub fn pseudo_random(seed: u64, len: usize) -> Bytes {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// A request body that yields `piece`-sized chunks of `data` with `delay` between them, so
/// that the upload stays in flight for a while. Sent with chunked transfer encoding unless the
/// caller sets `Content-Length`.
pub fn slow_body(data: Bytes, piece: usize, delay: Duration) -> reqwest::Body {
    let stream = futures::stream::unfold(0usize, move |offset| {
        let data = data.clone();
        async move {
            if offset >= data.len() {
                return None;
            }
            if offset > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let end = (offset + piece).min(data.len());
            Some((Ok::<_, std::io::Error>(data.slice(offset..end)), end))
        }
    });
    reqwest::Body::wrap_stream(stream)
}

/// Bytes received by an upload according to a `Range: 0-<last>` header. `0-0` is ambiguous
/// (nothing or one byte), as in the distribution API; it is reported as `None`.
pub fn range_len(range: &str) -> Option<u64> {
    let (start, end) = range.trim().trim_start_matches("bytes=").split_once('-')?;
    let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
    assert_eq!(start, 0, "upload ranges start at 0: {range}");
    (end > 0).then_some(end + 1)
}

/// A reqwest client with generous timeouts and no connection reuse surprises.
pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}
