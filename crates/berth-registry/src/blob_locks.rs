//! Per-digest locks that keep blob deletion apart from uploads and mounts of the same digest.
//!
//! Without them, an upload could find a blob's file still in place, skip writing its own copy,
//! and link the digest just before the collector deletes the file. Locks are striped (a fixed
//! set, chosen by digest) and held only around the commit or the deletion. They are per
//! process: nodes sharing storage need a shared lock instead.

use berth_oci::Digest;
use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 256;

pub struct BlobLocks {
    stripes: Vec<Mutex<()>>,
}

impl Default for BlobLocks {
    fn default() -> Self {
        BlobLocks {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }
}

impl BlobLocks {
    pub async fn lock(&self, digest: &Digest) -> MutexGuard<'_, ()> {
        let stripe =
            u8::from_str_radix(&digest.hex()[..2], 16).unwrap_or_default() as usize % STRIPES;
        self.stripes[stripe].lock().await
    }
}
