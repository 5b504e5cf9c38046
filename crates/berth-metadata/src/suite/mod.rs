//! The behavioural suite every `MetadataStore` backend must pass; backends call `run_all` from
//! their own tests (SQLite here, PostgreSQL against a real server).

mod ancestry;
mod browse;
mod conditions;
mod coordination;
mod events;
mod operations;
#[cfg(feature = "postgres")]
pub mod postgres_schema;
mod referrers;
mod stats;

use berth_oci::{Digest, RepoName, Tag, UploadId};
use bytes::Bytes;

use crate::{MetadataError, MetadataStore, NewManifest, UploadRecord};

pub(crate) fn repo(name: &str) -> RepoName {
    name.parse().expect("valid name")
}

pub(crate) fn tag(name: &str) -> Tag {
    name.parse().expect("valid tag")
}

pub(crate) fn manifest(body: &str, blobs: Vec<Digest>, children: Vec<Digest>) -> NewManifest {
    NewManifest {
        digest: Digest::sha256_of(body.as_bytes()),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        body: Bytes::copy_from_slice(body.as_bytes()),
        artifact_type: None,
        subject: None,
        annotations_json: None,
        blobs,
        children,
        subject_must_exist: false,
        created_at: None,
    }
}

/// Runs every behaviour check against `store`, which must start empty.
pub async fn run_all(store: &dyn MetadataStore) {
    blob_links_are_per_repository(store).await;
    manifests_require_their_references(store).await;
    manifests_are_stored_byte_exact_with_tags(store).await;
    tags_list_in_lexical_order_with_paging(store).await;
    deleting_manifests_removes_their_tags(store).await;
    repositories_list_in_order(store).await;
    uploads_complete_into_links(store).await;
    referrers::referrers_are_indexed_by_subject(store).await;
    referrers::oras_order_is_newest_first_and_pages_stably(store).await;
    referrers::a_required_subject_must_be_a_manifest_of_the_repository(store).await;
    conditions::conditional_writes_test_their_target_in_the_transaction(store).await;
    conditions::the_catalog_lists_only_repositories_holding_manifests(store).await;
    collection_reads_edges_references_and_orphans(store).await;
    ancestry::the_ancestry_of_a_manifest_is_its_subjects_and_indexes(store).await;
    dry_run_reads_foresee_what_deleting_frees(store).await;
    coordination::locks_exclude_holders_of_the_same_name_only(store).await;
    coordination::the_clock_is_the_epoch_in_milliseconds(store).await;
    operations::blobs_list_in_digest_order_from_a_cursor(store).await;
    operations::quarantine_hides_a_blob_until_its_upload_completes(store).await;
    operations::checkpoints_are_saved_replaced_and_removed(store).await;
    operations::usage_splits_own_from_shared_bytes(store).await;
    stats::a_migrated_store_is_ready(store).await;
    stats::content_stats_count_manifests_blobs_and_referrers(store).await;
    events::changes_record_their_events_in_commit_order(store).await;
    events::cursors_dead_letters_and_pruning(store).await;
    browse::tag_pages_come_in_every_order_with_their_manifests(store).await;
    browse::referrers_are_counted_per_subject_and_type(store).await;
    browse::repositories_are_searched_and_summarised(store).await;
}

async fn blob_links_are_per_repository(store: &dyn MetadataStore) {
    let (a, b) = (repo("links/a"), repo("links/b"));
    let digest = Digest::sha256_of(b"blob");
    assert!(!store.repository_exists(&a).await.unwrap());
    store.link_blob(&a, &digest, 4).await.unwrap();
    store.link_blob(&a, &digest, 4).await.unwrap();
    assert!(store.repository_exists(&a).await.unwrap());
    assert_eq!(store.linked_blob_size(&a, &digest).await.unwrap(), Some(4));
    assert_eq!(store.linked_blob_size(&b, &digest).await.unwrap(), None);
    assert_eq!(store.blob_size(&digest).await.unwrap(), Some(4));
    assert_eq!(
        store.repositories_with_blob(&digest).await.unwrap(),
        vec![a.clone()]
    );
    assert!(store.unlink_blob(&a, &digest).await.unwrap());
    assert!(!store.unlink_blob(&a, &digest).await.unwrap());
    assert_eq!(store.linked_blob_size(&a, &digest).await.unwrap(), None);
}

