//! Locks shared by every process that opens one metadata store.
//!
//! Some registry steps span the blob store and metadata and must not interleave with another
//! step on the same key: committing a blob and linking it against the collector deleting the
//! same digest, and two collections. Several nodes share one PostgreSQL database, so the locks
//! live there (advisory locks); the embedded SQLite store is opened by one process, so its
//! locks live in that process (`ProcessLocks`).

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use berth_oci::{Digest, UploadId};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// What a lock guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockName<'a> {
    /// A blob's bytes: held while an upload commits and links the digest, while a mount checks
    /// and links it, and while the collector deletes it.
    Blob(&'a Digest),
    /// The right to run a collection: one at a time across every node.
    Collection,
    /// The right to run a scrub, and so to move its checkpoint: one at a time across every
    /// node.
    Scrub,
    /// The right to deliver events to the notification endpoint of this name: one node at a
    /// time, so that each endpoint receives its events once and in order.
    EventDelivery(&'a str),
    /// An upload session's end: held while a finish verifies and commits the staged bytes and
    /// while a cancel or the expiry sweep removes them, and briefly after each append to
    /// confirm that the session it appended to still exists. Never held while a body streams.
    Upload(&'a UploadId),
}

impl LockName<'_> {
    /// A stable text key, e.g. `blob:sha256:ab..` or `collection`.
    pub fn key(&self) -> String {
        match self {
            LockName::Blob(digest) => format!("blob:{digest}"),
            LockName::Collection => "collection".to_owned(),
            LockName::Scrub => "scrub".to_owned(),
            LockName::EventDelivery(endpoint) => format!("event-delivery:{endpoint}"),
            LockName::Upload(id) => format!("upload:{}", id.as_str()),
        }
    }
}

/// What a backend keeps while it holds a lock.
#[async_trait]
pub(crate) trait HeldLock: Send + Sync {
    /// Whether every lock of this holder is still held, asked of whatever holds it.
    async fn still_held(&mut self) -> bool;

    /// Takes lock `name` too, waiting for it, on the same holder.
    async fn also_lock(&mut self, name: &LockName<'_>) -> Result<()>;
}

/// Process locks held by one guard: mutex guards of this process, held until dropped.
struct ProcessHeld {
    locks: Arc<ProcessLocks>,
    guards: Vec<OwnedMutexGuard<()>>,
}

#[async_trait]
impl HeldLock for ProcessHeld {
    async fn still_held(&mut self) -> bool {
        true
    }

    async fn also_lock(&mut self, name: &LockName<'_>) -> Result<()> {
        let guard = self.locks.mutex(name).lock_owned().await;
        self.guards.push(guard);
        Ok(())
    }
}

/// A held lock; dropping it releases the lock (for a shared store, shortly after, on the
/// runtime).
pub struct LockGuard {
    held: Box<dyn HeldLock>,
}

impl LockGuard {
    pub(crate) fn new(held: impl HeldLock + 'static) -> LockGuard {
        LockGuard {
            held: Box::new(held),
        }
    }

    /// Whether this guard still holds its locks. A shared store's lock lives in a database
    /// session, which the server ends (releasing the lock) when the connection breaks or an
    /// administrator terminates it, without the guard noticing; another node may then take the
    /// lock. A step that does something irreversible under the lock (deleting bytes) asks this
    /// right before, and gives up when the answer is `false`. `false` also when the holder
    /// cannot be asked (the session is gone). A process lock is held until dropped: `true`.
    pub async fn still_held(&mut self) -> bool {
        self.held.still_held().await
    }

    /// Takes lock `name` too, waiting for it, released with this guard. A shared store holds
    /// it in this guard's database session rather than on a second connection of its lock
    /// pool: were every nested lock a connection, a pool full of holders each waiting for a
    /// connection for its second lock would wait for ever. Nested locks are taken in one order
    /// (an upload's, then a blob's) so that two holders never wait for each other, and are of
    /// another kind than those held (a process lock is not re-entrant, and names of one kind
    /// may share a stripe).
    pub async fn also_lock(&mut self, name: &LockName<'_>) -> Result<()> {
        self.held.also_lock(name).await
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockGuard")
    }
}

/// Stripes of blob locks kept by one process (a fixed set chosen by digest: two digests may
/// share a stripe, which only serialises them).
const BLOB_STRIPES: usize = 256;

/// Stripes of upload locks, chosen by session id in the same way. An upload lock is only ever
/// taken before a blob lock, never while holding one, so sharing stripes cannot deadlock.
const UPLOAD_STRIPES: usize = 64;

/// Locks of a store that one process opens at a time.
pub struct ProcessLocks {
    blobs: Vec<Arc<Mutex<()>>>,
    uploads: Vec<Arc<Mutex<()>>>,
    collection: Arc<Mutex<()>>,
    scrub: Arc<Mutex<()>>,
    /// One per endpoint name, made on first use (endpoints are few and configured).
    deliveries: std::sync::Mutex<std::collections::HashMap<String, Arc<Mutex<()>>>>,
}

impl Default for ProcessLocks {
    fn default() -> Self {
        ProcessLocks {
            blobs: (0..BLOB_STRIPES).map(|_| Arc::default()).collect(),
            uploads: (0..UPLOAD_STRIPES).map(|_| Arc::default()).collect(),
            collection: Arc::default(),
            scrub: Arc::default(),
            deliveries: Default::default(),
        }
    }
}

impl std::fmt::Debug for ProcessLocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProcessLocks")
    }
}

impl ProcessLocks {
    fn mutex(&self, name: &LockName<'_>) -> Arc<Mutex<()>> {
        match name {
            LockName::Blob(digest) => {
                let stripe = u8::from_str_radix(&digest.hex()[..2], 16).unwrap_or_default();
                self.blobs[stripe as usize % BLOB_STRIPES].clone()
            }
            LockName::Upload(id) => {
                let stripe = id
                    .as_str()
                    .bytes()
                    .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
                self.uploads[stripe % UPLOAD_STRIPES].clone()
            }
            LockName::Collection => self.collection.clone(),
            LockName::Scrub => self.scrub.clone(),
            LockName::EventDelivery(endpoint) => self
                .deliveries
                .lock()
                .expect("delivery locks")
                .entry((*endpoint).to_owned())
                .or_default()
                .clone(),
        }
    }

    pub async fn lock(self: &Arc<Self>, name: &LockName<'_>) -> LockGuard {
        let guard: OwnedMutexGuard<()> = self.mutex(name).lock_owned().await;
        self.held(guard)
    }

    pub fn try_lock(self: &Arc<Self>, name: &LockName<'_>) -> Option<LockGuard> {
        let guard = self.mutex(name).try_lock_owned().ok()?;
        Some(self.held(guard))
    }

    fn held(self: &Arc<Self>, guard: OwnedMutexGuard<()>) -> LockGuard {
        LockGuard::new(ProcessHeld {
            locks: self.clone(),
            guards: vec![guard],
        })
    }
}
