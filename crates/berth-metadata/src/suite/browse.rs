//! The browse API's reads: tag pages in every order through their cursors, the tags of a
//! manifest, referrer counts per type, repository search and summaries.

use berth_oci::Digest;

use super::{manifest, repo, tag};
use crate::{MetadataStore, ReferrerCount, TagCursor, TagOrder, TaggedManifest};

/// Every page of `order`, `n` at a time, each after the cursor of the previous page's last.
async fn all_pages(
    store: &dyn MetadataStore,
    r: &berth_oci::RepoName,
    order: TagOrder,
    n: u32,
) -> Vec<TaggedManifest> {
    let mut all: Vec<TaggedManifest> = Vec::new();
    loop {
        let after = all.last().map(|t| TagCursor {
            name: t.tag.clone(),
            tagged_at: t.tagged_at,
        });
        let page = store
            .list_tagged_manifests(r, order, after.as_ref(), n)
            .await
            .unwrap();
        assert!(page.len() <= n as usize);
        let done = page.len() < n as usize;
        all.extend(page);
        if done {
            return all;
        }
    }
}

fn names(tags: &[TaggedManifest]) -> Vec<&str> {
    tags.iter().map(|t| t.tag.as_str()).collect()
}

/// Waits until the store's clock has moved past `after`, so that the next write is later.
async fn clock_after(store: &dyn MetadataStore, after: i64) -> i64 {
    loop {
        let now = store.now_millis().await.unwrap();
        if now > after {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

pub async fn tag_pages_come_in_every_order_with_their_manifests(store: &dyn MetadataStore) {
    let r = repo("browse/tags");
    let first = manifest("{\"browse\":1}", vec![], vec![]);
    let second = manifest("{\"browse\":2, \"longer\": true}", vec![], vec![]);
    // Pushed in three moments: `b`, `A` and `c` together, then `a`, then `B`.
    store
        .put_manifest(&r, &first, &[tag("b"), tag("A"), tag("c")], None)
        .await
        .unwrap();
    let mut now = store.now_millis().await.unwrap();
    for name in ["a", "B"] {
        now = clock_after(store, now).await;
        store
            .put_manifest(&r, &second, &[tag(name)], None)
            .await
            .unwrap();
    }
    let by_name = all_pages(store, &r, TagOrder::Name, 100).await;
    assert_eq!(names(&by_name), ["A", "a", "B", "b", "c"]);
    assert_eq!(
        names(&by_name),
        store.list_tags(&r, None, 100).await.unwrap(),
        "the tag list's order"
    );
    let b = by_name.iter().find(|t| t.tag == "b").unwrap();
    assert_eq!(
        (&b.digest, b.size, &b.body[..]),
        (&first.digest, first.body.len() as u64, &first.body[..])
    );
    assert_eq!(b.media_type, first.media_type);
    for n in [1, 2, 3] {
        assert_eq!(
            names(&all_pages(store, &r, TagOrder::Name, n).await),
            names(&by_name)
        );
        let mut reversed = names(&by_name);
        reversed.reverse();
        assert_eq!(
            names(&all_pages(store, &r, TagOrder::NameDescending, n).await),
            reversed
        );
    }
    let by_time = all_pages(store, &r, TagOrder::Time, 100).await;
    assert_eq!(
        names(&by_time),
        ["A", "b", "c", "a", "B"],
        "oldest first, ties by bytes"
    );
    assert!(by_time.windows(2).all(|w| w[0].tagged_at <= w[1].tagged_at));
    for n in [1, 2, 4] {
        assert_eq!(
            names(&all_pages(store, &r, TagOrder::Time, n).await),
            names(&by_time)
        );
        let mut reversed = names(&by_time);
        reversed.reverse();
        assert_eq!(
            names(&all_pages(store, &r, TagOrder::TimeDescending, n).await),
            reversed
        );
    }
    assert!(store
        .list_tagged_manifests(&repo("browse/none"), TagOrder::Name, None, 10)
        .await
        .unwrap()
        .is_empty());

    let tags_of = |digest: Digest, limit: u32| {
        let r = r.clone();
        async move { store.tags_of_manifest(&r, &digest, limit).await.unwrap() }
    };
    assert_eq!(tags_of(first.digest.clone(), 10).await, ["A", "b", "c"]);
    assert_eq!(tags_of(first.digest.clone(), 2).await, ["A", "b"]);
    assert_eq!(tags_of(second.digest.clone(), 10).await, ["a", "B"]);
    assert!(tags_of(Digest::sha256_of(b"untagged"), 10).await.is_empty());
}

pub async fn referrers_are_counted_per_subject_and_type(store: &dyn MetadataStore) {
    let r = repo("browse/counts");
    let (image, other, bare) = (
        Digest::sha256_of(b"browse: image"),
        Digest::sha256_of(b"browse: other image"),
        Digest::sha256_of(b"browse: no referrers"),
    );
    let sig = Some("application/vnd.example.sig".to_owned());
    let sbom = Some("application/vnd.example.sbom".to_owned());
    let referrers = [
        (&image, &sig),
        (&image, &sig),
        (&image, &sbom),
        (&image, &None),
        (&other, &sbom),
    ];
    let mut pushed = Vec::new();
    for (i, (subject, artifact_type)) in referrers.iter().enumerate() {
        let mut m = manifest(&format!("{{\"count\":{i}}}"), vec![], vec![]);
        m.subject = Some((*subject).clone());
        m.artifact_type = (*artifact_type).clone();
        store.put_manifest(&r, &m, &[], None).await.unwrap();
        pushed.push(m);
    }
    let count = |subject: &Digest, artifact_type: &Option<String>, count| ReferrerCount {
        subject: subject.clone(),
        artifact_type: artifact_type.clone(),
        count,
    };
    let mut expected = vec![
        count(&image, &None, 1),
        count(&image, &sbom, 1),
        count(&image, &sig, 2),
        count(&other, &sbom, 1),
    ];
    expected.sort_by(|a, b| a.subject.cmp(&b.subject));
    let counted = store
        .count_referrers(&r, &[image.clone(), other.clone(), bare.clone()])
        .await
        .unwrap();
    assert_eq!(counted, expected, "by subject, then type, none first");
    assert_eq!(
        store
            .count_referrers(&r, std::slice::from_ref(&other))
            .await
            .unwrap(),
        vec![count(&other, &sbom, 1)]
    );
    assert!(store
        .count_referrers(&r, std::slice::from_ref(&bare))
        .await
        .unwrap()
        .is_empty());

    // The referrers of several subjects at once, by subject, then digest.
    let mut expected: Vec<(Digest, Digest)> = pushed
        .iter()
        .map(|m| (m.subject.clone().unwrap(), m.digest.clone()))
        .collect();
    expected.sort();
    let subjects = [other.clone(), bare.clone(), image.clone()];
    let listed = store
        .referrers_of_subjects(&r, &subjects, 100)
        .await
        .unwrap();
    let pairs: Vec<(Digest, Digest)> = listed
        .iter()
        .map(|(s, r)| (s.clone(), r.digest.clone()))
        .collect();
    assert_eq!(pairs, expected);
    let sig_row = listed.iter().find(|(_, r)| r.artifact_type == sig).unwrap();
    assert!(sig_row.1.size > 0);
    let first_two = store.referrers_of_subjects(&r, &subjects, 2).await.unwrap();
    assert_eq!(first_two, listed[..2]);
    assert!(store
        .referrers_of_subjects(&r, std::slice::from_ref(&bare), 10)
        .await
        .unwrap()
        .is_empty());

    // Manifest bodies by digest, absent ones left out.
    let mut asked: Vec<Digest> = pushed.iter().map(|m| m.digest.clone()).collect();
    asked.push(Digest::sha256_of(b"browse: never pushed"));
    let bodies = store.manifest_bodies(&r, &asked).await.unwrap();
    let mut expected: Vec<(Digest, bytes::Bytes)> = pushed
        .iter()
        .map(|m| (m.digest.clone(), m.body.clone()))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(bodies, expected);
    assert!(store
        .manifest_bodies(&repo("browse/elsewhere"), &asked)
        .await
        .unwrap()
        .is_empty());
    assert!(store.count_referrers(&r, &[]).await.unwrap().is_empty());
    assert!(store
        .count_referrers(&repo("browse/elsewhere"), &[image])
        .await
        .unwrap()
        .is_empty());
}

pub async fn repositories_are_searched_and_summarised(store: &dyn MetadataStore) {
    let (alpha, beta, other) = (
        repo("browse/search-alpha"),
        repo("browse/search-beta"),
        repo("browse/elsewhere-search-x"),
    );
    let blobs_only = repo("browse/search-blobs-only");
    let (small, large) = (Digest::sha256_of(b"small"), Digest::sha256_of(b"large"));
    store.link_blob(&alpha, &small, 5).await.unwrap();
    store.link_blob(&alpha, &large, 7).await.unwrap();
    store.link_blob(&blobs_only, &small, 5).await.unwrap();
    let image = manifest(
        "{\"summary\":1}",
        vec![small.clone(), large.clone()],
        vec![],
    );
    let extra = manifest("{\"summary\":2}", vec![small.clone()], vec![]);
    let before = store.now_millis().await.unwrap();
    store
        .put_manifest(&alpha, &image, &[tag("v1"), tag("latest")], None)
        .await
        .unwrap();
    store.put_manifest(&alpha, &extra, &[], None).await.unwrap();
    for r in [&beta, &other] {
        let m = manifest(&format!("{{\"in\":\"{r}\"}}"), vec![], vec![]);
        store.put_manifest(r, &m, &[tag("v1")], None).await.unwrap();
    }

    let search = |contains: &'static str, after: Option<&'static str>, limit| async move {
        store
            .search_repositories(contains, after, limit)
            .await
            .unwrap()
    };
    assert_eq!(
        search("search-", None, 10).await,
        [other.clone(), alpha.clone(), beta.clone()],
        "lexical order; a repository without manifests is not listed"
    );
    assert_eq!(search("search-a", None, 10).await, vec![alpha.clone()]);
    assert_eq!(
        search("search-", Some("browse/search-alpha"), 10).await,
        vec![beta.clone()]
    );
    assert_eq!(search("search-", None, 1).await, vec![other.clone()]);
    assert!(search("no such text", None, 10).await.is_empty());
    let everything = search("", None, 1000).await;
    assert!(everything.contains(&alpha) && everything.contains(&beta));
    assert!(!everything.contains(&blobs_only));
    assert!(everything.windows(2).all(|w| w[0] < w[1]));

    let unknown = repo("browse/never-seen");
    let summaries = store
        .repository_summaries(&[beta.clone(), alpha.clone(), unknown.clone()])
        .await
        .unwrap();
    let names: Vec<_> = summaries.iter().map(|s| s.repo.clone()).collect();
    assert_eq!(
        names,
        [beta, alpha, unknown.clone()],
        "in the order asked for"
    );
    let a = &summaries[1];
    assert_eq!((a.tags, a.manifests, a.blob_bytes), (2, 2, 12));
    assert_eq!(
        a.manifest_bytes,
        (image.body.len() + extra.body.len()) as u64
    );
    assert!(a.last_push.is_some_and(|t| t >= before), "{a:?}");
    let none = &summaries[2];
    assert_eq!(
        (
            none.tags,
            none.manifests,
            none.blob_bytes,
            none.manifest_bytes
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(none.last_push, None);
    assert!(store.repository_summaries(&[]).await.unwrap().is_empty());
}
