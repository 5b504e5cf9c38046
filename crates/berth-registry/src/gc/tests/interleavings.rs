//! Collections interleaved with clients at named pause points: whatever a client does while a
//! collection stands between reading and deleting, what the client pushed stays whole, or its
//! push fails cleanly.

use std::time::Duration;

use berth_oci::{Digest, Reference};
use bytes::Bytes;
use futures::TryStreamExt;
use tokio::task::JoinHandle;

use super::*;
use crate::pauses::Pause;

/// Starts a collection that will stop at `point`, and returns once it stands there.
async fn collect_until(
    f: &Fixture,
    point: &'static str,
    options: GcOptions,
) -> (Pause, JoinHandle<GcReport>) {
    // Everything pushed so far is past the zero grace period.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut pause = f.registry.pauses.arm(point);
    let registry = f.registry.clone();
    let collection = tokio::spawn(async move { registry.gc(&options).await.unwrap() });
    pause.reached().await;
    (pause, collection)
}

async fn blob_bytes(f: &Fixture, digest: &Digest) -> Bytes {
    let read = f.registry.read_blob(&f.repo, digest, None).await.unwrap();
    let chunks: Vec<Bytes> = read.body.try_collect().await.unwrap();
    chunks.concat().into()
}

async fn pull_by_tag(f: &Fixture, tag: &str) -> Bytes {
    let reference = Reference::Tag(tag.parse().unwrap());
    f.registry
        .get_manifest(&f.repo, &reference)
        .await
        .unwrap()
        .body
}

async fn a_tag_pushed_after_marking_saves_the_manifest_and_its_blobs() {
    let f = fixture().await;
    let layer = push_blob(&f.registry, &f.repo, b"layer of an untagged image").await;
    let body = manifest(&f.config, &[&layer], None, "untagged for now");
    let image = f.put("", body.clone()).await;
    let (pause, collection) = collect_until(
        &f,
        "gc.manifests_marked",
        now(Untagged::Delete, OrphanedReferrers::Delete),
    )
    .await;
    f.put("late", body.clone()).await;
    pause.resume();
    let report = collection.await.unwrap();
    assert_eq!(report.manifests_deleted, 0, "{report:?}");
    assert_eq!(report.blobs_deleted, 0, "{report:?}");
    assert_eq!(pull_by_tag(&f, "late").await, body);
    assert!(f.exists(&image).await);
    assert_eq!(
        blob_bytes(&f, &layer).await,
        &b"layer of an untagged image"[..]
    );
}

async fn an_index_pushed_after_marking_saves_its_children() {
    let f = fixture().await;
    let platform = f.image("", "platform").await;
    let (pause, collection) = collect_until(
        &f,
        "gc.manifests_marked",
        now(Untagged::Delete, OrphanedReferrers::Delete),
    )
    .await;
    let index = f.put("multi", index(&[&platform])).await;
    pause.resume();
    let report = collection.await.unwrap();
    assert_eq!(report.manifests_deleted, 0, "{report:?}");
    assert!(f.exists(&index).await && f.exists(&platform).await);
}

