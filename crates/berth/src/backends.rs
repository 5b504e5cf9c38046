//! Which blob store and metadata store a registry runs on: the embedded default (files and
//! SQLite under the data directory) or the scale-out deployment (an S3-compatible bucket and a
//! PostgreSQL database shared by every node). Everything above the two traits is the same.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use berth_blobstore::fs::FsBlobStore;
use berth_blobstore::s3::{S3BlobStore, S3Config};
use berth_blobstore::BlobStore;
use berth_metadata::postgres::PostgresMetadataStore;
use berth_metadata::sqlite::SqliteMetadataStore;
use berth_metadata::MetadataStore;
use serde::{Deserialize, Serialize};

/// The config file's `[storage]` table: where blob bytes live.
///
/// ```toml
/// [storage]
/// backend = "s3"
/// bucket = "registry"
/// endpoint = "http://garage.internal:3900"   # omit for AWS S3
/// region = "garage"
/// path_style = true                          # endpoint/bucket/key addressing
/// prefix = "berth/"                          # optional key prefix in the bucket
/// redirect = "20m"                           # optional: blob GETs redirect to presigned URLs
/// ```
///
/// S3 credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN` in the environment, never from the file. Nodes that share a bucket must
/// share the metadata too (PostgreSQL): each collector deletes blobs its metadata does not
/// know.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "backend", rename_all = "lowercase", deny_unknown_fields)]
pub enum StorageSettings {
    /// Files under `<data_dir>/blobs` (the default). (Braces, so that unknown keys in the
    /// table are refused as in the other variants.)
    Filesystem {},
    /// Objects in one S3-compatible bucket.
    S3 {
        bucket: String,
        /// The service URL, e.g. `http://127.0.0.1:3900`; none for AWS S3.
        endpoint: Option<String>,
        /// Default `us-east-1`.
        region: Option<String>,
        #[serde(default)]
        path_style: bool,
        prefix: Option<String>,
        /// Answer blob GETs with a redirect (307) to a presigned URL valid this long, e.g.
        /// `20m`, so that clients download from the bucket directly; none serves every byte
        /// through the node. Clients must be able to reach the S3 endpoint.
        redirect: Option<String>,
    },
}

/// The config file's `[metadata]` table: where repositories, manifests, tags and the
/// reference graph live.
///
/// ```toml
/// [metadata]
/// backend = "postgres"
/// url = "postgres://berth@db.internal/berth"   # or BERTH_METADATA_URL
/// pool_size = 16
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "backend", rename_all = "lowercase", deny_unknown_fields)]
pub enum MetadataSettings {
    /// `<data_dir>/metadata.db` (the default).
    Sqlite {},
    /// One PostgreSQL database shared by every node.
    Postgres {
        /// A `postgres://` URL; `BERTH_METADATA_URL` overrides it, so that a password need not
        /// be written into the file.
        url: Option<String>,
        /// Connections per node for queries, and as many again at most for held locks
        /// (default 16).
        pool_size: Option<u32>,
    },
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings::Filesystem {}
    }
}

impl Default for MetadataSettings {
    fn default() -> Self {
        MetadataSettings::Sqlite {}
    }
}

/// Connections per node when `pool_size` is not set.
const DEFAULT_POOL_SIZE: u32 = 16;

