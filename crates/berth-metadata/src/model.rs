//! Rows the metadata store reads and writes.

use berth_oci::{Digest, RepoName, UploadId};
use bytes::Bytes;

/// A manifest to store with the references parsed from it.
#[derive(Debug, Clone)]
pub struct NewManifest {
    pub digest: Digest,
    pub media_type: String,
    /// The exact bytes the client pushed.
    pub body: Bytes,
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    /// Annotations as a JSON object, kept for listings.
    pub annotations_json: Option<String>,
    /// Blobs (config, layers) that must be linked in the repository.
    pub blobs: Vec<Digest>,
    /// Child manifests (of an index) that must exist in the repository.
    pub children: Vec<Digest>,
}

/// A manifest as served to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub body: Bytes,
}

/// An upload session; its bytes live in the blob store under the same id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: UploadId,
    pub repo: RepoName,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A manifest that refers to a subject, as listed by the referrers API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    /// The manifest's `artifactType`, else its config's media type.
    pub artifact_type: Option<String>,
    /// The manifest's annotations as a JSON object.
    pub annotations_json: Option<String>,
}

/// What garbage collection needs to know of one repository: edges and times, not bodies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestGraph {
    pub manifests: Vec<GraphManifest>,
    pub tags: Vec<GraphTag>,
    /// Index -> child edges.
    pub children: Vec<(Digest, Digest)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphManifest {
    pub digest: Digest,
    pub subject: Option<Digest>,
    /// Unix milliseconds.
    pub pushed_at: i64,
    /// The type a referrers listing shows for it.
    pub artifact_type: Option<String>,
    /// When its subject was last deleted, Unix milliseconds; meaningful only while the subject
    /// is absent, and none if it was never deleted.
    pub subject_deleted_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphTag {
    pub name: String,
    pub digest: Digest,
    /// When the tag last moved, Unix milliseconds.
    pub updated_at: i64,
}
