//! Registry metadata: one object-safe trait, `MetadataStore`, and its backends.
//!
//! Metadata is the source of truth for what is visible: a blob in the blob store is readable
//! through a repository only when metadata links it there, and a manifest exists only when its
//! row, its edges and its tags were committed together.

mod browse;
mod coordination;
mod error;
pub mod events;
mod model;
mod operations;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod stats;
mod store;
#[cfg(any(test, feature = "test-suite"))]
pub mod suite;

pub use browse::{
    BrowseReads, ReferrerCount, RepositorySummary, TagCursor, TagOrder, TaggedManifest,
};
pub use coordination::{LockGuard, LockName, ProcessLocks};
pub use error::MetadataError;
pub use model::{
    CurrentState, GraphManifest, GraphTag, ManifestGraph, NewManifest, Precondition, Referrer,
    ReferrerCursor, ReferrerOrder, StoredManifest, UploadRecord,
};
pub use operations::{QuarantinedBlob, RepositoryUsage};
pub use stats::{ContentStats, MAX_ARTIFACT_TYPES, NO_ARTIFACT_TYPE, OTHER_ARTIFACT_TYPES};
pub use store::MetadataStore;
