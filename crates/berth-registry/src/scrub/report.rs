//! What a scrub found: blobs whose bytes are corrupt or missing, manifests that are damaged
//! or lean on damaged content, and which tags and referrers that reaches.

use serde::{Deserialize, Serialize};

/// What is wrong with a blob's bytes in the blob store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BlobProblem {
    /// Metadata records the blob; the blob store has no bytes for it.
    Missing,
    /// The bytes do not hash to the blob's digest (or are not the recorded size).
    Corrupt {
        /// What the bytes hash to, `algorithm:hex`.
        actual_digest: String,
        /// How many bytes there are.
        actual_size: u64,
    },
}

impl std::fmt::Display for BlobProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobProblem::Missing => f.write_str("missing from the blob store"),
            BlobProblem::Corrupt {
                actual_digest,
                actual_size,
            } => write!(
                f,
                "corrupt: {actual_size} bytes that hash to {actual_digest}"
            ),
        }
    }
}

/// A recorded blob whose bytes failed the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobFinding {
    /// `algorithm:hex`.
    pub digest: String,
    /// The size metadata records, in bytes.
    pub size: u64,
    pub problem: BlobProblem,
    /// Whether the blob is quarantined now (a repairing scrub did it): never served nor
    /// mounted until the right bytes are pushed again.
    pub quarantined: bool,
    /// Whether the repairing scrub deleted the corrupt bytes from the blob store.
    pub bytes_deleted: bool,
}

/// What is wrong with a stored manifest, or with what it references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ManifestProblem {
    /// The stored body does not hash to the manifest's digest.
    DigestMismatch { actual: String },
    /// The stored body is no longer a valid manifest.
    Unparseable { reason: String },
    /// A config, layer or blob it references is corrupt or missing (see `blobs`).
    BlobDamaged { blob: String },
    /// A blob it references is not recorded, or not linked into the repository.
    BlobNotLinked { blob: String },
    /// A child manifest (of an index) is not in the repository.
    ChildMissing { child: String },
}

impl ManifestProblem {
    /// Whether the manifest itself is damaged (its body, or its record of what it references),
    /// rather than only leaning on a damaged blob: such a manifest is affected, not damaged,
    /// and is whole again once the blob is pushed again.
    pub fn is_own_damage(&self) -> bool {
        !matches!(self, ManifestProblem::BlobDamaged { .. })
    }
}

impl std::fmt::Display for ManifestProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestProblem::DigestMismatch { actual } => {
                write!(f, "corrupt: its stored body hashes to {actual}")
            }
            ManifestProblem::Unparseable { reason } => {
                write!(f, "corrupt: its stored body is not a manifest ({reason})")
            }
            ManifestProblem::BlobDamaged { blob } => {
                write!(f, "references the damaged blob {blob}")
            }
            ManifestProblem::BlobNotLinked { blob } => write!(
                f,
                "references the blob {blob}, which is not recorded or not linked into the \
                 repository"
            ),
            ManifestProblem::ChildMissing { child } => write!(
                f,
                "lists the manifest {child}, which is not in the repository"
            ),
        }
    }
}

/// One problem of one manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFinding {
    pub repository: String,
    pub digest: String,
    pub problem: ManifestProblem,
}

/// What damage reaches in one repository: the manifests that cannot be pulled whole (those
/// with findings, and indexes over them, transitively), the tags that point at them, and the
/// referrers whose subject they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedRepository {
    pub repository: String,
    /// Digests, in lexical order.
    pub manifests: Vec<String>,
    /// Tag names, in lexical order.
    pub tags: Vec<String>,
    /// Digests of referrers of affected manifests, in lexical order.
    pub referrers: Vec<String>,
}

/// A referrer whose subject is not in its repository: allowed (a referrer may be pushed
/// before its subject), so reported as information only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanedReferrer {
    pub repository: String,
    pub referrer: String,
    pub subject: String,
}

/// The report of one scrub run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrubReport {
    /// Whether damaged blobs were quarantined (and corrupt bytes deleted).
    pub repair: bool,
    /// False when the run stopped at its blob limit: the next run continues from the saved
    /// progress, and the manifest checks run once every blob was checked.
    pub complete: bool,
    /// The last blob an earlier, interrupted run had checked, when this run continued it.
    pub resumed_after: Option<String>,
    /// Blobs and bytes hashed, counting those of the interrupted runs this one continues.
    pub blobs_checked: u64,
    pub bytes_checked: u64,
    /// Manifests whose body and references were checked.
    pub manifests_checked: u64,
    /// In digest order.
    pub blobs: Vec<BlobFinding>,
    /// By repository, then digest.
    pub manifests: Vec<ManifestFinding>,
    /// By repository.
    pub affected: Vec<AffectedRepository>,
    /// Information only, by repository then referrer.
    pub orphaned_referrers: Vec<OrphanedReferrer>,
    /// The damaged blobs (of `blobs`) that were already quarantined when this run started:
    /// known damage, found and repaired by an earlier scrub, awaiting a push of the right
    /// bytes. In digest order.
    #[serde(default)]
    pub quarantined_earlier: Vec<String>,
    /// How long this run took, in milliseconds.
    pub duration_ms: u64,
}

impl ScrubReport {
    /// Whether the run found nothing wrong (orphaned referrers are not wrong).
    pub fn is_clean(&self) -> bool {
        self.blobs.is_empty() && self.manifests.is_empty()
    }

    /// Whether everything wrong is known and contained: every damaged blob quarantined (by
    /// this run or an earlier one) and no manifest damaged in itself. What remains is content
    /// to push again.
    pub fn is_contained(&self) -> bool {
        self.blobs
            .iter()
            .all(|b| b.quarantined || self.was_quarantined_earlier(&b.digest))
            && self.manifests.iter().all(|m| !m.problem.is_own_damage())
    }

    /// Whether an earlier scrub quarantined the blob `digest` before this run started.
    pub fn was_quarantined_earlier(&self, digest: &str) -> bool {
        self.quarantined_earlier
            .binary_search_by(|d| d.as_str().cmp(digest))
            .is_ok()
    }
}
