//! The referrers index: filters, both orders, paging, and the ORAS subject rule.

use berth_oci::Digest;

use super::{manifest, repo};
use crate::{MetadataError, MetadataStore, Referrer, ReferrerCursor, ReferrerOrder};

fn digests(referrers: &[Referrer]) -> Vec<Digest> {
    referrers.iter().map(|r| r.digest.clone()).collect()
}

fn cursor(r: &Referrer) -> ReferrerCursor {
    ReferrerCursor {
        created_at: r.created_at,
        digest: r.digest.clone(),
    }
}

/// Every page of `order`, `n` at a time, following the cursor of each page's last entry.
async fn all_pages(
    store: &dyn MetadataStore,
    subject: &Digest,
    types: &[String],
    order: ReferrerOrder,
    n: u32,
) -> Vec<Referrer> {
    let r = repo("referrers");
    let mut all: Vec<Referrer> = Vec::new();
    loop {
        let after = all.last().map(cursor);
        let page = store
            .list_referrers(&r, subject, types, order, after.as_ref(), n)
            .await
            .unwrap();
        let done = page.len() < n as usize;
        all.extend(page);
        if done {
            return all;
        }
    }
}

pub async fn referrers_are_indexed_by_subject(store: &dyn MetadataStore) {
    let r = repo("referrers");
    let subject = Digest::sha256_of(b"an image not pushed yet");
    let mut pushed = Vec::new();
    for (i, kind) in ["sig", "sbom", "sig", "scan"].iter().enumerate() {
        let mut m = manifest(&format!("{{\"ref\":{i}}}"), vec![], vec![]);
        m.subject = Some(subject.clone());
        m.artifact_type = Some(format!("application/vnd.example.{kind}"));
        m.annotations_json = Some(format!("{{\"n\":\"{i}\"}}"));
        store.put_manifest(&r, &m, &[], None).await.unwrap();
        pushed.push(m.digest);
    }
    pushed.sort();
    let list = |types: Vec<String>, after: Option<ReferrerCursor>, n: u32| {
        let subject = subject.clone();
        let r = r.clone();
        async move {
            store
                .list_referrers(
                    &r,
                    &subject,
                    &types,
                    ReferrerOrder::Digest,
                    after.as_ref(),
                    n,
                )
                .await
                .unwrap()
        }
    };
    let all = list(vec![], None, 100).await;
    assert_eq!(digests(&all), pushed, "ordered by digest");
    assert!(all
        .iter()
        .all(|x| x.annotations_json.is_some() && x.size > 0));
    let sig = "application/vnd.example.sig".to_owned();
    assert_eq!(list(vec![sig.clone()], None, 100).await.len(), 2);
    let two = vec![sig, "application/vnd.example.scan".to_owned()];
    assert_eq!(list(two, None, 100).await.len(), 3);
    let first = list(vec![], None, 3).await;
    let rest = list(vec![], Some(cursor(&first[2])), 3).await;
    assert_eq!(first.len() + rest.len(), 4);
    assert!(store.delete_manifest(&r, &pushed[0], None).await.unwrap());
    assert_eq!(list(vec![], None, 100).await.len(), 3);
    let other = Digest::sha256_of(b"nothing refers to this");
    assert!(store
        .list_referrers(&r, &other, &[], ReferrerOrder::Digest, None, 100)
        .await
        .unwrap()
        .is_empty());
}

pub async fn oras_order_is_newest_first_and_pages_stably(store: &dyn MetadataStore) {
    let r = repo("referrers");
    let subject = Digest::sha256_of(b"a subject with dated referrers");
    // (created, type): three share one time, two are undated.
    let dated = [
        (Some(3_000), "sig"),
        (Some(1_000), "sbom"),
        (None, "sig"),
        (Some(2_000), "sig"),
        (Some(2_000), "sbom"),
        (None, "sbom"),
        (Some(2_000), "sig"),
        (Some(-5), "sig"),
    ];
    let mut expected = Vec::new();
    for (i, (created, kind)) in dated.iter().enumerate() {
        let mut m = manifest(&format!("{{\"dated\":{i}}}"), vec![], vec![]);
        m.subject = Some(subject.clone());
        m.artifact_type = Some(format!("application/vnd.example.{kind}"));
        m.created_at = *created;
        store.put_manifest(&r, &m, &[], None).await.unwrap();
        expected.push((*created, m.digest, *kind));
    }
    // Newest first, undated last, ties by digest.
    expected.sort_by(|a, b| {
        (a.0.is_none(), std::cmp::Reverse(a.0), &a.1).cmp(&(
            b.0.is_none(),
            std::cmp::Reverse(b.0),
            &b.1,
        ))
    });
    let want: Vec<Digest> = expected.iter().map(|e| e.1.clone()).collect();
    for n in [1, 2, 3, 100] {
        let all = all_pages(store, &subject, &[], ReferrerOrder::NewestFirst, n).await;
        assert_eq!(digests(&all), want, "pages of {n}");
        assert_eq!(
            all.iter().map(|x| x.created_at).collect::<Vec<_>>(),
            expected.iter().map(|e| e.0).collect::<Vec<_>>()
        );
    }
    let sig = ["application/vnd.example.sig".to_owned()];
    let sigs: Vec<Digest> = expected
        .iter()
        .filter(|e| e.2 == "sig")
        .map(|e| e.1.clone())
        .collect();
    for n in [1, 2, 100] {
        let filtered = all_pages(store, &subject, &sig, ReferrerOrder::NewestFirst, n).await;
        assert_eq!(digests(&filtered), sigs, "filtered pages of {n}");
    }
}

pub async fn a_required_subject_must_be_a_manifest_of_the_repository(store: &dyn MetadataStore) {
    let (r, elsewhere) = (repo("oras/subject"), repo("oras/elsewhere"));
    let blob = Digest::sha256_of(b"a blob, not a manifest");
    store.link_blob(&r, &blob, 22).await.unwrap();
    let image = manifest("{\"oras subject\":1}", vec![], vec![]);
    store
        .put_manifest(&elsewhere, &image, &[], None)
        .await
        .unwrap();
    let absent = Digest::sha256_of(b"absent");
    for subject in [&absent, &blob, &image.digest] {
        let mut oras = manifest(&format!("{{\"on\":\"{subject}\"}}"), vec![], vec![]);
        oras.subject = Some(subject.clone());
        oras.subject_must_exist = true;
        let err = store.put_manifest(&r, &oras, &[], None).await.unwrap_err();
        assert!(
            matches!(&err, MetadataError::MissingSubject(d) if d == subject),
            "{err:?}"
        );
        assert!(store
            .manifest_by_digest(&r, &oras.digest)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .list_referrers(&r, subject, &[], ReferrerOrder::Digest, None, 10)
            .await
            .unwrap()
            .is_empty());
        // Without the rule, a referrer may arrive before its subject.
        oras.subject_must_exist = false;
        store.put_manifest(&r, &oras, &[], None).await.unwrap();
        assert!(store.delete_manifest(&r, &oras.digest, None).await.unwrap());
    }
    store.put_manifest(&r, &image, &[], None).await.unwrap();
    let mut oras = manifest("{\"on the image\":1}", vec![], vec![]);
    oras.subject = Some(image.digest.clone());
    oras.subject_must_exist = true;
    store.put_manifest(&r, &oras, &[], None).await.unwrap();
}
