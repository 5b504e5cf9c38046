//! The OCI vocabulary: parsed, validated newtypes and manifest parsing; no I/O, no async.

mod digest;
mod error;
pub mod manifest;
pub mod media_type;
mod name;
mod reference;
mod upload;

pub use digest::{Algorithm, Digest, DigestHasher};
pub use error::OciError;
pub use manifest::{Descriptor, ManifestKind, ParsedManifest};
pub use name::RepoName;
pub use reference::{Reference, Tag};
pub use upload::{InvalidUploadId, UploadId};
