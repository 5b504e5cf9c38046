//! Conditional writes and what the catalog lists.

use std::sync::{Arc, Mutex};

use berth_oci::{Digest, Reference};

use super::{manifest, repo, tag};
use crate::{CurrentState, MetadataError, MetadataStore, Precondition};

/// A precondition on `target` that holds when the target names `expected` (`None`: absent),
/// and records the state it was shown.
fn expecting(target: Reference, expected: Option<Digest>) -> (Precondition, Arc<Mutex<Vec<i64>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let precondition = Precondition {
        target,
        holds: Arc::new(move |current: Option<CurrentState<'_>>| {
            if let Some(c) = current {
                record.lock().unwrap().push(c.modified_at);
            }
            current.map(|c| c.digest.clone()) == expected
        }),
    };
    (precondition, seen)
}

fn failed(result: Result<impl std::fmt::Debug, MetadataError>) -> bool {
    matches!(result, Err(MetadataError::PreconditionFailed(_)))
}

pub async fn conditional_writes_test_their_target_in_the_transaction(store: &dyn MetadataStore) {
    let r = repo("conditions/app");
    let t = tag("current");
    let on_tag = Reference::Tag(t.clone());
    let (first, second, third) = (
        manifest("{\"conditional\":1}", vec![], vec![]),
        manifest("{\"conditional\":2}", vec![], vec![]),
        manifest("{\"conditional\":3}", vec![], vec![]),
    );
    let (absent, _) = expecting(on_tag.clone(), None);
    store
        .put_manifest(&r, &first, std::slice::from_ref(&t), Some(&absent))
        .await
        .unwrap();
    let tagged = || async { store.manifest_by_tag(&r, &t).await.unwrap().unwrap() };
    assert!(
        failed(
            store
                .put_manifest(&r, &second, std::slice::from_ref(&t), Some(&absent))
                .await
        ),
        "the tag exists now"
    );
    assert_eq!(tagged().await.digest, first.digest);
    assert!(
        store
            .manifest_by_digest(&r, &second.digest)
            .await
            .unwrap()
            .is_none(),
        "a refused push stores nothing"
    );
    let moved_at = tagged().await.modified_at;
    let (on_first, seen) = expecting(on_tag.clone(), Some(first.digest.clone()));
    store
        .put_manifest(&r, &second, std::slice::from_ref(&t), Some(&on_first))
        .await
        .unwrap();
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        &[moved_at],
        "shown when the tag last moved"
    );
    assert!(
        failed(
            store
                .put_manifest(&r, &third, std::slice::from_ref(&t), Some(&on_first))
                .await
        ),
        "a stale expectation loses"
    );
    assert_eq!(tagged().await.digest, second.digest);
    assert!(failed(store.delete_tag(&r, &t, Some(&on_first)).await));
    let (on_second, _) = expecting(on_tag, Some(second.digest.clone()));
    assert!(store.delete_tag(&r, &t, Some(&on_second)).await.unwrap());

    let on_digest = Reference::Digest(first.digest.clone());
    let (gone, _) = expecting(on_digest.clone(), None);
    assert!(failed(
        store.delete_manifest(&r, &first.digest, Some(&gone)).await
    ));
    let (present, seen) = expecting(on_digest, Some(first.digest.clone()));
    assert!(store
        .delete_manifest(&r, &first.digest, Some(&present))
        .await
        .unwrap());
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "shown the manifest's push time"
    );
}

pub async fn the_catalog_lists_only_repositories_holding_manifests(store: &dyn MetadataStore) {
    let (kept, emptied, blobs_only) = (
        repo("catalog/kept"),
        repo("catalog/emptied"),
        repo("catalog/blobs-only"),
    );
    let m = manifest("{\"catalog\":1}", vec![], vec![]);
    store
        .put_manifest(&kept, &m, &[tag("v1")], None)
        .await
        .unwrap();
    store
        .put_manifest(&emptied, &m, &[tag("v1")], None)
        .await
        .unwrap();
    store
        .link_blob(&blobs_only, &Digest::sha256_of(b"layer"), 5)
        .await
        .unwrap();
    let listed = || async {
        store
            .list_repositories(Some("catalog/"), 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.as_str().starts_with("catalog/"))
            .collect::<Vec<_>>()
    };
    assert_eq!(listed().await, vec![emptied.clone(), kept.clone()]);
    assert!(store
        .delete_manifest(&emptied, &m.digest, None)
        .await
        .unwrap());
    assert_eq!(listed().await, vec![kept]);
    assert!(
        store.repository_exists(&emptied).await.unwrap(),
        "the repository is still known (its blobs stay linked until a collection)"
    );
}
