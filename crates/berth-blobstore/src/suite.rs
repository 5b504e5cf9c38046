//! The behavioural suite every `BlobStore` backend must pass; backends call `run_all` from
//! their own tests (the filesystem here, object storage against a real server).

use berth_oci::{Digest, UploadId};
use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};

use crate::{BlobStore, BlobStoreError, ByteRange, ByteStream};

fn body(chunks: &[&'static [u8]]) -> ByteStream {
    let items: Vec<std::io::Result<Bytes>> =
        chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
    Box::pin(stream::iter(items))
}

fn failing_body(prefix: &'static [u8]) -> ByteStream {
    let items = vec![
        Ok(Bytes::from_static(prefix)),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    Box::pin(stream::iter(items))
}

/// Every byte of a stream, panicking on a read error.
pub(crate) async fn collect(s: ByteStream) -> Vec<u8> {
    s.try_fold(Vec::new(), |mut acc, b| async move {
        acc.extend_from_slice(&b);
        Ok(acc)
    })
    .await
    .expect("stream reads")
}

fn new_id() -> UploadId {
    // Deterministic ids are fine: each test run uses a fresh store.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("00000000-0000-4000-8000-{n:012x}")
        .parse()
        .expect("valid id")
}

/// Runs every behaviour check against `store`, which must start empty.
pub async fn run_all(store: &dyn BlobStore) {
    a_reachable_store_is_ready(store).await;
    missing_objects_report_not_found(store).await;
    upload_append_commit_read(store).await;
    appends_must_continue_at_the_current_length(store).await;
    failed_body_keeps_received_bytes(store).await;
    ranges_are_served_and_checked(store).await;
    committing_an_existing_digest_keeps_one_copy(store).await;
    delete_removes_blobs_and_uploads(store).await;
}

async fn a_reachable_store_is_ready(store: &dyn BlobStore) {
    store
        .check_ready()
        .await
        .expect("a reachable store is ready");
    // The check leaves nothing behind that looks like an upload.
    assert!(store.list_uploads().await.unwrap().is_empty());
}

async fn missing_objects_report_not_found(store: &dyn BlobStore) {
    let digest = Digest::sha256_of(b"never stored");
    assert!(matches!(
        store.stat(&digest).await,
        Err(BlobStoreError::BlobNotFound)
    ));
    assert!(matches!(
        store.read(&digest, None).await,
        Err(BlobStoreError::BlobNotFound)
    ));
    assert!(matches!(
        store.delete(&digest).await,
        Err(BlobStoreError::BlobNotFound)
    ));
    let id = new_id();
    assert!(matches!(
        store.upload_len(&id).await,
        Err(BlobStoreError::UploadNotFound)
    ));
    assert!(matches!(
        store.append_upload(&id, 0, body(&[b"x"])).await,
        Err(BlobStoreError::UploadNotFound)
    ));
    assert!(matches!(
        store.commit_upload(&id, &digest).await,
        Err(BlobStoreError::UploadNotFound)
    ));
    assert!(matches!(
        store.delete_upload(&id).await,
        Err(BlobStoreError::UploadNotFound)
    ));
}

async fn upload_append_commit_read(store: &dyn BlobStore) {
    let id = new_id();
    store.create_upload(&id).await.unwrap();
    assert_eq!(store.upload_len(&id).await.unwrap(), 0);
    assert!(store.list_uploads().await.unwrap().contains(&id));
    assert_eq!(
        store
            .append_upload(&id, 0, body(&[b"hello ", b"wor"]))
            .await
            .unwrap(),
        9
    );
    assert_eq!(
        store.append_upload(&id, 9, body(&[b"ld"])).await.unwrap(),
        11
    );
    assert_eq!(
        collect(store.read_upload(&id).await.unwrap()).await,
        b"hello world"
    );
    let digest = Digest::sha256_of(b"hello world");
    assert!(matches!(
        store.stat(&digest).await,
        Err(BlobStoreError::BlobNotFound)
    ));
    store.commit_upload(&id, &digest).await.unwrap();
    assert_eq!(store.stat(&digest).await.unwrap(), 11);
    let listed: Vec<_> = store.list_blobs().try_collect().await.unwrap();
    assert!(
        listed.iter().any(|(d, _)| d == &digest),
        "committed blobs are listed"
    );
    assert_eq!(
        collect(store.read(&digest, None).await.unwrap()).await,
        b"hello world"
    );
    assert!(matches!(
        store.upload_len(&id).await,
        Err(BlobStoreError::UploadNotFound)
    ));
    assert!(!store.list_uploads().await.unwrap().contains(&id));
}

async fn appends_must_continue_at_the_current_length(store: &dyn BlobStore) {
    let id = new_id();
    store.create_upload(&id).await.unwrap();
    store.append_upload(&id, 0, body(&[b"abc"])).await.unwrap();
    let err = store
        .append_upload(&id, 5, body(&[b"def"]))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        BlobStoreError::OffsetMismatch {
            expected: 5,
            actual: 3
        }
    ));
    assert_eq!(store.upload_len(&id).await.unwrap(), 3);
    store.delete_upload(&id).await.unwrap();
}

