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
use std::time::{Duration, SystemTime};

/// How a line looks: as the log subscriber formats its own lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessFormat {
    /// `2025-01-01T00:00:00.000000Z  INFO berth::access: request request_id="…" method=GET …`
    Text,
    /// `{"timestamp":…,"level":"INFO","fields":{"message":"request",…},"target":"berth::access"}`
    Json,
}

/// Takes one whole record (see `record`) to the log's writer, which hands what it gathered to
/// [`render`].
pub type RecordWriter = Box<dyn Fn(&[u8]) + Send + Sync>;

struct Sink {
    write: RecordWriter,
    /// Whether the filter lets `berth::access` lines through, asked once at `install`.
    enabled: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

thread_local! {
    /// Each thread's record buffer, reused: a record per request would otherwise be an
    /// allocation per request.
    static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(512));
}

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
    for (line, logged) in record::decode(records) {
        match format {
            AccessFormat::Json => line.write_json(out, logged),
            AccessFormat::Text => line.write_text(out, humantime::format_rfc3339_micros(logged)),
        }
        out.push(b'\n');
    }
}

/// What one access line says.
pub(crate) struct AccessLine<'a> {
    /// Always `request`: the line's message, as a `tracing` event would carry it.
    pub message: &'static str,
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
        if !sink.enabled {
            return;
        }
        let now = SystemTime::now();
        BUFFER.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            buffer.clear();
            record::encode(self, now, &mut buffer);
            (sink.write)(&buffer);
            // A record far longer than usual (a long path or user name) does not stay allocated.
            if buffer.capacity() > 4096 {
                *buffer = Vec::with_capacity(512);
            }
        });
    }

    /// The JSON line, field for field what `tracing-subscriber`'s JSON format writes:
    /// `{"timestamp":"…","level":"INFO","fields":{"message":"request",…},"target":"berth::access"}`.
    /// Written piece by piece rather than through `serde`, which escapes every key and value
    /// byte by byte: that was a tenth of the work of serving a cached manifest.
    fn write_json(&self, out: &mut Vec<u8>, now: SystemTime) {
        out.extend_from_slice(b"{\"timestamp\":\"");
        json::timestamp(out, now);
        out.extend_from_slice(b"\",\"level\":\"INFO\",\"fields\":{\"message\":");
        json::plain(out, self.message);
        out.extend_from_slice(b",\"request_id\":");
        json::string(out, self.request_id);
        out.extend_from_slice(b",\"method\":");
        // An HTTP method is a token: no quote, backslash or control character.
        json::plain(out, self.method);
        out.extend_from_slice(b",\"endpoint\":");
        json::plain(out, self.endpoint);
        out.extend_from_slice(b",\"repository\":");
        json::string(out, self.repository);
        out.extend_from_slice(b",\"path\":");
        json::string(out, self.path);
        out.extend_from_slice(b",\"status\":");
        json::integer(out, self.status);
        out.extend_from_slice(b",\"bytes_in\":");
        json::integer(out, self.bytes_in);
        out.extend_from_slice(b",\"bytes_out\":");
        json::integer(out, self.bytes_out);
        out.extend_from_slice(b",\"duration_ms\":");
        json::millis(out, self.duration);
        out.extend_from_slice(b",\"user\":");
        json::string(out, self.user);
        out.extend_from_slice(b",\"client\":");
        json::ip(out, self.client);
        out.extend_from_slice(b"},\"target\":\"berth::access\"}");
    }

    /// User names come from the client (Basic) or another issuer (a token's `sub`): escaped,
    /// so that no name can end the line and forge another. Request ids are printable ASCII
    /// without spaces, and paths cannot hold spaces or control characters (HTTP refuses them).
    fn write_text(&self, buffer: &mut Vec<u8>, timestamp: humantime::Rfc3339Timestamp) {
        use std::io::Write;
        let _ = write!(
            buffer,
            "{timestamp}  INFO berth::access: {} request_id={:?} method={} endpoint={:?} \
             repository={:?} path={} status={} bytes_in={} bytes_out={} duration_ms={:.3} user={} \
             client={}",
            self.message,
            self.request_id,
            self.method,
            self.endpoint,
            self.repository,
            self.path,
            self.status,
            self.bytes_in,
            self.bytes_out,
            self.duration.as_secs_f64() * 1000.0,
            self.user.escape_debug(),
            self.client,
        );
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
            "{}",
            self.message
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_line_holds_every_field_whatever_the_strings_hold() {
        let line = AccessLine {
            message: "request",
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
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_764_547_200_000_042);
        let mut out = Vec::new();
        line.write_json(&mut out, now);
        assert!(!out.contains(&b'\n'), "one line");
        let written: serde_json::Value = serde_json::from_slice(&out).unwrap();
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

    fn line<'a>(user: &'a str, client: &str) -> AccessLine<'a> {
        AccessLine {
            message: "request",
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

    #[test]
    fn records_render_as_the_lines_formatted_in_place_would_read() {
        let logged = SystemTime::UNIX_EPOCH + Duration::from_micros(1_764_547_200_000_042);
        let lines = [
            line("anonymous", "127.0.0.1"),
            line("eve\n{\"forged\":true}", "fe80::1:2"),
            line("", "::ffff:10.0.0.1"),
            line("caf\u{e9}", "0.0.0.0"),
        ];
        let mut records = Vec::new();
        let mut json = Vec::new();
        let mut text = Vec::new();
        for line in &lines {
            record::encode(line, logged, &mut records);
            line.write_json(&mut json, logged);
            json.push(b'\n');
            line.write_text(&mut text, humantime::format_rfc3339_micros(logged));
            text.push(b'\n');
        }
        let mut rendered = Vec::new();
        render(AccessFormat::Json, &records, &mut rendered);
        assert_eq!(
            String::from_utf8(rendered).unwrap(),
            String::from_utf8(json).unwrap()
        );
        let mut rendered = Vec::new();
        render(AccessFormat::Text, &records, &mut rendered);
        assert_eq!(
            String::from_utf8(rendered).unwrap(),
            String::from_utf8(text).unwrap()
        );
    }

    #[test]
    fn a_torn_record_ends_the_rendering_after_the_whole_ones() {
        let logged = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_547_200);
        let mut records = Vec::new();
        record::encode(&line("alice", "10.1.2.3"), logged, &mut records);
        let whole = records.len();
        record::encode(&line("bob", "10.1.2.4"), logged, &mut records);
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
