//! The pieces of a JSON access line, written into a buffer sized for the line beforehand
//! (`Line`): with no capacity to check or grow per piece, a line's two dozen pieces cost a
//! fraction of appending them to a `Vec` one by one. Strings that need no escaping (nearly
//! every one: ids, paths, names) are copied whole; the rest go through `serde_json`. Integers
//! are written as `serde_json` writes them (`itoa`).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, UNIX_EPOCH};

/// A line being written into a buffer its writer sized for it: writing past the end panics.
pub(super) struct Line<'a> {
    buffer: &'a mut [u8],
    len: usize,
}

impl<'a> Line<'a> {
    pub(super) fn new(buffer: &'a mut [u8]) -> Self {
        Line { buffer, len: 0 }
    }

    /// Bytes written.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(super) fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        self.buffer[self.len..end].copy_from_slice(bytes);
        self.len = end;
    }

    #[inline]
    pub(super) fn byte(&mut self, byte: u8) {
        self.buffer[self.len] = byte;
        self.len += 1;
    }

    /// `value` (UTF-8) as a JSON string, quotes included: at most `6 * value.len() + 2` bytes.
    pub(super) fn string(&mut self, value: &[u8]) {
        if needs_escape(value) {
            // Lossless: every string of an access line was a `&str`.
            let value = String::from_utf8_lossy(value);
            let escaped = serde_json::to_vec(&value).expect("serialising to memory");
            self.put(&escaped);
        } else {
            self.plain(value);
        }
    }

    /// `value`, which needs no escaping (`needs_escape` said so), as a JSON string.
    #[inline]
    pub(super) fn plain(&mut self, value: &[u8]) {
        debug_assert!(!needs_escape(value));
        self.byte(b'"');
        self.put(value);
        self.byte(b'"');
    }

    /// An IP address as a JSON string, as its `Display` writes it (at most 47 bytes): an IPv4
    /// address by hand, as `Display` costs as much as the rest of the line together.
    pub(super) fn ip(&mut self, address: IpAddr) {
        match address {
            IpAddr::V4(v4) => {
                let [a, b, c, d] = v4.octets();
                self.byte(b'"');
                self.small(a.into());
                self.byte(b'.');
                self.small(b.into());
                self.byte(b'.');
                self.small(c.into());
                self.byte(b'.');
                self.small(d.into());
                self.byte(b'"');
            }
            IpAddr::V6(v6) => {
                let _ = write!(self, "\"{v6}\"");
            }
        }
    }

    /// At most 20 bytes.
    pub(super) fn integer(&mut self, value: u64) {
        self.put(itoa::Buffer::new().format(value).as_bytes());
    }

    /// `value` in decimal; below 1000 (an HTTP status, an address octet: five to a line)
    /// from a table, which costs a fraction of `itoa`'s buffer and copy.
    #[inline]
    pub(super) fn small(&mut self, value: u16) {
        let Some(entry) = DECIMAL.get(usize::from(value)) else {
            return self.integer(value.into());
        };
        self.digits(entry);
    }

    /// `micros` microseconds in milliseconds (at most 24 bytes), as a JSON number that always
    /// reads as a float (`0.25`, `12.0`, `1500.042`): written from integers, as formatting the
    /// `f64` cost as much as the rest of the numbers together.
    pub(super) fn millis(&mut self, micros: u64) {
        self.integer(micros / 1000);
        self.byte(b'.');
        self.digits(&FRACTION[(micros % 1000) as usize]);
    }

    /// The digits of a table entry: its first three bytes are copied whatever its count (a
    /// copy of known length, with no branch), then as many are kept as it counts. The bytes
    /// past them are written over by what follows: every number in a line is followed by more
    /// of the line, so they never reach past its bound.
    #[inline]
    fn digits(&mut self, entry: &[u8; 4]) {
        self.buffer[self.len..self.len + 3].copy_from_slice(&entry[..3]);
        self.len += usize::from(entry[3]);
    }
}

