//! Writing the access line. The server installs a sink (`install`) that serialises each line
//! itself, in the shape its log subscriber gives every other line, and hands it whole to the
//! process's log writer. That costs a fraction of formatting the line as a `tracing` event
//! (field visitors, `Debug` escaping, a thread-local buffer), which matters because it happens
//! once per request. Without a sink (a router built in tests) the line is a `tracing` event.
//!
//! Either way the line is written only when target `berth::access` is enabled at `INFO`, so a
//! log filter such as `info,berth::access=off` turns it off.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::SystemTime;

use serde::Serialize;

/// How a line looks: as the log subscriber formats its own lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessFormat {
    /// `2025-01-01T00:00:00.000000Z  INFO berth::access: request request_id="…" method=GET …`
    Text,
    /// `{"timestamp":…,"level":"INFO","fields":{"message":"request",…},"target":"berth::access"}`
    Json,
}

/// Takes one whole line (newline included) to the log's destination.
pub type LineWriter = Box<dyn Fn(&[u8]) + Send + Sync>;

struct Sink {
    format: AccessFormat,
    write: LineWriter,
}

static SINK: OnceLock<Sink> = OnceLock::new();

thread_local! {
    /// Each thread's line buffer, reused: a line per request would otherwise be an allocation
    /// per request.
    static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(512));
}

/// Sends every access line of the process to `write`, formatted as `format`; the first call
/// wins (one log destination per process).
pub fn install(format: AccessFormat, write: LineWriter) {
    let _ = SINK.set(Sink { format, write });
}

/// What one access line says.
#[derive(Serialize)]
pub(crate) struct AccessLine<'a> {
    /// Always `request`: the line's message, as a `tracing` event would carry it.
    pub message: &'static str,
    pub request_id: &'a str,
    pub method: &'a str,
    pub endpoint: &'static str,
    pub repository: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration_ms: f64,
    pub user: &'a str,
    pub client: IpAddr,
}

/// The JSON line, field for field what `tracing-subscriber`'s JSON format writes.
#[derive(Serialize)]
struct JsonLine<'a> {
    #[serde(serialize_with = "display")]
    timestamp: humantime::Rfc3339Timestamp,
    level: &'static str,
    fields: &'a AccessLine<'a>,
    target: &'static str,
}

fn display<S: serde::Serializer>(
    value: &humantime::Rfc3339Timestamp,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

impl AccessLine<'_> {
    /// Writes the line, when target `berth::access` is enabled.
    pub(crate) fn write(&self) {
        if !tracing::enabled!(target: "berth::access", tracing::Level::INFO) {
            return;
        }
        let Some(sink) = SINK.get() else {
            self.write_event();
            return;
        };
        let timestamp = humantime::format_rfc3339_micros(SystemTime::now());
        BUFFER.with(|buffer| {
            let mut buffer = buffer.borrow_mut();
            buffer.clear();
            match sink.format {
                AccessFormat::Json => {
                    let line = JsonLine {
                        timestamp,
                        level: "INFO",
                        fields: self,
                        target: "berth::access",
                    };
                    serde_json::to_writer(&mut *buffer, &line).expect("serialising to memory");
                }
                AccessFormat::Text => self.write_text(&mut buffer, timestamp),
            }
            buffer.push(b'\n');
            (sink.write)(&buffer);
            // A line far longer than usual (a long path or user name) does not stay allocated.
            if buffer.capacity() > 4096 {
                *buffer = Vec::with_capacity(512);
            }
        });
    }

    /// User names come from the client (Basic) or another issuer (a token's `sub`): escaped,
    /// so that no name can end the line and forge another. Request ids are printable ASCII
    /// without spaces, and paths cannot hold spaces or control characters (HTTP refuses them).
    fn write_text(&self, buffer: &mut Vec<u8>, timestamp: humantime::Rfc3339Timestamp) {
        use std::io::Write;
        let _ = write!(
            buffer,
            "{timestamp}  INFO berth::access: {} request_id={:?} method={} endpoint={:?} \
             repository={:?} path={} status={} bytes_in={} bytes_out={} duration_ms={} user={} \
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
            self.duration_ms,
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
            duration_ms = self.duration_ms,
            user = %self.user.escape_debug(),
            client = %self.client,
            "{}",
            self.message
        );
    }
}
