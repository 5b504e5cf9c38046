//! Where and how logs are written: stderr, as human-readable text (colored on a terminal) or
//! as one JSON object per line for log collectors (`log_format = "json"`).

use std::io::IsTerminal;

use anyhow::Context;
use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// The shape of every log line, the access log's included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `2025-01-01T00:00:00Z  INFO target: message key=value`, colored on a terminal.
    #[default]
    Text,
    /// `{"timestamp":..,"level":..,"fields":{"message":..,..},"target":..}` per line.
    Json,
}

/// Installs the process's log subscriber: `filter` (an `EnvFilter` directive such as
/// `info,berth::access=off`) in `format` on stderr. Errors: a filter that does not parse.
pub fn init(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter).context("invalid log filter")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
    Ok(())
}
