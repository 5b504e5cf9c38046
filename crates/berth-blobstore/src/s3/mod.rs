//! S3 backend: blobs as objects `blobs/<alg>/<hex>`, upload sessions as part objects under
//! `uploads/<id>/`, on any S3-compatible store (AWS S3, Garage, MinIO, Ceph) via `object_store`.
//!
//! # Layout (below the optional key prefix)
//! - `blobs/<alg>/<hex>`: committed blobs, written only by a completed multipart upload.
//! - `uploads/<id>/session`: an empty marker; an upload exists while it does.
//! - `uploads/<id>/parts/<offset>/<nonce>`: the bytes appended at `<offset>` (20 zero-padded
//!   decimal digits, so listings come back in offset order), one object per stored part.
//!
//! # Chunk strategy
//! Clients send chunks of any size, and each PATCH may land on another node, so nothing about
//! a session lives in process memory: every appended piece is its own object, written as soon
//! as it is complete. An append buffers at most [`PART_TARGET`] bytes (8 MiB) of its body
//! before it stores them as one part, so memory per request is bounded and large bodies make
//! few, large parts while a 1-byte PATCH makes a 1-byte part. S3 multipart parts must be at
//! least 5 MiB (except the last), which is why the parts are not multipart parts themselves:
//! `commit_upload` streams them in offset order through the digest's hasher and re-chunks them
//! into one multipart upload of the final object with parts of [`PART_TARGET`] bytes, holding
//! at most one part being sent and one filling. (A server-side `UploadPartCopy` of parts that
//! are already ≥ 5 MiB would save the re-upload, but `object_store` does not expose it and
//! the digest has to be computed over the bytes anyway.)
//!
//! # Digest verification and visibility
//! The multipart upload targets the final key, but S3 makes an object visible only when its
//! multipart upload is completed. `commit_upload` completes it only after the streamed hash
//! equals the requested digest; on a mismatch (the staged bytes changed since the caller
//! verified them) it aborts the multipart upload (nothing becomes visible), keeps the session,
//! and fails with `UploadChanged`. A part removed while it is read fails the commit with
//! `UploadNotFound`.
//!
//! # State across nodes
//! The length of a session is derived from the bucket on every call: the chain of parts from
//! offset 0, each starting where the previous one ended. Another node's `upload_len`,
//! `append_upload` and `commit_upload` see exactly what this node stored. Hash state is not
//! kept either: the digest is computed at commit from the stored bytes (`read_upload` serves
//! callers that hash incrementally).
//!
//! # Concurrent appends
//! Part keys carry a random nonce, so two appends at the same offset never overwrite each
//! other (not every S3 implementation honours `If-None-Match` on PUT: Garage does not). After
//! storing a part, the writer lists the parts at that offset; the earliest stored one (by
//! last-modified time, then key) wins, and a loser deletes its part and fails with
//! `OffsetMismatch`, as an append to a file that has grown meanwhile does. Readers apply the
//! same rule, so a loser's part that is not yet deleted is never counted. The arbitration
//! relies on the store's timestamps, and it is the only thing that orders appends to one
//! session across nodes: Berth serialises a session's finish and cancel through a lock in its
//! metadata store, but not its appends, whose bodies stream for as long as the client sends
//! and must not hold a database connection that long. So an append may land while another
//! node commits the session; the commit's hash then shows it (`UploadChanged`).

mod session;
#[cfg(test)]
mod tests;

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use berth_oci::{Digest, UploadId};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::error::{BlobStoreError, Result};
use crate::store::{BlobListing, BlobStore, ByteRange, ByteStream};

/// Size of the parts an append stores and of the multipart parts a commit uploads.
pub const PART_TARGET: usize = 8 * 1024 * 1024;

/// Reads are re-chunked to at least this many bytes per item.
const READ_CHUNK: usize = 1024 * 1024;

/// Where the store lives. Credentials come from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
/// and (optionally) `AWS_SESSION_TOKEN`; no other `AWS_*` variable is read, so an
/// `AWS_CA_BUNDLE` in the environment has no effect.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    /// e.g. `http://127.0.0.1:3900` for Garage; `None` for AWS S3.
    pub endpoint: Option<String>,
    pub region: String,
    /// Path-style addressing (`endpoint/bucket/key`), needed by Garage without a root domain
    /// and by most MinIO and Ceph set-ups.
    pub path_style: bool,
    /// Every key is stored below this prefix, so several stores can share one bucket.
    pub key_prefix: Option<String>,
    /// When set, blob GETs may be redirected to presigned URLs valid this long, so that blob
    /// bytes flow from the bucket to the client without passing through a node.
    pub redirect: Option<std::time::Duration>,
}

