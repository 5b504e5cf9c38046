//! The blob half of a real collection: links no manifest uses, blobs no repository links, and
//! blob files metadata never recorded, each past the grace period.

use berth_blobstore::BlobStoreError;
use berth_metadata::{LockGuard, LockName};
use berth_oci::Digest;
use futures::future::try_join_all;
use futures::TryStreamExt;
use tracing::{error, warn};

use super::{GcOptions, GcReport, IN_FLIGHT};
use crate::error::Result;
use crate::Registry;

/// Blob locks the collector holds at once on shared metadata.
const SHARED_LOCKS_IN_FLIGHT: usize = 4;

impl Registry {
    /// Removes links older than `cutoff` that no manifest of their repository uses, then
    /// deletes blobs created before `cutoff` that no repository links any more.
    pub(super) async fn collect_blobs(&self, cutoff: i64, report: &mut GcReport) -> Result<()> {
        let links = self.meta.unreferenced_links(cutoff).await?;
        self.pause_at("gc.links_listed").await;
        for chunk in links.chunks(IN_FLIGHT) {
            let unlinks = chunk
                .iter()
                .map(|(repo, digest)| self.meta.unlink_unreferenced(repo, digest, cutoff));
            report.links_removed += try_join_all(unlinks)
                .await?
                .into_iter()
                .filter(|removed| *removed)
                .count();
        }
        // Blobs whose last link went just now are past the grace period too.
        let candidates = self.meta.unlinked_blobs(cutoff).await?;
        self.pause_at("gc.blobs_listed").await;
        for chunk in candidates.chunks(self.locked_in_flight()) {
            let deletes = chunk
                .iter()
                .map(|(digest, _)| self.delete_unlinked_blob(digest));
            let deleted = try_join_all(deletes).await?;
            for ((digest, size), _) in chunk.iter().zip(deleted).filter(|(_, gone)| *gone) {
                report.blobs.push(digest.to_string());
                report.blobs_deleted += 1;
                report.bytes_freed += size;
            }
        }
        Ok(())
    }

    /// Deletes blob files that metadata never recorded (a crash between an upload's commit and
    /// its link leaves such files), older than the grace period, under each blob's lock; a dry
    /// run only reports them.
    pub(super) async fn collect_unrecorded_blobs(
        &self,
        options: &GcOptions,
        report: &mut GcReport,
    ) -> Result<()> {
        // Ages by the metadata store's clock, like every other age; a blob store's timestamps
        // come from its own clock, so a skew of a few seconds only shifts the grace period.
        let now = self.meta.now_millis().await?;
        let cutoff = now.saturating_sub(super::millis(options.grace));
        let mut listing = self.blobs.list_blobs();
        while let Some((digest, committed)) = listing.try_next().await? {
            if super::epoch_millis(committed) > cutoff {
                continue;
            }
            // Recorded blobs (nearly all) are skipped without taking their lock; the check is
            // made again under it before anything is deleted.
            if self.meta.blob_size(&digest).await?.is_some() {
                continue;
            }
            let mut locked = self.meta.lock(&LockName::Blob(&digest)).await?;
            if self.meta.blob_size(&digest).await?.is_some() {
                continue;
            }
            let size = match self.blobs.stat(&digest).await {
                Ok(size) => size,
                Err(BlobStoreError::BlobNotFound) => continue,
                Err(e) => return Err(e.into()),
            };
            if !options.dry_run && !self.delete_bytes_locked(&mut locked, &digest).await? {
                continue;
            }
            report.blobs.push(digest.to_string());
            report.blobs_deleted += 1;
            report.bytes_freed += size;
        }
        Ok(())
    }

    /// Blob deletions in flight at once. Each holds its blob's lock for the whole deletion; on
    /// shared metadata a lock is a connection of the lock pool that uploads and mounts need
    /// too, so the collector takes at most a quarter of the default pool of 16
    /// rather than starving their commits.
    fn locked_in_flight(&self) -> usize {
        if self.meta.shared() {
            SHARED_LOCKS_IN_FLIGHT
        } else {
            IN_FLIGHT
        }
    }

    /// Forgets and deletes a blob no repository links, under the blob's lock so that an upload
    /// or mount of the same digest cannot interleave with it. `false` when the blob is still
    /// linked, or when the lock was lost before its bytes went (they stay, unrecorded, for a
    /// later collection to judge under the lock again).
    async fn delete_unlinked_blob(&self, digest: &Digest) -> Result<bool> {
        let mut locked = self.meta.lock(&LockName::Blob(digest)).await?;
        if !self.meta.forget_unlinked_blob(digest).await? {
            return Ok(false);
        }
        self.pause_at("gc.blob_forgotten").await;
        self.delete_bytes_locked(&mut locked, digest).await
    }

    /// Deletes a blob's bytes, which the caller found unrecorded under `locked`, the blob's
    /// lock; `false`, deleting nothing, when the lock is no longer held.
    ///
    /// An upload commit of the same digest takes the same lock, finds the bytes present,
    /// keeps them, and records the blob. On shared metadata the lock is a database session,
    /// which a broken connection ends without the collector noticing; another node can then
    /// take the lock and record the blob while the collector still means to delete its bytes.
    /// So the lock is checked on its own session right before the deletion, which is one
    /// request to the blob store.
    ///
    /// What remains is that one request's flight: if the session ends just after the check
    /// and another node takes the lock, finds the bytes and records the blob before the
    /// deletion lands, the blob is recorded without bytes (S3 has no deletion conditional on
    /// anything the uploader could change). The lock is checked again after the deletion; when
    /// it was lost, the blob is judged again under a new lock and, if it is recorded without
    /// bytes, quarantined: neither served nor mounted, and the next push of it stores the
    /// bytes again. A manifest pushed between the deletion landing and the quarantine still
    /// references the blob; `berth scrub` reports it.
    async fn delete_bytes_locked(&self, locked: &mut LockGuard, digest: &Digest) -> Result<bool> {
        if !locked.still_held().await {
            warn!(digest = %digest, "blob lock lost before deleting the blob's bytes; they are kept");
            return Ok(false);
        }
        self.pause_at("gc.blob_lock_checked").await;
        if let Err(e) = self.blobs.discard(digest).await {
            warn!(digest = %digest, error = %e, "blob forgotten but its bytes could not be deleted");
            return Err(e.into());
        }
        if !locked.still_held().await {
            self.quarantine_if_recorded(digest).await?;
        }
        Ok(true)
    }

    /// After a deletion whose lock was lost while it was in flight: quarantines the blob if
    /// another node recorded it meanwhile and its bytes are gone.
    async fn quarantine_if_recorded(&self, digest: &Digest) -> Result<()> {
        let _locked = self.meta.lock(&LockName::Blob(digest)).await?;
        if self.meta.blob_size(digest).await?.is_none() {
            return Ok(());
        }
        match self.blobs.stat(digest).await {
            Err(BlobStoreError::BlobNotFound) => {
                error!(
                    digest = %digest,
                    "a collection that lost the blob's lock deleted the bytes of a blob recorded \
                     meanwhile; quarantined until pushed again"
                );
                let reason = "bytes deleted by a collection that lost the blob's lock";
                Ok(self.meta.quarantine_blob(digest, reason).await?)
            }
            // Pushed again since the deletion.
            Ok(_) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
