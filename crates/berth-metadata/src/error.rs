//! The one error type of the metadata layer.

use berth_oci::Digest;

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// A manifest names a blob that is not linked into its repository.
    #[error("manifest references blob {0} which is not in the repository")]
    MissingBlob(Digest),
    /// An index names a manifest that is not in its repository.
    #[error("index references manifest {0} which is not in the repository")]
    MissingChild(Digest),
    /// A manifest whose subject must be present (ORAS) names one that is not a manifest of
    /// its repository.
    #[error("subject {0} is not a manifest in the repository")]
    MissingSubject(Digest),
    /// A conditional write's precondition did not hold; nothing was written.
    #[error("the precondition on {0} does not hold")]
    PreconditionFailed(String),
    #[error("stored metadata is corrupt: {0}")]
    Corrupt(String),
    /// The transaction holding the write could not be committed; the write did not happen.
    #[error("metadata commit failed: {0}")]
    CommitFailed(String),
    #[error("metadata database failed: {0}")]
    Database(#[from] sqlx::Error),
    /// The store answers but cannot serve yet, such as a schema older than this build needs.
    #[error("metadata store not ready: {0}")]
    NotReady(String),
    #[error("metadata database write failed: {0}")]
    Write(#[from] rusqlite::Error),
}

pub type Result<T, E = MetadataError> = std::result::Result<T, E>;