async fn failed_body_keeps_received_bytes(store: &dyn BlobStore) {
    let id = new_id();
    store.create_upload(&id).await.unwrap();
    let err = store
        .append_upload(&id, 0, failing_body(b"partial"))
        .await
        .unwrap_err();
    assert!(matches!(err, BlobStoreError::Body(_)));
    assert_eq!(store.upload_len(&id).await.unwrap(), 7);
    store.delete_upload(&id).await.unwrap();
}

async fn ranges_are_served_and_checked(store: &dyn BlobStore) {
    let content: Vec<u8> = (0..=255u8).cycle().take(3 * 1024 * 1024 + 17).collect();
    let digest = Digest::sha256_of(&content);
    let id = new_id();
    store.create_upload(&id).await.unwrap();
    let owned = Bytes::from(content.clone());
    let chunks: Vec<std::io::Result<Bytes>> = owned
        .chunks(100_000)
        .map(|c| Ok(owned.slice_ref(c)))
        .collect();
    store
        .append_upload(&id, 0, Box::pin(stream::iter(chunks)))
        .await
        .unwrap();
    store.commit_upload(&id, &digest).await.unwrap();
    let size = content.len() as u64;
    for (start, end) in [(0, 1), (10, 1_000_000), (size - 5, size), (0, size), (7, 7)] {
        let got = collect(
            store
                .read(&digest, Some(ByteRange { start, end }))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got, &content[start as usize..end as usize], "{start}-{end}");
    }
    let bad = store
        .read(
            &digest,
            Some(ByteRange {
                start: 0,
                end: size + 1,
            }),
        )
        .await;
    assert!(matches!(
        bad,
        Err(BlobStoreError::RangeNotSatisfiable { .. })
    ));
    let whole = store.read(&digest, None).await.unwrap();
    let chunk_count = whole.count().await;
    assert!(
        chunk_count <= 64,
        "large blobs stream in large chunks, got {chunk_count}"
    );
}

async fn committing_an_existing_digest_keeps_one_copy(store: &dyn BlobStore) {
    let digest = Digest::sha256_of(b"same");
    for _ in 0..2 {
        let id = new_id();
        store.create_upload(&id).await.unwrap();
        store.append_upload(&id, 0, body(&[b"same"])).await.unwrap();
        store.commit_upload(&id, &digest).await.unwrap();
        assert!(matches!(
            store.upload_len(&id).await,
            Err(BlobStoreError::UploadNotFound)
        ));
    }
    assert_eq!(
        collect(store.read(&digest, None).await.unwrap()).await,
        b"same"
    );
}

async fn delete_removes_blobs_and_uploads(store: &dyn BlobStore) {
    let digest = Digest::sha256_of(b"same");
    let reader = store.read(&digest, None).await.unwrap();
    store.delete(&digest).await.unwrap();
    assert!(matches!(
        store.stat(&digest).await,
        Err(BlobStoreError::BlobNotFound)
    ));
    assert_eq!(
        collect(reader).await,
        b"same",
        "an open reader finishes after a delete"
    );
    let id = new_id();
    store.create_upload(&id).await.unwrap();
    store.delete_upload(&id).await.unwrap();
    assert!(matches!(
        store.upload_len(&id).await,
        Err(BlobStoreError::UploadNotFound)
    ));
}
