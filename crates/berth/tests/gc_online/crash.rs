//! A collection killed midway (SIGKILL) loses nothing reachable, leaves whatever it had not
//! deleted yet whole, and the next collection finishes the work.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::StatusCode;

use crate::checks::{assert_every_image, blobs_on_disk, pull_all, pull_blobs, sample};
use crate::collections::{collect, eager_gc_server, summary};
use crate::requests::delete_manifest;
use crate::support::http::{
    assert_committed_blobs_valid, assert_log_clean, client, digest_of, pseudo_random, Image,
    ManifestReply, Registry,
};
use crate::support::TestServer;

const CRASH_REPOS: [&str; 4] = ["crash/r0", "crash/r1", "crash/r2", "crash/r3"];
const CRASH_IMAGES: u64 = 200;

/// One round's images: small, spread over the repositories, some layers shared by all
/// rounds. Returns (to stay tagged, to untag).
fn crash_batch(round: u64) -> (Vec<Image>, Vec<Image>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for j in 0..CRASH_IMAGES {
        let seed = 50_000_000 + round * 10_000 + j;
        let repo = CRASH_REPOS[(j % CRASH_REPOS.len() as u64) as usize];
        let layers = vec![
            pseudo_random(seed, 256 + (j % 7) as usize),
            pseudo_random(90_000_000 + j % 5, 512),
        ];
        let image = Image::with_layers(repo, &format!("r{round}-{j}"), seed, layers);
        if (j / CRASH_REPOS.len() as u64).is_multiple_of(2) {
            kept.push(image);
        } else {
            dropped.push(image);
        }
    }
    (kept, dropped)
}

/// Pushes `images`, one task per repository so the repositories fill in parallel.
async fn push_per_repo<'a>(registry: &Registry, images: impl Iterator<Item = &'a Image>) {
    let mut by_repo: BTreeMap<String, Vec<Image>> = BTreeMap::new();
    for image in images {
        by_repo
            .entry(image.repo.clone())
            .or_default()
            .push(image.clone());
    }
    let pushes: Vec<_> = by_repo
        .into_values()
        .map(|images| {
            let registry = registry.clone();
            tokio::spawn(async move {
                for image in &images {
                    registry.push_image(image).await;
                }
            })
        })
        .collect();
    for push in pushes {
        push.await.expect("pushes succeed");
    }
}

/// Deletes the tag of every image, which must answer 202.
async fn untag(registry: &Registry, images: &[Image]) {
    for image in images {
        let reply = delete_manifest(registry, &image.repo, &image.tag)
            .await
            .expect("tag DELETE");
        assert_eq!(
            reply.status,
            StatusCode::ACCEPTED,
            "untagging {}:{}",
            image.repo,
            image.tag
        );
    }
}

/// Starts a collection, SIGKILLs the server `kill_after_ms` into it, checks the log and
/// restarts the server; returns whether the collection had answered before the kill.
async fn kill_mid_collection(server: &mut TestServer, kill_after_ms: u64) -> bool {
    let gc_url = Registry::new(server.url()).url("/berth/v1/gc");
    let started = tokio::spawn(async move { client().post(gc_url).send().await });
    tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
    server.kill();
    assert_log_clean(&server.log());
    let finished = match started.await.expect("collection request task") {
        Ok(response) => response.status() == StatusCode::OK,
        Err(_) => false,
    };
    server.restart();
    finished
}

/// Whether `image`'s manifest answers by digest: `None` once it is gone (404).
async fn manifest_reply(
    registry: &Registry,
    image: &Image,
) -> Result<Option<ManifestReply>, String> {
    match registry.get_manifest(&image.repo, &image.digest).await {
        Ok(reply) if reply.status == StatusCode::NOT_FOUND => Ok(None),
        Ok(reply) => Ok(Some(reply)),
        Err(e) => Err(format!("GET {}@{}: {e}", image.repo, image.digest)),
    }
}

/// An untagged image a killed collection had not deleted yet is still whole.
async fn gone_or_whole(registry: Registry, image: Image) -> Result<(), String> {
    match manifest_reply(&registry, &image).await? {
        None => Ok(()),
        Some(reply) if reply.status == StatusCode::OK && reply.body == image.manifest => {
            pull_blobs(&registry, &image).await
        }
        Some(reply) => Err(format!(
            "GET untagged {}@{}: {} ({} bytes)",
            image.repo,
            image.digest,
            reply.status,
            reply.body.len()
        )),
    }
}

/// An untagged image is gone once a collection ran to the end.
async fn gone(registry: Registry, image: Image) -> Result<(), String> {
    match manifest_reply(&registry, &image).await? {
        None => Ok(()),
        Some(reply) => Err(format!(
            "untagged {}@{} after the next collection: {}",
            image.repo, image.digest, reply.status
        )),
    }
}

/// The blob files on disk are exactly the blobs of the `tagged` images.
fn assert_disk_holds_exactly(server: &TestServer, tagged: &[Image], round: usize) {
    let expected: BTreeSet<String> = tagged
        .iter()
        .flat_map(|i| i.blobs())
        .map(|b| digest_of(&b))
        .collect();
    let on_disk = blobs_on_disk(server);
    assert_eq!(
        on_disk.len(),
        expected.len(),
        "round {round}: blob files on disk vs distinct blobs of the tagged images; \
         unexpected files: {:?}; missing: {:?}",
        sample(on_disk.difference(&expected)),
        sample(expected.difference(&on_disk))
    );
    assert_eq!(on_disk, expected, "round {round}: blob files on disk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_killed_midway_loses_nothing_and_the_next_one_finishes() {
    let mut server = eager_gc_server();
    let mut tagged: Vec<Image> = Vec::new();
    let mut garbage: Vec<Image> = Vec::new();
    for (round, kill_after_ms) in [5u64, 30, 100].into_iter().enumerate() {
        let registry = Registry::new(server.url());
        let (kept, dropped) = crash_batch(round as u64);
        push_per_repo(&registry, kept.iter().chain(&dropped)).await;
        untag(&registry, &dropped).await;

        let finished = kill_mid_collection(&mut server, kill_after_ms).await;
        eprintln!(
            "round {round}: killed {kill_after_ms} ms into a collection (it {} before the kill)",
            if finished {
                "finished"
            } else {
                "had not finished"
            }
        );
        let registry = Registry::new(server.url());
        tagged.extend(kept);
        garbage.extend(dropped);

        let after_crash = format!("round {round}: tagged images after a crash mid-collection");
        pull_all(&registry, &tagged, &after_crash).await;
        assert_committed_blobs_valid(&server.data_dir());
        let survivors =
            format!("round {round}: untagged manifests that survived the crash are not whole");
        assert_every_image(&registry, &garbage, gone_or_whole, &survivors).await;

        // The next collection finishes the work.
        let report = collect(&registry).await;
        eprintln!(
            "round {round}: collection after the restart: {}",
            summary(&report)
        );
        let leftovers = format!("round {round}: the next collection left untagged manifests");
        assert_every_image(&registry, &garbage, gone, &leftovers).await;
        let after_next = format!("round {round}: tagged images after the next collection");
        pull_all(&registry, &tagged, &after_next).await;
        assert_disk_holds_exactly(&server, &tagged, round);
        assert_log_clean(&server.log());
    }
}
