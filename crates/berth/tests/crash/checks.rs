//! The consistency checks after each restart: every blob ever attempted is unknown or
//! byte-exact, acknowledged pushes survived, manifests and tags that resolve have all their
//! blobs, and the registry a client walks from the catalog down is whole.

use std::collections::BTreeMap;

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::Value;

use crate::attempts::{snapshot, BlobAttempt, Log, ManifestAttempt};
use crate::support::http::*;
use crate::support::TestServer;

/// Every check a restarted server must pass, against everything attempted so far. Returns the
/// number of committed blob files and of tags walked.
pub async fn check_after_restart(
    reg: &Registry,
    server: &TestServer,
    blobs: &Log<BlobAttempt>,
    images: &Log<ManifestAttempt>,
    when: &str,
) -> (usize, usize) {
    let committed = assert_committed_blobs_valid(&server.data_dir());
    check_blobs(reg, &snapshot(blobs), when).await;
    check_manifests(reg, &snapshot(images), when).await;
    let walked = walk_registry(reg, when).await;
    (committed.len(), walked)
}

/// Every blob ever attempted is either unknown or byte-exact; acknowledged ones are readable.
async fn check_blobs(reg: &Registry, attempts: &[BlobAttempt], when: &str) {
    for attempt in attempts {
        let what = format!(
            "{when}: blob {} in {} (round {}, chunked {}, acknowledged {})",
            attempt.digest, attempt.repo, attempt.round, attempt.chunked, attempt.completed
        );
        let (status, body) = reg
            .get_blob(&attempt.repo, &attempt.digest)
            .await
            .expect("blob GET");
        match status {
            StatusCode::OK => {
                assert_eq!(
                    digest_of(&body),
                    attempt.digest,
                    "{what}: served bytes do not hash to the digest"
                );
                assert!(body == attempt.data, "{what}: served bytes differ");
                reg.assert_blob(&attempt.repo, &attempt.data, &what).await;
            }
            StatusCode::NOT_FOUND => {
                assert!(!attempt.completed, "{what}: an acknowledged blob was lost");
                reg.assert_blob_absent(&attempt.repo, &attempt.digest, &what)
                    .await;
            }
            other => panic!(
                "{what}: GET answered {other}: {}",
                String::from_utf8_lossy(&body)
            ),
        }
    }
}

/// Every referenced blob of the manifest `body` is readable through `repo` and hashes right.
async fn check_manifest_blobs(reg: &Registry, repo: &str, body: &[u8], what: &str) {
    let manifest: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{what}: stored manifest is not JSON: {e}"));
    let descriptors = std::iter::once(&manifest["config"])
        .chain(manifest["layers"].as_array().into_iter().flatten());
    for descriptor in descriptors {
        let digest = descriptor["digest"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: descriptor without digest"));
        let (status, blob) = reg.get_blob(repo, digest).await.expect("blob GET");
        assert_eq!(
            status,
            StatusCode::OK,
            "{what}: referenced blob {digest} is not readable"
        );
        assert_eq!(
            digest_of(&blob),
            digest,
            "{what}: referenced blob {digest} has the wrong bytes"
        );
        assert_eq!(
            Some(blob.len() as u64),
            descriptor["size"].as_u64(),
            "{what}: referenced blob {digest} has the wrong size"
        );
    }
}

/// Manifests by digest and by tag: unknown or exact, acknowledged ones present, every one that
/// resolves with all its blobs.
async fn check_manifests(reg: &Registry, attempts: &[ManifestAttempt], when: &str) {
    let mut by_tag: BTreeMap<(String, String), (BTreeMap<String, Bytes>, bool)> = BTreeMap::new();
    for attempt in attempts {
        let image = &attempt.image;
        let what = format!(
            "{when}: manifest {} in {} (acknowledged {})",
            image.digest, image.repo, attempt.completed
        );
        let reply = reg
            .get_manifest(&image.repo, &image.digest)
            .await
            .expect("manifest GET");
        match reply.status {
            StatusCode::OK => {
                assert!(reply.body == image.manifest, "{what}: served bytes differ");
                check_manifest_blobs(reg, &image.repo, &reply.body, &what).await;
            }
            StatusCode::NOT_FOUND => assert!(
                !attempt.completed,
                "{what}: an acknowledged manifest was lost"
            ),
            other => panic!("{what}: GET answered {other}"),
        }
        let entry = by_tag
            .entry((image.repo.clone(), image.tag.clone()))
            .or_default();
        entry.0.insert(image.digest.clone(), image.manifest.clone());
        entry.1 |= attempt.completed;
    }
    for ((repo, tag), (allowed, acknowledged)) in &by_tag {
        let what = format!("{when}: tag {repo}:{tag}");
        let reply = reg.get_manifest(repo, tag).await.expect("manifest GET");
        match reply.status {
            StatusCode::OK => {
                reply.assert_one_of(allowed, &what);
                check_manifest_blobs(reg, repo, &reply.body, &what).await;
            }
            StatusCode::NOT_FOUND => assert!(
                !acknowledged,
                "{what}: a tag acknowledged before the crash is gone"
            ),
            other => panic!("{what}: GET answered {other}"),
        }
    }
}

/// Walks the registry as a client sees it: every repository in the catalog, every tag, every
/// manifest those name and every blob those reference must be readable and consistent.
async fn walk_registry(reg: &Registry, when: &str) -> usize {
    let mut manifests = 0;
    for repo in reg.catalog().await {
        let path = format!("/v2/{repo}/tags/list");
        let tags = reg
            .get_json(&path, &format!("{when}: tags of {repo}"))
            .await;
        for tag in tags["tags"].as_array().into_iter().flatten() {
            let tag = tag.as_str().unwrap();
            let what = format!("{when}: listed tag {repo}:{tag}");
            let reply = reg.get_manifest(&repo, tag).await.unwrap();
            assert_eq!(reply.status, StatusCode::OK, "{what} does not resolve");
            let digest = reply.digest.clone().expect("digest header");
            assert_eq!(
                digest_of(&reply.body),
                digest,
                "{what}: body does not hash to its digest"
            );
            reg.assert_manifest(&repo, &digest, &reply.body, &what)
                .await;
            check_manifest_blobs(reg, &repo, &reply.body, &what).await;
            manifests += 1;
        }
    }
    manifests
}
