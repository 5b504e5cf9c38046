//! Rows of the operator's tasks: storage usage per repository and quarantined blobs.

use berth_oci::{Digest, RepoName};

/// What one repository holds, as `MetadataStore::repository_usage` reports it. Bytes are the
/// sizes recorded at upload (the bytes in the blob store), manifests counted by their body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryUsage {
    pub repo: RepoName,
    /// Manifests stored in the repository, and the bytes of their bodies.
    pub manifests: u64,
    pub manifest_bytes: u64,
    pub tags: u64,
    /// Blobs linked into the repository, and their bytes.
    pub blobs: u64,
    pub blob_bytes: u64,
    /// Bytes of the blobs no other repository links: what deleting this repository frees.
    pub own_bytes: u64,
    /// Bytes of the blobs other repositories link too (`blob_bytes - own_bytes`).
    pub shared_bytes: u64,
}

/// A blob a scrub found corrupt or missing in the blob store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedBlob {
    pub digest: Digest,
    /// Why, in words, e.g. `bytes hash to sha256:..`.
    pub reason: String,
    /// Unix milliseconds, by the store's clock.
    pub quarantined_at: i64,
}