async fn a_subject_pushed_again_after_marking_keeps_its_referrers() {
    let f = fixture().await;
    let image_body = manifest(&f.config, &[], None, "image");
    let image = f.put("v1", image_body.clone()).await;
    let sig = f.referrer(&image, "sig").await;
    f.delete(&f.repo, &image).await;
    let (pause, collection) = collect_until(
        &f,
        "gc.manifests_marked",
        now(Untagged::Keep, OrphanedReferrers::Delete),
    )
    .await;
    f.put("v1", image_body).await;
    pause.resume();
    let report = collection.await.unwrap();
    assert_eq!(report.manifests_deleted, 0, "{report:?}");
    assert!(f.exists(&sig).await);
    let listed = f
        .registry
        .referrers(
            &f.repo,
            &image,
            &[],
            berth_metadata::ReferrerOrder::Digest,
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(listed.referrers.len(), 1);
}

async fn a_manifest_pushed_after_links_were_listed_keeps_its_blob() {
    let f = fixture().await;
    let layer = push_blob(&f.registry, &f.repo, b"uploaded, not yet used").await;
    let (pause, collection) = collect_until(
        &f,
        "gc.links_listed",
        now(Untagged::Keep, OrphanedReferrers::Delete),
    )
    .await;
    let body = manifest(&f.config, &[&layer], None, "uses the layer");
    f.put("v2", body.clone()).await;
    pause.resume();
    let report = collection.await.unwrap();
    assert_eq!(report.links_removed + report.blobs_deleted, 0, "{report:?}");
    assert_eq!(pull_by_tag(&f, "v2").await, body);
    assert_eq!(blob_bytes(&f, &layer).await, &b"uploaded, not yet used"[..]);
}

async fn a_blob_uploaded_again_after_candidates_were_listed_is_kept() {
    let f = fixture().await;
    let layer = push_blob(&f.registry, &f.repo, b"unlinked, then wanted").await;
    f.registry.delete_blob(&f.repo, &layer).await.unwrap();
    let (pause, collection) = collect_until(
        &f,
        "gc.blobs_listed",
        now(Untagged::Keep, OrphanedReferrers::Delete),
    )
    .await;
    push_blob(&f.registry, &f.repo, b"unlinked, then wanted").await;
    pause.resume();
    let report = collection.await.unwrap();
    assert!(!report.blobs.contains(&layer.to_string()), "{report:?}");
    assert_eq!(blob_bytes(&f, &layer).await, &b"unlinked, then wanted"[..]);
}

/// The collector holds the blob's lock from forgetting it to deleting its bytes: an upload of
/// the same digest waits, then stores the bytes again, so the blob ends up whole.
async fn an_upload_racing_the_deletion_of_its_blob_waits_and_stores_it_again() {
    let f = fixture().await;
    // The config blob stays linked, so that the layer is the one blob the collection deletes
    // and the deletion the armed pause stops (it stops only the first to reach it).
    f.put("v1", manifest(&f.config, &[], None, "keeps the config"))
        .await;
    let bytes = b"deleted, and uploaded again meanwhile";
    let layer = push_blob(&f.registry, &f.repo, bytes).await;
    f.registry.delete_blob(&f.repo, &layer).await.unwrap();
    let (pause, collection) = collect_until(
        &f,
        "gc.blob_forgotten",
        now(Untagged::Keep, OrphanedReferrers::Delete),
    )
    .await;
    let upload = {
        let (registry, repo) = (f.registry.clone(), f.repo.clone());
        tokio::spawn(async move { push_blob(&registry, &repo, bytes).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !upload.is_finished(),
        "the upload waits for the collector's lock"
    );
    pause.resume();
    let report = collection.await.unwrap();
    assert_eq!(report.blobs, [layer.to_string()], "{report:?}");
    upload.await.unwrap();
    assert_eq!(blob_bytes(&f, &layer).await, &bytes[..]);
    let body = manifest(&f.config, &[&layer], None, "after the race");
    f.put("v3", body.clone()).await;
    assert_eq!(pull_by_tag(&f, "v3").await, body);
}

async fn a_collection_asked_for_while_one_runs_waits_for_it() {
    let f = fixture().await;
    let image = f.image("v1", "image").await;
    let sig = f.referrer(&image, "sig").await;
    f.delete(&f.repo, &image).await;
    let options = now(Untagged::Keep, OrphanedReferrers::Delete);
    let (pause, first) = collect_until(&f, "gc.manifests_marked", options.clone()).await;
    let second = {
        let registry = f.registry.clone();
        tokio::spawn(async move { registry.gc(&options).await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!second.is_finished(), "the second collection waits");
    pause.resume();
    let first = first.await.unwrap();
    let second = second.await.unwrap();
    assert_eq!(first.manifests, vec![CollectedManifest::new(&f.repo, &sig)]);
    assert_eq!(second.manifests_deleted, 0, "nothing was left for it");
}

crate::test_backends::on_both_backends!(
    a_tag_pushed_after_marking_saves_the_manifest_and_its_blobs,
    an_index_pushed_after_marking_saves_its_children,
    a_subject_pushed_again_after_marking_keeps_its_referrers,
    a_manifest_pushed_after_links_were_listed_keeps_its_blob,
    a_blob_uploaded_again_after_candidates_were_listed_is_kept,
    an_upload_racing_the_deletion_of_its_blob_waits_and_stores_it_again,
    a_collection_asked_for_while_one_runs_waits_for_it,
);

/// On shared metadata a blob lock is a database session. When that session ends (a broken
/// connection) while the collector stands between forgetting a blob and deleting its bytes,
/// another node may take the lock, find the bytes, keep them and record the blob again; the
/// collector must then leave the bytes alone.
async fn a_blob_whose_lock_session_ends_before_its_deletion_keeps_its_bytes() {
    let f = fixture().await;
    f.image("keeps-config", "the config stays linked").await;
    let bytes = b"forgotten, then recorded again by another node";
    let layer = push_blob(&f.registry, &f.repo, bytes).await;
    f.registry.delete_blob(&f.repo, &layer).await.unwrap();
    let (pause, collection) = collect_until(
        &f,
        "gc.blob_forgotten",
        now(Untagged::Keep, OrphanedReferrers::Delete),
    )
    .await;
    let Place::Shared { prefix, .. } = &f._place else {
        panic!("a scale-out fixture");
    };
    let schema = prefix
        .strip_prefix("registry-tests/")
        .expect("the test prefix");
    let ended = berth_metadata::suite::postgres_schema::terminate_lock_holders(
        schema,
        &berth_metadata::LockName::Blob(&layer),
    )
    .await;
    assert_eq!(ended, 1, "the collector's session held the blob's lock");
    let other_node = {
        let (blobs, meta) = f._place.open().await;
        Registry::new(blobs, meta, crate::RegistryConfig::default())
    };
    push_blob(&other_node, &f.repo, bytes).await;
    pause.resume();
    let report = collection.await.unwrap();
    assert!(!report.blobs.contains(&layer.to_string()), "{report:?}");
    assert_eq!(blob_bytes(&f, &layer).await, &bytes[..]);
    let body = manifest(&f.config, &[&layer], None, "uses the blob");
    f.put("v1", body.clone()).await;
    assert_eq!(pull_by_tag(&f, "v1").await, body);
    assert_eq!(blob_bytes(&f, &layer).await, &bytes[..]);
}

/// The window that remains: the lock's session ends after the collector checked it, and
/// another node records the blob before the deletion lands. The collector notices afterwards
/// and quarantines the blob, so that it is not served without bytes and a push restores it.
async fn a_blob_recorded_while_its_bytes_were_being_deleted_is_quarantined() {
    let f = fixture().await;
    f.image("keeps-config", "the config stays linked").await;
    let bytes = b"deleted while another node recorded it";
    let layer = push_blob(&f.registry, &f.repo, bytes).await;
    f.registry.delete_blob(&f.repo, &layer).await.unwrap();
    let (pause, collection) = collect_until(
        &f,
        "gc.blob_lock_checked",
        now(Untagged::Keep, OrphanedReferrers::Delete),
    )
    .await;
    let Place::Shared { prefix, .. } = &f._place else {
        panic!("a scale-out fixture");
    };
    let schema = prefix
        .strip_prefix("registry-tests/")
        .expect("the test prefix");
    let ended = berth_metadata::suite::postgres_schema::terminate_lock_holders(
        schema,
        &berth_metadata::LockName::Blob(&layer),
    )
    .await;
    assert_eq!(ended, 1, "the collector's session held the blob's lock");
    let other_node = {
        let (blobs, meta) = f._place.open().await;
        Registry::new(blobs, meta, crate::RegistryConfig::default())
    };
    push_blob(&other_node, &f.repo, bytes).await;
    pause.resume();
    let report = collection.await.unwrap();
    assert!(report.blobs.contains(&layer.to_string()), "{report:?}");
    let quarantined = f.registry.meta.quarantined_blobs().await.unwrap();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert!(f.registry.read_blob(&f.repo, &layer, None).await.is_err());
    push_blob(&other_node, &f.repo, bytes).await;
    assert_eq!(blob_bytes(&f, &layer).await, &bytes[..]);
}

/// Sessions that can end behind a lock's back exist only on shared metadata.
mod scale_out_only {
    #[tokio::test]
    async fn a_blob_recorded_while_its_bytes_were_being_deleted_is_quarantined() {
        crate::test_backends::run(
            crate::test_backends::Backend::ScaleOut,
            super::a_blob_recorded_while_its_bytes_were_being_deleted_is_quarantined(),
        )
        .await
    }

    #[tokio::test]
    async fn a_blob_whose_lock_session_ends_before_its_deletion_keeps_its_bytes() {
        crate::test_backends::run(
            crate::test_backends::Backend::ScaleOut,
            super::a_blob_whose_lock_session_ends_before_its_deletion_keeps_its_bytes(),
        )
        .await
    }
}
