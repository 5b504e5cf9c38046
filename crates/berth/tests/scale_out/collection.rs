//! Collections on node A, back to back, with untagged manifests deleted, while clients push,
//! untag and push again through node B: no push gets a server error, and afterwards every
//! tagged image pulls whole through both nodes while every untagged one is gone.
//!
//! The grace period is five seconds: a push uploads its blobs before the manifest that
//! references them, and on a loaded machine that gap can pass a second or two; a blob younger
//! than the grace period is never collected, which is what makes the gap safe.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::Value;

use crate::cluster::Cluster;
use crate::pushers::{push_image, untag, Recoveries};
use crate::support::http::{assert_log_clean, pseudo_random, Image, Registry};

const CLIENTS: u64 = 4;
const ITERATIONS: u64 = 14;
const REPOS: [&str; 2] = ["scale/gc-one", "scale/gc-two"];

/// A layer several images share, so that collections meet blobs one image drops and another
/// still holds.
fn shared_layer(k: u64) -> Bytes {
    pseudo_random(5_000_000 + k, 2_000 + 131 * k as usize)
}

/// One image a client pushed, and whether its tag should still be there.
struct Owned {
    image: Image,
    tagged: bool,
}

/// One client through B: mostly new images, now and then an untag (the image becomes
/// garbage) or a push again of an untagged image under a new tag (its blobs may go under it).
async fn client(reg: Registry, id: u64, seen: Arc<Recoveries>) -> Result<Vec<Owned>, String> {
    let mut owned: Vec<Owned> = Vec::new();
    for i in 0..ITERATIONS {
        let seed = 1_000 * (id + 1) + i;
        let tag = format!("c{id}-{i}");
        match i % 4 {
            2 => {
                if let Some(o) = owned.iter_mut().find(|o| o.tagged) {
                    untag(&reg, &o.image.repo, &o.image.tag).await?;
                    o.tagged = false;
                }
            }
            3 => {
                if let Some(o) = owned.iter_mut().find(|o| !o.tagged) {
                    o.image.tag = tag;
                    push_image(&reg, &o.image, &seen).await?;
                    o.tagged = true;
                }
            }
            _ => {
                let repo = REPOS[((id + i) % 2) as usize];
                let mut layers = vec![shared_layer((id + i) % 5)];
                if i % 2 == 0 {
                    layers.push(pseudo_random(seed, 30_000));
                }
                let image = Image::with_layers(repo, &tag, seed, layers);
                push_image(&reg, &image, &seen).await?;
                owned.push(Owned {
                    image,
                    tagged: true,
                });
            }
        }
    }
    Ok(owned)
}

/// One collection on `reg`; its report, once it is a 200 JSON report.
async fn collect(reg: &Registry) -> Result<Value, String> {
    let response = reg
        .http
        .post(reg.url("/berth/v1/gc"))
        .send()
        .await
        .map_err(|e| format!("POST /berth/v1/gc: {e}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if status != StatusCode::OK {
        return Err(format!("POST /berth/v1/gc: {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("collection report is not JSON ({e}): {text}"))
}

/// Collections back to back until `stop`: how many ran and how many manifests they deleted.
async fn collect_until(reg: Registry, stop: Arc<AtomicBool>) -> Result<(u64, u64), String> {
    let (mut runs, mut manifests) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        let report = collect(&reg).await?;
        runs += 1;
        manifests += report["manifests_deleted"].as_u64().unwrap_or(0);
    }
    Ok((runs, manifests))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_on_one_node_never_break_pushes_through_the_other() {
    let cluster = Cluster::start(&[
        "--gc-grace",
        "5s",
        "--gc-interval",
        "0s",
        "--gc-untagged",
        "delete",
    ])
    .await;
    let (a, b) = cluster.registries();
    let seen = Arc::new(Recoveries::default());
    let stop = Arc::new(AtomicBool::new(false));

    let collector = tokio::spawn(collect_until(a.clone(), stop.clone()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| tokio::spawn(client(b.clone(), id, seen.clone())))
        .collect();
    let mut owned = Vec::new();
    let mut failures = Vec::new();
    for (id, handle) in clients.into_iter().enumerate() {
        match handle.await.expect("client task") {
            Ok(images) => owned.extend(images),
            Err(e) => failures.push(format!("client {id}: {e}")),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let collections = collector.await.expect("collector task");
    assert!(
        failures.is_empty(),
        "pushes through B failed while A collected:\n{}\n{}",
        failures.join("\n"),
        cluster.logs()
    );
    let (runs, manifests_deleted) =
        collections.unwrap_or_else(|e| panic!("a collection on A failed: {e}\n{}", cluster.logs()));
    eprintln!(
        "{runs} collections on A deleted {manifests_deleted} manifests while B was pushed to; {}",
        seen.describe()
    );
    assert!(
        runs >= 2,
        "collections ran while the clients pushed: {runs}"
    );

    // Quiet now: once the grace period has passed, one more collection takes the garbage left.
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    let last = collect(&a)
        .await
        .unwrap_or_else(|e| panic!("the final collection: {e}"));
    let deleted = manifests_deleted + last["manifests_deleted"].as_u64().unwrap_or(0);
    let untagged = owned.iter().filter(|o| !o.tagged).count();
    assert!(
        deleted as usize >= untagged,
        "{deleted} manifests collected, {untagged} untagged images left"
    );
    for o in &owned {
        let image = &o.image;
        for (name, reg) in [("B", &b), ("A", &a)] {
            if o.tagged {
                let what = format!("tagged {}:{} through {name}", image.repo, image.tag);
                reg.assert_image(image, &what).await;
            } else {
                let what = format!("untagged {} through {name}", image.digest);
                reg.assert_manifest_absent(&image.repo, &image.digest, &what)
                    .await;
            }
        }
    }
    assert_log_clean(&cluster.a.log());
    assert_log_clean(&cluster.b.log());
}
