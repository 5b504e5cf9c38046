//! The `BlobStore` trait every backend implements.

use std::io;
use std::pin::Pin;
use std::time::SystemTime;

use async_trait::async_trait;
use berth_oci::{Digest, UploadId};
use bytes::Bytes;
use futures::Stream;

use crate::error::{BlobStoreError, Result};

/// A body: a stream of byte chunks. Errors from it are reported as `BlobStoreError::Body`.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Committed blobs with the time each was committed, streamed as the backend lists them, so
/// that a store of millions of blobs is never held in memory at once. Order is unspecified.
pub type BlobListing = Pin<Box<dyn Stream<Item = Result<(Digest, SystemTime)>> + Send>>;

/// An inclusive-exclusive byte range `start..end` of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// Content-addressed storage for blob bytes.
///
/// Committed blobs are immutable: `commit_upload` to a digest that already exists keeps the
/// existing bytes (they are equal by construction) and discards the upload.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Whether the store can serve: it answers and accepts writes where uploads are staged
    /// (for `GET /readyz`). Errors: the backend's own (`Io`) when it cannot be reached or
    /// written. Costs one small request or file operation; not for every blob request.
    async fn check_ready(&self) -> Result<()>;

    /// Size of a committed blob. `BlobNotFound` when absent.
    async fn stat(&self, digest: &Digest) -> Result<u64>;

    /// Streams a committed blob, or `range` of it. `BlobNotFound` when absent,
    /// `RangeNotSatisfiable` when the range does not lie within it.
    async fn read(&self, digest: &Digest, range: Option<ByteRange>) -> Result<ByteStream>;

    /// A URL from which a client may GET the committed blob itself for a while, without
    /// credentials, when this store is configured to hand them out (S3 presigned URLs); `None`
    /// otherwise. The caller has checked that the blob is readable in the repository.
    async fn read_url(&self, _digest: &Digest) -> Result<Option<String>> {
        Ok(None)
    }

    /// Removes a committed blob. `BlobNotFound` when absent. Readers that already opened it
    /// may finish.
    async fn delete(&self, digest: &Digest) -> Result<()>;

    /// Removes a committed blob if it is there, absence being no error, with as few backend
    /// requests as the store allows (one DELETE on S3, where `delete` first asks whether the
    /// object exists). For the collector, which checks that it still holds the blob's lock
    /// right before and wants the removal to land as soon after that check as it can.
    async fn discard(&self, digest: &Digest) -> Result<()> {
        match self.delete(digest).await {
            Ok(()) | Err(BlobStoreError::BlobNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates an empty staging object for `id`.
    async fn create_upload(&self, id: &UploadId) -> Result<()>;

    /// Current length of a staging object. `UploadNotFound` when absent.
    async fn upload_len(&self, id: &UploadId) -> Result<u64>;

    /// Appends `body` to the staging object, which must be exactly `offset` bytes long
    /// (`OffsetMismatch` otherwise). Returns the new length. On a `Body` error the bytes
    /// received so far stay appended, so the client can resume from the reported length.
    async fn append_upload(&self, id: &UploadId, offset: u64, body: ByteStream) -> Result<u64>;

    /// Streams the staging object from its start (to rebuild hash state on another node).
    async fn read_upload(&self, id: &UploadId) -> Result<ByteStream>;

    /// Makes the staging object durable and visible as blob `digest` in one atomic step, and
    /// removes the staging object. The caller has verified that the bytes match `digest`.
    async fn commit_upload(&self, id: &UploadId, digest: &Digest) -> Result<()>;

    /// Removes a staging object. `UploadNotFound` when absent.
    async fn delete_upload(&self, id: &UploadId) -> Result<()>;

    /// Ids of all staging objects, for expiry of abandoned uploads.
    async fn list_uploads(&self) -> Result<Vec<UploadId>>;

    /// Every committed blob with the time it was committed, for the collector to find bytes
    /// that metadata never linked (a crash between commit and link leaves those).
    fn list_blobs(&self) -> BlobListing;
}
