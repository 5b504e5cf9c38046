//! The `[notifications]` configuration: where events go and which ones.
//!
//! ```toml
//! [notifications]
//! source = "https://registry.example.com"   # CloudEvents `source`; default "berth"
//! retention = "7d"                           # how long passed events stay in the outbox
//!
//! [[notifications.endpoints]]
//! name = "scanner"                           # letters, digits, '.', '_', '-'
//! url = "https://scanner.example.com/hooks/berth"
//! secret_env = "BERTH_SCANNER_SECRET"        # or secret = "..."
//! events = ["dev.berth.manifest.pushed", "dev.berth.referrer.attached"]  # default: all
//! repositories = ["prod/**"]                 # default: all
//! timeout = "10s"
//! max_attempts = 8
//! backoff = "1s"                             # before the second attempt, then doubling
//! max_backoff = "5m"
//! batch_size = 100                           # events per request; default 1
//! batch_wait = "200ms"                       # gather events this long first (<= 1s); default 0s
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use berth_metadata::events::{StoredEvent, EVENT_TYPES};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::delivery::Target;
use crate::error::EventsError;

/// The config file's `[notifications]` table, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// The CloudEvents `source` attribute of every event (a URI reference naming this
    /// registry); default `berth`.
    pub source: Option<String>,
    /// How long events every endpoint has passed stay in the outbox (a duration such as
    /// `7d`); default seven days.
    pub retention: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<EndpointSettings>,
}

/// One `[[notifications.endpoints]]` entry, as written.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSettings {
    /// Names the endpoint in metrics, the admin listing and its delivery cursor: renaming an
    /// endpoint starts it afresh from the events committed after.
    pub name: String,
    /// Where events are `POST`ed (`http` or `https`).
    pub url: String,
    /// The shared secret signing requests (see `SIGNATURE_HEADER`); none sends no signature.
    pub secret: Option<String>,
    /// The environment variable holding the secret instead, read at start.
    pub secret_env: Option<String>,
    /// Event types sent; empty sends every type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// Repository globs (`*` within one path segment, `**` across them); events of other
    /// repositories are skipped. Empty sends every repository's. Events of no repository (a
    /// collection's summary) pass this filter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
    /// How long one attempt may take; default 10 s.
    pub timeout: Option<String>,
    /// Attempts before an event becomes a dead letter; default 8.
    pub max_attempts: Option<u32>,
    /// The wait before the second attempt, doubling after each failure; default 1 s.
    pub backoff: Option<String>,
    /// The longest wait between attempts; default 5 min.
    pub max_backoff: Option<String>,
    /// Most events sent in one request, 1 to 1000; default 1, one event per request in
    /// CloudEvents structured mode. Above 1, each request carries the events pending at once
    /// (up to this many) as a CloudEvents batch (a JSON array), so that a busy registry sends
    /// one request for many events.
    pub batch_size: Option<u32>,
    /// With `batch_size` above 1: how long the dispatcher gathers events after the first one
    /// arrives before it sends them, at most 1 s; default 0s (send what is pending at once).
    pub batch_wait: Option<String>,
}

impl std::fmt::Debug for EndpointSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointSettings")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("secret_env", &self.secret_env)
            .field("events", &self.events)
            .field("repositories", &self.repositories)
            .finish_non_exhaustive()
    }
}

/// The checked configuration the dispatchers run with.
#[derive(Debug, Clone)]
pub struct Notifications {
    pub source: String,
    pub retention: Duration,
    pub endpoints: Vec<Arc<NotifyEndpoint>>,
}

impl Notifications {
    /// The endpoints' names, in configuration order.
    pub fn names(&self) -> Vec<String> {
        self.endpoints.iter().map(|e| e.name.clone()).collect()
    }
}

/// One endpoint, checked.
pub struct NotifyEndpoint {
    pub name: String,
    pub url: url::Url,
    /// Where requests go, from `url`.
    pub(crate) target: Target,
    pub secret: Option<Vec<u8>>,
    /// None: every type.
    pub events: Option<BTreeSet<String>>,
    /// None: every repository.
    pub repositories: Option<GlobSet>,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Most events per request; 1 sends single events (structured mode), more sends batches.
    pub batch_size: u32,
    /// How long events are gathered before a batch is sent.
    pub batch_wait: Duration,
}

/// The defaults of what a file leaves out, as a file would write them: [`NotificationSettings::
/// check`] parses these, and [`NotificationSettings::effective`] shows them.
const DEFAULT_SOURCE: &str = "berth";
const DEFAULT_RETENTION: &str = "7d";
const DEFAULT_TIMEOUT: &str = "10s";
const DEFAULT_MAX_ATTEMPTS: u32 = 8;
const DEFAULT_BACKOFF: &str = "1s";
const DEFAULT_MAX_BACKOFF: &str = "5m";
const DEFAULT_BATCH_SIZE: u32 = 1;
const DEFAULT_BATCH_WAIT: &str = "0s";

