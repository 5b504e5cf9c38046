//! An access line as a request hands it to the log: its fields copied as they are, to be
//! formatted later, many at a time, on the log's writer thread (`super::render`). Formatting
//! a line inline measured as most of what metrics and the access log cost a cached GET, about
//! twice what its instruction count predicts; copying the fields costs a fraction of it.
//!
//! A record, little-endian: `u32` length of what follows; `u64` microseconds since the Unix
//! epoch; `u64` duration in microseconds; `u64` bytes in; `u64` bytes out; `u16` status; `u8`
//! address family (4 or 6) and 16 address bytes; then six strings, each a `u32` length and its
//! UTF-8 bytes: request id, method, endpoint, repository, path, user.

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::AccessLine;

/// Bytes before the strings, after the length: four `u64`, the status, the address.
const FIXED: usize = 8 * 4 + 2 + 1 + 16;

/// Appends the record of `line`, logged at `now`, to `out`.
pub(super) fn encode(line: &AccessLine<'_>, now: SystemTime, out: &mut Vec<u8>) {
    let strings = [
        line.request_id,
        line.method,
        line.endpoint,
        line.repository,
        line.path,
        line.user,
    ];
    let length = FIXED + strings.iter().map(|s| 4 + s.len()).sum::<usize>();
    out.reserve(4 + length);
    out.extend_from_slice(&(length as u32).to_le_bytes());
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    out.extend_from_slice(&micros(since).to_le_bytes());
    out.extend_from_slice(&micros(line.duration).to_le_bytes());
    out.extend_from_slice(&line.bytes_in.to_le_bytes());
    out.extend_from_slice(&line.bytes_out.to_le_bytes());
    out.extend_from_slice(&line.status.to_le_bytes());
    match line.client {
        IpAddr::V4(v4) => {
            out.push(4);
            out.extend_from_slice(&v4.to_ipv6_mapped().octets());
        }
        IpAddr::V6(v6) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
    }
    for string in strings {
        out.extend_from_slice(&(string.len() as u32).to_le_bytes());
        out.extend_from_slice(string.as_bytes());
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The records of `records`, one after another as `encode` appended them, with the time each
/// was logged. A torn or malformed record (none is written so) ends the iteration.
pub(super) fn decode(records: &[u8]) -> impl Iterator<Item = (AccessLine<'_>, SystemTime)> {
    let mut rest = records;
    std::iter::from_fn(move || {
        let (record, next) = take(rest, 4).and_then(|(length, after)| {
            let length = u32::from_le_bytes(length.try_into().ok()?) as usize;
            take(after, length)
        })?;
        rest = next;
        one(record)
    })
}

/// The first `n` bytes of `bytes` and the rest, if it holds that many.
fn take(bytes: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= n).then(|| bytes.split_at(n))
}

fn one(record: &[u8]) -> Option<(AccessLine<'_>, SystemTime)> {
    let (fixed, mut rest) = take(record, FIXED)?;
    let u64_at = |at: usize| u64::from_le_bytes(fixed[at..at + 8].try_into().expect("8 bytes"));
    let octets: [u8; 16] = fixed[35..51].try_into().expect("16 bytes");
    let client = match fixed[34] {
        4 => IpAddr::V4(Ipv6Addr::from(octets).to_ipv4_mapped()?),
        _ => IpAddr::V6(Ipv6Addr::from(octets)),
    };
    let mut strings = [""; 6];
    for string in &mut strings {
        let (length, after) = take(rest, 4)?;
        let length = u32::from_le_bytes(length.try_into().ok()?) as usize;
        let (bytes, after) = take(after, length)?;
        *string = std::str::from_utf8(bytes).ok()?;
        rest = after;
    }
    let [request_id, method, endpoint, repository, path, user] = strings;
    let line = AccessLine {
        message: "request",
        request_id,
        method,
        endpoint,
        repository,
        path,
        status: u16::from_le_bytes([fixed[32], fixed[33]]),
        bytes_in: u64_at(16),
        bytes_out: u64_at(24),
        duration: Duration::from_micros(u64_at(8)),
        user,
        client,
    };
    Some((line, UNIX_EPOCH + Duration::from_micros(u64_at(0))))
}
