//! Both nodes collect on a short schedule while content comes and goes: their collections
//! (read from the logs) never overlap, and each interval's turn goes to one node (the other
//! logs that it skipped); while another holder has the collection lock, a node's scheduled
//! turn is skipped at once rather than queued behind it; both nodes stay healthy.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use berth_metadata::postgres::PostgresMetadataStore;
use berth_metadata::{LockName, MetadataStore};
use reqwest::StatusCode;

use crate::cluster::Cluster;
use crate::logs::{collections, stamp, times_of, Run};
use crate::pushers::{push_image, untag, Recoveries};
use crate::support::http::{assert_log_clean, Image, Registry};
use crate::support::TestServer;

const REPO: &str = "scale/scheduled";
const SKIPPED: &str = "scheduled garbage collection skipped";

/// Waits (at most 30 s) until `done` holds for the two nodes' logs.
async fn wait_for(cluster: &Cluster, what: &str, done: impl Fn(&TestServer, &TestServer) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&cluster.a, &cluster.b) {
        assert!(
            Instant::now() < deadline,
            "waited 30 s for {what}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Pushes images through both nodes in turn and untags every other one, so that the
/// collections have something to take.
async fn churn(a: &Registry, b: &Registry, seeds: std::ops::Range<u64>, seen: &Recoveries) {
    for seed in seeds {
        let node = if seed % 2 == 0 { a } else { b };
        let image = Image::new(REPO, &format!("t{seed}"), seed, &[4_000, 9_000]);
        push_image(node, &image, seen)
            .await
            .unwrap_or_else(|e| panic!("push while collections are scheduled: {e}"));
        if seed % 2 == 1 {
            untag(node, REPO, &image.tag)
                .await
                .unwrap_or_else(|e| panic!("untag: {e}"));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

fn describe(runs: &[Run]) -> String {
    runs.iter()
        .map(|r| {
            let end = r.end.map(stamp).unwrap_or_else(|| "running".to_owned());
            format!("{}: {} .. {end}", r.node, stamp(r.start))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_collections_of_both_nodes_take_turns() {
    let cluster = Cluster::start(&[
        "--gc-interval",
        "1s",
        // Long enough for a push's blobs to wait for its manifest (see `collection`).
        "--gc-grace",
        "1s",
        "--gc-untagged",
        "delete",
    ])
    .await;
    let (a, b) = cluster.registries();
    let seen = Arc::new(Recoveries::default());
    churn(&a, &b, 1..13, &seen).await;
    let finished = |node: &TestServer| times_of(&node.log(), "garbage collection finished").len();
    wait_for(&cluster, "four collections between the nodes", |a, b| {
        finished(a) + finished(b) >= 4
    })
    .await;

    // Another holder takes the collection lock for a while: the nodes' turns are skipped.
    let store = PostgresMetadataStore::connect(cluster.metadata_url(), 1)
        .await
        .expect("the test connects to the nodes' schema");
    let lease = loop {
        let taken = store.try_lock(&LockName::Collection).await;
        if let Some(lease) = taken.expect("try_lock") {
            break lease;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let held_from = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let held_until = SystemTime::now();
    drop(lease);
    // Collections resume once it is released.
    let resumed_on = |node: &TestServer| {
        times_of(&node.log(), "garbage collection finished")
            .iter()
            .any(|t| *t > held_until)
    };
    let resumed = |a: &TestServer, b: &TestServer| resumed_on(a) || resumed_on(b);
    wait_for(&cluster, "collections after the lock's release", resumed).await;
    churn(&a, &b, 13..17, &seen).await;
    store.close().await;

    let (log_a, log_b) = (cluster.a.log(), cluster.b.log());
    let mut runs = collections("A", &log_a);
    runs.extend(collections("B", &log_b));
    runs.sort_by_key(|r| r.start);
    let all = describe(&runs);
    assert!(runs.len() >= 4, "{} collections:\n{all}", runs.len());
    // Both nodes are scheduled: each one collected or logged that the turn was taken.
    for (node, log) in [("A", &log_a), ("B", &log_b)] {
        let turns = runs.iter().filter(|r| r.node == node).count() + times_of(log, SKIPPED).len();
        assert!(
            turns >= 2,
            "node {node} took {turns} scheduled turns:\n{all}"
        );
    }
    for pair in runs.windows(2) {
        let (first, next) = (&pair[0], &pair[1]);
        let end = first
            .end
            .unwrap_or_else(|| panic!("{first:?} still ran when {next:?} started:\n{all}"));
        assert!(
            end <= next.start,
            "collections overlap: {} from {} to {} and {} from {}:\n{all}",
            first.node,
            stamp(first.start),
            stamp(end),
            next.node,
            stamp(next.start)
        );
    }
    let held = |t: &SystemTime| (held_from..=held_until).contains(t);
    for run in &runs {
        let ended_before = run.end.is_some_and(|end| end <= held_from);
        assert!(
            ended_before || run.start > held_until,
            "a collection of {} ran while the test held the lock ({} .. {}):\n{all}",
            run.node,
            stamp(held_from),
            stamp(held_until)
        );
    }
    for (node, log) in [("A", &log_a), ("B", &log_b)] {
        let skipped = times_of(log, SKIPPED).iter().filter(|t| held(t)).count();
        assert!(
            skipped >= 1,
            "node {node} never skipped its scheduled collection while the lock was held \
             ({} .. {}); it should not queue behind the holder:\n{log}",
            stamp(held_from),
            stamp(held_until)
        );
        assert!(
            !log.contains("scheduled garbage collection failed"),
            "node {node}:\n{log}"
        );
        assert_log_clean(log);
    }
    eprintln!("{} collections, {}:\n{all}", runs.len(), seen.describe());

    // Both nodes still serve: a push through one pulls through the other, both ways.
    for (i, (from, to)) in [(&a, &b), (&b, &a)].into_iter().enumerate() {
        let status = to.http.get(to.url("/v2/")).send().await.expect("GET /v2/");
        assert_eq!(status.status(), StatusCode::OK, "GET /v2/");
        let image = Image::new(REPO, &format!("after-{i}"), 900 + i as u64, &[3_000]);
        push_image(from, &image, &seen)
            .await
            .unwrap_or_else(|e| panic!("push after the collections: {e}"));
        to.assert_image(&image, "pushed after the collections")
            .await;
    }
}
