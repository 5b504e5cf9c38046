//! What a collection deleted, or would delete in a dry run.

use berth_oci::{Digest, RepoName};
use serde::{Deserialize, Serialize};

/// A tag a collection deleted (or would delete) by retention.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CollectedTag {
    /// The repository's name.
    pub repository: String,
    /// The tag's name.
    pub tag: String,
}

/// A manifest a collection deleted (or would delete).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CollectedManifest {
    /// The repository's name.
    pub repository: String,
    /// The manifest's digest, `algorithm:hex`.
    pub digest: String,
}

impl CollectedManifest {
    pub(super) fn new(repo: &RepoName, digest: &Digest) -> CollectedManifest {
        CollectedManifest {
            repository: repo.to_string(),
            digest: digest.to_string(),
        }
    }
}

/// What a collection deleted, or would delete in a dry run. A dry run and the real run that
/// follows it on an unchanged registry report the same counts and lists; only `dry_run`,
/// `finished_at` and `duration_ms` differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcReport {
    /// Whether this run only reported.
    pub dry_run: bool,
    /// When the collection ended, RFC 3339.
    pub finished_at: String,
    /// Manifests deleted as unreachable or superseded by retention (`manifests` lists them).
    pub manifests_deleted: usize,
    /// Tags retention expired (`tags` lists them).
    pub tags_deleted: usize,
    /// Blobs whose bytes were deleted (`blobs` lists them).
    pub blobs_deleted: usize,
    /// Bytes those blobs held.
    pub bytes_freed: u64,
    /// Blob links removed from repositories because no manifest there referenced them.
    pub links_removed: usize,
    /// Abandoned upload sessions and staged uploads removed.
    pub uploads_expired: usize,
    /// Ordered by repository, then digest.
    pub manifests: Vec<CollectedManifest>,
    /// Ordered by repository, then tag.
    pub tags: Vec<CollectedTag>,
    /// Blob digests, in lexical order.
    pub blobs: Vec<String>,
    /// How long the collection took, in milliseconds.
    pub duration_ms: u64,
}

impl GcReport {
    /// Puts the lists in their documented order, whatever order the deletions ran in.
    pub(super) fn sort(&mut self) {
        self.manifests.sort();
        self.tags.sort();
        self.blobs.sort();
    }
}