impl StorageSettings {
    /// Opens the blob store; `data_dir` holds the filesystem backend's files.
    pub async fn open(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn BlobStore>> {
        Ok(match self {
            StorageSettings::Filesystem {} => Arc::new(
                FsBlobStore::open(data_dir.join("blobs"))
                    .await
                    .context("opening blob storage")?,
            ),
            StorageSettings::S3 {
                bucket,
                endpoint,
                region,
                path_style,
                prefix,
                redirect,
            } => {
                let redirect = redirect_lifetime(redirect.as_deref())?;
                let config = S3Config {
                    bucket: bucket.clone(),
                    endpoint: endpoint.clone(),
                    region: region.clone().unwrap_or_else(|| "us-east-1".to_owned()),
                    path_style: *path_style,
                    key_prefix: prefix.clone(),
                    redirect,
                };
                Arc::new(
                    S3BlobStore::open(&config)
                        .with_context(|| format!("configuring S3 bucket {bucket:?}"))?,
                )
            }
        })
    }
}

impl StorageSettings {
    /// Refuses settings that cannot work before anything is opened: a `redirect` that is no
    /// duration.
    pub fn check(&self) -> anyhow::Result<()> {
        if let StorageSettings::S3 { redirect, .. } = self {
            redirect_lifetime(redirect.as_deref())?;
        }
        Ok(())
    }
}

/// What a direct maintenance run (`berth gc`, `scrub`, `usage`) acts on beyond the data
/// directory, for its report: the stores the settings name (no password), since with a
/// bucket or database the run reaches a registry that other nodes may serve too. `None` on the
/// embedded default, where the data directory is the whole registry.
pub fn describe_stores(
    storage: &StorageSettings,
    metadata: &MetadataSettings,
    data_dir: &Path,
) -> Option<String> {
    let blobs = match storage {
        StorageSettings::Filesystem {} => None,
        StorageSettings::S3 {
            bucket,
            prefix,
            endpoint,
            ..
        } => Some(format!(
            "S3 bucket {bucket:?}{}{}",
            prefix
                .as_ref()
                .map(|p| format!(" under {p:?}"))
                .unwrap_or_default(),
            endpoint
                .as_ref()
                .map(|e| format!(" at {e}"))
                .unwrap_or_default(),
        )),
    };
    let meta = match metadata {
        MetadataSettings::Sqlite {} => None,
        MetadataSettings::Postgres { url, .. } => Some(
            MetadataSettings::postgres_url(url.as_deref())
                .ok()
                .and_then(|url| reqwest::Url::parse(&url).ok())
                .map(|url| {
                    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
                    format!(
                        "PostgreSQL database {}{port}{}",
                        url.host_str().unwrap_or("localhost"),
                        url.path()
                    )
                })
                .unwrap_or_else(|| "the PostgreSQL database".to_owned()),
        ),
    };
    Some(match (blobs, meta) {
        (None, None) => return None,
        (Some(blobs), Some(meta)) => format!("the shared registry in {blobs} and {meta}"),
        (Some(blobs), None) => format!(
            "the registry in {blobs} and {}",
            data_dir.join("metadata.db").display()
        ),
        (None, Some(meta)) => format!(
            "the registry in {} and {meta}",
            data_dir.join("blobs").display()
        ),
    })
}

/// How long presigned URLs of `redirect` stay valid.
fn redirect_lifetime(redirect: Option<&str>) -> anyhow::Result<Option<std::time::Duration>> {
    redirect
        .map(|text| {
            berth_events::parse_duration(text).map_err(|e| anyhow::anyhow!("storage.redirect {e}"))
        })
        .transpose()
}

impl MetadataSettings {
    /// The PostgreSQL URL (`BERTH_METADATA_URL` over the file's `url`), for the postgres
    /// backend; errors when neither gives one.
    fn postgres_url(file_url: Option<&str>) -> anyhow::Result<String> {
        if let Ok(url) = std::env::var("BERTH_METADATA_URL") {
            if !url.is_empty() {
                return Ok(url);
            }
        }
        file_url.map(str::to_owned).ok_or_else(|| {
            anyhow::anyhow!(
                "the postgres metadata backend needs a URL: set BERTH_METADATA_URL or `url` in \
                 the config file's [metadata] table"
            )
        })
    }

    /// Opens (creating or migrating the schema when needed) the metadata store; `data_dir`
    /// holds the SQLite backend's file.
    pub async fn open(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn MetadataStore>> {
        Ok(match self {
            MetadataSettings::Sqlite {} => Arc::new(
                SqliteMetadataStore::open(&data_dir.join("metadata.db"))
                    .await
                    .context("opening metadata database")?,
            ),
            MetadataSettings::Postgres { url, pool_size } => {
                let url = MetadataSettings::postgres_url(url.as_deref())?;
                let pool = pool_size.unwrap_or(DEFAULT_POOL_SIZE);
                Arc::new(
                    PostgresMetadataStore::connect(&url, pool)
                        .await
                        .context("connecting to the PostgreSQL metadata database")?,
                )
            }
        })
    }

    /// Refuses settings that cannot work before anything is opened.
    pub fn check(&self) -> anyhow::Result<()> {
        if let MetadataSettings::Postgres {
            pool_size: Some(0), ..
        } = self
        {
            anyhow::bail!("metadata.pool_size must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_stores_are_named_without_a_password() {
        let dir = Path::new("/var/lib/berth");
        let s3 = StorageSettings::S3 {
            bucket: "registry".into(),
            endpoint: Some("http://garage.internal:3900".into()),
            region: None,
            path_style: true,
            prefix: Some("berth/".into()),
            redirect: None,
        };
        let postgres = MetadataSettings::Postgres {
            url: Some("postgres://berth:pw-in-url@db.internal:5432/berth".into()),
            pool_size: None,
        };
        assert_eq!(
            describe_stores(
                &StorageSettings::default(),
                &MetadataSettings::default(),
                dir
            ),
            None
        );
        let shared = describe_stores(&s3, &postgres, dir).unwrap();
        assert!(shared.starts_with("the shared registry in S3 bucket \"registry\" under \"berth/\" at http://garage.internal:3900 and PostgreSQL database "), "{shared}");
        assert!(!shared.contains("pw-in-url"), "{shared}");
        let half = describe_stores(&s3, &MetadataSettings::default(), dir).unwrap();
        assert!(half.ends_with(" and /var/lib/berth/metadata.db"), "{half}");
    }
}
