//! The operator's tasks: the scrub's walk over blobs, quarantine, checkpoints, and storage
//! usage.

use berth_oci::{Digest, UploadId};

use super::{manifest, repo, tag};
use crate::{MetadataError, MetadataStore, UploadRecord};

pub async fn blobs_list_in_digest_order_from_a_cursor(store: &dyn MetadataStore) {
    let r = repo("scrub/walk");
    let mut digests: Vec<Digest> = (0..5u8)
        .map(|i| Digest::sha256_of(format!("walk {i}").as_bytes()))
        .collect();
    for (i, d) in digests.iter().enumerate() {
        store.link_blob(&r, d, i as u64 + 10).await.unwrap();
    }
    // A blob no repository links any more is still recorded, so the walk checks it too.
    assert!(store.unlink_blob(&r, &digests[4]).await.unwrap());
    digests.sort();
    let mut walked = Vec::new();
    let mut after: Option<Digest> = None;
    loop {
        let page = store.blobs_after(after.as_ref(), 2).await.unwrap();
        assert!(page.len() <= 2);
        let Some((last, _)) = page.last().cloned() else {
            break;
        };
        walked.extend(page);
        after = Some(last);
    }
    let ours: Vec<Digest> = walked
        .iter()
        .map(|(d, _)| d.clone())
        .filter(|d| digests.contains(d))
        .collect();
    assert_eq!(ours, digests, "every recorded blob, in digest order");
    assert!(walked.windows(2).all(|w| w[0].0 < w[1].0));
    let sizes: Vec<u64> = walked
        .iter()
        .filter(|(d, _)| digests.contains(d))
        .map(|(_, s)| *s)
        .collect();
    assert!(sizes.iter().all(|s| (10..15).contains(s)));
}

pub async fn quarantine_hides_a_blob_until_its_upload_completes(store: &dyn MetadataStore) {
    let (a, b) = (repo("scrub/quarantine-a"), repo("scrub/quarantine-b"));
    let bad = Digest::sha256_of(b"quarantined");
    let good = Digest::sha256_of(b"healthy");
    for r in [&a, &b] {
        store.link_blob(r, &bad, 11).await.unwrap();
        store.link_blob(r, &good, 7).await.unwrap();
    }
    store.quarantine_blob(&bad, "missing").await.unwrap();
    store
        .quarantine_blob(&bad, "bytes hash to sha256:00")
        .await
        .unwrap();
    for r in [&a, &b] {
        assert_eq!(store.linked_blob_size(r, &bad).await.unwrap(), None);
        assert_eq!(store.linked_blob_size(r, &good).await.unwrap(), Some(7));
    }
    // Still recorded and linked: the collector and the scrub keep seeing it.
    assert_eq!(store.blob_size(&bad).await.unwrap(), Some(11));
    assert_eq!(store.repositories_with_blob(&bad).await.unwrap().len(), 2);
    let listed = store.quarantined_blobs().await.unwrap();
    let entry = listed.iter().find(|q| q.digest == bad).expect("listed");
    assert_eq!(entry.reason, "bytes hash to sha256:00");
    assert!(entry.quarantined_at > 0);
    assert!(!listed.iter().any(|q| q.digest == good));
    // A manifest cannot take up a quarantined blob: its pulls would fail.
    let uses_bad = manifest(
        "{\"uses\":\"quarantined\"}",
        vec![good.clone(), bad.clone()],
        vec![],
    );
    assert!(matches!(
        store.put_manifest(&a, &uses_bad, &[], None).await,
        Err(MetadataError::MissingBlob(d)) if d == bad
    ));

    // The right bytes pushed again (to either repository) lift it everywhere.
    let id: UploadId = "22222222-3333-4444-8555-666666666666".parse().unwrap();
    store
        .create_upload(&UploadRecord {
            id: id.clone(),
            repo: b.clone(),
            created_at: 1,
        })
        .await
        .unwrap();
    assert!(store.complete_upload(&id, &bad, 11).await.unwrap());
    for r in [&a, &b] {
        assert_eq!(store.linked_blob_size(r, &bad).await.unwrap(), Some(11));
    }
    store.put_manifest(&a, &uses_bad, &[], None).await.unwrap();
    assert!(!store
        .quarantined_blobs()
        .await
        .unwrap()
        .iter()
        .any(|q| q.digest == bad));
}

