//! The S3 backend against a real server (Garage from `scripts/services/garage.sh`): the shared
//! suite, then what only object storage makes interesting.

use berth_oci::{Digest, UploadId};
use bytes::Bytes;
use futures::TryStreamExt;

use super::{S3BlobStore, S3Config};
use crate::suite::collect;
use crate::{BlobStore, BlobStoreError, ByteRange, ByteStream};

const SETUP: &str = "run `scripts/services/garage.sh` and export the variables it writes to \
                     target/services/garage/env (BERTH_TEST_S3_ENDPOINT, BERTH_TEST_S3_BUCKET, \
                     BERTH_TEST_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)";

fn var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: the S3 tests need a real server; {SETUP}"))
}

/// A config on the test server under a fresh random key prefix, so tests run in parallel.
fn config() -> S3Config {
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        var(name);
    }
    S3Config {
        bucket: var("BERTH_TEST_S3_BUCKET"),
        endpoint: Some(var("BERTH_TEST_S3_ENDPOINT")),
        region: var("BERTH_TEST_S3_REGION"),
        path_style: true,
        key_prefix: Some(format!("test-{}", uuid::Uuid::new_v4().simple())),
        redirect: None,
    }
}

fn store_at(config: &S3Config) -> S3BlobStore {
    S3BlobStore::open(config).expect("store opens")
}

fn new_id() -> UploadId {
    UploadId::new_random(uuid::Uuid::new_v4())
}

fn body_of(chunks: Vec<Bytes>) -> ByteStream {
    Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)))
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn s3_store_passes_the_shared_suite() {
    let store = store_at(&config());
    crate::suite::run_all(&store).await;
}

#[tokio::test]
async fn chunks_of_any_size_make_one_verified_blob() {
    let store = store_at(&config());
    let data = Bytes::from(content(12 * 1024 * 1024));
    let digest = Digest::sha256_of(&data);
    let id = new_id();
    store.create_upload(&id).await.unwrap();
    let cuts = [
        0,
        1,
        1 + 100 * 1024,
        1 + 100 * 1024 + 7 * 1024 * 1024,
        data.len(),
    ];
    for w in cuts.windows(2) {
        let (start, end) = (w[0] as u64, w[1] as u64);
        // Each chunk arrives as many small network reads, as a real PATCH body does.
        let pieces: Vec<Bytes> = (w[0]..w[1])
            .step_by(64 * 1024)
            .map(|s| data.slice(s..(s + 64 * 1024).min(w[1])))
            .collect();
        let len = store
            .append_upload(&id, start, body_of(pieces))
            .await
            .unwrap();
        assert_eq!(len, end);
        assert_eq!(store.upload_len(&id).await.unwrap(), end);
    }
    store.commit_upload(&id, &digest).await.unwrap();
    assert_eq!(store.stat(&digest).await.unwrap(), data.len() as u64);
    let read = collect(store.read(&digest, None).await.unwrap()).await;
    assert!(
        read.as_slice() == &data[..],
        "the committed blob has the uploaded bytes"
    );
    assert!(matches!(
        store.upload_len(&id).await,
        Err(BlobStoreError::UploadNotFound)
    ));
}

#[tokio::test]
async fn another_node_continues_an_upload() {
    let config = config();
    let (first, second) = (store_at(&config), store_at(&config));
    let data = content(300_000);
    let digest = Digest::sha256_of(&data);
    let id = new_id();
    first.create_upload(&id).await.unwrap();
    first
        .append_upload(&id, 0, body_of(vec![Bytes::copy_from_slice(&data[..1000])]))
        .await
        .unwrap();
    assert_eq!(second.upload_len(&id).await.unwrap(), 1000);
    assert!(second.list_uploads().await.unwrap().contains(&id));
    let len = second
        .append_upload(
            &id,
            1000,
            body_of(vec![Bytes::copy_from_slice(&data[1000..])]),
        )
        .await
        .unwrap();
    assert_eq!(len, data.len() as u64);
    assert_eq!(first.upload_len(&id).await.unwrap(), len);
    assert_eq!(collect(first.read_upload(&id).await.unwrap()).await, data);
    first.commit_upload(&id, &digest).await.unwrap();
    assert_eq!(
        collect(second.read(&digest, None).await.unwrap()).await,
        data
    );
}

