//! Effective settings: command line and environment over the config file over defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use berth_auth::{ExternalIssuerConfig, PolicyConfig};
use berth_events::NotificationSettings;
use berth_registry::gc::{GcOptions, RetentionRule};
use serde::{Deserialize, Serialize};

use crate::backends::{MetadataSettings, StorageSettings};
use crate::cli::{GcArgs, ServeArgs};
use crate::logging::LogFormat;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub max_manifest_bytes: usize,
    pub max_page_entries: u32,
    pub referrers_page_size: u32,
    pub upload_expiry: Duration,
    pub log: String,
    /// Time between scheduled collections; zero turns them off.
    pub gc_interval: Duration,
    pub gc: GcOptions,
    /// The certificate and key to serve HTTPS with; none serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Access control; none serves everything to everyone.
    pub auth: Option<AuthSettings>,
    /// Serve without access control on an address other than loopback, knowingly.
    pub open_registry: bool,
    /// Where blob bytes live (`[storage]`).
    pub storage: StorageSettings,
    /// Where metadata lives (`[metadata]`).
    pub metadata: MetadataSettings,
    /// Serve Prometheus metrics at `GET /metrics` on the main listener.
    pub metrics: bool,
    /// Serve the web UI at `/ui/` (and redirect `/` there) on the main listener.
    pub ui: bool,
    /// Text or JSON lines, for every log line.
    pub log_format: LogFormat,
    /// After SIGTERM, how long requests in flight may run before they are cut.
    pub shutdown_timeout: Duration,
    /// How long a connection may take to send a whole request head, idle keep-alive time
    /// included, before it is closed.
    pub header_read_timeout: Duration,
    /// Event notifications (`[notifications]`).
    pub notifications: NotificationSettings,
}

/// The config file's `[auth]` table: users, policy, tokens.
///
/// ```toml
/// [auth]
/// htpasswd = "/etc/berth/htpasswd"
/// service = "registry.example.com"
/// realm = "https://registry.example.com/berth/v1/token"
///
/// [auth.policy]
/// anonymous_pull = ["public/*"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The bcrypt htpasswd file of users; none accepts tokens only.
    pub htpasswd: Option<PathBuf>,
    /// Who may do what (default deny).
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The service name of challenges and tokens (their audience). Default `berth`.
    pub service: Option<String>,
    /// The token endpoint's absolute URL in challenges; default derived from the address.
    pub realm: Option<String>,
    /// The token signing key (ES256 PEM), generated when missing; default
    /// `<data_dir>/auth/token.key`.
    pub signing_key: Option<PathBuf>,
    /// Lifetime of access tokens, such as `5m`.
    pub token_ttl: Option<String>,
    /// Other token issuers whose tokens this server accepts.
    #[serde(default)]
    pub trusted_issuers: Vec<ExternalIssuerConfig>,
}

/// The PEM files `berth serve` reads its TLS certificate chain and private key from (and
/// re-reads when they change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Both files or neither: one alone is a mistake worth refusing to start over.
    fn pair(cert: Option<PathBuf>, key: Option<PathBuf>) -> anyhow::Result<Option<TlsFiles>> {
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles { cert, key })),
            (None, None) => Ok(None),
            (Some(cert), None) => anyhow::bail!(
                "TLS needs a certificate and its key: the certificate {} is given, but no key \
                 (--tls-key, BERTH_TLS_KEY or `key` in the config file's [tls] table)",
                cert.display()
            ),
            (None, Some(key)) => anyhow::bail!(
                "TLS needs a certificate and its key: the key {} is given, but no certificate \
                 (--tls-cert, BERTH_TLS_CERT or `cert` in the config file's [tls] table)",
                key.display()
            ),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            data_dir: PathBuf::from("./berth-data"),
            max_manifest_bytes: 4 * 1024 * 1024,
            max_page_entries: 100_000,
            referrers_page_size: 1_000,
            upload_expiry: Duration::from_secs(24 * 3600),
            log: "info".into(),
            gc_interval: Duration::from_secs(3600),
            gc: GcOptions::default(),
            tls: None,
            auth: None,
            open_registry: false,
            storage: StorageSettings::default(),
            metadata: MetadataSettings::default(),
            metrics: true,
            ui: true,
            log_format: LogFormat::Text,
            shutdown_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(60),
            notifications: NotificationSettings::default(),
        }
    }
}

/// The config file: every key optional, unknown keys refused so that typos are caught.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    max_manifest_bytes: Option<usize>,
    max_page_entries: Option<u32>,
    referrers_page_size: Option<u32>,
    upload_expiry: Option<String>,
    log: Option<String>,
    gc: Option<FileGcSettings>,
    tls: Option<FileTlsSettings>,
    auth: Option<AuthSettings>,
    open_registry: Option<bool>,
    storage: Option<StorageSettings>,
    metadata: Option<MetadataSettings>,
    metrics: Option<bool>,
    ui: Option<bool>,
    log_format: Option<LogFormat>,
    shutdown_timeout: Option<String>,
    header_read_timeout: Option<String>,
    notifications: Option<NotificationSettings>,
}

