//! The ancestry graph: what decides whether some manifests live, and nothing else.

use berth_oci::Digest;

use super::{manifest, repo, tag};
use crate::{ManifestGraph, MetadataStore, NewManifest};

fn referrer(body: &str, subject: &NewManifest) -> NewManifest {
    NewManifest {
        subject: Some(subject.digest.clone()),
        ..manifest(body, vec![], vec![])
    }
}

/// A graph's manifests, tags (name, digest) and index edges, each sorted.
type Sorted = (Vec<Digest>, Vec<(String, Digest)>, Vec<(Digest, Digest)>);

fn sorted(graph: &ManifestGraph) -> Sorted {
    let mut manifests: Vec<Digest> = graph.manifests.iter().map(|m| m.digest.clone()).collect();
    manifests.sort();
    let mut tags: Vec<(String, Digest)> = graph
        .tags
        .iter()
        .map(|t| (t.name.clone(), t.digest.clone()))
        .collect();
    tags.sort();
    let mut children = graph.children.clone();
    children.sort();
    (manifests, tags, children)
}

/// base (tagged) <- image <- sig <- timestamp; an index (tagged twice) lists image and other
/// (tagged), and an outer index (tagged) lists the index; sig has a sibling referrer; another
/// repository holds the same manifests.
pub(crate) async fn the_ancestry_of_a_manifest_is_its_subjects_and_indexes(
    store: &dyn MetadataStore,
) {
    let (r, elsewhere) = (repo("ancestry/app"), repo("ancestry/other"));
    let base = manifest("{\"a\":\"base\"}", vec![], vec![]);
    let image = referrer("{\"a\":\"image\"}", &base);
    let other = manifest("{\"a\":\"other\"}", vec![], vec![]);
    let index = manifest(
        "{\"a\":\"index\"}",
        vec![],
        vec![image.digest.clone(), other.digest.clone()],
    );
    let sig = referrer("{\"a\":\"sig\"}", &image);
    let sibling = referrer("{\"a\":\"sibling\"}", &image);
    let timestamp = referrer("{\"a\":\"timestamp\"}", &sig);
    let outer = manifest("{\"a\":\"outer\"}", vec![], vec![index.digest.clone()]);
    for repo in [&r, &elsewhere] {
        store
            .put_manifest(repo, &base, &[tag("base")], None)
            .await
            .unwrap();
        store.put_manifest(repo, &image, &[], None).await.unwrap();
        store
            .put_manifest(repo, &other, &[tag("other")], None)
            .await
            .unwrap();
        store
            .put_manifest(repo, &index, &[tag("multi"), tag("latest")], None)
            .await
            .unwrap();
        for m in [&sig, &sibling, &timestamp] {
            store.put_manifest(repo, m, &[], None).await.unwrap();
        }
        store
            .put_manifest(repo, &outer, &[tag("outer")], None)
            .await
            .unwrap();
    }
    store
        .put_manifest(
            &elsewhere,
            &manifest("{\"a\":\"x\"}", vec![], vec![]),
            &[tag("x")],
            None,
        )
        .await
        .unwrap();

    let (manifests, tags, children) = sorted(
        &store
            .ancestry_graph(&r, std::slice::from_ref(&timestamp.digest), None)
            .await
            .unwrap(),
    );
    let mut expected = vec![
        base.digest.clone(),
        image.digest.clone(),
        index.digest.clone(),
        sig.digest.clone(),
        timestamp.digest.clone(),
    ];
    expected.sort();
    assert_eq!(
        manifests, expected,
        "the seed, its subjects and the index above them"
    );
    assert_eq!(
        tags,
        [
            ("base".to_owned(), base.digest.clone()),
            ("latest".to_owned(), index.digest.clone()),
            ("multi".to_owned(), index.digest.clone()),
        ]
    );
    assert_eq!(
        children,
        [(index.digest.clone(), image.digest.clone())],
        "only edges into the closure: not the index's edge to `other`"
    );
    let timestamp_node = store
        .ancestry_graph(&r, std::slice::from_ref(&timestamp.digest), None)
        .await
        .unwrap()
        .manifests
        .into_iter()
        .find(|m| m.digest == timestamp.digest)
        .unwrap();
    assert_eq!(timestamp_node.subject, Some(sig.digest.clone()));

    // Several seeds, one of them no manifest of the repository: the union of their closures.
    let absent = Digest::sha256_of(b"no such manifest");
    let (manifests, _, _) = sorted(
        &store
            .ancestry_graph(
                &r,
                &[sibling.digest.clone(), other.digest.clone(), absent],
                None,
            )
            .await
            .unwrap(),
    );
    let mut expected = vec![
        base.digest.clone(),
        image.digest.clone(),
        index.digest.clone(),
        other.digest.clone(),
        sibling.digest.clone(),
    ];
    expected.sort();
    assert_eq!(manifests, expected);

    // A tag stops the climb, unless it is the tag being removed: what is above a tagged
    // manifest cannot change what lives below it. The outer index is never read.
    let climbed = |graph: crate::ManifestGraph| sorted(&graph).0;
    let seed = std::slice::from_ref(&other.digest);
    let held = store.ancestry_graph(&r, seed, None).await.unwrap();
    assert_eq!(climbed(held), vec![other.digest.clone()]);
    let untagged = store.ancestry_graph(&r, seed, Some("other")).await.unwrap();
    let mut expected = vec![other.digest.clone(), index.digest.clone()];
    expected.sort();
    assert_eq!(
        climbed(untagged),
        expected,
        "the index, still tagged, ends it"
    );
    let seed = std::slice::from_ref(&index.digest);
    let still_tagged = store.ancestry_graph(&r, seed, Some("multi")).await.unwrap();
    assert_eq!(
        climbed(still_tagged),
        vec![index.digest.clone()],
        "latest holds it"
    );

    // A deleted subject ends the climb; its referrers say since when they are orphans.
    assert!(store
        .delete_manifest(&r, &image.digest, None)
        .await
        .unwrap());
    let graph = store
        .ancestry_graph(&r, std::slice::from_ref(&timestamp.digest), None)
        .await
        .unwrap();
    let (manifests, tags, children) = sorted(&graph);
    let mut expected = vec![sig.digest.clone(), timestamp.digest.clone()];
    expected.sort();
    assert_eq!(manifests, expected);
    assert!(tags.is_empty() && children.is_empty());
    let sig_node = graph
        .manifests
        .iter()
        .find(|m| m.digest == sig.digest)
        .unwrap();
    assert!(sig_node.subject_deleted_at.is_some());
    assert!(store
        .ancestry_graph(&r, &[], None)
        .await
        .unwrap()
        .manifests
        .is_empty());
}
