//! The blob half of a scrub: every recorded blob re-hashed from the blob store, in digest
//! order from the saved progress, and the repair of a damaged one.

use berth_blobstore::BlobStoreError;
use berth_metadata::LockName;
use berth_oci::Digest;
use futures::StreamExt;
use tracing::{info, warn};

use super::throttle::Throttle;
use super::{BlobFinding, BlobProblem, Progress, ScrubOptions};
use crate::error::{RegistryError, Result};
use crate::Registry;

/// Recorded blobs read from metadata at once.
const PAGE: u32 = 256;

/// Progress is saved after this many blobs, or this many bytes, whichever comes first: a run
/// that stops loses at most that much work, and the saving costs one small write.
const SAVE_EVERY_BLOBS: u64 = 100;
const SAVE_EVERY_BYTES: u64 = 1 << 30;

/// What hashing one blob found.
enum Hashed {
    Whole,
    Damaged(BlobProblem),
    /// Forgotten by the collector since it was listed: nothing to check.
    Gone,
}

impl Registry {
    /// Hashes blobs after `progress.after` until every one is checked (true) or the run's
    /// blob limit is reached (false), recording findings, and repairing them when asked.
    pub(super) async fn scrub_blobs(
        &self,
        options: &ScrubOptions,
        progress: &mut Progress,
    ) -> Result<bool> {
        let throttle = options.rate_mib_per_second.map(Throttle::new);
        let (mut this_run, mut unsaved_blobs, mut unsaved_bytes) = (0u64, 0u64, 0u64);
        loop {
            let after: Option<Digest> = progress.after.as_deref().and_then(|d| d.parse().ok());
            let page = self.meta.blobs_after(after.as_ref(), PAGE).await?;
            if page.is_empty() {
                return Ok(true);
            }
            for (digest, size) in page {
                if options.max_blobs.is_some_and(|max| this_run >= max) {
                    return Ok(false);
                }
                let hashed = self.hash_blob(&digest, size, throttle.as_ref()).await?;
                if let Hashed::Damaged(problem) = hashed {
                    warn!(digest = %digest, problem = %problem, "scrub found a damaged blob");
                    let mut finding = BlobFinding {
                        digest: digest.to_string(),
                        size,
                        problem,
                        quarantined: false,
                        bytes_deleted: false,
                    };
                    progress.blobs.retain(|f| f.digest != finding.digest);
                    if !options.repair || self.repair_blob(&mut finding, throttle.as_ref()).await? {
                        progress.blobs.push(finding);
                    }
                    unsaved_blobs = SAVE_EVERY_BLOBS;
                }
                progress.after = Some(digest.to_string());
                progress.blobs_checked += 1;
                progress.bytes_checked += size;
                this_run += 1;
                unsaved_blobs += 1;
                unsaved_bytes += size;
                if unsaved_blobs >= SAVE_EVERY_BLOBS || unsaved_bytes >= SAVE_EVERY_BYTES {
                    self.save_progress(progress).await?;
                    (unsaved_blobs, unsaved_bytes) = (0, 0);
                }
            }
        }
    }

    /// Hashes the blob and judges it against its recorded `size`, confirming a missing one
    /// under its lock.
    async fn hash_blob(
        &self,
        digest: &Digest,
        size: u64,
        throttle: Option<&Throttle>,
    ) -> Result<Hashed> {
        let Some((actual, actual_size)) = self.hash_bytes(digest, throttle).await? else {
            return self.confirm_missing(digest).await;
        };
        if &actual == digest && actual_size == size {
            return Ok(Hashed::Whole);
        }
        if self.meta.blob_size(digest).await?.is_none() {
            return Ok(Hashed::Gone);
        }
        Ok(Hashed::Damaged(BlobProblem::Corrupt {
            actual_digest: actual.to_string(),
            actual_size,
        }))
    }