/// The numbers below 1000: their digits, left-aligned, and how many there are.
static DECIMAL: [[u8; 4]; 1000] = digit_table(false);
/// The numbers below 1000 as three-digit decimal fractions: zero-padded, and how many digits
/// are left without trailing zeros (at least one: `.5`, `.25`, `.0`).
static FRACTION: [[u8; 4]; 1000] = digit_table(true);

const fn digit_table(fraction: bool) -> [[u8; 4]; 1000] {
    let mut table = [[0u8; 4]; 1000];
    let mut n = 0;
    while n < 1000 {
        let padded = [
            b'0' + (n / 100) as u8,
            b'0' + (n / 10 % 10) as u8,
            b'0' + (n % 10) as u8,
        ];
        let count = if fraction {
            if n % 100 == 0 {
                1
            } else if n % 10 == 0 {
                2
            } else {
                3
            }
        } else if n >= 100 {
            3
        } else if n >= 10 {
            2
        } else {
            1
        };
        let skip = if fraction { 0 } else { 3 - count };
        let mut i = 0;
        while i + skip < 3 {
            table[n][i] = padded[i + skip];
            i += 1;
        }
        table[n][3] = count as u8;
        n += 1;
    }
    table
}

impl std::fmt::Write for Line<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.put(text.as_bytes());
        Ok(())
    }
}

