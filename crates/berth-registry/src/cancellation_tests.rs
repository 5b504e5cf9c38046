//! Writes whose caller goes away: a client that disconnects drops the handler's future, but
//! the metadata writer still commits what it was sent, so readers must see the commit.

use futures::FutureExt;

use crate::tests::{fixture, image_manifest, push_blob, repo, tag_target};
use crate::*;
use berth_oci::{Digest, Reference};

/// Reads `tag` until it names `expected` (`None`: unknown), for at most five seconds: the
/// abandoned write finishes in its own task, a moment after the caller left.
async fn settles_to(
    registry: &Registry,
    r: &berth_oci::RepoName,
    tag: &str,
    expected: Option<&Digest>,
) -> bool {
    let reference = Reference::Tag(tag.parse().unwrap());
    for _ in 0..500 {
        let now = registry
            .get_manifest(r, &reference)
            .await
            .ok()
            .map(|m| m.digest);
        if now.as_ref() == expected {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_delete_or_push_is_never_hidden_by_the_tag_cache() {
    let f = fixture().await;
    let r = repo("cancel/app");
    let config = push_blob(&f.registry, &r, b"{}").await;
    let (first, second) = (image_manifest(&config, &[]), {
        let layer = push_blob(&f.registry, &r, b"layer").await;
        image_manifest(&config, &[&layer])
    });
    for round in 0..20 {
        let tag = format!("t{round}");
        f.registry
            .put_manifest(&r, tag_target(&tag), None, first.clone())
            .await
            .unwrap();
        let reference = Reference::Tag(tag.parse().unwrap());
        // Cached now.
        f.registry.get_manifest(&r, &reference).await.unwrap();
        // A push that moves the tag, abandoned after its first poll.
        let moved = f
            .registry
            .put_manifest(&r, tag_target(&tag), None, second.clone());
        let _ = moved.now_or_never();
        assert!(
            settles_to(&f.registry, &r, &tag, Some(&Digest::sha256_of(&second))).await,
            "round {round}: the moved tag is served"
        );
        // A delete abandoned the same way.
        let deleted = f.registry.delete_manifest(&r, &reference, None);
        let _ = deleted.now_or_never();
        assert!(
            settles_to(&f.registry, &r, &tag, None).await,
            "round {round}: the deleted tag is not served"
        );
    }
}
