//! Filesystem backend: blobs as files under `blobs/<alg>/<xx>/<hex>`, uploads under `uploads/`.
//!
//! Visibility is a `rename` of an fsynced staging file into place followed by an fsync of the
//! directory, so a crash leaves either no blob or the whole, verified blob.

mod pipes;

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use berth_oci::{Digest, UploadId};
use tokio::fs::{self, File, OpenOptions};

use crate::error::{BlobStoreError, Result};
use crate::store::{BlobListing, BlobStore, ByteRange, ByteStream};

/// A blob store rooted at one directory.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    /// Opens (creating when missing) a store under `root`.
    pub async fn open(root: impl Into<PathBuf>) -> Result<FsBlobStore> {
        let root = root.into();
        fs::create_dir_all(root.join("blobs")).await?;
        fs::create_dir_all(root.join("uploads")).await?;
        Ok(FsBlobStore { root })
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
    }

    fn upload_path(&self, id: &UploadId) -> PathBuf {
        self.root.join("uploads").join(id.as_str())
    }
}

fn blob_missing(e: io::Error) -> BlobStoreError {
    if e.kind() == io::ErrorKind::NotFound {
        BlobStoreError::BlobNotFound
    } else {
        BlobStoreError::Io(e)
    }
}

fn upload_missing(e: io::Error) -> BlobStoreError {
    if e.kind() == io::ErrorKind::NotFound {
        BlobStoreError::UploadNotFound
    } else {
        BlobStoreError::Io(e)
    }
}

async fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir).await?.sync_all().await
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn check_ready(&self) -> Result<()> {
        // Both directories must still be there (a store whose directory was unmounted or
        // removed would otherwise fail only on the next push), and staging must be writable.
        for dir in ["blobs", "uploads"] {
            if !fs::metadata(self.root.join(dir)).await?.is_dir() {
                return Err(BlobStoreError::Io(io::Error::other(format!(
                    "{} is not a directory",
                    self.root.join(dir).display()
                ))));
            }
        }
        static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Not an upload id, so `list_uploads` never reports it.
        let probe = (self.root.join("uploads")).join(format!(".ready-{}-{n}", std::process::id()));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .await?;
        fs::remove_file(&probe).await?;
        Ok(())
    }

    async fn stat(&self, digest: &Digest) -> Result<u64> {
        let meta = fs::metadata(self.blob_path(digest))
            .await
            .map_err(blob_missing)?;
        Ok(meta.len())
    }

    async fn read(&self, digest: &Digest, range: Option<ByteRange>) -> Result<ByteStream> {
        let file = std::fs::File::open(self.blob_path(digest)).map_err(blob_missing)?;
        let size = file.metadata()?.len();
        let ByteRange { start, end } = range.unwrap_or(ByteRange {
            start: 0,
            end: size,
        });
        if start > end || end > size {
            return Err(BlobStoreError::RangeNotSatisfiable { start, end, size });
        }
        Ok(pipes::read_range(file, start, end - start))
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        fs::remove_file(self.blob_path(digest))
            .await
            .map_err(blob_missing)
    }

    async fn create_upload(&self, id: &UploadId) -> Result<()> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.upload_path(id))
            .await?;
        Ok(())
    }

    async fn upload_len(&self, id: &UploadId) -> Result<u64> {
        let meta = fs::metadata(self.upload_path(id))
            .await
            .map_err(upload_missing)?;
        Ok(meta.len())
    }

    async fn append_upload(&self, id: &UploadId, offset: u64, body: ByteStream) -> Result<u64> {
        pipes::append(self.upload_path(id), offset, body).await
    }

    async fn read_upload(&self, id: &UploadId) -> Result<ByteStream> {
        let file = std::fs::File::open(self.upload_path(id)).map_err(upload_missing)?;
        let size = file.metadata()?.len();
        Ok(pipes::read_range(file, 0, size))
    }

    async fn commit_upload(&self, id: &UploadId, digest: &Digest) -> Result<()> {
        let staging = self.upload_path(id);
        File::open(&staging)
            .await
            .map_err(upload_missing)?
            .sync_all()
            .await?;
        let target = self.blob_path(digest);
        let dir = target.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir).await?;
        if fs::try_exists(&target).await? {
            fs::remove_file(&staging).await?;
            return Ok(());
        }
        fs::rename(&staging, &target).await?;
        sync_dir(dir).await?;
        Ok(())
    }

    async fn delete_upload(&self, id: &UploadId) -> Result<()> {
        fs::remove_file(self.upload_path(id))
            .await
            .map_err(upload_missing)
    }

    async fn list_uploads(&self) -> Result<Vec<UploadId>> {
        let mut entries = fs::read_dir(self.root.join("uploads")).await?;
        let mut ids = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            if let Some(id) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    fn list_blobs(&self) -> BlobListing {
        // A blocking walk feeds a bounded channel: the directory tree is read as the listing
        // is consumed, never all at once.
        let root = self.root.join("blobs");
        let (found, listing) = tokio::sync::mpsc::channel(LISTING_BUFFER);
        tokio::task::spawn_blocking(move || {
            if let Err(e) = walk_blobs(&root, &found) {
                let _ = found.blocking_send(Err(e));
            }
        });
        Box::pin(futures::stream::unfold(listing, |mut listing| async move {
            listing.recv().await.map(|item| (item, listing))
        }))
    }
}

