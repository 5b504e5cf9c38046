//! Readiness and content counts: what every backend's `check_ready` and `content_stats` promise.

use berth_oci::Digest;

use super::{manifest, repo, tag};
use crate::{ContentStats, MetadataStore, NO_ARTIFACT_TYPE};

/// The count of `kind` among the referrers, zero when not listed.
fn referrers_of(stats: &ContentStats, kind: &str) -> u64 {
    stats
        .referrers
        .iter()
        .find(|(k, _)| k == kind)
        .map_or(0, |(_, n)| *n)
}

pub async fn a_migrated_store_is_ready(store: &dyn MetadataStore) {
    store
        .check_ready()
        .await
        .expect("a migrated store is ready");
}

/// Pushes two blobs, a manifest using one of them and three referrers (two of one type, one
/// of none), and checks that the counts moved by exactly that, whatever the store held.
pub async fn content_stats_count_manifests_blobs_and_referrers(store: &dyn MetadataStore) {
    let before = store.content_stats().await.unwrap();
    let r = repo("stats/app");
    let (small, large) = (
        Digest::sha256_of(b"stats small"),
        Digest::sha256_of(b"stats large"),
    );
    store.link_blob(&r, &small, 11).await.unwrap();
    store.link_blob(&r, &large, 1_000).await.unwrap();
    // Linking the same blob into another repository stores no new blob.
    store
        .link_blob(&repo("stats/other"), &small, 11)
        .await
        .unwrap();
    let image = manifest("{\"stats\":\"image\"}", vec![small.clone()], vec![]);
    store
        .put_manifest(&r, &image, &[tag("v1")], None)
        .await
        .unwrap();
    let kinds = [
        Some("application/vnd.example.stats"),
        Some("application/vnd.example.stats"),
        None,
    ];
    for (i, kind) in kinds.iter().enumerate() {
        let mut referrer = manifest(&format!("{{\"stats referrer\":{i}}}"), vec![], vec![]);
        referrer.subject = Some(image.digest.clone());
        referrer.artifact_type = kind.map(str::to_owned);
        store.put_manifest(&r, &referrer, &[], None).await.unwrap();
    }
    let after = store.content_stats().await.unwrap();
    assert_eq!(
        after.manifests - before.manifests,
        4,
        "{before:?} -> {after:?}"
    );
    assert_eq!(after.blobs - before.blobs, 2, "{before:?} -> {after:?}");
    assert_eq!(
        after.blob_bytes - before.blob_bytes,
        1_011,
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        referrers_of(&after, "application/vnd.example.stats")
            - referrers_of(&before, "application/vnd.example.stats"),
        2
    );
    assert_eq!(
        referrers_of(&after, NO_ARTIFACT_TYPE) - referrers_of(&before, NO_ARTIFACT_TYPE),
        1
    );
    assert!(store
        .delete_manifest(&r, &image.digest, None)
        .await
        .unwrap());
    let deleted = store.content_stats().await.unwrap();
    assert_eq!(after.manifests - deleted.manifests, 1);
}
