//! Where and how logs are written: stderr, as human-readable text (colored on a terminal) or
//! as one JSON object per line for log collectors (`log_format = "json"`).
//!
//! `berth serve` writes its access lines (one per request) through `log_writer`, in batches
//! formatted on its thread, so that no request waits on stderr or on formatting; every other
//! line is rare and goes straight to stderr, so that it is out the moment it is logged.

use std::io::IsTerminal;

use anyhow::Context;
use berth_http::observe::access::{self, AccessFormat};
use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

use crate::log_writer::{self, BatchGuard};

/// The shape of every log line, the access log's included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `2025-01-01T00:00:00Z  INFO target: message key=value`, colored on a terminal.
    #[default]
    Text,
    /// `{"timestamp":..,"level":..,"fields":{"message":..,..},"target":..}` per line.
    Json,
}

/// Keeps the log writer thread; dropping it writes out every line logged so far. Hold it
/// until the process is about to exit.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard(#[allow(dead_code)] BatchGuard);

/// sqlx logs every PostgreSQL notice at INFO, such as the `relation "_sqlx_migrations" already
/// exists, skipping` of every node that starts on a migrated database: noise, not news. Notices
/// below WARNING are dropped unless the filter names sqlx itself.
const QUIET_NOTICES: &str = "sqlx::postgres::notice=warn";

/// `filter` with [`QUIET_NOTICES`] added, unless it says something about sqlx.
fn directives(filter: &str) -> String {
    if filter.contains("sqlx") {
        filter.to_owned()
    } else if filter.trim().is_empty() {
        QUIET_NOTICES.to_owned()
    } else {
        format!("{filter},{QUIET_NOTICES}")
    }
}

/// Installs the process's log subscriber and the access log's sink: `filter` (an `EnvFilter`
/// directive such as `info,berth::access=off`, with PostgreSQL notices below WARNING dropped
/// unless it names sqlx) in `format` on stderr. Errors: a filter that does not parse.
pub fn init(filter: &str, format: LogFormat) -> anyhow::Result<LogGuard> {
    let filter = EnvFilter::try_new(directives(filter)).context("invalid log filter")?;
    let access_format = match format {
        LogFormat::Text => AccessFormat::Text,
        LogFormat::Json => AccessFormat::Json,
    };
    let (writer, guard) = log_writer::start(std::io::stderr(), move |records, lines| {
        access::render(access_format, records, lines)
    })
    .context("starting the log writer")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
    // After the subscriber: the sink asks its filter, once, whether access lines pass.
    access::install(Box::new(move |encode| {
        writer.append_with(|buffer| encode(buffer))
    }));
    Ok(LogGuard(guard))
}

/// Installs a text log subscriber writing straight to stderr, for the commands that serve no
/// requests (`berth gc`, `berth migrate`, `berth scrub`): each line is out before the next
/// step, and nothing is left to flush when they exit. PostgreSQL notices are filtered as by
/// [`init`]. Errors: a filter that does not parse.
pub fn init_direct(filter: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(directives(filter)).context("invalid log filter")?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the default filter (`info`) writes of a notice, a warning and a line of ours.
    fn logged(filter: &str) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::try_new(directives(filter)).unwrap())
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "sqlx::postgres::notice", "relation already exists, skipping");
            tracing::warn!(target: "sqlx::postgres::notice", "a warning from the server");
            tracing::info!(target: "berth::serve", "berth listening");
        });
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn postgres_notices_below_warning_are_dropped_unless_sqlx_is_named() {
        let quiet = logged("info");
        assert!(!quiet.contains("already exists"), "{quiet}");
        assert!(quiet.contains("a warning from the server"), "{quiet}");
        assert!(quiet.contains("berth listening"), "{quiet}");
        let asked = logged("info,sqlx=info");
        assert!(asked.contains("already exists"), "{asked}");
        assert_eq!(directives(""), QUIET_NOTICES);
    }
}