/// Listed blobs buffered ahead of the consumer.
const LISTING_BUFFER: usize = 1024;

/// Sends the `blobs/<algorithm>/<xx>/<hex>` files whose names make a valid digest, until the
/// receiver goes away.
fn walk_blobs(
    root: &Path,
    found: &tokio::sync::mpsc::Sender<Result<(Digest, SystemTime)>>,
) -> Result<()> {
    for algorithm in std::fs::read_dir(root)? {
        let algorithm = algorithm?;
        let Some(algorithm_name) = algorithm.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        for prefix in std::fs::read_dir(algorithm.path())? {
            for file in std::fs::read_dir(prefix?.path())? {
                let file = file?;
                let name = format!("{algorithm_name}:{}", file.file_name().to_string_lossy());
                if let Ok(digest) = name.parse::<Digest>() {
                    let modified = file.metadata()?.modified()?;
                    if found.blocking_send(Ok((digest, modified))).is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fs_store_passes_the_shared_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).await.unwrap();
        crate::suite::run_all(&store).await;
    }

    #[tokio::test]
    async fn staging_files_never_appear_under_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path()).await.unwrap();
        let id = UploadId::new_random(uuid::Uuid::new_v4());
        store.create_upload(&id).await.unwrap();
        let body: ByteStream = Box::pin(futures::stream::iter([Ok(bytes::Bytes::from_static(
            b"abc",
        ))]));
        store.append_upload(&id, 0, body).await.unwrap();
        let mut blobs = std::fs::read_dir(dir.path().join("blobs")).unwrap();
        assert!(blobs.next().is_none(), "nothing is visible before commit");
    }

    #[tokio::test]
    async fn a_store_whose_directory_is_gone_is_not_ready_until_it_is_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::open(dir.path().join("store")).await.unwrap();
        store.check_ready().await.unwrap();
        std::fs::rename(dir.path().join("store"), dir.path().join("away")).unwrap();
        assert!(matches!(
            store.check_ready().await,
            Err(BlobStoreError::Io(_))
        ));
        std::fs::rename(dir.path().join("away"), dir.path().join("store")).unwrap();
        store.check_ready().await.unwrap();
        // A file where the staging directory should be is not a usable store either.
        std::fs::remove_dir(dir.path().join("store/uploads")).unwrap();
        std::fs::write(dir.path().join("store/uploads"), b"not a directory").unwrap();
        assert!(store.check_ready().await.is_err());
    }
}