/// The largest `batch_size`: bounds a request's body to about a megabyte of typical events.
pub const MAX_BATCH_SIZE: u32 = 1000;

/// The longest `timeout`: an attempt holds the endpoint's queue back while it waits.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// How a refused URL is shown in the error: as written, unless it may hold credentials (user
/// information, a query string) or is too long to read, since the error reaches terminals and
/// logs.
fn refused_url(text: &str) -> String {
    if text.contains(['@', '?']) || text.len() > 200 {
        "(not shown: it may hold credentials, or is over 200 characters)".to_owned()
    } else {
        format!("{text:?}")
    }
}

/// The longest `batch_wait`: the dispatcher saves its cursor and looks for other nodes' events
/// about once a second, and a longer gathering would hold both back.
pub const MAX_BATCH_WAIT: Duration = Duration::from_secs(1);

impl std::fmt::Debug for NotifyEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyEndpoint")
            .field("name", &self.name)
            .field("url", &self.url_for_logs())
            .finish_non_exhaustive()
    }
}

impl NotifyEndpoint {
    /// The URL as logs and reports show it: without user information and query string, where
    /// receivers commonly take a password or token (`https://user:pw@host/hook?code=…` shows
    /// as `https://host/hook?<redacted>`), and without the fragment, which is never sent.
    pub fn url_for_logs(&self) -> String {
        let mut shown = self.url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        let had_query = shown.query().is_some();
        shown.set_query(None);
        shown.set_fragment(None);
        let mut text = shown.to_string();
        if had_query {
            text.push_str("?<redacted>");
        }
        text
    }

    /// Whether the endpoint's filters let `event` through.
    pub fn accepts(&self, event: &StoredEvent) -> bool {
        let type_ok = self
            .events
            .as_ref()
            .is_none_or(|types| types.contains(&event.kind));
        let repo_ok = match (&self.repositories, &event.repository) {
            (Some(globs), Some(repo)) => globs.is_match(repo),
            _ => true,
        };
        type_ok && repo_ok
    }

    /// The wait after failed attempt `attempt` (1-based): `backoff` doubled per earlier
    /// failure, at most `max_backoff`.
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

fn config_error(message: String) -> EventsError {
    EventsError::Config(message)
}

/// How errors describe a duration: the form the README gives (humantime's parser also takes
/// longer unit names, such as `sec` or `hours`).
pub const DURATION_FORM: &str =
    "a number with a unit, such as 90s, 15m, 12h, 7d or 1h 30m (units: ms, s, m, h, d, w)";

/// Parses a duration of the config file or the command line: the one parser of durations in
/// Berth's settings, so that every refused one is described the same way, in the README's
/// terms rather than the parser library's.
///
/// Errors: the text and [`DURATION_FORM`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|_| format!("{text:?} is not a duration: write {DURATION_FORM}"))
}

/// `text`, or `default` when the file leaves the setting out, parsed.
fn duration(name: &str, text: Option<&str>, default: &str) -> Result<Duration, EventsError> {
    parse_duration(text.unwrap_or(default)).map_err(|e| config_error(format!("{name} {e}")))
}

impl NotificationSettings {
    /// Checks every endpoint and reads the secrets `secret_env` names.
    ///
    /// Errors: a name that is empty, repeated or has characters other than letters, digits,
    /// `.`, `_` and `-`; a URL that is not `http` or `https`; an unknown event type; a glob or
    /// duration that does not parse; a `timeout` of zero; an empty secret; `max_attempts` of
    /// zero; `batch_size` outside 1 to 1000,
    /// `batch_wait` longer than 1 s or without a `batch_size` above 1; both `secret` and `secret_env`, or a
    /// `secret_env` that is not set.
    pub fn check(&self) -> Result<Notifications, EventsError> {
        let retention = duration(
            "notifications.retention",
            self.retention.as_deref(),
            DEFAULT_RETENTION,
        )?;
        let mut names = BTreeSet::new();
        let endpoints = self
            .endpoints
            .iter()
            .map(|endpoint| {
                if !names.insert(endpoint.name.as_str()) {
                    return Err(config_error(format!(
                        "endpoint name {:?} is used twice",
                        endpoint.name
                    )));
                }
                endpoint.check().map(Arc::new)
            })
            .collect::<Result<_, _>>()?;
        Ok(Notifications {
            source: self
                .source
                .clone()
                .unwrap_or_else(|| DEFAULT_SOURCE.to_owned()),
            retention,
            endpoints,
        })
    }
}

