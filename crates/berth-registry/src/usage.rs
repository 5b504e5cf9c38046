//! Storage usage per repository, as the admin endpoint and `berth usage` report it.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::Registry;

/// What one repository holds. Bytes are those of the blob store (blob sizes recorded at
/// upload) and of the manifest bodies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryUsageRow {
    pub repository: String,
    /// `blob_bytes + manifest_bytes`.
    pub size: u64,
    /// Blobs linked into the repository and their bytes.
    pub blobs: u64,
    pub blob_bytes: u64,
    /// Bytes of blobs no other repository links: what deleting the repository would free.
    pub own_bytes: u64,
    /// Bytes of blobs other repositories link too.
    pub shared_bytes: u64,
    pub manifests: u64,
    pub manifest_bytes: u64,
    pub tags: u64,
}

/// Every repository with content, in name order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    pub repositories: Vec<RepositoryUsageRow>,
}

impl Registry {
    /// Storage usage of every repository with content, from one metadata query.
    pub async fn usage(&self) -> Result<UsageReport> {
        let rows = self.meta.repository_usage().await?;
        Ok(UsageReport {
            repositories: rows
                .into_iter()
                .map(|u| RepositoryUsageRow {
                    repository: u.repo.to_string(),
                    size: u.blob_bytes + u.manifest_bytes,
                    blobs: u.blobs,
                    blob_bytes: u.blob_bytes,
                    own_bytes: u.own_bytes,
                    shared_bytes: u.shared_bytes,
                    manifests: u.manifests,
                    manifest_bytes: u.manifest_bytes,
                    tags: u.tags,
                })
                .collect(),
        })
    }
}
