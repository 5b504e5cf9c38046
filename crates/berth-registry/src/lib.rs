//! The registry domain: every operation of the distribution API, over a `BlobStore` and a
//! `MetadataStore`, with no knowledge of HTTP.

mod blobs;
pub mod browse;
mod cache;
mod error;
pub mod events;
pub mod gc;
mod health;
mod listing;
mod manifests;
mod metrics;
#[cfg(test)]
mod pauses;
mod referrers;
pub mod scrub;
mod uploads;
mod usage;

use std::sync::Arc;

use berth_blobstore::BlobStore;
use berth_metadata::MetadataStore;

pub use blobs::{BlobRead, MountOutcome};
pub use error::RegistryError;
pub use health::{Readiness, READINESS_TIMEOUT};
pub use listing::Page;
pub use manifests::{ManifestPushed, ManifestTarget};
pub use metrics::CONTENT_REFRESH;
pub use referrers::{ReferrerNode, ReferrersPage, MAX_GRAPH_NODES};
pub use uploads::{ChunkBounds, UploadStatus, UploadTracker};
pub use usage::{RepositoryUsageRow, UsageReport};

/// Limits and defaults of the registry domain.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Largest manifest accepted, in bytes.
    pub max_manifest_bytes: usize,
    /// Most entries in one tags or catalog page when the client does not ask for fewer.
    pub max_page_entries: u32,
    /// Most descriptors in one referrers response; longer lists continue through `Link`.
    pub referrers_page_size: u32,
    /// Upload sessions started longer ago than this are abandoned: the periodic sweep and every
    /// collection remove them (a client may resume a session until then).
    pub upload_expiry: std::time::Duration,
    /// The collection policy used by the scheduled task and the admin endpoint.
    pub gc: gc::GcOptions,
    /// Names of the configured notification endpoints, whose delivery state
    /// `event_deliveries` reports.
    pub notification_endpoints: Vec<String>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            max_manifest_bytes: 4 * 1024 * 1024,
            max_page_entries: 100_000,
            referrers_page_size: 1_000,
            upload_expiry: std::time::Duration::from_secs(24 * 3600),
            gc: gc::GcOptions::default(),
            notification_endpoints: Vec::new(),
        }
    }
}

/// The registry: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct Registry {
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
    uploads: Arc<UploadTracker>,
    generations: Arc<cache::Generations>,
    /// The report of the last collection that deleted (not a dry run) since start-up.
    last_gc: Arc<std::sync::Mutex<Option<gc::GcReport>>>,
    manifests_by_tag: Arc<cache::RepoCache<berth_oci::Tag, berth_metadata::StoredManifest>>,
    first_tag_pages: Arc<cache::RepoCache<u32, Page>>,
    content_gauges: Arc<metrics::ContentGauges>,
    /// What the browse API learnt from configs and SBOMs, by digest.
    browse_facts: browse::SharedFacts,
    config: RegistryConfig,
    #[cfg(test)]
    pauses: Arc<pauses::Pauses>,
}

impl Registry {
    pub fn new(
        blobs: Arc<dyn BlobStore>,
        meta: Arc<dyn MetadataStore>,
        config: RegistryConfig,
    ) -> Registry {
        Registry {
            blobs,
            meta,
            uploads: Arc::new(UploadTracker::default()),
            generations: Arc::default(),
            last_gc: Arc::default(),
            manifests_by_tag: Arc::new(cache::RepoCache::named("manifest_by_tag")),
            first_tag_pages: Arc::new(cache::RepoCache::named("tag_page")),
            content_gauges: Arc::default(),
            browse_facts: Arc::default(),
            config,
            #[cfg(test)]
            pauses: Arc::default(),
        }
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// The metadata store, for the tasks that run beside the registry (event delivery).
    pub fn metadata(&self) -> &Arc<dyn MetadataStore> {
        &self.meta
    }

    /// Waits here while a test holds `point` (see `pauses`); nothing outside tests.
    #[cfg(test)]
    async fn pause_at(&self, point: &'static str) {
        self.pauses.hit(point).await
    }

    #[cfg(not(test))]
    async fn pause_at(&self, _point: &'static str) {}
}

#[cfg(test)]
mod cancellation_tests;
#[cfg(test)]
mod test_backends;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upload_race_tests;