pub async fn checkpoints_are_saved_replaced_and_removed(store: &dyn MetadataStore) {
    assert_eq!(store.checkpoint("suite-task").await.unwrap(), None);
    store
        .save_checkpoint("suite-task", Some("{\"after\":1}"))
        .await
        .unwrap();
    store
        .save_checkpoint("suite-other", Some("other"))
        .await
        .unwrap();
    store
        .save_checkpoint("suite-task", Some("{\"after\":2}"))
        .await
        .unwrap();
    assert_eq!(
        store.checkpoint("suite-task").await.unwrap().as_deref(),
        Some("{\"after\":2}")
    );
    store.save_checkpoint("suite-task", None).await.unwrap();
    store.save_checkpoint("suite-task", None).await.unwrap();
    assert_eq!(store.checkpoint("suite-task").await.unwrap(), None);
    assert_eq!(
        store.checkpoint("suite-other").await.unwrap().as_deref(),
        Some("other")
    );
}

pub async fn usage_splits_own_from_shared_bytes(store: &dyn MetadataStore) {
    let (a, b, empty) = (
        repo("usage/a"),
        repo("usage/b"),
        repo("usage/only-an-upload"),
    );
    let shared = Digest::sha256_of(b"usage: shared layer");
    let only_a = Digest::sha256_of(b"usage: a's config");
    let only_b = Digest::sha256_of(b"usage: b's config");
    store.link_blob(&a, &shared, 1000).await.unwrap();
    store.link_blob(&a, &only_a, 30).await.unwrap();
    store.link_blob(&b, &shared, 1000).await.unwrap();
    store.link_blob(&b, &only_b, 5).await.unwrap();
    let body_a = "{\"usage\":\"a\"}";
    let m = manifest(body_a, vec![shared.clone(), only_a.clone()], vec![]);
    store
        .put_manifest(&a, &m, &[tag("v1"), tag("latest")], None)
        .await
        .unwrap();
    store
        .create_upload(&UploadRecord {
            id: "33333333-4444-4555-8666-777777777777".parse().unwrap(),
            repo: empty.clone(),
            created_at: 1,
        })
        .await
        .unwrap();

    let usage = store.repository_usage().await.unwrap();
    let of = |r: &berth_oci::RepoName| usage.iter().find(|u| &u.repo == r).cloned();
    let ua = of(&a).expect("a listed");
    assert_eq!(
        (ua.manifests, ua.manifest_bytes, ua.tags),
        (1, body_a.len() as u64, 2)
    );
    assert_eq!((ua.blobs, ua.blob_bytes), (2, 1030));
    assert_eq!((ua.own_bytes, ua.shared_bytes), (30, 1000));
    let ub = of(&b).expect("b listed");
    assert_eq!((ub.manifests, ub.manifest_bytes, ub.tags), (0, 0, 0));
    assert_eq!((ub.blobs, ub.blob_bytes), (2, 1005));
    assert_eq!((ub.own_bytes, ub.shared_bytes), (5, 1000));
    assert_eq!(
        of(&empty),
        None,
        "a repository with no content is not listed"
    );
    let names: Vec<_> = usage.iter().map(|u| u.repo.as_str().to_owned()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // Once b lets go of the shared layer, it is a's own.
    assert!(store.unlink_blob(&b, &shared).await.unwrap());
    let usage = store.repository_usage().await.unwrap();
    let ua = usage.iter().find(|u| u.repo == a).unwrap();
    assert_eq!((ua.own_bytes, ua.shared_bytes), (1030, 0));
}
