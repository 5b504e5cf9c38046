//! Small blobs the browse API reads (image configs for their platform, SBOM documents for
//! their format and package count), bounded in size, and what it learnt from them, cached by
//! digest. The cache needs no invalidation: a digest names the same bytes forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_oci::{Digest, RepoName};
use bytes::{Bytes, BytesMut};
use futures::TryStreamExt;

use super::sbom::SbomFacts;
use super::Platform;
use crate::Registry;

/// Most facts each map keeps; when full it starts over (a cheap bound, not an LRU: a page
/// reads at most a page's worth, and a miss costs one small read).
const CACHED_FACTS: usize = 4096;

/// What the browse API learnt from blobs, by digest.
#[derive(Default)]
pub(crate) struct ContentFacts {
    platforms: Mutex<HashMap<Digest, Option<Platform>>>,
    sboms: Mutex<HashMap<Digest, SbomFacts>>,
}

fn cached<T: Clone>(map: &Mutex<HashMap<Digest, T>>, digest: &Digest) -> Option<T> {
    map.lock().expect("facts lock").get(digest).cloned()
}

fn remember<T>(map: &Mutex<HashMap<Digest, T>>, digest: &Digest, value: T) {
    let mut map = map.lock().expect("facts lock");
    if map.len() >= CACHED_FACTS {
        map.clear();
    }
    map.insert(digest.clone(), value);
}

impl ContentFacts {
    pub(crate) fn platform(&self, config: &Digest) -> Option<Option<Platform>> {
        cached(&self.platforms, config)
    }

    pub(crate) fn remember_platform(&self, config: &Digest, platform: Option<Platform>) {
        remember(&self.platforms, config, platform)
    }

    pub(crate) fn sbom(&self, layer: &Digest) -> Option<SbomFacts> {
        cached(&self.sboms, layer)
    }

    pub(crate) fn remember_sbom(&self, layer: &Digest, facts: SbomFacts) {
        remember(&self.sboms, layer, facts)
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
