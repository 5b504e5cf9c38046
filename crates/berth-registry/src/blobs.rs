//! Blob pull, delete and cross-repository mount.

use berth_blobstore::{BlobStoreError, ByteRange, ByteStream};
use berth_metadata::LockName;
use berth_oci::{Digest, RepoName};
use tracing::{debug, error};

use crate::error::{RegistryError, Result};
use crate::Registry;

/// An opened blob: its full size, the range being served, and the bytes.
pub struct BlobRead {
    pub size: u64,
    /// `None` when the whole blob is served.
    pub range: Option<ByteRange>,
    pub body: ByteStream,
}

/// What a mount request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOutcome {
    /// The blob is now linked into the repository.
    Mounted,
    /// No readable source holds the blob; an ordinary upload session was started instead.
    UploadStarted(crate::UploadStatus),
}

impl Registry {
    /// Size of a blob readable through `repo`.
    pub async fn blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<u64> {
        self.meta
            .linked_blob_size(repo, digest)
            .await?
            .ok_or_else(|| RegistryError::BlobUnknown(digest.clone()))
    }

    /// Opens a blob readable through `repo`, or `range` of it (resolved by the caller against
    /// `blob_size`); `RangeNotSatisfiable` when the range is empty or ends past the blob.
    pub async fn read_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        range: Option<ByteRange>,
    ) -> Result<BlobRead> {
        let size = self.blob_size(repo, digest).await?;
        if range.is_some_and(|r| r.start >= r.end || r.end > size) {
            return Err(RegistryError::RangeNotSatisfiable { size });
        }
        match self.blobs.read(digest, range).await {
            Ok(body) => Ok(BlobRead { size, range, body }),
            Err(BlobStoreError::BlobNotFound) => {
                error!(repo = %repo, digest = %digest, "blob linked in metadata is missing from storage");
                Err(RegistryError::BlobUnknown(digest.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Where a client may fetch a blob readable through `repo` straight from storage, when the
    /// blob store hands out such URLs (S3 with `redirect`); `BlobUnknown` when the blob is not
    /// readable through `repo`.
    pub async fn blob_url(&self, repo: &RepoName, digest: &Digest) -> Result<Option<String>> {
        // Signing is local work, and most stores never sign: ask the store first, so that the
        // common read pays no extra metadata query.
        let Some(url) = self.blobs.read_url(digest).await? else {
            return Ok(None);
        };
        self.blob_size(repo, digest).await?;
        Ok(Some(url))
    }

    /// Removes a blob from `repo`. Its bytes stay while any repository links them; the
    /// garbage collector reclaims storage.
    pub async fn delete_blob(&self, repo: &RepoName, digest: &Digest) -> Result<()> {
        if self.meta.unlink_blob(repo, digest).await? {
            debug!(repo = %repo, digest = %digest, "blob unlinked");
            Ok(())
        } else {
            Err(RegistryError::BlobUnknown(digest.clone()))
        }
    }

    /// Links `digest` into `repo` from `from` (or, without `from`, from any repository that
    /// holds it); starts an upload session when that is not possible.
    pub async fn mount_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        from: Option<&RepoName>,
    ) -> Result<MountOutcome> {
        let source = match from {
            Some(from) => self
                .meta
                .linked_blob_size(from, digest)
                .await?
                .map(|size| (from.clone(), size)),
            None => match self
                .meta
                .repositories_with_blob(digest)
                .await?
                .into_iter()
                .next()
            {
                Some(holder) => self
                    .meta
                    .linked_blob_size(&holder, digest)
                    .await?
                    .map(|size| (holder, size)),
                None => None,
            },
        };
        let Some((source, size)) = source else {
            return Ok(MountOutcome::UploadStarted(self.start_upload(repo).await?));
        };
        // The bytes must still be in storage: metadata alone never makes a blob readable.
        let _blob_lock = self.meta.lock(&LockName::Blob(digest)).await?;
        match self.blobs.stat(digest).await {
            Ok(_) => {}
            Err(BlobStoreError::BlobNotFound) => {
                return Ok(MountOutcome::UploadStarted(self.start_upload(repo).await?))
            }
            Err(e) => return Err(e.into()),
        }
        self.meta.link_blob(repo, digest, size).await?;
        debug!(repo = %repo, from = %source, digest = %digest, "blob mounted");
        Ok(MountOutcome::Mounted)
    }
}
