//! Writing the access line. The server installs a sink (`install`) that takes each line as a
//! record of its fields (`record`), copied as they are, and a writer thread of its own turns
//! many records at a time into lines (`render`), in the shape its log subscriber gives every
//! other line. That costs a request a fraction of formatting the line as a `tracing` event
//! (field visitors, `Debug` escaping, a thread-local buffer), or even of formatting it inline,
//! which matters because it happens once per request. Without a sink (a router built in
//! tests) the line is a `tracing` event.
//!
//! Either way the line is written only when target `berth::access` is enabled at `INFO`, so a
//! log filter such as `info,berth::access=off` turns it off. With a sink, that is decided once,
//! when it is installed: the process's filter does not change afterwards, and asking the
//! subscriber on every request cost as much as a tenth of writing the line.

mod json;
mod record;

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a line looks: as the log subscriber formats its own lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessFormat {
    /// `2025-01-01T00:00:00.000000Z  INFO berth::access: request request_id="…" method=GET …`
    Text,
    /// `{"timestamp":…,"level":"INFO","fields":{"message":"request",…},"target":"berth::access"}`
    Json,
}

/// Appends one whole record (see `record`) to the log's buffer, by calling the encoder it is
/// handed with that buffer (held for the call), so the record is written once, in place; the
/// log's writer hands what gathered to [`render`].
pub type RecordWriter = Box<dyn Fn(&mut dyn FnMut(&mut Vec<u8>)) + Send + Sync>;

struct Sink {
    write: RecordWriter,
    /// Whether the filter lets `berth::access` lines through, asked once at `install`.
    enabled: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends the record of every access line of the process to `write`; the first call wins (one
/// log destination per process). Call it after the process's log subscriber is set: whether
/// its filter enables target `berth::access` at `INFO` is asked here, once.
pub fn install(write: RecordWriter) {
    let enabled = tracing::enabled!(target: "berth::access", tracing::Level::INFO);
    let _ = SINK.set(Sink { write, enabled });
}

/// Appends to `out` the line of each record in `records` (records as the sink was handed
/// them, one after another), formatted as `format`, each ending in a newline.
pub fn render(format: AccessFormat, records: &[u8], out: &mut Vec<u8>) {
    let mut clock = json::Clock::default();
    for logged in record::decode(records) {
        match format {
            AccessFormat::Json => logged.write_json(out, &mut clock),
            AccessFormat::Text => logged.write_text(out),
        }
        out.push(b'\n');
    }
}

/// Most bytes a JSON line takes besides its strings' bytes (each at most six bytes escaped):
/// about 200 of constant text, a 27-byte timestamp, four numbers of at most 20 digits, a
/// duration of at most 24, an address of at most 47 and the strings' quotes, rounded well up.
const JSON_BOUND: usize = 512;

/// What one access line says.
pub(crate) struct AccessLine<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub endpoint: &'a str,
    pub repository: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Until the last body byte was sent; logged as `duration_ms`, to the microsecond.
    pub duration: Duration,
    pub user: &'a str,
    pub client: IpAddr,
}

impl AccessLine<'_> {
    /// Writes the line, when target `berth::access` is enabled.
    pub(crate) fn write(&self) {
        let Some(sink) = SINK.get() else {
            if tracing::enabled!(target: "berth::access", tracing::Level::INFO) {
                self.write_event();
            }
            return;
        };
        if sink.enabled {
            let now = SystemTime::now();
            (sink.write)(&mut |buffer| record::encode(self, now, buffer));
        }
    }

    fn write_event(&self) {
        tracing::info!(
            target: "berth::access",
            request_id = self.request_id,
            method = self.method,
            endpoint = self.endpoint,
            repository = self.repository,
            path = self.path,
            status = self.status,
            bytes_in = self.bytes_in,
            bytes_out = self.bytes_out,
            duration_ms = self.duration.as_secs_f64() * 1000.0,
            user = %self.user.escape_debug(),
            client = %self.client,
            "request"
        );
    }
}

