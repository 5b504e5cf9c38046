//! An access line as a request hands it to the log: its fields copied as they are, to be
//! formatted later, many at a time, on the log's writer thread (`super::render`). Formatting
//! a line inline measured as most of what metrics and the access log cost a cached GET, about
//! twice what its instruction count predicts; copying the fields costs a fraction of it.
//!
//! A record, little-endian: `u32` length of what follows; `u64` microseconds since the Unix
//! epoch; `u64` duration in microseconds; `u64` bytes in; `u64` bytes out; `u16` status; `u8`
//! address family (4 or 6) and 16 address bytes; six `u32` string lengths; then the six
//! strings' UTF-8 bytes back to back: request id, method, endpoint, repository, path, user.
//!
//! The strings are together so that the renderer asks once whether any of them needs JSON
//! escaping (almost never), and they are handed back as bytes, not re-validated as UTF-8:
//! `encode` only ever copies `&str`s, and checking them again cost a fifth of the line.

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::AccessLine;

/// Bytes before the strings, after the length: four `u64`, the status, the address, and the
/// strings' lengths.
const FIXED: usize = 8 * 4 + 2 + 1 + 16 + 4 * STRINGS;
const STRINGS: usize = 6;

/// An access line read back from its record: the strings as the request's bytes.
pub(super) struct Logged<'a> {
    /// When the request was logged, microseconds since the Unix epoch.
    pub at: u64,
    /// Until the last body byte was sent, microseconds.
    pub duration: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub status: u16,
    pub client: IpAddr,
    /// The six strings back to back, in the order of the fields below.
    pub strings: &'a [u8],
    pub request_id: &'a [u8],
    pub method: &'a [u8],
    pub endpoint: &'a [u8],
    pub repository: &'a [u8],
    pub path: &'a [u8],
    pub user: &'a [u8],
}

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
    let length = FIXED + strings.iter().map(|s| s.len()).sum::<usize>();
    // The fixed part is put together here and appended with one copy.
    let mut fixed = [0u8; 4 + FIXED];
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    fixed[0..4].copy_from_slice(&(length as u32).to_le_bytes());
    fixed[4..12].copy_from_slice(&micros(since).to_le_bytes());
    fixed[12..20].copy_from_slice(&micros(line.duration).to_le_bytes());
    fixed[20..28].copy_from_slice(&line.bytes_in.to_le_bytes());
    fixed[28..36].copy_from_slice(&line.bytes_out.to_le_bytes());
    fixed[36..38].copy_from_slice(&line.status.to_le_bytes());
    let (family, octets) = match line.client {
        IpAddr::V4(v4) => (4, v4.to_ipv6_mapped().octets()),
        IpAddr::V6(v6) => (6, v6.octets()),
    };
    fixed[38] = family;
    fixed[39..55].copy_from_slice(&octets);
    for (index, string) in strings.iter().enumerate() {
        let at = 55 + 4 * index;
        fixed[at..at + 4].copy_from_slice(&(string.len() as u32).to_le_bytes());
    }
    out.reserve(fixed.len() + length - FIXED);
    out.extend_from_slice(&fixed);
    for string in strings {
        out.extend_from_slice(string.as_bytes());
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The records of `records`, one after another as `encode` appended them. A torn or malformed
/// record (none is written so) ends the iteration.
pub(super) fn decode(records: &[u8]) -> impl Iterator<Item = Logged<'_>> {
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

fn one(record: &[u8]) -> Option<Logged<'_>> {
    let (fixed, strings) = take(record, FIXED)?;
    let u64_at = |at: usize| u64::from_le_bytes(fixed[at..at + 8].try_into().expect("8 bytes"));
    let octets: [u8; 16] = fixed[35..51].try_into().expect("16 bytes");
    let client = match fixed[34] {
        4 => IpAddr::V4(Ipv6Addr::from(octets).to_ipv4_mapped()?),
        _ => IpAddr::V6(Ipv6Addr::from(octets)),
    };
    let mut split = [&[][..]; STRINGS];
    let mut rest = strings;
    for (index, string) in split.iter_mut().enumerate() {
        let at = 51 + 4 * index;
        let length = u32::from_le_bytes(fixed[at..at + 4].try_into().expect("4 bytes"));
        (*string, rest) = take(rest, length as usize)?;
    }
    if !rest.is_empty() {
        return None;
    }
    let [request_id, method, endpoint, repository, path, user] = split;
    Some(Logged {
        at: u64_at(0),
        duration: u64_at(8),
        bytes_in: u64_at(16),
        bytes_out: u64_at(24),
        status: u16::from_le_bytes([fixed[32], fixed[33]]),
        client,
        strings,
        request_id,
        method,
        endpoint,
        repository,
        path,
        user,
    })
}