/// The config file's `[tls]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTlsSettings {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

/// The config file's `[gc]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGcSettings {
    interval: Option<String>,
    grace: Option<String>,
    untagged: Option<String>,
    orphaned_referrers: Option<String>,
    #[serde(default)]
    retention: Vec<FileRetention>,
}

/// One `[[gc.retention]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRetention {
    repositories: Option<String>,
    keep_newest_tags: Option<usize>,
    keep_tags_matching: Option<String>,
    expire_tags_after: Option<String>,
    keep_newest_referrers: Option<usize>,
    untagged: Option<String>,
    orphaned_referrers: Option<String>,
}

impl FileSettings {
    /// The config file at `path`, or nothing when none is given.
    fn read(path: Option<&std::path::Path>) -> anyhow::Result<FileSettings> {
        let Some(path) = path else {
            return Ok(FileSettings::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        FileSettings::parse(&text)
            .with_context(|| format!("parsing config file {}", path.display()))
    }

    /// The one parser of config file text, for files and for [`Settings::from_toml`].
    ///
    /// Errors name the line and column, what is wrong and, for a value, its key, but never
    /// quote the file: toml's own rendering shows the offending line, which may hold a
    /// password or a key.
    fn parse(text: &str) -> anyhow::Result<FileSettings> {
        toml::from_str(text).map_err(|e| {
            let span = e.span();
            let at = span.as_ref().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("line {line}, column {column}: ")
            });
            let key = span
                .and_then(|span| key_of_value_at(text, span.start))
                .map(|key| format!(" (in `{key}`)"));
            anyhow::anyhow!(
                "{}{}{}",
                at.unwrap_or_default(),
                e.message().trim_end(),
                key.unwrap_or_default()
            )
        })
    }
}

/// The dotted key of the value that starts at byte `offset` of config `text`, such as
/// `gc.grace`, when that value is the first on a line of its own (`key = value`): names only,
/// from the key before `=` and the table header above it, so that no value is repeated.
fn key_of_value_at(text: &str, offset: usize) -> Option<String> {
    let is_key = |key: &str| {
        !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let key = before[line_start..].trim().strip_suffix('=')?.trim_end();
    if !is_key(key) {
        return None;
    }
    let table = before[..line_start]
        .lines()
        .rev()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .find(|line| line.starts_with('['))
        .map(|header| header.trim_matches(|c| c == '[' || c == ']').trim());
    match table {
        Some(table) if is_key(table) => Some(format!("{table}.{key}")),
        Some(_) => None,
        None => Some(key.to_owned()),
    }
}

impl FileRetention {
    fn into_rule(self) -> anyhow::Result<RetentionRule> {
        let pattern = |name: &str, text: &str| {
            glob::Pattern::new(text).with_context(|| format!("gc.retention {name} {text:?}"))
        };
        Ok(RetentionRule {
            repositories: pattern("repositories", self.repositories.as_deref().unwrap_or("*"))?,
            keep_newest_tags: self.keep_newest_tags,
            keep_tags_matching: self
                .keep_tags_matching
                .map(|p| pattern("keep_tags_matching", &p))
                .transpose()?,
            expire_tags_after: duration("gc.retention expire_tags_after", self.expire_tags_after)?,
            keep_newest_referrers: self.keep_newest_referrers,
            untagged: policy(self.untagged).context("gc.retention untagged")?,
            orphaned_referrers: policy(self.orphaned_referrers)
                .context("gc.retention orphaned_referrers")?,
        })
    }
}

fn duration(name: &str, text: Option<String>) -> anyhow::Result<Option<Duration>> {
    text.map(|t| berth_events::parse_duration(&t).map_err(|e| anyhow::anyhow!("{name} {e}")))
        .transpose()
}

fn policy<T: std::str::FromStr<Err = String>>(text: Option<String>) -> anyhow::Result<Option<T>> {
    text.map(|t| t.parse().map_err(anyhow::Error::msg))
        .transpose()
}

/// What `berth gc` runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct GcSettings {
    /// Everything a direct collection needs, loaded as `berth serve` would load it.
    pub settings: Settings,
    /// The server's address when a flag, the environment or the config file gives one; none
    /// when only the default would.
    pub listen: Option<SocketAddr>,
}

impl Settings {
    /// `berth serve`'s settings: `args` (flags and environment) over the config file they name
    /// over the defaults.
    ///
    /// Errors: the config file cannot be read or parsed, or a value is refused (see
    /// [`Settings::from_toml`]).
    pub fn load(args: &ServeArgs) -> anyhow::Result<Settings> {
        Settings::merge(args, FileSettings::read(args.config.as_deref())?)
    }