/// A blob store in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    redirect: Option<Presigner>,
}

/// Signs read URLs of blobs with the store's credentials.
#[derive(Debug, Clone)]
struct Presigner {
    s3: object_store::aws::AmazonS3,
    /// The key prefix (without slashes at its ends), which the signed path must include.
    prefix: Option<String>,
    expires_in: std::time::Duration,
}

impl S3BlobStore {
    /// Connects (lazily: no request is made here) to the bucket `config` names.
    pub fn open(config: &S3Config) -> Result<S3BlobStore> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_virtual_hosted_style_request(!config.path_style);
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        if let Ok(key) = std::env::var("AWS_ACCESS_KEY_ID") {
            builder = builder.with_access_key_id(key);
        }
        if let Ok(secret) = std::env::var("AWS_SECRET_ACCESS_KEY") {
            builder = builder.with_secret_access_key(secret);
        }
        if let Ok(token) = std::env::var("AWS_SESSION_TOKEN") {
            builder = builder.with_token(token);
        }
        let s3 = builder.build().map_err(storage)?;
        let prefix = config
            .key_prefix
            .as_deref()
            .map(|p| p.trim_matches('/').to_owned())
            .filter(|p| !p.is_empty());
        let redirect = config.redirect.map(|expires_in| Presigner {
            s3: s3.clone(),
            prefix: prefix.clone(),
            expires_in,
        });
        let store: Arc<dyn ObjectStore> = match &prefix {
            Some(prefix) => Arc::new(PrefixStore::new(s3, prefix.as_str())),
            None => Arc::new(s3),
        };
        Ok(S3BlobStore { store, redirect })
    }

    fn blob_key(digest: &Digest) -> Path {
        Path::from(format!(
            "blobs/{}/{}",
            digest.algorithm().as_str(),
            digest.hex()
        ))
    }
}

/// Any `object_store` failure that is not a "not found" the caller maps itself.
fn storage(e: object_store::Error) -> BlobStoreError {
    BlobStoreError::Io(io::Error::other(e))
}

fn blob_missing(e: object_store::Error) -> BlobStoreError {
    match e {
        object_store::Error::NotFound { .. } => BlobStoreError::BlobNotFound,
        e => storage(e),
    }
}

/// Re-chunks a stream of small network reads into items of at least `READ_CHUNK` bytes.
fn coalesce(inner: futures::stream::BoxStream<'static, io::Result<Bytes>>) -> ByteStream {
    let stream = futures::stream::unfold(Some(inner), |state| async move {
        let mut inner = state?;
        let mut buf = Vec::new();
        loop {
            match inner.next().await {
                Some(Ok(b)) => {
                    if buf.is_empty() && b.len() >= READ_CHUNK {
                        return Some((Ok(b), Some(inner)));
                    }
                    buf.extend_from_slice(&b);
                    if buf.len() >= READ_CHUNK {
                        return Some((Ok(Bytes::from(buf)), Some(inner)));
                    }
                }
                Some(Err(e)) => return Some((Err(e), None)),
                None if buf.is_empty() => return None,
                None => return Some((Ok(Bytes::from(buf)), None)),
            }
        }
    });
    Box::pin(stream)
}