impl record::Logged<'_> {
    /// The JSON line, field for field what `tracing-subscriber`'s JSON format writes:
    /// `{"timestamp":"…","level":"INFO","fields":{"message":"request",…},"target":"berth::access"}`.
    /// Written piece by piece rather than through `serde`, which escapes every key and value
    /// byte by byte: that was a tenth of the work of serving a cached manifest.
    fn write_json(&self, out: &mut Vec<u8>, clock: &mut json::Clock) {
        // Whether any string needs escaping, asked once for all six.
        let plain = !json::needs_escape(self.strings);
        let strings = if plain { 1 } else { 6 } * self.strings.len();
        let start = out.len();
        out.resize(start + JSON_BOUND + strings, 0);
        let mut line = json::Line::new(&mut out[start..]);
        let string = |line: &mut json::Line<'_>, value: &[u8]| {
            if plain {
                line.plain(value)
            } else {
                line.string(value)
            }
        };
        line.put(b"{\"timestamp\":\"");
        clock.timestamp(&mut line, self.at);
        line.put(b"\",\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"request_id\":");
        string(&mut line, self.request_id);
        line.put(b",\"method\":");
        string(&mut line, self.method);
        line.put(b",\"endpoint\":");
        string(&mut line, self.endpoint);
        line.put(b",\"repository\":");
        string(&mut line, self.repository);
        line.put(b",\"path\":");
        string(&mut line, self.path);
        line.put(b",\"status\":");
        line.small(self.status);
        line.put(b",\"bytes_in\":");
        line.integer(self.bytes_in);
        line.put(b",\"bytes_out\":");
        line.integer(self.bytes_out);
        line.put(b",\"duration_ms\":");
        line.millis(self.duration);
        line.put(b",\"user\":");
        string(&mut line, self.user);
        line.put(b",\"client\":");
        line.ip(self.client);
        line.put(b"},\"target\":\"berth::access\"}");
        let len = line.len();
        out.truncate(start + len);
    }

    /// User names come from the client (Basic) or another issuer (a token's `sub`): escaped,
    /// so that no name can end the line and forge another. Request ids are printable ASCII
    /// without spaces, and paths cannot hold spaces or control characters (HTTP refuses them).
    fn write_text(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let text = |bytes| String::from_utf8_lossy(bytes);
        let _ = write!(
            out,
            "{}  INFO berth::access: request request_id={:?} method={} endpoint={:?} \
             repository={:?} path={} status={} bytes_in={} bytes_out={} duration_ms={:.3} user={} \
             client={}",
            humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_micros(self.at)),
            text(self.request_id),
            text(self.method),
            text(self.endpoint),
            text(self.repository),
            text(self.path),
            self.status,
            self.bytes_in,
            self.bytes_out,
            self.duration as f64 / 1000.0,
            text(self.user).escape_debug(),
            self.client,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(user: &'a str, client: &str) -> AccessLine<'a> {
        AccessLine {
            request_id: "3f1c-req",
            method: "GET",
            endpoint: "manifest",
            repository: "team/app",
            path: "/v2/team/app/manifests/v1",
            status: 200,
            bytes_in: 0,
            bytes_out: 1_234_567_890_123,
            duration: Duration::from_micros(1_500_042),
            user,
            client: client.parse().unwrap(),
        }
    }

    /// `lines`, logged at `at`, encoded as records and rendered in `format`.
    fn rendered(format: AccessFormat, lines: &[AccessLine<'_>], at: SystemTime) -> String {
        let mut records = Vec::new();
        for line in lines {
            record::encode(line, at, &mut records);
        }
        let mut out = Vec::new();
        render(format, &records, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_json_line_holds_every_field_whatever_the_strings_hold() {
        let line = AccessLine {
            request_id: "id\"with\\quotes",
            method: "PUT",
            endpoint: "manifest",
            repository: "team/app",
            path: "/v2/team/app/manifests/v1",
            status: 201,
            bytes_in: 1234,
            bytes_out: 0,
            duration: Duration::from_micros(250),
            user: "eve\n{\"forged\":true}",
            client: "::1".parse().unwrap(),
        };
        let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_764_547_200_000_042);
        let out = rendered(AccessFormat::Json, &[line], at);
        assert_eq!(out.matches('\n').count(), 1, "one line: {out}");
        let written: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            written,
            serde_json::json!({
                "timestamp": "2025-12-01T00:00:00.000042Z",
                "level": "INFO",
                "fields": {
                    "message": "request",
                    "request_id": "id\"with\\quotes",
                    "method": "PUT",
                    "endpoint": "manifest",
                    "repository": "team/app",
                    "path": "/v2/team/app/manifests/v1",
                    "status": 201,
                    "bytes_in": 1234,
                    "bytes_out": 0,
                    "duration_ms": 0.25,
                    "user": "eve\n{\"forged\":true}",
                    "client": "::1",
                },
                "target": "berth::access",
            })
        );
    }

    #[test]
    fn every_record_renders_as_its_line_in_both_formats() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_764_547_200_000_042);
        let lines = [
            line("anonymous", "127.0.0.1"),
            line("eve\n{\"forged\":true}", "fe80::1:2"),
            line("", "::ffff:10.0.0.1"),
            line("caf\u{e9}", "0.0.0.0"),
        ];
        let json = rendered(AccessFormat::Json, &lines, at);
        let text = rendered(AccessFormat::Text, &lines, at);
        assert_eq!(json.lines().count(), lines.len(), "{json}");
        assert_eq!(text.lines().count(), lines.len(), "{text}");
        for ((line, json), text) in lines.iter().zip(json.lines()).zip(text.lines()) {
            let written: serde_json::Value = serde_json::from_str(json).unwrap();
            let fields = &written["fields"];
            assert_eq!(fields["user"], line.user, "{json}");
            assert_eq!(fields["client"], line.client.to_string(), "{json}");
            assert_eq!(fields["request_id"], line.request_id, "{json}");
            assert_eq!(fields["path"], line.path, "{json}");
            assert_eq!(fields["bytes_out"], line.bytes_out, "{json}");
            assert_eq!(fields["duration_ms"], 1500.042, "{json}");
            assert_eq!(
                text,
                format!(
                    "2025-12-01T00:00:00.000042Z  INFO berth::access: request \
                     request_id=\"3f1c-req\" method=GET endpoint=\"manifest\" \
                     repository=\"team/app\" path=/v2/team/app/manifests/v1 status=200 \
                     bytes_in=0 bytes_out=1234567890123 duration_ms=1500.042 user={} client={}",
                    line.user.escape_debug(),
                    line.client
                )
            );
        }
    }

    #[test]
    fn the_longest_lines_fit_the_bound_of_their_buffer() {
        // Strings escaped at six bytes a byte, strings copied as they are, and no strings (their
        // quotes then count against the bound alone); with the largest numbers and address.
        for string in ["\u{1}".repeat(300), "a".repeat(300), String::new()] {
            let line = AccessLine {
                request_id: &string,
                method: &string,
                endpoint: &string,
                repository: &string,
                path: &string,
                status: u16::MAX,
                bytes_in: u64::MAX,
                bytes_out: u64::MAX,
                duration: Duration::from_micros(u64::MAX),
                user: &string,
                client: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
            };
            // The last second humantime writes (9999-12-31T23:59:59).
            let at = SystemTime::UNIX_EPOCH + Duration::from_micros(253_402_300_799_999_999);
            let out = rendered(AccessFormat::Json, &[line], at);
            let written: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(written["fields"]["user"], string);
            assert_eq!(written["fields"]["bytes_out"], u64::MAX);
            assert_eq!(written["timestamp"], "9999-12-31T23:59:59.999999Z");
        }
    }

    #[test]
    fn a_torn_record_ends_the_rendering_after_the_whole_ones() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_547_200);
        let mut records = Vec::new();
        record::encode(&line("alice", "10.1.2.3"), at, &mut records);
        let whole = records.len();
        record::encode(&line("bob", "10.1.2.4"), at, &mut records);
        for cut in [whole + 1, whole + 4, whole + 10, records.len() - 1] {
            let mut rendered = Vec::new();
            render(AccessFormat::Json, &records[..cut], &mut rendered);
            let rendered = String::from_utf8(rendered).unwrap();
            assert_eq!(rendered.lines().count(), 1, "{rendered}");
            assert!(rendered.contains("\"user\":\"alice\""), "{rendered}");
            assert!(rendered.contains("\"client\":\"10.1.2.3\""), "{rendered}");
        }
    }
}
