//! Thirty-two clients pushing their plans at once while readers poll: every read during the
//! pushes is a 404 or exactly right, and afterwards the registry holds exactly what was pushed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use tokio::sync::Barrier;

use crate::plans::{expected_tags, plans, run_plan, Expected, Plan, TASKS};
use crate::support::http::*;
use crate::support::TestServer;

/// Polls tags and blobs while the pushes run: every answer is a 404 or exactly right.
async fn reader(
    reg: Registry,
    plans: Arc<Vec<Plan>>,
    expected: Arc<Expected>,
    done: Arc<AtomicBool>,
    seed: usize,
    reads: Arc<AtomicUsize>,
) {
    let keys: Vec<&(String, String)> = expected.keys().collect();
    let mut n = seed;
    while !done.load(Ordering::SeqCst) {
        n += 1;
        let (repo, tag) = keys[n % keys.len()];
        let reply = reg
            .get_manifest(repo, tag)
            .await
            .expect("manifest GET during pushes");
        match reply.status {
            StatusCode::OK => {
                let allowed = &expected[&(repo.clone(), tag.clone())];
                reply.assert_one_of(allowed, &format!("{repo}:{tag} during pushes"));
            }
            StatusCode::NOT_FOUND => {}
            other => panic!(
                "GET {repo}:{tag} during pushes: {other}: {}",
                String::from_utf8_lossy(&reply.body)
            ),
        }
        let plan = &plans[n % plans.len()];
        // Small blobs every time, the large shared one now and then.
        let (blob, _) = if n.is_multiple_of(8) {
            &plan.blobs[0]
        } else {
            &plan.blobs[1]
        };
        let (status, body) = reg
            .get_blob(&plan.repo, &digest_of(blob))
            .await
            .expect("blob GET during pushes");
        match status {
            StatusCode::OK => assert!(
                body == *blob,
                "a blob in {} was served partial or wrong ({} bytes of {})",
                plan.repo,
                body.len(),
                blob.len()
            ),
            StatusCode::NOT_FOUND => {}
            other => panic!("GET blob in {} during pushes: {other}", plan.repo),
        }
        reads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}

/// Every blob and manifest is readable byte-exact where it was pushed. Returns the blobs by
/// repository (digest → bytes).
async fn assert_pushed_readable(
    reg: &Registry,
    plans: &[Plan],
) -> BTreeMap<String, BTreeMap<String, Bytes>> {
    let mut blobs_by_repo: BTreeMap<String, BTreeMap<String, Bytes>> = BTreeMap::new();
    for plan in plans {
        for (blob, _) in &plan.blobs {
            blobs_by_repo
                .entry(plan.repo.clone())
                .or_default()
                .insert(digest_of(blob), blob.clone());
        }
    }
    for (repo, blobs) in &blobs_by_repo {
        for blob in blobs.values() {
            reg.assert_blob(repo, blob, "after the concurrent pushes")
                .await;
        }
    }
    for plan in plans {
        reg.assert_manifest(
            &plan.repo,
            &digest_of(&plan.manifest),
            &plan.manifest,
            "after the concurrent pushes",
        )
        .await;
    }
    blobs_by_repo
}

/// Every tag resolves to one of the manifests pushed to it; tag lists are complete and hold
/// nothing else; the catalog lists every repository.
async fn assert_tags_and_catalog(reg: &Registry, expected: &Expected) {
    for ((repo, tag), allowed) in expected {
        let reply = reg.get_manifest(repo, tag).await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "tag {repo}:{tag}");
        reply.assert_one_of(allowed, &format!("tag {repo}:{tag}"));
        assert_eq!(reply.content_type.as_deref(), Some(OCI_MANIFEST));
    }
    let mut tags_by_repo: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (repo, tag) in expected.keys() {
        tags_by_repo
            .entry(repo.clone())
            .or_default()
            .insert(tag.clone());
    }
    for (repo, tags) in &tags_by_repo {
        let listed: BTreeSet<String> = reg.tags(repo).await.into_iter().collect();
        assert_eq!(&listed, tags, "tag list of {repo}");
    }
    let listed: BTreeSet<String> = reg.catalog().await.into_iter().collect();
    assert_eq!(
        listed,
        tags_by_repo.keys().cloned().collect::<BTreeSet<_>>(),
        "catalog"
    );
}

/// On disk: no staged upload is left, and exactly the pushed blobs are committed, each
/// hashing to its name.
fn assert_disk_holds_exactly(
    data_dir: &Path,
    blobs_by_repo: &BTreeMap<String, BTreeMap<String, Bytes>>,
) {
    assert_no_staged_uploads(data_dir);
    let on_disk: BTreeSet<String> = assert_committed_blobs_valid(data_dir).into_iter().collect();
    let pushed: BTreeSet<String> = blobs_by_repo
        .values()
        .flat_map(|b| b.keys().cloned())
        .collect();
    assert_eq!(
        on_disk, pushed,
        "committed blob files are exactly the pushed blobs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_clients_pushing_at_once_leave_a_consistent_registry() {
    let server = TestServer::start();
    let reg = Registry::new(server.url());
    let shared_layer = pseudo_random(7, 1536 * 1024);
    let shared_config =
        Bytes::from_static(br#"{"architecture":"amd64","os":"linux","shared":true}"#);
    let plans = Arc::new(plans(&shared_layer, &shared_config));
    let expected = Arc::new(expected_tags(&plans));

    let barrier = Arc::new(Barrier::new(TASKS));
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..4)
        .map(|k| {
            tokio::spawn(reader(
                reg.clone(),
                plans.clone(),
                expected.clone(),
                done.clone(),
                k * 7,
                reads.clone(),
            ))
        })
        .collect();
    let writers: Vec<_> = plans
        .iter()
        .map(|plan| tokio::spawn(run_plan(reg.clone(), plan.clone(), barrier.clone())))
        .collect();
    let mut failures = Vec::new();
    for (i, writer) in writers.into_iter().enumerate() {
        if let Err(e) = writer.await {
            failures.push(format!("client {i}: {e}"));
        }
    }
    done.store(true, Ordering::SeqCst);
    for reader in readers {
        if let Err(e) = reader.await {
            failures.push(format!("reader: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "clients failed: {failures:#?}\nserver log:\n{}",
        server.log()
    );
    assert!(reads.load(Ordering::SeqCst) > 0, "the readers ran");

    let blobs_by_repo = assert_pushed_readable(&reg, &plans).await;
    assert_tags_and_catalog(&reg, &expected).await;
    assert_disk_holds_exactly(&server.data_dir(), &blobs_by_repo);
    assert_log_clean(&server.log());
}
