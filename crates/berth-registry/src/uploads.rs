//! Blob upload sessions: start, append chunks, finish with digest verification, cancel.
//!
//! Bytes are hashed as they stream into the staging object. The hash state of each session
//! is kept in memory next to the length it covers; when a request arrives on a node without
//! that state (another node, a restart), the state is rebuilt from the staged bytes.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use berth_blobstore::{BlobStoreError, ByteStream};
use berth_metadata::{LockName, UploadRecord};
use berth_oci::{Algorithm, Digest, DigestHasher, RepoName, UploadId};
use futures::StreamExt;
use tracing::{debug, info, warn};

use crate::error::{RegistryError, Result};
use crate::Registry;

/// Where an upload session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadStatus {
    pub id: UploadId,
    pub repo: RepoName,
    /// Bytes received so far.
    pub len: u64,
}

/// The hash of an upload's first `len` bytes.
struct HashProgress {
    hasher: DigestHasher,
    len: u64,
}

/// Per-session hash state and a lock that serialises requests on one session.
#[derive(Default)]
pub struct UploadTracker {
    sessions: Mutex<HashMap<UploadId, Arc<tokio::sync::Mutex<Option<HashProgress>>>>>,
}

impl UploadTracker {
    fn session(&self, id: &UploadId) -> Arc<tokio::sync::Mutex<Option<HashProgress>>> {
        let mut sessions = self.sessions.lock().expect("upload tracker lock");
        sessions.entry(id.clone()).or_default().clone()
    }

    fn forget(&self, id: &UploadId) {
        self.sessions
            .lock()
            .expect("upload tracker lock")
            .remove(id);
    }
}

/// Whether other requests can know an upload session's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    /// Its location was handed to a client: any node may receive requests for it.
    Shared,
    /// Started and finished within one request (a monolithic upload).
    Private,
}

/// A chunk's declared placement: `Content-Range` start and the expected length, when given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkBounds {
    pub start: Option<u64>,
    pub len: Option<u64>,
}

/// Feeds every chunk to a shared hasher and stops the body with an error once it exceeds
/// `limit` bytes, so that a lying `Content-Length`/`Content-Range` cannot overrun a chunk.
fn hashing_body(
    body: ByteStream,
    hasher: Arc<Mutex<DigestHasher>>,
    limit: Option<u64>,
) -> ByteStream {
    let mut seen = 0u64;
    Box::pin(body.map(move |chunk| {
        let bytes = chunk?;
        seen += bytes.len() as u64;
        if limit.is_some_and(|l| seen > l) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "body is longer than declared",
            ));
        }
        hasher.lock().expect("hasher lock").update(&bytes);
        Ok(bytes)
    }))
}

impl Registry {
    /// Opens a new upload session in `repo`.
    pub async fn start_upload(&self, repo: &RepoName) -> Result<UploadStatus> {
        let id = UploadId::new_random(uuid::Uuid::new_v4());
        // The row comes first: a staged object without a row is always an orphan.
        let record = UploadRecord {
            id: id.clone(),
            repo: repo.clone(),
            created_at: self.meta.now_millis().await?,
        };
        self.meta.create_upload(&record).await?;
        self.blobs.create_upload(&id).await?;
        Ok(UploadStatus {
            id,
            repo: repo.clone(),
            len: 0,
        })
    }

