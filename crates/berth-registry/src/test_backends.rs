//! The two deployments the service tests run on: the embedded default (files and SQLite in a
//! temporary directory) and scale-out (a key prefix in a real S3 bucket and a schema of a real
//! PostgreSQL database, both fresh per fixture).
//!
//! `on_both_backends!(test_a, test_b)` turns the named `async fn`s into two tests each,
//! `embedded::test_a` and `scale_out::test_a`; fixtures read which one runs from `current()`.
//! The scale-out ones need `BERTH_TEST_POSTGRES_URL` and the `BERTH_TEST_S3_*` variables
//! (`scripts/test.sh` starts both servers) and fail, naming them, when they are missing.

use std::sync::Arc;

use berth_blobstore::fs::FsBlobStore;
use berth_blobstore::s3::{S3BlobStore, S3Config};
use berth_blobstore::BlobStore;
use berth_metadata::postgres::PostgresMetadataStore;
use berth_metadata::sqlite::SqliteMetadataStore;
use berth_metadata::suite::postgres_schema::FreshSchema;
use berth_metadata::MetadataStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Embedded,
    ScaleOut,
}

tokio::task_local! {
    static BACKEND: Backend;
}

/// The backend of the running test (embedded outside `on_both_backends!`).
pub(crate) fn current() -> Backend {
    BACKEND.try_with(|b| *b).unwrap_or(Backend::Embedded)
}

/// Runs a test body with `backend` as the current backend.
pub(crate) async fn run(backend: Backend, test: impl std::future::Future<Output = ()>) {
    BACKEND.scope(backend, test).await
}

/// Where a fixture's stores live, so that a test can open them again (a restart). Schemas
/// and key prefixes are left behind: the test servers are throwaway.
pub(crate) enum Place {
    Dir(tempfile::TempDir),
    Shared {
        metadata_url: String,
        prefix: String,
    },
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the scale-out service tests need a real PostgreSQL and Garage. \
             Run `./scripts/test.sh`, or start them with `scripts/services/postgres.sh` and \
             `scripts/services/garage.sh` and export what they print"
        )
    })
}

impl Place {
    /// A fresh place for the current backend.
    pub(crate) async fn new() -> Place {
        match current() {
            Backend::Embedded => Place::Dir(tempfile::tempdir().unwrap()),
            Backend::ScaleOut => {
                let schema = FreshSchema::create("reg").await;
                Place::Shared {
                    prefix: format!("registry-tests/{}", schema.name),
                    metadata_url: schema.url,
                }
            }
        }
    }

    /// Opens the stores at this place (again).
    pub(crate) async fn open(&self) -> (Arc<dyn BlobStore>, Arc<dyn MetadataStore>) {
        match self {
            Place::Dir(dir) => (
                Arc::new(FsBlobStore::open(dir.path().join("blobs")).await.unwrap()),
                Arc::new(
                    SqliteMetadataStore::open(&dir.path().join("meta.db"))
                        .await
                        .unwrap(),
                ),
            ),
            Place::Shared {
                metadata_url,
                prefix,
            } => {
                let s3 = S3Config {
                    bucket: required("BERTH_TEST_S3_BUCKET"),
                    endpoint: Some(required("BERTH_TEST_S3_ENDPOINT")),
                    region: required("BERTH_TEST_S3_REGION"),
                    path_style: true,
                    key_prefix: Some(prefix.clone()),
                    redirect: None,
                };
                (
                    Arc::new(S3BlobStore::open(&s3).unwrap()),
                    Arc::new(
                        PostgresMetadataStore::connect(metadata_url, 4)
                            .await
                            .unwrap(),
                    ),
                )
            }
        }
    }
}

/// Runs each named `async fn()` as two tests, `embedded::<name>` and `scale_out::<name>`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    $crate::test_backends::run(
                        $crate::test_backends::Backend::Embedded,
                        super::$name(),
                    )
                    .await
                }
            )*
        }
        mod scale_out {
            $(
                #[tokio::test]
                async fn $name() {
                    $crate::test_backends::run(
                        $crate::test_backends::Backend::ScaleOut,
                        super::$name(),
                    )
                    .await
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;