    /// Streams the blob from the blob store through its digest's hasher (never whole in
    /// memory), waiting on `throttle` before each chunk: what the bytes hash to and how many
    /// there are, `None` when the store has none.
    async fn hash_bytes(
        &self,
        digest: &Digest,
        throttle: Option<&Throttle>,
    ) -> Result<Option<(Digest, u64)>> {
        let mut body = match self.blobs.read(digest, None).await {
            Ok(body) => body,
            Err(BlobStoreError::BlobNotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut hasher = digest.algorithm().hasher();
        let mut actual_size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                // Deleted while read (S3 reads a large object in ranges).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(RegistryError::Storage(BlobStoreError::Io(e))),
            };
            if let Some(throttle) = throttle {
                throttle.wait_for(chunk.len()).await;
            }
            hasher.update(&chunk);
            actual_size += chunk.len() as u64;
        }
        Ok(Some((hasher.finish(), actual_size)))
    }

    /// A blob the store did not find is missing only if, under its lock (so that no upload
    /// commits and no collection forgets it meanwhile), metadata still records it and the
    /// store still has no bytes.
    async fn confirm_missing(&self, digest: &Digest) -> Result<Hashed> {
        let _blob = self.meta.lock(&LockName::Blob(digest)).await?;
        if self.meta.blob_size(digest).await?.is_none() {
            return Ok(Hashed::Gone);
        }
        match self.blobs.stat(digest).await {
            Err(BlobStoreError::BlobNotFound) => Ok(Hashed::Damaged(BlobProblem::Missing)),
            // Committed again since the read: the next scrub hashes it.
            Ok(_) => Ok(Hashed::Whole),
            Err(e) => Err(e.into()),
        }
    }

    /// Quarantines a damaged blob and deletes corrupt bytes, under the blob's lock; `false`,
    /// touching nothing, when the finding no longer holds.
    ///
    /// A finding may be old: carried over from a run that only reported or stopped early, or
    /// made before the lock was taken. Meanwhile the collector may have forgotten the blob and
    /// a client pushed the right bytes again. So under the lock, which an upload's commit and
    /// the collector take too, the blob is judged again right before anything is changed:
    /// still recorded, and its bytes hashed again (`finding` takes what that found, corrupt or
    /// missing); sound bytes drop the finding.
    ///
    /// Corrupt bytes are deleted rather than moved aside: they do not hash to their name, so
    /// no client can use them, and a blob store keeps the bytes already committed under a
    /// digest when the same digest is committed again, so the right bytes pushed again could
    /// not replace them. The report keeps what they hashed to and their size.
    pub(super) async fn repair_blob(
        &self,
        finding: &mut BlobFinding,
        throttle: Option<&Throttle>,
    ) -> Result<bool> {
        let digest: Digest = finding.digest.parse()?;
        let mut blob = self.meta.lock(&LockName::Blob(&digest)).await?;
        let Some(size) = self.meta.blob_size(&digest).await? else {
            return Ok(false);
        };
        finding.problem = match self.hash_bytes(&digest, throttle).await? {
            None => BlobProblem::Missing,
            Some((actual, actual_size)) if actual == digest && actual_size == size => {
                info!(digest = %digest, "blob sound again; finding dropped");
                return Ok(false);
            }
            Some((actual, actual_size)) => BlobProblem::Corrupt {
                actual_digest: actual.to_string(),
                actual_size,
            },
        };
        finding.size = size;
        self.meta
            .quarantine_blob(&digest, &finding.problem.to_string())
            .await?;
        finding.quarantined = true;
        if let BlobProblem::Corrupt { .. } = finding.problem {
            // The bytes were judged under the lock: deleting them must be too.
            if !blob.still_held().await {
                warn!(digest = %digest, "blob lock lost before deleting corrupt bytes; kept");
                return Ok(true);
            }
            self.blobs.discard(&digest).await?;
            finding.bytes_deleted = true;
        }
        info!(digest = %digest, problem = %finding.problem, "blob quarantined");
        Ok(true)
    }
}
