//! Checks both tests end with: what the server lists and serves (tags, referrers, the blobs
//! reachable from them), images pulled back byte-exact, and the blob files on disk.

use std::collections::BTreeSet;
use std::future::Future;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;

use crate::requests::get_json;
use crate::support::http::{assert_committed_blobs_valid, digest_of, Image, Registry};
use crate::support::TestServer;

/// The digests `GET /v2/<repo>/referrers/<subject>` lists (one page holds them all here).
pub async fn referrer_digests(reg: &Registry, repo: &str, subject: &str) -> BTreeSet<String> {
    let what = format!("referrers of {subject} in {repo}");
    let path = format!("/v2/{repo}/referrers/{subject}");
    let (index, text) = get_json(reg, &path, &what).await;
    index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no manifests: {text}"))
        .iter()
        .map(|d| d["digest"].as_str().expect("descriptor digest").to_owned())
        .collect()
}

/// The repository's tags (an absent or null list is empty, as for a repository whose
/// every tag was deleted).
pub async fn tag_names(reg: &Registry, repo: &str) -> BTreeSet<String> {
    let path = format!("/v2/{repo}/tags/list");
    let (value, _) = get_json(reg, &path, &format!("tags of {repo}")).await;
    value["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .map(|t| t.as_str().expect("tag string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The config and layer digests a stored image or artifact manifest names.
fn manifest_blobs(body: &[u8]) -> Vec<String> {
    let value: Value = serde_json::from_slice(body).expect("manifest JSON");
    std::iter::once(&value["config"])
        .chain(value["layers"].as_array().into_iter().flatten())
        .filter_map(|d| d["digest"].as_str().map(str::to_owned))
        .collect()
}

/// Every blob the server says is in use: crawled from the tags of `repos` through the
/// referrers, transitively. It checks the server's view against the test's bookkeeping.
pub async fn crawl_live_blobs(reg: &Registry, repos: &[&str]) -> BTreeSet<String> {
    let mut blobs = BTreeSet::new();
    for repo in repos {
        let mut pending: Vec<String> = tag_names(reg, repo).await.into_iter().collect();
        let mut seen = BTreeSet::new();
        while let Some(reference) = pending.pop() {
            let reply = reg
                .get_manifest(repo, &reference)
                .await
                .expect("manifest GET");
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "crawl: {repo}:{reference} is listed but does not resolve"
            );
            let digest = digest_of(&reply.body);
            if !seen.insert(digest.clone()) {
                continue;
            }
            blobs.extend(manifest_blobs(&reply.body));
            pending.extend(referrer_digests(reg, repo, &digest).await);
        }
    }
    blobs
}

/// GET of every blob of `image` through its repository: 200, the bytes pushed, and a sha256
/// equal to the digest.
pub async fn pull_blobs(reg: &Registry, image: &Image) -> Result<(), String> {
    for blob in image.blobs() {
        let digest = digest_of(&blob);
        let (status, body) = reg
            .get_blob(&image.repo, &digest)
            .await
            .map_err(|e| format!("GET blob {digest} in {}: {e}", image.repo))?;
        if status != StatusCode::OK || body != blob || digest_of(&body) != digest {
            return Err(format!(
                "GET blob {digest} in {} ({}@{}): {status}, {} bytes (expected {})",
                image.repo,
                image.tag,
                image.digest,
                body.len(),
                blob.len()
            ));
        }
    }
    Ok(())
}

/// The image pulls back byte-exact: manifest by tag and by digest, then every blob.
async fn pull_exact(reg: Registry, image: Image) -> Result<(), String> {
    for reference in [&image.tag, &image.digest] {
        let reply = reg
            .get_manifest(&image.repo, reference)
            .await
            .map_err(|e| format!("GET manifest {}:{reference}: {e}", image.repo))?;
        if reply.status != StatusCode::OK
            || reply.body != image.manifest
            || reply.digest.as_deref() != Some(image.digest.as_str())
        {
            return Err(format!(
                "GET manifest {}:{reference} (expected {}): {}, digest header {:?}, {} bytes",
                image.repo,
                image.digest,
                reply.status,
                reply.digest,
                reply.body.len()
            ));
        }
    }
    pull_blobs(&reg, &image).await
}

/// Runs `check` on every image, a few at a time, and asserts that none failed; `what`
/// says what a failure means.
pub async fn assert_every_image<F, Fut>(reg: &Registry, images: &[Image], check: F, what: &str)
where
    F: Fn(Registry, Image) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let failures: Vec<String> = futures::stream::iter(images.iter().cloned())
        .map(|image| check(reg.clone(), image))
        .buffer_unordered(8)
        .filter_map(|outcome| async move { outcome.err() })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{what}: {} of {} images:\n{}",
        failures.len(),
        images.len(),
        failures.join("\n")
    );
}

/// Every image pulls back byte-exact.
pub async fn pull_all(reg: &Registry, images: &[Image], what: &str) {
    let what = format!("{what}: do not pull back byte-exact");
    assert_every_image(reg, images, pull_exact, &what).await;
}

/// The blob files in the server's data directory, each checked against its digest.
pub fn blobs_on_disk(server: &TestServer) -> BTreeSet<String> {
    assert_committed_blobs_valid(&server.data_dir())
        .into_iter()
        .collect()
}

/// At most a few entries of a set difference, for failure messages.
pub fn sample<'a>(items: impl Iterator<Item = &'a String>) -> Vec<String> {
    items.take(8).cloned().collect()
}