impl NotificationSettings {
    /// These settings with every default the file leaves out written in, as `berth config
    /// check` shows them; unset filters stay out (they mean every type and repository).
    pub fn effective(&self) -> NotificationSettings {
        let text = |value: &Option<String>, default: &str| {
            Some(value.clone().unwrap_or_else(|| default.to_owned()))
        };
        NotificationSettings {
            source: text(&self.source, DEFAULT_SOURCE),
            retention: text(&self.retention, DEFAULT_RETENTION),
            endpoints: self
                .endpoints
                .iter()
                .map(|e| EndpointSettings {
                    timeout: text(&e.timeout, DEFAULT_TIMEOUT),
                    max_attempts: Some(e.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS)),
                    backoff: text(&e.backoff, DEFAULT_BACKOFF),
                    max_backoff: text(&e.max_backoff, DEFAULT_MAX_BACKOFF),
                    batch_size: Some(e.batch_size.unwrap_or(DEFAULT_BATCH_SIZE)),
                    batch_wait: text(&e.batch_wait, DEFAULT_BATCH_WAIT),
                    ..e.clone()
                })
                .collect(),
        }
    }
}

impl EndpointSettings {
    fn check(&self) -> Result<NotifyEndpoint, EventsError> {
        let name = &self.name;
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid_name {
            return Err(config_error(format!(
                "endpoint name {name:?} must be letters, digits, '.', '_' or '-'"
            )));
        }
        let what = |key: &str| format!("endpoint {name:?} {key}");
        let url = url::Url::parse(&self.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                config_error(format!(
                    "{} {} is not an http(s) URL",
                    what("url"),
                    refused_url(&self.url)
                ))
            })?;
        let secret = match (&self.secret, &self.secret_env) {
            (Some(_), Some(_)) => {
                return Err(config_error(format!(
                    "{} and secret_env both set",
                    what("secret")
                )))
            }
            (Some(secret), None) => Some(secret.clone().into_bytes()),
            (None, Some(variable)) => Some(
                std::env::var(variable)
                    .map_err(|_| {
                        config_error(format!("{} {variable:?} is not set", what("secret_env")))
                    })?
                    .into_bytes(),
            ),
            (None, None) => None,
        };
        // An empty key signs every request, but anyone can compute the signature.
        if secret.as_ref().is_some_and(Vec::is_empty) {
            return Err(config_error(format!(
                "{} is empty: set a secret, or none for unsigned requests",
                what("secret")
            )));
        }
        if let Some(unknown) = self
            .events
            .iter()
            .find(|t| !EVENT_TYPES.contains(&t.as_str()))
        {
            return Err(config_error(format!(
                "{} {unknown:?} is not one of {}",
                what("events"),
                EVENT_TYPES.join(", ")
            )));
        }
        let events = (!self.events.is_empty()).then(|| self.events.iter().cloned().collect());
        let repositories = if self.repositories.is_empty() {
            None
        } else {
            let mut set = GlobSetBuilder::new();
            for pattern in &self.repositories {
                let glob = GlobBuilder::new(pattern)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| {
                        config_error(format!("{} {pattern:?}: {e}", what("repositories")))
                    })?;
                set.add(glob);
            }
            Some(
                set.build()
                    .map_err(|e| config_error(format!("{}: {e}", what("repositories"))))?,
            )
        };
        let max_attempts = self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if max_attempts == 0 {
            return Err(config_error(format!(
                "{} must be at least 1",
                what("max_attempts")
            )));
        }
        let batch_size = self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
            return Err(config_error(format!(
                "{} {batch_size} must be between 1 and {MAX_BATCH_SIZE}",
                what("batch_size")
            )));
        }
        let batch_wait = duration(
            &what("batch_wait"),
            self.batch_wait.as_deref(),
            DEFAULT_BATCH_WAIT,
        )?;
        if batch_wait > MAX_BATCH_WAIT {
            return Err(config_error(format!(
                "{} {:?} is longer than the longest, 1s",
                what("batch_wait"),
                self.batch_wait.as_deref().unwrap_or_default()
            )));
        }
        if !batch_wait.is_zero() && batch_size == 1 {
            return Err(config_error(format!(
                "{} needs a batch_size above 1: single events are sent as they come",
                what("batch_wait")
            )));
        }
        let timeout = duration(&what("timeout"), self.timeout.as_deref(), DEFAULT_TIMEOUT)?;
        if timeout > MAX_TIMEOUT {
            return Err(config_error(format!(
                "{} must be at most {}",
                what("timeout"),
                humantime::format_duration(MAX_TIMEOUT)
            )));
        }
        if timeout.is_zero() {
            return Err(config_error(format!(
                "{} must be longer than 0s: every attempt would time out",
                what("timeout")
            )));
        }
        let target = Target::of(&url).map_err(|e| {
            config_error(format!("{} {}: {e}", what("url"), refused_url(&self.url)))
        })?;
        Ok(NotifyEndpoint {
            name: name.clone(),
            url,
            target,
            secret,
            events,
            repositories,
            timeout,
            max_attempts,
            backoff: duration(&what("backoff"), self.backoff.as_deref(), DEFAULT_BACKOFF)?,
            max_backoff: duration(
                &what("max_backoff"),
                self.max_backoff.as_deref(),
                DEFAULT_MAX_BACKOFF,
            )?,
            batch_size,
            batch_wait,
        })
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