    /// `berth gc`'s settings: the same sources and precedence as `berth serve`'s.
    pub fn load_for_gc(args: &GcArgs) -> anyhow::Result<GcSettings> {
        let file = FileSettings::read(args.config.as_deref())?;
        let listen = args.listen.or(file.listen);
        Ok(GcSettings {
            settings: Settings::merge(&args.as_serve_args(), file)?,
            listen,
        })
    }

    /// The settings a config file whose content is `text` gives when no flag or environment
    /// variable overrides it: the same parsing and merging as [`Settings::load`], without the
    /// file system, so that fuzz targets and property tests reach exactly what `berth serve`
    /// runs. For example `Settings::from_toml("listen = \"0.0.0.0:5000\"\n[gc]\ngrace = \"2h\"")`.
    ///
    /// Errors: malformed TOML, an unknown key or a value of the wrong type; a duration,
    /// policy or glob pattern that does not parse; a TLS certificate without its key or the
    /// reverse; a page size or manifest limit of zero.
    pub fn from_toml(text: &str) -> anyhow::Result<Settings> {
        Settings::merge(&ServeArgs::default(), FileSettings::parse(text)?)
    }

    fn merge(args: &ServeArgs, file: FileSettings) -> anyhow::Result<Settings> {
        let defaults = Settings::default();
        let file_expiry = file
            .upload_expiry
            .map(|text| {
                berth_events::parse_duration(&text)
                    .map_err(|e| anyhow::anyhow!("upload_expiry {e}"))
            })
            .transpose()?;
        let file_gc = file.gc.unwrap_or_default();
        let file_tls = file.tls.unwrap_or_default();
        let tls = TlsFiles::pair(
            args.tls_cert.clone().or(file_tls.cert),
            args.tls_key.clone().or(file_tls.key),
        )?;
        let gc_interval = args
            .gc_interval
            .or(duration("gc.interval", file_gc.interval)?)
            .unwrap_or(defaults.gc_interval);
        let retention = file_gc
            .retention
            .into_iter()
            .map(FileRetention::into_rule)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let gc = GcOptions {
            retention,
            dry_run: false,
            grace: args
                .gc_grace
                .or(duration("gc.grace", file_gc.grace)?)
                .unwrap_or(defaults.gc.grace),
            untagged: policy(args.gc_untagged.clone().or(file_gc.untagged))?
                .unwrap_or(defaults.gc.untagged),
            orphaned_referrers: policy(
                args.gc_orphaned_referrers
                    .clone()
                    .or(file_gc.orphaned_referrers),
            )?
            .unwrap_or(defaults.gc.orphaned_referrers),
        };
        Settings {
            listen: args.listen.or(file.listen).unwrap_or(defaults.listen),
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or(defaults.data_dir),
            max_manifest_bytes: args
                .max_manifest_bytes
                .or(file.max_manifest_bytes)
                .unwrap_or(defaults.max_manifest_bytes),
            max_page_entries: args
                .max_page_entries
                .or(file.max_page_entries)
                .unwrap_or(defaults.max_page_entries),
            referrers_page_size: args
                .referrers_page_size
                .or(file.referrers_page_size)
                .unwrap_or(defaults.referrers_page_size),
            upload_expiry: args
                .upload_expiry
                .or(file_expiry)
                .unwrap_or(defaults.upload_expiry),
            log: args.log.clone().or(file.log).unwrap_or(defaults.log),
            gc_interval,
            gc,
            tls,
            auth: file.auth,
            open_registry: args
                .open_registry
                .or(file.open_registry)
                .unwrap_or(defaults.open_registry),
            storage: file.storage.unwrap_or_default(),
            metadata: file.metadata.unwrap_or_default(),
            metrics: file.metrics.unwrap_or(defaults.metrics),
            ui: file.ui.unwrap_or(defaults.ui),
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(defaults.log_format),
            shutdown_timeout: args
                .shutdown_timeout
                .or(duration("shutdown_timeout", file.shutdown_timeout)?)
                .unwrap_or(defaults.shutdown_timeout),
            header_read_timeout: duration("header_read_timeout", file.header_read_timeout)?
                .unwrap_or(defaults.header_read_timeout),
            notifications: file.notifications.unwrap_or_default(),
        }
        .checked()
    }

    /// Refuses limits that would make every listing empty or unanswerable.
    fn checked(self) -> anyhow::Result<Settings> {
        for (name, value) in [
            ("max_page_entries", self.max_page_entries),
            ("referrers_page_size", self.referrers_page_size),
        ] {
            anyhow::ensure!(value >= 1, "{name} must be at least 1, not {value}");
        }
        anyhow::ensure!(
            self.max_manifest_bytes >= 1,
            "max_manifest_bytes must be at least 1"
        );
        anyhow::ensure!(
            !self.header_read_timeout.is_zero(),
            "header_read_timeout must be longer than 0s: every connection would be closed at once"
        );
        self.storage.check()?;
        self.metadata.check()?;
        self.notifications.check()?;
        Ok(self)
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
