//! Rows the metadata store reads and writes.

use std::sync::Arc;

use berth_oci::{Digest, Reference, RepoName, UploadId};
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
    /// Whether `subject` must already be a manifest in the repository (the ORAS artifact
    /// manifest's rule); when it is not, the push fails with `MissingSubject`.
    pub subject_must_exist: bool,
    /// The artifact's creation time (`io.cncf.oras.artifact.created`), Unix milliseconds,
    /// by which the ORAS referrers API orders.
    pub created_at: Option<i64>,
}

/// A manifest as served to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub body: Bytes,
    /// When what the reference names last changed, Unix milliseconds: the manifest's push for
    /// a digest, the tag's last move for a tag (`Last-Modified`).
    pub modified_at: i64,
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
    /// Its `io.cncf.oras.artifact.created` time, Unix milliseconds.
    pub created_at: Option<i64>,
}

/// The order of a referrers listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferrerOrder {
    /// By digest: the OCI referrers API's stable order.
    Digest,
    /// Newest `created_at` first, ties and undated referrers (last) by digest: the ORAS
    /// referrers API's order ("Sorting Results").
    NewestFirst,
}

/// Where the next page of a referrers listing starts: after this referrer, in the order asked
/// for (`created_at` matters only to `NewestFirst`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferrerCursor {
    pub created_at: Option<i64>,
    pub digest: Digest,
}

/// The state of the reference a conditional write targets, read in the write's transaction.
#[derive(Debug, Clone, Copy)]
pub struct CurrentState<'a> {
    /// The manifest the reference names.
    pub digest: &'a Digest,
    /// When it last changed, Unix milliseconds (see `StoredManifest::modified_at`).
    pub modified_at: i64,
}

/// Decides, from the target's state (`None` when it does not exist), whether a write may go on.
pub type PreconditionTest = dyn Fn(Option<CurrentState<'_>>) -> bool + Send + Sync;

/// A condition on a write's target (RFC 9110 section 13: `If-Match`, `If-None-Match`,
/// `If-Unmodified-Since`), evaluated in the same transaction as the write so that two
/// writers racing on one tag cannot both pass; the write fails with `PreconditionFailed`,
/// changing nothing, when it does not hold.
#[derive(Clone)]
pub struct Precondition {
    /// The tag or digest whose current state is tested.
    pub target: Reference,
    pub holds: Arc<PreconditionTest>,
}

impl Precondition {
    /// Evaluates the condition against the target's current state.
    pub fn holds_for(&self, current: Option<CurrentState<'_>>) -> bool {
        (self.holds)(current)
    }
}

impl std::fmt::Debug for Precondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Precondition")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
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
