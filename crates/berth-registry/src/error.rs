//! The one error type of the registry domain.

use berth_blobstore::BlobStoreError;
use berth_metadata::MetadataError;
use berth_oci::{Digest, OciError, RepoName};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("repository {0} is not known to the registry")]
    NameUnknown(RepoName),
    #[error("blob {0} is not known in this repository")]
    BlobUnknown(Digest),
    #[error("upload session is not known to the registry")]
    UploadUnknown,
    /// A chunk did not start where the upload ends; `current` is the upload's length.
    #[error("chunk must start at offset {current}")]
    ChunkOutOfOrder { current: u64 },
    #[error("upload invalid: {0}")]
    UploadInvalid(String),
    #[error("content length mismatch: {0}")]
    SizeInvalid(String),
    #[error("provided digest {expected} does not match the content's digest {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("range not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("manifest {0} is not known in this repository")]
    ManifestUnknown(String),
    #[error("manifest references {0}, which is not in the repository")]
    ManifestBlobUnknown(Digest),
    #[error(
        "subject {0} is not a manifest in this repository; an ORAS artifact manifest's subject must be pushed first"
    )]
    SubjectUnknown(Digest),
    /// A conditional request's precondition did not hold for the named reference.
    #[error(
        "precondition failed on {0}: it now names another manifest, or none, or changed since the given date (entity tags are the digest in double quotes: \"sha256:<hex>\")"
    )]
    PreconditionFailed(String),
    #[error("manifest is larger than the limit of {limit} bytes")]
    ManifestTooLarge { limit: usize },
    /// Client input that is not valid OCI vocabulary or not a valid manifest.
    #[error(transparent)]
    Oci(#[from] OciError),
    #[error(transparent)]
    Storage(BlobStoreError),
    #[error(transparent)]
    Metadata(MetadataError),
}

impl From<BlobStoreError> for RegistryError {
    fn from(e: BlobStoreError) -> Self {
        match e {
            BlobStoreError::UploadNotFound => RegistryError::UploadUnknown,
            BlobStoreError::OffsetMismatch { actual, .. } => {
                RegistryError::ChunkOutOfOrder { current: actual }
            }
            BlobStoreError::RangeNotSatisfiable { size, .. } => {
                RegistryError::RangeNotSatisfiable { size }
            }
            BlobStoreError::UploadChanged(why) => RegistryError::UploadInvalid(format!(
                "the upload changed while it was being completed ({why}); \
                 check its status and complete it again"
            )),
            BlobStoreError::Body(e) => {
                RegistryError::UploadInvalid(format!("request body failed: {e}"))
            }
            other => RegistryError::Storage(other),
        }
    }
}

impl From<MetadataError> for RegistryError {
    fn from(e: MetadataError) -> Self {
        match e {
            MetadataError::MissingBlob(d) | MetadataError::MissingChild(d) => {
                RegistryError::ManifestBlobUnknown(d)
            }
            MetadataError::MissingSubject(d) => RegistryError::SubjectUnknown(d),
            MetadataError::PreconditionFailed(target) => RegistryError::PreconditionFailed(target),
            other => RegistryError::Metadata(other),
        }
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