fn io_stream(
    s: futures::stream::BoxStream<'static, object_store::Result<Bytes>>,
) -> futures::stream::BoxStream<'static, io::Result<Bytes>> {
    s.map_err(io::Error::other).boxed()
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn check_ready(&self) -> Result<()> {
        // One HEAD of a key that is never written: "not found" proves the bucket answers
        // with these credentials, without listing anything.
        match self.store.head(&Path::from("uploads/.ready")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage(e)),
        }
    }

    async fn stat(&self, digest: &Digest) -> Result<u64> {
        let meta = self
            .store
            .head(&Self::blob_key(digest))
            .await
            .map_err(blob_missing)?;
        Ok(meta.size)
    }

    async fn read_url(&self, digest: &Digest) -> Result<Option<String>> {
        let Some(presigner) = &self.redirect else {
            return Ok(None);
        };
        let key = Self::blob_key(digest);
        let key = match &presigner.prefix {
            Some(prefix) => Path::from(format!("{prefix}/{key}")),
            None => key,
        };
        let url = presigner
            .s3
            .signed_url(
                object_store::signer::Method::GET,
                &key,
                presigner.expires_in,
            )
            .await
            .map_err(storage)?;
        Ok(Some(url.to_string()))
    }

    async fn read(&self, digest: &Digest, range: Option<ByteRange>) -> Result<ByteStream> {
        let key = Self::blob_key(digest);
        let Some(ByteRange { start, end }) = range else {
            let got = self.store.get(&key).await.map_err(blob_missing)?;
            return Ok(coalesce(io_stream(got.into_stream())));
        };
        let size = self.store.head(&key).await.map_err(blob_missing)?.size;
        if start > end || end > size {
            return Err(BlobStoreError::RangeNotSatisfiable { start, end, size });
        }
        if start == end {
            return Ok(Box::pin(futures::stream::empty()));
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(start..end)),
            ..GetOptions::default()
        };
        let got = self
            .store
            .get_opts(&key, options)
            .await
            .map_err(blob_missing)?;
        Ok(coalesce(io_stream(got.into_stream())))
    }

    async fn delete(&self, digest: &Digest) -> Result<()> {
        let key = Self::blob_key(digest);
        // S3 deletes are idempotent; the trait reports absence.
        self.store.head(&key).await.map_err(blob_missing)?;
        self.store.delete(&key).await.map_err(storage)
    }

    async fn discard(&self, digest: &Digest) -> Result<()> {
        // One request: S3 answers a DELETE of an absent key with success.
        let key = Self::blob_key(digest);
        self.store.delete(&key).await.map_err(storage)
    }

    async fn create_upload(&self, id: &UploadId) -> Result<()> {
        session::create(self.store.as_ref(), id).await
    }

    async fn upload_len(&self, id: &UploadId) -> Result<u64> {
        Ok(session::chain(self.store.as_ref(), id).await?.len)
    }

    async fn append_upload(&self, id: &UploadId, offset: u64, body: ByteStream) -> Result<u64> {
        session::append(self.store.as_ref(), id, offset, body).await
    }

    async fn read_upload(&self, id: &UploadId) -> Result<ByteStream> {
        let chain = session::chain(self.store.as_ref(), id).await?;
        Ok(coalesce(session::read_parts(
            self.store.clone(),
            chain.parts,
        )))
    }

    async fn commit_upload(&self, id: &UploadId, digest: &Digest) -> Result<()> {
        let store = self.store.as_ref();
        let chain = session::chain(store, id).await?;
        let target = Self::blob_key(digest);
        match store.head(&target).await {
            Ok(_) => return session::remove(store, id).await,
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(storage(e)),
        }
        let upload = store.put_multipart(&target).await.map_err(storage)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_TARGET);
        let mut hasher = digest.algorithm().hasher();
        let mut parts = session::read_parts(self.store.clone(), chain.parts);
        let streamed: io::Result<()> = async {
            while let Some(bytes) = parts.next().await {
                let bytes = bytes?;
                hasher.update(&bytes);
                writer
                    .wait_for_capacity(1)
                    .await
                    .map_err(io::Error::other)?;
                writer.put(bytes);
            }
            Ok(())
        }
        .await;
        if let Err(e) = streamed {
            let _ = writer.abort().await;
            if e.kind() == io::ErrorKind::NotFound {
                // A part went between listing and reading: the session was removed.
                return Err(BlobStoreError::UploadNotFound);
            }
            return Err(BlobStoreError::Io(e));
        }
        let actual = hasher.finish();
        if &actual != digest {
            let _ = writer.abort().await;
            tracing::warn!(upload = %id.as_str(), expected = %digest, actual = %actual, "upload changed before its commit, commit refused");
            return Err(BlobStoreError::UploadChanged(format!(
                "the staged content now has digest {actual}, not {digest}"
            )));
        }
        writer.finish().await.map_err(storage)?;
        session::remove(store, id).await
    }

    async fn delete_upload(&self, id: &UploadId) -> Result<()> {
        session::remove(self.store.as_ref(), id).await
    }

    async fn list_uploads(&self) -> Result<Vec<UploadId>> {
        let listed = self
            .store
            .list_with_delimiter(Some(&Path::from("uploads")))
            .await
            .map_err(storage)?;
        Ok(listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().and_then(|n| n.parse().ok()))
            .collect())
    }

    fn list_blobs(&self) -> BlobListing {
        // The listing pages through the bucket (1,000 keys per request) as it is consumed.
        let listing = self.store.list(Some(&Path::from("blobs")));
        Box::pin(listing.filter_map(|meta| async move {
            let meta = match meta {
                Ok(meta) => meta,
                Err(e) => return Some(Err(storage(e))),
            };
            let parts: Vec<_> = meta.location.parts().collect();
            let [_, algorithm, hex] = parts.as_slice() else {
                return None;
            };
            let name = format!("{}:{}", algorithm.as_ref(), hex.as_ref());
            let digest = name.parse::<Digest>().ok()?;
            Some(Ok((digest, SystemTime::from(meta.last_modified))))
        }))
    }
}