async fn manifests_require_their_references(store: &dyn MetadataStore) {
    let r = repo("refs/app");
    let layer = Digest::sha256_of(b"layer");
    let m = manifest("{\"m\":1}", vec![layer.clone()], vec![]);
    let err = store
        .put_manifest(&r, &m, &[tag("v1")], None)
        .await
        .unwrap_err();
    assert!(matches!(err, MetadataError::MissingBlob(d) if d == layer));
    assert!(store
        .manifest_by_tag(&r, &tag("v1"))
        .await
        .unwrap()
        .is_none());
    store.link_blob(&r, &layer, 5).await.unwrap();
    store
        .put_manifest(&r, &m, &[tag("v1")], None)
        .await
        .unwrap();
    let missing_child = Digest::sha256_of(b"absent");
    let index = manifest(
        "{\"i\":1}",
        vec![],
        vec![m.digest.clone(), missing_child.clone()],
    );
    let err = store.put_manifest(&r, &index, &[], None).await.unwrap_err();
    assert!(matches!(err, MetadataError::MissingChild(d) if d == missing_child));
    let index = manifest("{\"i\":2}", vec![], vec![m.digest.clone()]);
    store
        .put_manifest(&r, &index, &[tag("multi")], None)
        .await
        .unwrap();
    let other = repo("refs/other");
    assert!(matches!(
        store.put_manifest(&other, &m, &[], None).await,
        Err(MetadataError::MissingBlob(_))
    ));
}

async fn manifests_are_stored_byte_exact_with_tags(store: &dyn MetadataStore) {
    let r = repo("exact");
    let body = "{ \"schemaVersion\" : 2,\n  \"weird\":  [1,2] }";
    let m = manifest(body, vec![], vec![]);
    store
        .put_manifest(&r, &m, &[tag("a"), tag("b")], None)
        .await
        .unwrap();
    for t in ["a", "b"] {
        let got = store.manifest_by_tag(&r, &tag(t)).await.unwrap().unwrap();
        assert_eq!(got.body, body.as_bytes());
        assert_eq!(got.digest, m.digest);
    }
    let by_digest = store
        .manifest_by_digest(&r, &m.digest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        by_digest.media_type,
        "application/vnd.oci.image.manifest.v1+json"
    );
    let moved = manifest("{\"moved\":true}", vec![], vec![]);
    store
        .put_manifest(&r, &moved, &[tag("a")], None)
        .await
        .unwrap();
    assert_eq!(
        store
            .manifest_by_tag(&r, &tag("a"))
            .await
            .unwrap()
            .unwrap()
            .digest,
        moved.digest
    );
    store.put_manifest(&r, &m, &[], None).await.unwrap();
    assert_eq!(
        store
            .manifest_by_tag(&r, &tag("b"))
            .await
            .unwrap()
            .unwrap()
            .digest,
        m.digest
    );
}