/// Whether `value` holds a control character, a quote or a backslash. Eight bytes are looked
/// at together, as words ("Bit Twiddling Hacks": a byte below `n`, a byte equal to `b`), since a
/// line's strings are looked at on every request and almost never hold one.
pub(super) fn needs_escape(value: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Exact for "some byte is below n" when n <= 0x80 (a byte's flag may be set wrongly only
    // above a byte whose flag is rightly set).
    let below = |word: u64, n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS != 0;
    let equal = |word: u64, b: u8| below(word ^ (ONES * u64::from(b)), 1);
    let mut words = value.chunks_exact(8);
    for chunk in &mut words {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        if below(word, 0x20) | equal(word, b'"') | equal(word, b'\\') {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Writes RFC 3339 timestamps, remembering the last whole second it wrote and its
/// `YYYY-MM-DDTHH:MM:SS`: lines come thousands a second, and the calendar arithmetic is the
/// costly part of a timestamp.
pub(super) struct Clock {
    second: u64,
    text: [u8; 19],
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            second: u64::MAX,
            text: [0; 19],
        }
    }
}

impl Clock {
    /// `micros` since the Unix epoch in RFC 3339 with microseconds, UTC
    /// (`2025-01-01T00:00:00.000000Z`, 27 bytes up to the year 9999), as
    /// `humantime::format_rfc3339_micros` writes it.
    pub(super) fn timestamp(&mut self, line: &mut Line<'_>, micros: u64) {
        let seconds = micros / 1_000_000;
        if self.second != seconds {
            let whole = UNIX_EPOCH + Duration::from_secs(seconds);
            let formatted = humantime::format_rfc3339_seconds(whole).to_string();
            self.text.copy_from_slice(&formatted.as_bytes()[..19]);
            self.second = seconds;
        }
        line.put(&self.text);
        let fraction = (micros % 1_000_000) as usize;
        line.byte(b'.');
        line.put(&FRACTION[fraction / 1000][..3]);
        line.put(&FRACTION[fraction % 1000][..3]);
        line.byte(b'Z');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn written(write: impl FnOnce(&mut Line<'_>)) -> String {
        let mut buffer = vec![0; 4096];
        let mut line = Line::new(&mut buffer);
        write(&mut line);
        let len = line.len();
        String::from_utf8(buffer[..len].to_vec()).unwrap()
    }

    #[test]
    fn strings_read_back_as_written() {
        for value in [
            "",
            "plain/path:tag",
            "quote \" and backslash \\",
            "new\nline\ttab\r\u{0}\u{1f}",
            "caf\u{e9} \u{1f600} \u{7f}",
            "\u{2028}",
        ] {
            let json = written(|out| out.string(value.as_bytes()));
            let read: String = serde_json::from_str(&json).unwrap();
            assert_eq!(read, value);
            assert_eq!(
                json,
                serde_json::to_string(value).unwrap(),
                "as serde_json writes it"
            );
        }
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for address in [
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "10.0.200.9",
            "::1",
            "fe80::1:2",
        ] {
            let address: IpAddr = address.parse().unwrap();
            assert_eq!(written(|out| out.ip(address)), format!("\"{address}\""));
        }
    }

    #[test]
    fn numbers_are_written_as_serde_json_writes_them() {
        for value in [0u64, 7, 1_000, u64::MAX] {
            assert_eq!(
                written(|out| out.integer(value)),
                serde_json::to_string(&value).unwrap()
            );
        }
        for value in 0..=u16::MAX {
            assert_eq!(written(|out| out.small(value)), value.to_string());
        }
    }

    #[test]
    fn durations_are_milliseconds_to_the_microsecond() {
        for (micros, text) in [
            (0u64, "0.0"),
            (1, "0.001"),
            (10, "0.01"),
            (250, "0.25"),
            (999, "0.999"),
            (1_000, "1.0"),
            (12_000, "12.0"),
            (1_500_042, "1500.042"),
            (86_400_000_000, "86400000.0"),
        ] {
            let json = written(|out| out.millis(micros));
            assert_eq!(json, text);
            let read: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert!(read.is_f64(), "{json} reads as a float");
            assert_eq!(read.as_f64().unwrap(), micros as f64 / 1000.0);
        }
    }

    #[test]
    fn the_escape_check_finds_every_byte_that_needs_one_wherever_it_is() {
        let reference = |value: &str| value.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
        let specials = ['\0', '\n', '\u{1f}', '"', '\\'];
        let harmless = [
            'a',
            ' ',
            '\u{7f}',
            '\u{e9}',
            '\u{1f600}',
            '!',
            '#',
            '[',
            ']',
            '~',
        ];
        for length in 0..24 {
            for filler in harmless {
                let base: String = std::iter::repeat_n(filler, length).collect();
                assert!(!needs_escape(base.as_bytes()), "{base:?}");
                for position in 0..=length {
                    for special in specials.iter().chain(&harmless) {
                        let mut value: Vec<char> = base.chars().collect();
                        value.insert(position, *special);
                        let value: String = value.into_iter().collect();
                        assert_eq!(
                            needs_escape(value.as_bytes()),
                            reference(&value),
                            "{value:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn timestamps_are_humantimes_whichever_second_came_before() {
        let mut times: Vec<SystemTime> = [
            0u64,
            1,
            59_999_999,
            951_782_400_000_000,   // 2000-02-29
            1_767_225_599_999_999, // 2025-12-31T23:59:59.999999
            1_767_225_600_000_000,
            4_102_444_800_123_456, // 2100-01-01
        ]
        .into_iter()
        .map(|micros| UNIX_EPOCH + Duration::from_micros(micros))
        .collect();
        times.push(SystemTime::now());
        // Each twice, and again later in the same second, so that the cached second both
        // misses and hits.
        let mut clock = Clock::default();
        for time in times.iter().chain(times.iter()) {
            let micros = time.duration_since(UNIX_EPOCH).unwrap().subsec_micros();
            for later in [0, 1, 999_999 - u64::from(micros)] {
                let time = *time + Duration::from_micros(later);
                assert_eq!(
                    written(|out| clock.timestamp(
                        out,
                        time.duration_since(UNIX_EPOCH).unwrap().as_micros() as u64
                    )),
                    humantime::format_rfc3339_micros(time).to_string()
                );
            }
        }
    }
}