#[tokio::test]
async fn a_wrong_digest_is_refused_and_nothing_is_visible() {
    let store = store_at(&config());
    let id = new_id();
    store.create_upload(&id).await.unwrap();
    store
        .append_upload(&id, 0, body_of(vec![Bytes::from_static(b"actual bytes")]))
        .await
        .unwrap();
    let claimed = Digest::sha256_of(b"other bytes");
    let err = store.commit_upload(&id, &claimed).await.unwrap_err();
    assert!(matches!(&err, BlobStoreError::UploadChanged(_)), "{err}");
    assert!(matches!(
        store.stat(&claimed).await,
        Err(BlobStoreError::BlobNotFound)
    ));
    let listed: Vec<_> = store.list_blobs().try_collect().await.unwrap();
    assert!(listed.is_empty());
    assert_eq!(
        store.upload_len(&id).await.unwrap(),
        12,
        "the session stays"
    );
    store.delete_upload(&id).await.unwrap();
}

#[tokio::test]
async fn ranged_reads_fetch_only_the_range() {
    let store = store_at(&config());
    let data = content(9 * 1024 * 1024 + 3);
    let digest = Digest::sha256_of(&data);
    let id = new_id();
    store.create_upload(&id).await.unwrap();
    store
        .append_upload(&id, 0, body_of(vec![Bytes::from(data.clone())]))
        .await
        .unwrap();
    store.commit_upload(&id, &digest).await.unwrap();
    for (start, end) in [(0u64, 1u64), (8 * 1024 * 1024 - 5, 8 * 1024 * 1024 + 5)] {
        let got = collect(
            store
                .read(&digest, Some(ByteRange { start, end }))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got, &data[start as usize..end as usize]);
    }
}

#[tokio::test]
async fn racing_appends_at_one_offset_let_exactly_one_win() {
    let config = config();
    let (a, b) = (store_at(&config), store_at(&config));
    let id = new_id();
    a.create_upload(&id).await.unwrap();
    let (ra, rb) = tokio::join!(
        a.append_upload(&id, 0, body_of(vec![Bytes::from_static(b"aaaa")])),
        b.append_upload(&id, 0, body_of(vec![Bytes::from_static(b"bbbbbb")])),
    );
    let wins = [&ra, &rb].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{ra:?} {rb:?}");
    for r in [&ra, &rb] {
        if let Err(e) = r {
            assert!(
                matches!(e, BlobStoreError::OffsetMismatch { expected: 0, .. }),
                "{e}"
            );
        }
    }
    let winner = if ra.is_ok() {
        &b"aaaa"[..]
    } else {
        &b"bbbbbb"[..]
    };
    assert_eq!(collect(a.read_upload(&id).await.unwrap()).await, winner);
    assert_eq!(b.upload_len(&id).await.unwrap(), winner.len() as u64);
}

#[tokio::test]
async fn presigned_urls_serve_committed_blobs_only_when_configured() {
    let plain = config();
    let digest = Digest::sha256_of(b"presigned bytes");
    let store = store_at(&plain);
    let id = new_id();
    store.create_upload(&id).await.unwrap();
    store
        .append_upload(
            &id,
            0,
            body_of(vec![Bytes::from_static(b"presigned bytes")]),
        )
        .await
        .unwrap();
    store.commit_upload(&id, &digest).await.unwrap();
    assert_eq!(store.read_url(&digest).await.unwrap(), None);

    let redirecting = store_at(&S3Config {
        redirect: Some(std::time::Duration::from_secs(60)),
        ..plain
    });
    let url = redirecting.read_url(&digest).await.unwrap().expect("a URL");
    let client = reqwest::Client::new();
    let answer = client.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200, "{url}");
    assert_eq!(answer.bytes().await.unwrap().as_ref(), b"presigned bytes");
    // The signature covers the key: the same query on another key is refused.
    let forged = url.replacen(digest.hex(), Digest::sha256_of(b"other").hex(), 1);
    assert_eq!(client.get(&forged).send().await.unwrap().status(), 403);
}
