//! Upload sessions in the bucket: the marker, the part objects, the chain that gives a session
//! its length, and appends that store bounded parts and arbitrate racing writers.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use berth_oci::UploadId;
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};

use super::{storage, PART_TARGET};
use crate::error::{BlobStoreError, Result};
use crate::store::ByteStream;

fn session_dir(id: &UploadId) -> Path {
    Path::from(format!("uploads/{}", id.as_str()))
}

fn marker_key(id: &UploadId) -> Path {
    Path::from(format!("uploads/{}/session", id.as_str()))
}

fn offset_dir(id: &UploadId, offset: u64) -> Path {
    Path::from(format!("uploads/{}/parts/{offset:020}", id.as_str()))
}

/// How often a writer that lost a race in which nobody won tries again.
const MAX_ATTEMPTS: u64 = 5;

/// The parts that make up a session, in order, and its length.
pub(super) struct Chain {
    pub parts: Vec<ObjectMeta>,
    pub len: u64,
}

/// Offset of a part key `uploads/<id>/parts/<offset>/<nonce>`.
fn part_offset(meta: &ObjectMeta) -> Option<u64> {
    let parts: Vec<_> = meta.location.parts().collect();
    match parts.as_slice() {
        [_, _, kind, offset, _] if kind.as_ref() == "parts" => offset.as_ref().parse().ok(),
        _ => None,
    }
}

/// Of several parts stored at one offset, the one that counts: the earliest, then by key.
fn winner(candidates: &[ObjectMeta]) -> Option<&ObjectMeta> {
    candidates
        .iter()
        .min_by(|a, b| (a.last_modified, &a.location).cmp(&(b.last_modified, &b.location)))
}

pub(super) async fn create(store: &dyn ObjectStore, id: &UploadId) -> Result<()> {
    store
        .put(&marker_key(id), PutPayload::default())
        .await
        .map_err(storage)?;
    Ok(())
}

/// Lists the session and links its parts from offset 0. `UploadNotFound` without a marker.
pub(super) async fn chain(store: &dyn ObjectStore, id: &UploadId) -> Result<Chain> {
    let marker = marker_key(id);
    let mut listing = store.list(Some(&session_dir(id)));
    let mut found_marker = false;
    let mut by_offset: BTreeMap<u64, Vec<ObjectMeta>> = BTreeMap::new();
    while let Some(meta) = listing.try_next().await.map_err(storage)? {
        if meta.location == marker {
            found_marker = true;
        } else if let Some(offset) = part_offset(&meta) {
            by_offset.entry(offset).or_default().push(meta);
        }
    }
    if !found_marker {
        return Err(BlobStoreError::UploadNotFound);
    }
    let mut parts = Vec::new();
    let mut len = 0;
    while let Some(candidates) = by_offset.get(&len) {
        let Some(part) = winner(candidates) else {
            break;
        };
        if part.size == 0 {
            break;
        }
        len += part.size;
        parts.push(part.clone());
    }
    Ok(Chain { parts, len })
}

/// Streams `parts` one after the other. A part removed meanwhile (the session was completed
/// or cancelled elsewhere) ends the stream with an `io::ErrorKind::NotFound` error.
pub(super) fn read_parts(
    store: Arc<dyn ObjectStore>,
    parts: Vec<ObjectMeta>,
) -> BoxStream<'static, io::Result<Bytes>> {
    futures::stream::iter(parts)
        .then(move |part| {
            let store = store.clone();
            async move {
                let got = store.get(&part.location).await.map_err(part_error)?;
                Ok::<_, io::Error>(got.into_stream().map_err(part_error))
            }
        })
        .try_flatten()
        .boxed()
}

fn part_error(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        e => io::Error::other(e),
    }
}

/// Stores `bytes` as the part at `offset`. A writer wins only when its part is alone at the
/// offset once stored: of two racing writers at most one sees that, as the later one's listing
/// includes the earlier part. A loser removes its part and fails with `OffsetMismatch` when the
/// session has grown, or retries after a random pause when every writer lost.
async fn store_part(
    store: &dyn ObjectStore,
    id: &UploadId,
    offset: u64,
    bytes: Bytes,
) -> Result<u64> {
    let dir = offset_dir(id, offset);
    let size = bytes.len() as u64;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let key = dir.clone().join(uuid::Uuid::new_v4().simple().to_string());
        store
            .put(&key, PutPayload::from_bytes(bytes.clone()))
            .await
            .map_err(storage)?;
        let here: Vec<ObjectMeta> = store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(storage)?;
        if here.iter().all(|m| m.location == key) {
            return Ok(offset + size);
        }
        match store.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(storage(e)),
        }
        let actual = chain(store, id).await?.len;
        if actual != offset || attempt == MAX_ATTEMPTS {
            return Err(BlobStoreError::OffsetMismatch {
                expected: offset,
                actual,
            });
        }
        let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]);
        tokio::time::sleep(Duration::from_millis(attempt * (10 + jitter / 2))).await;
    }
}

pub(super) async fn append(
    store: &dyn ObjectStore,
    id: &UploadId,
    offset: u64,
    mut body: ByteStream,
) -> Result<u64> {
    let actual = chain(store, id).await?.len;
    if actual != offset {
        return Err(BlobStoreError::OffsetMismatch {
            expected: offset,
            actual,
        });
    }
    let mut len = offset;
    let mut buf = BytesMut::new();
    loop {
        match body.next().await {
            Some(Ok(mut chunk)) => {
                while !chunk.is_empty() {
                    let take = chunk.len().min(PART_TARGET - buf.len());
                    buf.extend_from_slice(&chunk.split_to(take));
                    if buf.len() == PART_TARGET {
                        len = store_part(store, id, len, buf.split().freeze()).await?;
                    }
                }
            }
            Some(Err(e)) => {
                if !buf.is_empty() {
                    store_part(store, id, len, buf.freeze()).await?;
                }
                return Err(BlobStoreError::Body(e));
            }
            None => break,
        }
    }
    if !buf.is_empty() {
        len = store_part(store, id, len, buf.freeze()).await?;
    }
    Ok(len)
}

/// Removes every object of the session, the marker last. `UploadNotFound` when there is none.
pub(super) async fn remove(store: &dyn ObjectStore, id: &UploadId) -> Result<()> {
    let marker = marker_key(id);
    let mut keys: Vec<Path> = store
        .list(Some(&session_dir(id)))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .map_err(storage)?;
    if keys.is_empty() {
        return Err(BlobStoreError::UploadNotFound);
    }
    keys.retain(|k| k != &marker);
    for key in keys.iter().chain(std::iter::once(&marker)) {
        match store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(storage(e)),
        }
    }
    Ok(())
}
