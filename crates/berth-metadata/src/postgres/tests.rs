//! The PostgreSQL backend against a real server: the shared suite, and races between
//! connections of separate pools (as between Berth nodes) that only the database can settle.
//!
//! The server's URL comes from `BERTH_TEST_POSTGRES_URL` (`bash scripts/services/postgres.sh`
//! starts one and prints it). Each test works in a schema of its own, dropped at its end, so
//! tests run in parallel and leave nothing behind.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use berth_oci::Reference;
use futures::FutureExt;

use super::*;
use crate::suite::postgres_schema::FreshSchema;
use crate::suite::{manifest, repo, tag};
use crate::CurrentState;

/// Runs `test` with the URL of a fresh schema (it connects its stores with it), then drops the
/// schema, whether the test passed or panicked.
async fn in_fresh_schema<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let schema = FreshSchema::create("t").await;
    let outcome = AssertUnwindSafe(test(schema.url.clone()))
        .catch_unwind()
        .await;
    schema.drop_all().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test]
async fn postgres_store_passes_the_shared_suite() {
    in_fresh_schema(|url| async move {
        let store = PostgresMetadataStore::connect(&url, 4).await.unwrap();
        crate::suite::run_all(&store).await;
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn connecting_again_finds_the_schema_migrated_and_the_data_kept() {
    in_fresh_schema(|url| async move {
        let r = repo("again/app");
        let digest = Digest::sha256_of(b"kept");
        let first = PostgresMetadataStore::connect(&url, 1).await.unwrap();
        first.link_blob(&r, &digest, 3).await.unwrap();
        first.close().await;
        let second = PostgresMetadataStore::connect(&url, 1).await.unwrap();
        assert_eq!(second.linked_blob_size(&r, &digest).await.unwrap(), Some(3));
        second.close().await;
    })
    .await;
}

/// Stores with their own pools on one schema: the nodes of a scale-out deployment.
async fn nodes(url: &str, count: usize) -> Vec<Arc<PostgresMetadataStore>> {
    let mut nodes = Vec::new();
    for _ in 0..count {
        nodes.push(Arc::new(
            PostgresMetadataStore::connect(url, 4).await.unwrap(),
        ));
    }
    nodes
}

/// A precondition that holds while `target` names `expected`.
fn naming(target: Reference, expected: Digest) -> Precondition {
    Precondition {
        target,
        holds: Arc::new(move |current: Option<CurrentState<'_>>| {
            current.is_some_and(|c| *c.digest == expected)
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_conditional_tag_moves_have_exactly_one_winner_per_round() {
    in_fresh_schema(|url| async move {
        let nodes = nodes(&url, 3).await;
        let (r, t) = (repo("race/tags"), tag("latest"));
        let start = manifest("{\"race\":\"start\"}", vec![], vec![]);
        nodes[0]
            .put_manifest(&r, &start, std::slice::from_ref(&t), None)
            .await
            .unwrap();
        let mut current = start.digest;
        for round in 0..10 {
            let writers = (0..8).map(|i| {
                let node = nodes[i % nodes.len()].clone();
                let (r, t) = (r.clone(), t.clone());
                let condition = naming(Reference::Tag(t.clone()), current.clone());
                let pushed = manifest(
                    &format!("{{\"round\":{round},\"writer\":{i}}}"),
                    vec![],
                    vec![],
                );
                tokio::spawn(async move {
                    let result = node
                        .put_manifest(&r, &pushed, std::slice::from_ref(&t), Some(&condition))
                        .await;
                    (pushed.digest, result)
                })
            });
            let mut winners = Vec::new();
            for outcome in futures::future::join_all(writers).await {
                let (digest, result) = outcome.unwrap();
                match result {
                    Ok(()) => winners.push(digest),
                    Err(MetadataError::PreconditionFailed(_)) => {}
                    Err(other) => panic!("round {round}: unexpected failure {other}"),
                }
            }
            assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
            let tagged = nodes[1].manifest_by_tag(&r, &t).await.unwrap().unwrap();
            assert_eq!(tagged.digest, winners[0], "round {round}");
            // Losers stored nothing.
            assert_eq!(
                nodes[2].manifest_graph(&r).await.unwrap().manifests.len(),
                round + 2
            );
            current = winners.remove(0);
        }
        for node in nodes {
            node.close().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collecting_a_manifest_races_a_push_that_tags_or_lists_it() {
    in_fresh_schema(|url| async move {
        let nodes = nodes(&url, 2).await;
        let r = repo("race/collect");
        let (mut pushes_won, mut deletes_won) = (0, 0);
        for round in 0..30 {
            let target = manifest(&format!("{{\"collect\":{round}}}"), vec![], vec![]);
            nodes[0].put_manifest(&r, &target, &[], None).await.unwrap();
            // Even rounds tag the manifest again, odd ones push an index that lists it.
            let t = tag(&format!("r{round}"));
            let index = manifest(
                &format!("{{\"index\":{round}}}"),
                vec![],
                vec![target.digest.clone()],
            );
            let collector = {
                let (node, r, digest) = (nodes[0].clone(), r.clone(), target.digest.clone());
                tokio::spawn(async move { node.delete_unreachable_manifest(&r, &digest).await })
            };
            let pusher = {
                let (node, r) = (nodes[1].clone(), r.clone());
                let (target, t, index) = (target.clone(), t.clone(), index.clone());
                tokio::spawn(async move {
                    if round % 2 == 0 {
                        node.put_manifest(&r, &target, &[t], None).await
                    } else {
                        node.put_manifest(&r, &index, &[], None).await
                    }
                })
            };
            let deleted = collector.await.unwrap().unwrap();
            let pushed = pusher.await.unwrap();
            let target_exists = nodes[1]
                .manifest_by_digest(&r, &target.digest)
                .await
                .unwrap()
                .is_some();
            if round % 2 == 0 {
                // Re-pushing recreates a deleted manifest: the push always succeeds, and the
                // tag it sets always names a manifest that exists.
                pushed.unwrap();
                assert!(
                    target_exists,
                    "round {round}: the tag names a deleted manifest"
                );
                let listed = nodes[0].list_tags(&r, None, 1000).await.unwrap();
                assert!(listed.contains(&t.to_string()), "round {round}");
                assert!(nodes[1].manifest_by_tag(&r, &t).await.unwrap().is_some());
            } else {
                let index_exists = nodes[1]
                    .manifest_by_digest(&r, &index.digest)
                    .await
                    .unwrap()
                    .is_some();
                match pushed {
                    Ok(()) => assert!(index_exists && target_exists, "round {round}"),
                    Err(MetadataError::MissingChild(d)) => {
                        assert_eq!(d, target.digest);
                        assert!(deleted && !index_exists && !target_exists, "round {round}");
                    }
                    Err(other) => panic!("round {round}: unexpected failure {other}"),
                }
                let graph = nodes[0].manifest_graph(&r).await.unwrap();
                for (parent, child) in &graph.children {
                    assert!(
                        graph.manifests.iter().any(|m| m.digest == *child),
                        "round {round}: index {parent} lists deleted {child}"
                    );
                }
            }
            if deleted && !target_exists {
                deletes_won += 1;
            } else {
                pushes_won += 1;
            }
        }
        eprintln!("pushes won {pushes_won} rounds, the collector {deletes_won}");
        for node in nodes {
            node.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn tags_sort_in_byte_order_whatever_the_locale() {
    in_fresh_schema(|url| async move {
        let store = PostgresMetadataStore::connect(&url, 2).await.unwrap();
        let r = repo("collation");
        let m = manifest("{\"collation\":1}", vec![], vec![]);
        let names = ["a-b", "a_b", "a.b", "aB", "ab", "A-B", "a0"];
        let tags: Vec<Tag> = names.iter().map(|n| tag(n)).collect();
        store.put_manifest(&r, &m, &tags, None).await.unwrap();
        let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        expected.sort_by(|a, b| {
            a.to_ascii_lowercase()
                .cmp(&b.to_ascii_lowercase())
                .then(a.cmp(b))
        });
        assert_eq!(store.list_tags(&r, None, 100).await.unwrap(), expected);
        store.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_hold_across_nodes_and_not_across_schemas() {
    in_fresh_schema(|url| async move {
        let nodes = nodes(&url, 2).await;
        let digest = Digest::sha256_of(b"shared lock");
        let held = nodes[0].lock(&LockName::Blob(&digest)).await.unwrap();
        assert!(nodes[1]
            .try_lock(&LockName::Blob(&digest))
            .await
            .unwrap()
            .is_none());
        let lease = nodes[1].lock(&LockName::Collection).await.unwrap();
        assert!(nodes[0]
            .try_lock(&LockName::Collection)
            .await
            .unwrap()
            .is_none());
        // A registry in another schema of the same database has locks of its own.
        in_fresh_schema(|other_url| async move {
            let other = PostgresMetadataStore::connect(&other_url, 2).await.unwrap();
            let theirs = other.try_lock(&LockName::Collection).await.unwrap();
            assert!(theirs.is_some());
            drop(theirs);
            other.close().await;
        })
        .await;
        // The waiter on the other node gets the lock once it is released.
        let waiter = {
            let node = nodes[1].clone();
            let digest = digest.clone();
            tokio::spawn(async move {
                let _got = node.lock(&LockName::Blob(&digest)).await.unwrap();
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!waiter.is_finished(), "the lock is still held");
        drop(held);
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("released on the other node")
            .unwrap();
        drop(lease);
        for node in nodes {
            node.close().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scheduled_turn_goes_to_exactly_one_node() {
    in_fresh_schema(|url| async move {
        let nodes = nodes(&url, 3).await;
        let interval_ms = 60_000;
        // All nodes' timers fire together: one claims the turn.
        let claims = futures::future::join_all(
            nodes
                .iter()
                .map(|node| node.claim_scheduled_run("collection", interval_ms)),
        )
        .await;
        let won = claims.into_iter().filter(|c| *c.as_ref().unwrap()).count();
        assert_eq!(won, 1, "exactly one node runs this turn");
        // Within the interval no node gets another turn; another task has its own schedule.
        for node in &nodes {
            assert!(!node
                .claim_scheduled_run("collection", interval_ms)
                .await
                .unwrap());
        }
        assert!(nodes[1]
            .claim_scheduled_run("other-task", interval_ms)
            .await
            .unwrap());
        // Once the interval has passed (a zero interval here), the next turn is claimed.
        assert!(nodes[2].claim_scheduled_run("collection", 0).await.unwrap());
        for node in nodes {
            node.close().await;
        }
    })
    .await;
}
