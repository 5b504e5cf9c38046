//! The one error type of the OCI vocabulary layer.

/// Why a piece of client input is not valid OCI vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OciError {
    #[error("invalid digest {0:?}: expected <algorithm>:<hex>")]
    DigestInvalid(String),
    #[error("unsupported digest algorithm {0:?}: use sha256 or sha512")]
    DigestAlgorithmUnsupported(String),
    /// The name, and what about it breaks the distribution spec's grammar.
    #[error("invalid repository name {0:?}: {1}")]
    NameInvalid(String, String),
    #[error("invalid tag {0:?}: tags match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}")]
    TagInvalid(String),
    #[error("invalid reference {0:?}: expected a tag or a digest")]
    ReferenceInvalid(String),
    #[error("manifest invalid: {0}")]
    ManifestInvalid(String),
    #[error("manifest unsupported: {0}")]
    ManifestUnsupported(String),
}
