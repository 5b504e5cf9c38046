//! Effective settings: command line and environment over the config file over defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use berth_auth::{ExternalIssuerConfig, PolicyConfig};
use berth_registry::gc::{GcOptions, RetentionRule};
use serde::Deserialize;

use crate::cli::{GcArgs, ServeArgs};

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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
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
    text.map(|t| humantime::parse_duration(&t).with_context(|| format!("{name} {t:?}")))
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

    fn merge(args: &ServeArgs, file: FileSettings) -> anyhow::Result<Settings> {
        let defaults = Settings::default();
        let file_expiry = file
            .upload_expiry
            .map(|text| {
                humantime::parse_duration(&text).with_context(|| format!("upload_expiry {text:?}"))
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
            .map(Into::into)
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
                .map(Into::into)
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
                .map(Into::into)
                .or(file_expiry)
                .unwrap_or(defaults.upload_expiry),
            log: args.log.clone().or(file.log).unwrap_or(defaults.log),
            gc_interval,
            gc,
            tls,
            auth: file.auth,
            open_registry: file.open_registry.unwrap_or(defaults.open_registry),
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
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_registry::gc::{OrphanedReferrers, Untagged};
    use clap::Parser;

    #[test]
    fn page_sizes_of_zero_are_refused() {
        for args in [
            ServeArgs {
                referrers_page_size: Some(0),
                ..ServeArgs::default()
            },
            ServeArgs {
                max_page_entries: Some(0),
                ..ServeArgs::default()
            },
        ] {
            let error = Settings::merge(&args, FileSettings::default()).unwrap_err();
            assert!(error.to_string().contains("must be at least 1"), "{error}");
        }
    }

    #[test]
    fn the_auth_table_and_open_registry_are_read() {
        let file: FileSettings = toml::from_str(
            "open_registry = true\n\
             [auth]\nhtpasswd = \"/etc/berth/htpasswd\"\nservice = \"registry.test\"\n\
             [auth.policy]\nanonymous_pull = [\"public/*\"]\n\
             [[auth.policy.rules]]\nrepositories = \"team/*\"\nusers = [\"alice\"]\n\
             actions = [\"pull\"]",
        )
        .unwrap();
        let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
        assert!(settings.open_registry);
        let auth = settings.auth.unwrap();
        assert_eq!(auth.htpasswd, Some(PathBuf::from("/etc/berth/htpasswd")));
        assert_eq!(auth.service.as_deref(), Some("registry.test"));
        assert_eq!(auth.policy.anonymous_pull, vec!["public/*".to_owned()]);
        assert_eq!(auth.policy.rules.len(), 1);
        let typo = toml::from_str::<FileSettings>(
            "[auth]
htpassword = \"x\"",
        );
        assert!(typo.is_err());
    }

    #[test]
    fn no_configuration_gives_the_embedded_default() {
        let settings = Settings::merge(&ServeArgs::default(), FileSettings::default()).unwrap();
        assert_eq!(settings, Settings::default());
        assert_eq!(settings.listen.to_string(), "127.0.0.1:5000");
    }

    #[test]
    fn command_line_overrides_file_which_overrides_defaults() {
        let file: FileSettings = toml::from_str(
            "listen = \"0.0.0.0:6000\"\ndata_dir = \"/srv/berth\"\nupload_expiry = \"2h\"\nlog = \"debug\"",
        )
        .unwrap();
        let args = ServeArgs {
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..ServeArgs::default()
        };
        let settings = Settings::merge(&args, file).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(settings.data_dir, PathBuf::from("/srv/berth"));
        assert_eq!(settings.upload_expiry, Duration::from_secs(7200));
        assert_eq!(settings.log, "debug");
    }

    #[test]
    fn the_gc_table_sets_the_collection_policy() {
        let file: FileSettings = toml::from_str(
            "[gc]\ninterval = \"30m\"\ngrace = \"0s\"\nuntagged = \"delete\"\norphaned_referrers = \"keep\"",
        )
        .unwrap();
        let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
        assert_eq!(settings.gc_interval, Duration::from_secs(1800));
        assert_eq!(settings.gc.grace, Duration::ZERO);
        assert_eq!(settings.gc.untagged, Untagged::Delete);
        assert_eq!(settings.gc.orphaned_referrers, OrphanedReferrers::Keep);
        let defaults = Settings::default();
        assert_eq!(
            defaults.gc.untagged,
            Untagged::Keep,
            "untagged manifests are kept by default"
        );
        assert_eq!(defaults.gc.orphaned_referrers, OrphanedReferrers::Delete);
        let rules: FileSettings = toml::from_str(
            "[[gc.retention]]\nrepositories = \"team/*\"\nkeep_newest_tags = 10\nkeep_tags_matching = \"v*\"\nexpire_tags_after = \"30d\"\n\n[[gc.retention]]\nkeep_newest_referrers = 3",
        )
        .unwrap();
        let settings = Settings::merge(&ServeArgs::default(), rules).unwrap();
        assert_eq!(settings.gc.retention.len(), 2);
        assert!(settings.gc.retention[0].repositories.matches("team/app"));
        assert_eq!(
            settings.gc.retention[0].expire_tags_after,
            Some(Duration::from_secs(30 * 86_400))
        );
        assert!(settings.gc.retention[1]
            .repositories
            .matches("anything/at/all"));
        assert_eq!(settings.gc.retention[1].keep_newest_referrers, Some(3));
        let bad: FileSettings = toml::from_str("[gc]\nuntagged = \"sometimes\"").unwrap();
        assert!(Settings::merge(&ServeArgs::default(), bad).is_err());
    }

    #[test]
    fn orphans_can_wait_a_delay_and_patterns_override_the_policies() {
        let file: FileSettings = toml::from_str(
            "[gc]\norphaned_referrers = \"7d\"\n\n[[gc.retention]]\nrepositories = \"ci/*\"\nuntagged = \"delete\"\norphaned_referrers = \"keep\"",
        )
        .unwrap();
        let settings = Settings::merge(&ServeArgs::default(), file).unwrap();
        assert_eq!(
            settings.gc.orphaned_referrers,
            OrphanedReferrers::After(Duration::from_secs(7 * 86_400))
        );
        let rule = &settings.gc.retention[0];
        assert_eq!(rule.untagged, Some(Untagged::Delete));
        assert_eq!(rule.orphaned_referrers, Some(OrphanedReferrers::Keep));
        let bad: FileSettings =
            toml::from_str("[[gc.retention]]\norphaned_referrers = \"later\"").unwrap();
        let error = Settings::merge(&ServeArgs::default(), bad).unwrap_err();
        assert!(
            format!("{error:#}").contains("a delay such as"),
            "{error:#}"
        );
    }

    #[test]
    fn gc_reads_the_config_file_and_knows_whether_an_address_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("berth.toml");
        std::fs::write(&config, "data_dir = \"/srv/berth\"\n[gc]\ngrace = \"5m\"").unwrap();
        let args = GcArgs {
            config: Some(config.clone()),
            gc_untagged: Some("delete".into()),
            ..GcArgs::default()
        };
        let loaded = Settings::load_for_gc(&args).unwrap();
        assert_eq!(loaded.listen, None, "only the default address applies");
        assert_eq!(loaded.settings.data_dir, PathBuf::from("/srv/berth"));
        assert_eq!(loaded.settings.gc.grace, Duration::from_secs(300));
        assert_eq!(loaded.settings.gc.untagged, Untagged::Delete);
        std::fs::write(&config, "listen = \"127.0.0.1:6000\"").unwrap();
        let loaded = Settings::load_for_gc(&args).unwrap();
        assert_eq!(loaded.listen, Some("127.0.0.1:6000".parse().unwrap()));
        let flag = GcArgs {
            listen: Some("127.0.0.1:7000".parse().unwrap()),
            ..args
        };
        let loaded = Settings::load_for_gc(&flag).unwrap();
        assert_eq!(loaded.listen, Some("127.0.0.1:7000".parse().unwrap()));
        let bad = GcArgs {
            gc_orphaned_referrers: Some("later".into()),
            ..GcArgs::default()
        };
        assert!(Settings::load_for_gc(&bad).is_err());
    }

    #[test]
    fn tls_files_come_from_flags_over_the_environment_over_the_file() {
        let file = || -> FileSettings {
            toml::from_str("[tls]\ncert = \"/etc/berth/file.crt\"\nkey = \"/etc/berth/file.key\"")
                .unwrap()
        };
        let pair = |cert: &str, key: &str| {
            Some(TlsFiles {
                cert: PathBuf::from(cert),
                key: PathBuf::from(key),
            })
        };
        assert_eq!(Settings::default().tls, None, "plain HTTP by default");
        let settings = Settings::merge(&ServeArgs::default(), file()).unwrap();
        assert_eq!(
            settings.tls,
            pair("/etc/berth/file.crt", "/etc/berth/file.key")
        );

        // The environment reaches the same fields as the flags, through clap; no other test
        // parses the command line, so setting these variables here races with nothing.
        let serve_args = |argv: &[&str]| {
            let argv = ["berth", "serve"].iter().chain(argv);
            match crate::cli::Cli::try_parse_from(argv).unwrap().command {
                crate::cli::Command::Serve(args) => args,
                other => panic!("{other:?}"),
            }
        };
        std::env::set_var("BERTH_TLS_CERT", "/env.crt");
        std::env::set_var("BERTH_TLS_KEY", "/env.key");
        let from_env = serve_args(&[]);
        let from_flag = serve_args(&["--tls-cert", "/flag.crt"]);
        std::env::remove_var("BERTH_TLS_CERT");
        std::env::remove_var("BERTH_TLS_KEY");
        let settings = Settings::merge(&from_env, file()).unwrap();
        assert_eq!(
            settings.tls,
            pair("/env.crt", "/env.key"),
            "environment over file"
        );
        let settings = Settings::merge(&from_flag, file()).unwrap();
        assert_eq!(
            settings.tls,
            pair("/flag.crt", "/env.key"),
            "flag over environment"
        );

        // Each file is layered on its own, but the result needs both.
        let key_only: FileSettings =
            toml::from_str("[tls]\nkey = \"/etc/berth/file.key\"").unwrap();
        let args = ServeArgs {
            tls_cert: Some("/flag.crt".into()),
            ..ServeArgs::default()
        };
        let settings = Settings::merge(&args, key_only).unwrap();
        assert_eq!(settings.tls, pair("/flag.crt", "/etc/berth/file.key"));
        let error = Settings::merge(&args, FileSettings::default()).unwrap_err();
        assert!(
            format!("{error:#}").contains("no key (--tls-key, BERTH_TLS_KEY"),
            "{error:#}"
        );
        let cert_missing: FileSettings = toml::from_str("[tls]\nkey = \"/k.pem\"").unwrap();
        let error = Settings::merge(&ServeArgs::default(), cert_missing).unwrap_err();
        assert!(
            format!("{error:#}").contains("the key /k.pem is given, but no certificate"),
            "{error:#}"
        );
        assert!(toml::from_str::<FileSettings>("[tls]\ncertificate = \"x\"").is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<FileSettings>("listn = \"x\"").is_err());
        let file: FileSettings = toml::from_str("upload_expiry = \"soon\"").unwrap();
        assert!(Settings::merge(&ServeArgs::default(), file).is_err());
    }
}
