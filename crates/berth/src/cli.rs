//! Command-line interface; every option can also come from a `BERTH_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Berth: an OCI registry with reference types and reference-aware lifecycle management.
#[derive(Debug, Parser)]
#[command(name = "berth", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The two deployments, shown under `berth serve --help`.
const DEPLOYMENTS: &str = "\
Deployments (chosen in the config file):
  Embedded default: no [storage] or [metadata] table. Blobs are files under
  <data_dir>/blobs and metadata is SQLite in <data_dir>/metadata.db; nothing to set up.

  Scale-out: several stateless nodes behind a load balancer, every node with the same
  [storage] and [metadata] tables (and, with [auth], the same auth.signing_key file):

    [storage]
    backend = \"s3\"
    bucket = \"registry\"
    endpoint = \"http://garage.internal:3900\"   # omit for AWS S3
    region = \"garage\"
    path_style = true

    [metadata]
    backend = \"postgres\"
    url = \"postgres://berth@db.internal/berth\"   # or BERTH_METADATA_URL
    pool_size = 16

  S3 credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and
  AWS_SESSION_TOKEN). The data directory then holds only this node's lock file and
  generated keys. `berth migrate` moves an embedded registry to the scale-out one.";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the registry. With no options it serves 127.0.0.1:5000 from ./berth-data.
    #[command(after_help = DEPLOYMENTS)]
    Serve(ServeArgs),
    /// Collect garbage once: through the server that owns the data directory when one runs,
    /// else directly on the directory (which it then holds, so that no server starts on it
    /// meanwhile).
    Gc(GcArgs),
    /// Copy a registry on the embedded default (a data directory) into the backends a config
    /// file names, typically S3 and PostgreSQL; run it again after an interruption to finish.
    Migrate(MigrateArgs),
    /// Check storage against metadata: re-hash every blob, parse every manifest, follow every
    /// edge; with --repair, quarantine damaged blobs until they are pushed again. Runs through
    /// the server that owns the data directory, like `gc`.
    ///
    /// Exit status: 0 nothing is wrong; 1 damage not contained yet (a damaged blob not
    /// quarantined: run --repair; or a manifest damaged in itself), or an error; 2 every
    /// damaged blob is quarantined (by this run or an earlier one) and no manifest is damaged
    /// in itself: the listed blobs await a push of the right bytes.
    Scrub(ScrubArgs),
    /// Storage usage per repository: size, bytes only it links, bytes shared with others.
    Usage(UsageArgs),
    /// Work with config files.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `berth config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file as `berth serve` reads it and print the effective settings, with
    /// secrets redacted; exits 1 naming the problem when the file is not valid.
    Check {
        /// The TOML config file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// How `berth scrub` and `berth usage` find the registry: the same options as `berth gc`.
#[derive(Debug, Args, Default)]
pub struct RegistryArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// TOML config file (the server's): `data_dir`, `listen`, `log`, `[storage]` and
    /// `[metadata]` are read.
    #[arg(long, env = "BERTH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory [default: ./berth-data].
    #[arg(long, env = "BERTH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the server that owns the data directory answers [default: the address its lock
    /// file names].
    #[arg(long, env = "BERTH_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Log filter [default: info].
    #[arg(long, env = "BERTH_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// The admin user to act as, through a server with access control; the password comes
    /// from `BERTH_PASSWORD` or `--password-stdin`.
    #[arg(long, env = "BERTH_USERNAME", value_name = "USER")]
    pub username: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

impl RegistryArgs {
    /// The same options as `berth gc` takes them, for loading settings and credentials.
    pub fn as_gc_args(&self) -> GcArgs {
        GcArgs {
            json: self.json,
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            log: self.log.clone(),
            username: self.username.clone(),
            password_stdin: self.password_stdin,
            ..GcArgs::default()
        }
    }
}

/// What `berth scrub` does.
#[derive(Debug, Args, Default)]
pub struct ScrubArgs {
    /// Quarantine corrupt and missing blobs (never served nor mounted until pushed again) and
    /// delete corrupt bytes.
    #[arg(long)]
    pub repair: bool,
    /// Most MiB per second read from blob storage [default: unlimited].
    #[arg(long, env = "BERTH_SCRUB_RATE", value_name = "MIB_PER_S")]
    pub rate: Option<std::num::NonZeroU32>,
    /// Forget the progress of an interrupted scrub and start from the first blob.
    #[arg(long)]
    pub restart: bool,
    /// Stop after hashing this many blobs; the next scrub continues from there.
    #[arg(long, value_name = "N")]
    pub max_blobs: Option<u64>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// What `berth usage` reads.
#[derive(Debug, Args, Default)]
pub struct UsageArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// What `berth migrate` copies from and to.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The embedded registry's data directory (blobs/ and metadata.db). No server may run on
    /// it: migrate holds its lock for the whole copy.
    #[arg(long, value_name = "DIR")]
    pub from_data_dir: PathBuf,
    /// The target's TOML config file, as its `berth serve` will read it: `[storage]` and
    /// `[metadata]` say where the registry goes (`data_dir` too, for an embedded backend).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Log filter, e.g. `info` or `berth_registry=debug,info` [default: warn]; progress is
    /// printed whatever it says.
    #[arg(long, env = "BERTH_LOG", value_name = "FILTER")]
    pub log: Option<String>,
}

/// What `berth gc` uses; options override the config file, which overrides the defaults.
#[derive(Debug, Args, Default)]
pub struct GcArgs {
    /// Report what would be deleted without deleting anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// TOML config file (the server's): `data_dir`, `listen`, `log`, `upload_expiry` and `[gc]`
    /// are read. A direct collection applies this file's policy, not a stopped server's: pass
    /// the server's file.
    #[arg(long, env = "BERTH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Age after which an unfinished upload session is removed, in a direct collection (one
    /// through the server applies the server's) [default: 24h].
    #[arg(long, env = "BERTH_UPLOAD_EXPIRY", value_name = "DURATION", value_parser = berth_events::parse_duration)]
    pub upload_expiry: Option<std::time::Duration>,
    /// The data directory to collect [default: ./berth-data].
    #[arg(long, env = "BERTH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the server that owns the data directory answers [default: the address its lock
    /// file names].
    #[arg(long, env = "BERTH_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Nothing pushed, linked or uploaded more recently is collected [default: the server's,
    /// else 1h].
    #[arg(long, env = "BERTH_GC_GRACE", value_name = "DURATION", value_parser = berth_events::parse_duration)]
    pub gc_grace: Option<std::time::Duration>,
    /// Untagged manifests no index or subject keeps alive: `keep` or `delete` [default: the
    /// server's, else keep].
    #[arg(long, env = "BERTH_GC_UNTAGGED", value_name = "POLICY")]
    pub gc_untagged: Option<String>,
    /// Referrers whose subject is gone: `delete`, `keep`, or a delay such as `7d` [default:
    /// the server's, else delete].
    #[arg(long, env = "BERTH_GC_ORPHANED_REFERRERS", value_name = "POLICY")]
    pub gc_orphaned_referrers: Option<String>,
    /// Log filter, e.g. `info` or `berth_registry=debug,info` [default: info].
    #[arg(long, env = "BERTH_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// The user to collect as, through a server with access control (an admin of its
    /// policy); the password comes from `BERTH_PASSWORD` or `--password-stdin`.
    #[arg(long, env = "BERTH_USERNAME", value_name = "USER")]
    pub username: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

impl GcArgs {
    /// The same options as `berth serve` would take them, for loading settings.
    pub fn as_serve_args(&self) -> ServeArgs {
        ServeArgs {
            config: self.config.clone(),
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            gc_grace: self.gc_grace,
            gc_untagged: self.gc_untagged.clone(),
            gc_orphaned_referrers: self.gc_orphaned_referrers.clone(),
            upload_expiry: self.upload_expiry,
            log: self.log.clone(),
            ..ServeArgs::default()
        }
    }
}

/// Options override the config file, which overrides the defaults.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// TOML config file with any of the settings below (snake_case keys).
    #[arg(long, env = "BERTH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:5000].
    #[arg(long, env = "BERTH_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory for blobs (blobs/) and metadata (metadata.db) [default: ./berth-data].
    #[arg(long, env = "BERTH_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Largest manifest accepted, in bytes [default: 4194304].
    #[arg(long, env = "BERTH_MAX_MANIFEST_BYTES", value_name = "BYTES")]
    pub max_manifest_bytes: Option<usize>,
    /// Most tags or repositories in one listing page [default: 100000].
    #[arg(long, env = "BERTH_MAX_PAGE_ENTRIES", value_name = "N")]
    pub max_page_entries: Option<u32>,
    /// Most descriptors in one referrers response [default: 1000].
    #[arg(long, env = "BERTH_REFERRERS_PAGE_SIZE", value_name = "N")]
    pub referrers_page_size: Option<u32>,
    /// Age after which an unfinished upload session is removed [default: 24h].
    #[arg(long, env = "BERTH_UPLOAD_EXPIRY", value_name = "DURATION", value_parser = berth_events::parse_duration)]
    pub upload_expiry: Option<std::time::Duration>,
    /// How often `berth serve` collects garbage; `0s` turns the schedule off [default: 1h].
    #[arg(long, env = "BERTH_GC_INTERVAL", value_name = "DURATION", value_parser = berth_events::parse_duration)]
    pub gc_interval: Option<std::time::Duration>,
    /// Nothing pushed, linked or uploaded more recently is collected [default: 1h].
    #[arg(long, env = "BERTH_GC_GRACE", value_name = "DURATION", value_parser = berth_events::parse_duration)]
    pub gc_grace: Option<std::time::Duration>,
    /// Untagged manifests no index or subject keeps alive: `keep` or `delete` [default: keep].
    #[arg(long, env = "BERTH_GC_UNTAGGED", value_name = "POLICY")]
    pub gc_untagged: Option<String>,
    /// Referrers whose subject is gone: `delete`, `keep`, or a delay such as `7d` to keep them
    /// after the subject's deletion [default: delete].
    #[arg(long, env = "BERTH_GC_ORPHANED_REFERRERS", value_name = "POLICY")]
    pub gc_orphaned_referrers: Option<String>,
    /// PEM certificate chain (server certificate first) to serve HTTPS with; needs --tls-key.
    /// Re-read when the file changes [default: none, plain HTTP].
    #[arg(long, env = "BERTH_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the certificate; needs --tls-cert.
    #[arg(long, env = "BERTH_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Serve without access control on an address other than loopback, knowingly (the
    /// config's `open_registry`); `BERTH_OPEN_REGISTRY=true` lets a container image's default
    /// config serve a trial [default: false].
    #[arg(
        long,
        env = "BERTH_OPEN_REGISTRY",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub open_registry: Option<bool>,
    /// Log filter, e.g. `info` or `berth_registry=debug,info` [default: info].
    #[arg(long, env = "BERTH_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Every log line as `text` or as a `json` object [default: text].
    #[arg(long, env = "BERTH_LOG_FORMAT", value_enum, value_name = "FORMAT")]
    pub log_format: Option<crate::logging::LogFormat>,
    /// After SIGTERM, how long requests in flight may finish before they are cut and the
    /// process exits with failure [default: 30s].
    #[arg(long, env = "BERTH_SHUTDOWN_TIMEOUT", value_name = "DURATION", value_parser = berth_events::parse_duration)]
    pub shutdown_timeout: Option<std::time::Duration>,
}