    /// Removes sessions started more than `max_age` ago, and staged objects whose session is
    /// gone (left by a crash). Returns how many sessions and objects were removed.
    pub async fn expire_uploads(&self, max_age: std::time::Duration) -> Result<usize> {
        let (sessions, orphans) = self.uploads_to_expire(max_age).await?;
        let mut removed = 0;
        for id in sessions {
            let session = self.uploads.session(&id);
            let _locked = session.lock().await;
            let _ended = self.meta.lock(&LockName::Upload(&id)).await?;
            self.discard_upload(&id).await;
            removed += 1;
        }
        for id in orphans {
            match self.blobs.delete_upload(&id).await {
                Ok(()) => removed += 1,
                Err(BlobStoreError::UploadNotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if removed > 0 {
            info!(removed, "expired upload sessions removed");
        }
        Ok(removed)
    }

    /// How many sessions and staged objects `expire_uploads(max_age)` would remove now,
    /// removing nothing: what a dry run reports.
    pub async fn expiring_uploads(&self, max_age: std::time::Duration) -> Result<usize> {
        let (sessions, orphans) = self.uploads_to_expire(max_age).await?;
        Ok(sessions.len() + orphans.len())
    }

    /// Sessions started more than `max_age` ago, and staged objects without a session.
    async fn uploads_to_expire(
        &self,
        max_age: std::time::Duration,
    ) -> Result<(Vec<UploadId>, Vec<UploadId>)> {
        let cutoff = self
            .meta
            .now_millis()
            .await?
            .saturating_sub(crate::gc::millis(max_age));
        let sessions = self.meta.uploads_created_before(cutoff).await?;
        let mut orphans = Vec::new();
        // A session's row is written before its staged object: an object without a row is
        // left over, never one being started.
        for id in self.blobs.list_uploads().await? {
            if self.meta.upload(&id).await?.is_none() {
                orphans.push(id);
            }
        }
        Ok((sessions.into_iter().map(|s| s.id).collect(), orphans))
    }

    /// The session `id`, which must belong to `repo`.
    async fn session_of(&self, repo: &RepoName, id: &UploadId) -> Result<UploadRecord> {
        match self.meta.upload(id).await? {
            Some(record) if &record.repo == repo => Ok(record),
            _ => Err(RegistryError::UploadUnknown),
        }
    }

    pub async fn upload_status(&self, repo: &RepoName, id: &UploadId) -> Result<UploadStatus> {
        self.session_of(repo, id).await?;
        let len = self.blobs.upload_len(id).await?;
        Ok(UploadStatus {
            id: id.clone(),
            repo: repo.clone(),
            len,
        })
    }

    /// Appends a chunk. `bounds.start`, when given, must equal the bytes received so far.
    pub async fn append_chunk(
        &self,
        repo: &RepoName,
        id: &UploadId,
        bounds: ChunkBounds,
        body: ByteStream,
    ) -> Result<UploadStatus> {
        self.session_of(repo, id).await?;
        let session = self.uploads.session(id);
        let mut progress = session.lock().await;
        let len = self
            .append_locked(id, &mut progress, Algorithm::Sha256, bounds, body)
            .await?;
        // The body streamed without the session's lock; a finish or cancel on another node may
        // have ended the session meanwhile. Under the lock, the session still existing means
        // that neither did, so whatever ends it next sees this chunk.
        let _ended = self.meta.lock(&LockName::Upload(id)).await?;
        if self.session_of(repo, id).await.is_err() {
            *progress = None;
            return Err(RegistryError::UploadUnknown);
        }
        Ok(UploadStatus {
            id: id.clone(),
            repo: repo.clone(),
            len,
        })
    }

    /// Appends under the session lock, keeping `progress` equal to the hash of the staged bytes.
    async fn append_locked(
        &self,
        id: &UploadId,
        progress: &mut Option<HashProgress>,
        algorithm: Algorithm,
        bounds: ChunkBounds,
        body: ByteStream,
    ) -> Result<u64> {
        let current = self.blobs.upload_len(id).await?;
        if bounds.start.is_some_and(|start| start != current) {
            return Err(RegistryError::ChunkOutOfOrder { current });
        }
        let state = self
            .hash_progress(id, progress.take(), algorithm, current)
            .await?;
        let hasher = Arc::new(Mutex::new(state.hasher));
        let _streaming = crate::metrics::UploadInProgress::start();
        let appended = self
            .blobs
            .append_upload(id, current, hashing_body(body, hasher.clone(), bounds.len))
            .await;
        let new_len = match appended {
            Ok(new_len) => new_len,
            Err(e) => {
                warn!(upload = %id, error = %e, "chunk append failed; hash state will be rebuilt");
                return Err(e.into());
            }
        };
        let received = new_len - current;
        if bounds.len.is_some_and(|expected| expected != received) {
            // The staged bytes are intact; the client may query the status and resume.
            return Err(RegistryError::SizeInvalid(format!(
                "declared {} bytes but received {received}",
                bounds.len.unwrap_or_default()
            )));
        }
        let hasher = Arc::try_unwrap(hasher)
            .map_err(|_| ())
            .expect("body stream dropped")
            .into_inner()
            .expect("hasher lock");
        *progress = Some(HashProgress {
            hasher,
            len: new_len,
        });
        Ok(new_len)
    }

    /// Hash state covering the first `len` staged bytes, rebuilt from storage when the cached
    /// one does not match.
    async fn hash_progress(
        &self,
        id: &UploadId,
        cached: Option<HashProgress>,
        algorithm: Algorithm,
        len: u64,
    ) -> Result<HashProgress> {
        if let Some(p) = cached.filter(|p| p.len == len && p.hasher.algorithm() == algorithm) {
            return Ok(p);
        }
        let mut hasher = algorithm.hasher();
        let mut hashed = 0u64;
        let mut staged = self.blobs.read_upload(id).await?;
        while let Some(chunk) = staged.next().await {
            let chunk = chunk.map_err(|e| match e.kind() {
                // A part went while it was read: the session ended on another node.
                io::ErrorKind::NotFound => RegistryError::UploadUnknown,
                _ => RegistryError::Storage(e.into()),
            })?;
            let take = chunk.len().min((len - hashed) as usize);
            hasher.update(&chunk[..take]);
            hashed += take as u64;
            if hashed == len {
                break;
            }
        }
        Ok(HashProgress { hasher, len })
    }

    /// Appends the final chunk (if any), verifies the whole upload against `digest`, and makes
    /// the blob visible in the session's repository. A mismatch discards the session.
    pub async fn finish_upload(
        &self,
        repo: &RepoName,
        id: &UploadId,
        digest: &Digest,
        bounds: ChunkBounds,
        body: Option<ByteStream>,
    ) -> Result<u64> {
        self.finish(repo, id, digest, bounds, body, Session::Shared)
            .await
    }

    /// `finish_upload`. The final chunk streams without the session's metadata lock; the
    /// verification and commit run under it (unless the session is `Private`), so that a
    /// cancel, another finish or the expiry sweep on any node cannot remove the staged bytes
    /// meanwhile, and an append that lands meanwhile fails the commit as `UploadChanged`
    /// rather than being lost.
    async fn finish(
        &self,
        repo: &RepoName,
        id: &UploadId,
        digest: &Digest,
        bounds: ChunkBounds,
        body: Option<ByteStream>,
        session: Session,
    ) -> Result<u64> {
        self.session_of(repo, id).await?;
        let tracked = self.uploads.session(id);
        let mut progress = tracked.lock().await;
        if let Some(body) = body {
            self.append_locked(id, &mut progress, digest.algorithm(), bounds, body)
                .await?;
        }
        let ending = match session {
            Session::Shared => {
                let locked = self.meta.lock(&LockName::Upload(id)).await?;
                // Another finish or a cancel may have ended the session before the lock.
                self.session_of(repo, id).await?;
                Some(locked)
            }
            Session::Private => None,
        };
        let len = self.blobs.upload_len(id).await?;
        let state = self
            .hash_progress(id, progress.take(), digest.algorithm(), len)
            .await?;
        let actual = state.hasher.finish();
        if &actual != digest {
            drop(progress);
            self.discard_upload(id).await;
            return Err(RegistryError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        // On the session's lock where there is one: one connection of the lock pool each.
        let blob_lock = match ending {
            Some(mut locked) => {
                locked.also_lock(&LockName::Blob(digest)).await?;
                locked
            }
            None => self.meta.lock(&LockName::Blob(digest)).await?,
        };
        self.blobs.commit_upload(id, digest).await?;
        let completed = self.meta.complete_upload(id, digest, len).await?;
        drop(blob_lock);
        drop(progress);
        self.uploads.forget(id);
        if !completed {
            return Err(RegistryError::UploadUnknown);
        }
        debug!(repo = %repo, digest = %digest, size = len, "blob stored");
        Ok(len)
    }

    /// Uploads a whole blob in one request (`POST ?digest=`).
    pub async fn upload_monolithic(
        &self,
        repo: &RepoName,
        digest: &Digest,
        len: Option<u64>,
        body: ByteStream,
    ) -> Result<u64> {
        let status = self.start_upload(repo).await?;
        let bounds = ChunkBounds {
            start: Some(0),
            len,
        };
        // Nobody else knows the new session's id: it needs no lock.
        let outcome = self
            .finish(
                repo,
                &status.id,
                digest,
                bounds,
                Some(body),
                Session::Private,
            )
            .await;
        if outcome.is_err() {
            self.discard_upload(&status.id).await;
        }
        outcome
    }

    /// Cancels an upload session and deletes its staged bytes.
    pub async fn cancel_upload(&self, repo: &RepoName, id: &UploadId) -> Result<()> {
        self.session_of(repo, id).await?;
        let session = self.uploads.session(id);
        let _locked = session.lock().await;
        // Not while a finish on another node verifies and commits the staged bytes.
        let _ending = self.meta.lock(&LockName::Upload(id)).await?;
        // Only the request that removes the row cancels: a racing finish or cancel already won.
        if !self.meta.delete_upload(id).await? {
            return Err(RegistryError::UploadUnknown);
        }
        self.discard_upload(id).await;
        Ok(())
    }

    /// Best-effort removal of a session; leftovers are expired later.
    async fn discard_upload(&self, id: &UploadId) {
        if let Err(e) = self.meta.delete_upload(id).await {
            warn!(upload = %id, error = %e, "could not delete upload session");
        }
        match self.blobs.delete_upload(id).await {
            Ok(()) | Err(BlobStoreError::UploadNotFound) => {}
            Err(e) => warn!(upload = %id, error = %e, "could not delete staged upload"),
        }
        self.uploads.forget(id);
    }
}
