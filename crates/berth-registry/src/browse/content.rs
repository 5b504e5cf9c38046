//! Small blobs the browse API reads (image configs for their platform, SBOM documents for
//! their format and package count), bounded in size, and what it learnt from them, cached by
//! repository and digest. The cache needs no invalidation: a digest names the same bytes
//! forever. The repository is part of the key because a blob is read only through a
//! repository that holds it: a manifest may name any digest (a non-distributable layer is not
//! checked at push), and what was learnt through one repository must not answer for another.

use std::sync::Arc;

use berth_oci::{Digest, RepoName};
use bytes::{Bytes, BytesMut};
use futures::TryStreamExt;
use quick_cache::sync::Cache;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::sbom::SbomFacts;
use super::Platform;
use crate::Registry;

/// Most facts each cache keeps, least recently used first out.
const CACHED_FACTS: usize = 4096;

/// SBOM documents read at once, server-wide: each is held whole in memory (up to
/// `MAX_SBOM_BYTES`) while it is counted, so concurrent manifest pages must not multiply that.
const SBOM_READS: usize = 2;

type Key = (RepoName, Digest);

/// What the browse API learnt from blobs, by repository and digest.
pub(crate) struct ContentFacts {
    platforms: Cache<Key, Option<Platform>>,
    sboms: Cache<Key, SbomFacts>,
    sbom_reads: Semaphore,
}

impl Default for ContentFacts {
    fn default() -> Self {
        ContentFacts {
            platforms: Cache::new(CACHED_FACTS),
            sboms: Cache::new(CACHED_FACTS),
            sbom_reads: Semaphore::new(SBOM_READS),
        }
    }
}

fn key(repo: &RepoName, digest: &Digest) -> Key {
    (repo.clone(), digest.clone())
}

impl ContentFacts {
    pub(crate) fn platform(&self, repo: &RepoName, config: &Digest) -> Option<Option<Platform>> {
        self.platforms.get(&key(repo, config))
    }

    pub(crate) fn remember_platform(
        &self,
        repo: &RepoName,
        config: &Digest,
        platform: Option<Platform>,
    ) {
        self.platforms.insert(key(repo, config), platform)
    }

    pub(crate) fn sbom(&self, repo: &RepoName, layer: &Digest) -> Option<SbomFacts> {
        self.sboms.get(&key(repo, layer))
    }

    pub(crate) fn remember_sbom(&self, repo: &RepoName, layer: &Digest, facts: SbomFacts) {
        self.sboms.insert(key(repo, layer), facts)
    }

    /// Waits for a turn to read an SBOM document.
    pub(crate) async fn sbom_read_turn(&self) -> SemaphorePermit<'_> {
        self.sbom_reads
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }
}

impl Registry {
    /// The bytes of a blob readable through `repo` when it holds at most `limit` bytes; `None`
    /// when it is larger, not readable through `repo`, or cannot be read (logged): the browse
    /// API then shows less, rather than failing the whole answer over one blob.
    pub(crate) async fn small_blob(
        &self,
        repo: &RepoName,
        digest: &Digest,
        limit: u64,
    ) -> Option<Bytes> {
        let size = match self.meta.linked_blob_size(repo, digest).await {
            Ok(Some(size)) if size <= limit => size,
            Ok(_) => return None,
            Err(e) => {
                tracing::warn!(repo = %repo, digest = %digest, error = %e, "blob size unreadable");
                return None;
            }
        };
        let read = async {
            let mut stream = self
                .blobs
                .read(digest, None)
                .await
                .map_err(|e| e.to_string())?;
            let mut bytes = BytesMut::with_capacity(size as usize);
            while let Some(chunk) = stream.try_next().await.map_err(|e| e.to_string())? {
                if (bytes.len() + chunk.len()) as u64 > limit {
                    return Ok(None);
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok::<_, String>(Some(bytes.freeze()))
        };
        match read.await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(repo = %repo, digest = %digest, error = %e, "blob unreadable");
                None
            }
        }
    }
}

/// Shared by every clone of a registry.
pub(crate) type SharedFacts = Arc<ContentFacts>;