async fn tags_list_in_lexical_order_with_paging(store: &dyn MetadataStore) {
    let r = repo("tags");
    let m = manifest("{\"tags\":1}", vec![], vec![]);
    let names = ["b", "A", "a", "C", "10", "1", "_x", "B"];
    let tags: Vec<Tag> = names.iter().map(|n| tag(n)).collect();
    store.put_manifest(&r, &m, &tags, None).await.unwrap();
    let all = store.list_tags(&r, None, 100).await.unwrap();
    assert_eq!(
        all,
        ["1", "10", "_x", "A", "a", "B", "b", "C"],
        "compared lowercased, ties by bytes"
    );
    let mut paged = Vec::new();
    let mut last: Option<String> = None;
    loop {
        let page = store.list_tags(&r, last.as_deref(), 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        last = page.last().cloned();
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert!(store
        .list_tags(&repo("tags/none"), None, 10)
        .await
        .unwrap()
        .is_empty());
}

async fn deleting_manifests_removes_their_tags(store: &dyn MetadataStore) {
    let r = repo("deletes");
    let m = manifest("{\"del\":1}", vec![], vec![]);
    store
        .put_manifest(&r, &m, &[tag("x"), tag("y")], None)
        .await
        .unwrap();
    assert!(store.delete_tag(&r, &tag("x"), None).await.unwrap());
    assert!(!store.delete_tag(&r, &tag("x"), None).await.unwrap());
    assert!(store
        .manifest_by_digest(&r, &m.digest)
        .await
        .unwrap()
        .is_some());
    assert!(store.delete_manifest(&r, &m.digest, None).await.unwrap());
    assert!(!store.delete_manifest(&r, &m.digest, None).await.unwrap());
    assert!(store
        .manifest_by_tag(&r, &tag("y"))
        .await
        .unwrap()
        .is_none());
    assert!(store.list_tags(&r, None, 10).await.unwrap().is_empty());
}

async fn repositories_list_in_order(store: &dyn MetadataStore) {
    let all = store.list_repositories(None, 1000).await.unwrap();
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    assert!(all.contains(&repo("exact")) && all.contains(&repo("refs/app")));
    let after = store.list_repositories(Some("exact"), 1).await.unwrap();
    assert_eq!(after.len(), 1);
    assert!(after[0].as_str() > "exact");
}

async fn uploads_complete_into_links(store: &dyn MetadataStore) {
    let r = repo("uploads/app");
    let id: UploadId = "11111111-2222-4333-8444-555555555555".parse().unwrap();
    let record = UploadRecord {
        id: id.clone(),
        repo: r.clone(),
        created_at: 1_000,
    };
    store.create_upload(&record).await.unwrap();
    assert_eq!(store.upload(&id).await.unwrap(), Some(record.clone()));
    assert_eq!(
        store.uploads_created_before(1_001).await.unwrap(),
        vec![record]
    );
    assert!(store
        .uploads_created_before(1_000)
        .await
        .unwrap()
        .is_empty());
    let digest = Digest::sha256_of(b"uploaded");
    assert!(store.complete_upload(&id, &digest, 8).await.unwrap());
    assert!(!store.complete_upload(&id, &digest, 8).await.unwrap());
    assert_eq!(store.linked_blob_size(&r, &digest).await.unwrap(), Some(8));
    assert!(store.upload(&id).await.unwrap().is_none());
    assert!(!store.delete_upload(&id).await.unwrap());
}

async fn collection_reads_edges_references_and_orphans(store: &dyn MetadataStore) {
    let r = repo("collect/app");
    let shared = Digest::sha256_of(b"shared layer");
    let only_first = Digest::sha256_of(b"first's own layer");
    store.link_blob(&r, &shared, 6).await.unwrap();
    store.link_blob(&r, &only_first, 7).await.unwrap();
    let first = manifest(
        "{\"c\":1}",
        vec![shared.clone(), only_first.clone()],
        vec![],
    );
    let second = manifest("{\"c\":2}", vec![shared.clone()], vec![]);
    store
        .put_manifest(&r, &first, &[tag("v1")], None)
        .await
        .unwrap();
    store.put_manifest(&r, &second, &[], None).await.unwrap();
    let index = manifest(
        "{\"c\":3}",
        vec![],
        vec![first.digest.clone(), second.digest.clone()],
    );
    store
        .put_manifest(&r, &index, &[tag("multi")], None)
        .await
        .unwrap();
    let mut sig = manifest("{\"c\":4}", vec![], vec![]);
    sig.subject = Some(second.digest.clone());
    store.put_manifest(&r, &sig, &[], None).await.unwrap();

    let graph = store.manifest_graph(&r).await.unwrap();
    let mut digests: Vec<_> = graph.manifests.iter().map(|m| m.digest.clone()).collect();
    digests.sort();
    let mut expected = vec![
        first.digest.clone(),
        second.digest.clone(),
        index.digest.clone(),
        sig.digest.clone(),
    ];
    expected.sort();
    assert_eq!(digests, expected);
    assert_eq!(graph.tags.len(), 2);
    assert_eq!(graph.children.len(), 2);
    let sig_node = |graph: &crate::ManifestGraph| {
        graph
            .manifests
            .iter()
            .find(|m| m.digest == sig.digest)
            .cloned()
            .unwrap()
    };
    assert_eq!(sig_node(&graph).subject, Some(second.digest.clone()));
    assert_eq!(sig_node(&graph).subject_deleted_at, None);

    let unreferenced = || async {
        let mut links: Vec<Digest> = store
            .unreferenced_links(i64::MAX)
            .await
            .unwrap()
            .into_iter()
            .filter(|(repo, _)| *repo == r)
            .map(|(_, digest)| digest)
            .collect();
        links.sort();
        links
    };
    assert!(unreferenced().await.is_empty());
    let before_delete = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(store
        .delete_manifest(&r, &index.digest, None)
        .await
        .unwrap());
    assert!(store
        .delete_manifest(&r, &second.digest, None)
        .await
        .unwrap());
    let orphaned_at = sig_node(&store.manifest_graph(&r).await.unwrap()).subject_deleted_at;
    assert!(
        orphaned_at.is_some_and(|at| at >= before_delete),
        "deleting the subject records when: {orphaned_at:?}"
    );
    assert!(
        unreferenced().await.is_empty(),
        "the first manifest still references both layers"
    );
    assert!(store
        .delete_manifest(&r, &first.digest, None)
        .await
        .unwrap());
    let mut both = vec![shared.clone(), only_first.clone()];
    both.sort();
    assert_eq!(unreferenced().await, both);
    assert!(store
        .unlink_unreferenced(&r, &shared, i64::MAX)
        .await
        .unwrap());
    assert!(store
        .unlinked_blobs(i64::MAX)
        .await
        .unwrap()
        .contains(&(shared.clone(), 6)));
    store
        .put_manifest(&r, &second, &[], None)
        .await
        .unwrap_err();
    store.link_blob(&r, &shared, 6).await.unwrap();
    store.put_manifest(&r, &second, &[], None).await.unwrap();
    assert!(
        !store
            .unlink_unreferenced(&r, &shared, i64::MAX)
            .await
            .unwrap(),
        "a manifest references the blob again"
    );
}

/// `links_unreferenced_without` and `blobs_unlinked_without` list exactly what deleting the
/// manifests, then unlinking, would make `unreferenced_links` and `unlinked_blobs` add.
async fn dry_run_reads_foresee_what_deleting_frees(store: &dyn MetadataStore) {
    let (a, b) = (repo("foresee/a"), repo("foresee/b"));
    let shared = Digest::sha256_of(b"foresee: layer in both repositories");
    let own = Digest::sha256_of(b"foresee: layer only a's first image uses");
    let common = Digest::sha256_of(b"foresee: layer both of a's images use");
    for (r, blob, size) in [
        (&a, &shared, 1),
        (&b, &shared, 1),
        (&a, &own, 2),
        (&a, &common, 3),
    ] {
        store.link_blob(r, blob, size).await.unwrap();
    }
    let first = manifest(
        "{\"foresee\":1}",
        vec![shared.clone(), own.clone(), common.clone()],
        vec![],
    );
    let second = manifest("{\"foresee\":2}", vec![common.clone()], vec![]);
    let in_b = manifest("{\"foresee\":3}", vec![shared.clone()], vec![]);
    store.put_manifest(&a, &first, &[], None).await.unwrap();
    store.put_manifest(&a, &second, &[], None).await.unwrap();
    store.put_manifest(&b, &in_b, &[], None).await.unwrap();
    let sorted = |mut digests: Vec<Digest>| {
        digests.sort();
        digests
    };
    let absent = Digest::sha256_of(b"foresee: never pushed");
    let foreseen = store
        .links_unreferenced_without(
            &a,
            &[first.digest.clone(), first.digest.clone(), absent],
            i64::MAX,
        )
        .await
        .unwrap();
    assert_eq!(
        foreseen,
        sorted(vec![shared.clone(), own.clone()]),
        "the second image still references the common layer"
    );
    assert!(store
        .links_unreferenced_without(&a, std::slice::from_ref(&first.digest), 0)
        .await
        .unwrap()
        .is_empty());
    let both = [first.digest.clone(), second.digest.clone()];
    let all_of_a = store
        .links_unreferenced_without(&a, &both, i64::MAX)
        .await
        .unwrap();
    assert_eq!(
        all_of_a,
        sorted(vec![shared.clone(), own.clone(), common.clone()])
    );

    let links: Vec<(RepoName, Digest)> = all_of_a.iter().map(|d| (a.clone(), d.clone())).collect();
    let blobs = store
        .blobs_unlinked_without(&links, i64::MAX)
        .await
        .unwrap();
    let mut expected = vec![(own.clone(), 2), (common.clone(), 3)];
    expected.sort();
    assert_eq!(blobs, expected, "b still links the shared layer");
    assert!(store
        .blobs_unlinked_without(&links, 0)
        .await
        .unwrap()
        .is_empty());

    // What a real run then does agrees.
    for digest in &both {
        assert!(store.delete_manifest(&a, digest, None).await.unwrap());
    }
    let mut unreferenced: Vec<Digest> = store
        .unreferenced_links(i64::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|(r, _)| *r == a)
        .map(|(_, d)| d)
        .collect();
    unreferenced.sort();
    assert_eq!(unreferenced, all_of_a);
    for digest in &all_of_a {
        assert!(store
            .unlink_unreferenced(&a, digest, i64::MAX)
            .await
            .unwrap());
    }
    let unlinked = store.unlinked_blobs(i64::MAX).await.unwrap();
    for blob in &blobs {
        assert!(unlinked.contains(blob), "{blob:?} in {unlinked:?}");
    }
    assert!(!unlinked.iter().any(|(d, _)| *d == shared));
    let from_b = [(b.clone(), shared.clone())];
    assert_eq!(
        store
            .blobs_unlinked_without(&from_b, i64::MAX)
            .await
            .unwrap(),
        vec![(shared.clone(), 1)],
        "b's link is the last one left; the read asks about links, not references"
    );
}
