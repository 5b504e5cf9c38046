//! Several clients push, tag, refer, mount and delete while collections run back to back;
//! afterwards the registry holds exactly what the clients' bookkeeping says it should.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::checks::{blobs_on_disk, crawl_live_blobs, referrer_digests, sample, tag_names};
use crate::collections::{collect, collect_back_to_back, eager_gc_server, summary};
use crate::pusher::{Pusher, Stats};
use crate::support::http::{assert_log_clean, digest_of, staged_uploads, Registry};
use crate::support::TestServer;
use crate::workload::{Owned, CLIENTS, REPOS};

/// Runs every client to the end; returns what they own and how each failed client failed.
async fn run_clients(server: &TestServer, stats: &Arc<Stats>) -> (Vec<Owned>, Vec<String>) {
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let pusher = Pusher {
                reg: Registry::new(server.url()),
                id,
                stats: stats.clone(),
            };
            tokio::spawn(pusher.run())
        })
        .collect();
    let mut owned: Vec<Owned> = Vec::new();
    let mut failures = Vec::new();
    for (id, handle) in clients.into_iter().enumerate() {
        match handle.await.expect("client task") {
            Ok(images) => owned.extend(images),
            Err(e) => failures.push(format!("client {id}: {e}")),
        }
    }
    (owned, failures)
}

/// Tags are exactly what the clients left.
async fn assert_tags(reg: &Registry, owned: &[Owned]) {
    let mut expected_tags: BTreeMap<&str, BTreeSet<String>> =
        REPOS.iter().map(|r| (*r, BTreeSet::new())).collect();
    for o in owned.iter().filter(|o| o.tagged) {
        expected_tags
            .get_mut(o.image.repo.as_str())
            .expect("a test repository")
            .insert(o.image.tag.clone());
    }
    for (repo, expected) in &expected_tags {
        assert_eq!(&tag_names(reg, repo).await, expected, "tags of {repo}");
    }
}

/// An untagged image and its referrers are gone.
async fn assert_untagged_gone(reg: &Registry, o: &Owned) {
    let repo = &o.image.repo;
    let what = o.describe();
    reg.assert_manifest_absent(repo, &o.image.digest, &format!("untagged {what}"))
        .await;
    for artifact in &o.artifacts {
        let about = format!("referrer {} of untagged {what}", artifact.digest);
        reg.assert_manifest_absent(repo, &artifact.digest, &about)
            .await;
    }
}

/// A tagged image, its referrers and the referrer chains pull byte-exact and are listed.
/// Returns the digests of the blobs they hold.
async fn assert_tagged_whole(reg: &Registry, o: &Owned) -> BTreeSet<String> {
    let repo = &o.image.repo;
    let what = o.describe();
    reg.assert_image(&o.image, &format!("tagged {what}")).await;
    let mut blobs: BTreeSet<String> = o.image.blobs().iter().map(|b| digest_of(b)).collect();
    for artifact in &o.artifacts {
        let about = format!("referrer {} of {what}", artifact.digest);
        reg.assert_manifest(repo, &artifact.digest, &artifact.manifest, &about)
            .await;
        for blob in artifact.blobs() {
            reg.assert_blob(repo, &blob, &about).await;
            blobs.insert(digest_of(&blob));
        }
    }
    let subjects = std::iter::once(&o.image.digest).chain(o.artifacts.iter().map(|a| &a.digest));
    for subject in subjects {
        let expected: BTreeSet<String> = o
            .artifacts
            .iter()
            .filter(|a| &a.subject == subject)
            .map(|a| a.digest.clone())
            .collect();
        assert_eq!(
            referrer_digests(reg, repo, subject).await,
            expected,
            "referrers of {subject} in {repo} (tagged {what})"
        );
    }
    blobs
}

/// The server's own view agrees with `live_blobs`, and every blob file on disk is in use.
async fn assert_only_live_blobs_stored(
    server: &TestServer,
    reg: &Registry,
    live: &BTreeSet<String>,
) {
    let crawled = crawl_live_blobs(reg, &REPOS).await;
    assert_eq!(
        &crawled, live,
        "blobs reachable by crawling tags and referrers vs the bookkeeping"
    );
    let on_disk = blobs_on_disk(server);
    assert!(
        on_disk.is_subset(live),
        "blob files no live manifest uses: {:?}",
        sample(on_disk.difference(live))
    );
    assert!(
        live.is_subset(&on_disk),
        "blobs of live manifests missing on disk: {:?}",
        sample(live.difference(&on_disk))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_back_to_back_never_break_concurrent_pushes_or_lose_reachable_content() {
    let server = eager_gc_server();
    let reg = Registry::new(server.url());
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));

    let collector = tokio::spawn(collect_back_to_back(reg.clone(), stop.clone()));
    let (owned, failures) = run_clients(&server, &stats).await;
    stop.store(true, Ordering::Relaxed);
    let collections = collector.await.expect("collector task");
    assert!(
        failures.is_empty(),
        "clients failed while collections ran:\n{}\nserver log:\n{}",
        failures.join("\n"),
        server.log()
    );
    let collections = collections
        .unwrap_or_else(|e| panic!("a collection failed: {e}\nserver log:\n{}", server.log()));
    eprintln!(
        "collections while clients ran: {collections:?}; {}",
        stats.describe()
    );
    assert!(
        collections.runs - collections.dry_runs >= 2,
        "collections ran while the clients worked: {collections:?}"
    );
    assert!(
        collections.manifests_deleted > 0,
        "untagged images were collected while the clients worked: {collections:?}"
    );

    // Quiesce, then one more collection takes whatever garbage is left.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = collect(&reg).await;
    eprintln!("final collection: {}", summary(&report));

    assert_tags(&reg, &owned).await;
    let mut live_blobs = BTreeSet::new();
    for o in &owned {
        if o.tagged {
            live_blobs.extend(assert_tagged_whole(&reg, o).await);
        } else {
            assert_untagged_gone(&reg, o).await;
        }
    }
    assert_only_live_blobs_stored(&server, &reg, &live_blobs).await;
    assert_eq!(
        staged_uploads(&server.data_dir()),
        Vec::<String>::new(),
        "the final collection expired every upload session"
    );
    assert_log_clean(&server.log());
}
