//! Online garbage collection end to end: collections run back to back while clients push, tag,
//! refer, mount and delete, and never lose a reachable manifest or blob nor fail a push with a
//! server error; a collection killed midway (SIGKILL) leaves a consistent data directory whose
//! next collection finishes the work.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::http::{
    assert_committed_blobs_valid, assert_log_clean, client, digest_of, header, pseudo_random,
    staged_uploads, Image, Registry, OCI_MANIFEST,
};
use support::TestServer;

const REPOS: [&str; 3] = ["online/alpha", "online/beta", "online/gamma"];
const CLIENTS: u64 = 6;
const ITERATIONS: u64 = 50;
const SHARED_LAYERS: u64 = 6;
/// Attempts of one push: a push whose blobs a concurrent collection took is pushed again.
const MAX_ATTEMPTS: u64 = 50;
const EMPTY_CONFIG: &[u8] = b"{}";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
const SIGNATURE: &str = "application/vnd.example.signature.v1";
const SBOM: &str = "application/vnd.example.sbom.v1";

/// Deterministic choices for one client (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick(&mut self, items: &[usize]) -> usize {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A layer several images (in several repositories) share.
fn shared_layer(k: u64) -> Bytes {
    pseudo_random(7_000_000 + k, 700 + 97 * k as usize)
}

/// A referrer: an artifact manifest with the empty config, one payload blob and a subject.
#[derive(Debug, Clone)]
struct Artifact {
    manifest: Bytes,
    digest: String,
    subject: String,
    payload: Bytes,
}

impl Artifact {
    fn new(artifact_type: &str, subject: &str, subject_size: usize, payload: Bytes) -> Artifact {
        let body = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": OCI_EMPTY, "digest": digest_of(EMPTY_CONFIG), "size": EMPTY_CONFIG.len()},
            "layers": [{"mediaType": "application/octet-stream", "digest": digest_of(&payload), "size": payload.len()}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
            "annotations": {"org.example.payload": digest_of(&payload)},
        });
        let manifest = Bytes::from(serde_json::to_vec(&body).expect("artifact serialises"));
        Artifact {
            digest: digest_of(&manifest),
            manifest,
            subject: subject.to_owned(),
            payload,
        }
    }

    fn blobs(&self) -> Vec<Bytes> {
        vec![Bytes::from_static(EMPTY_CONFIG), self.payload.clone()]
    }
}

/// One image a client pushed, whether its tag should still be there, and its referrers (in
/// push order: an SBOM before the signature on it).
#[derive(Debug, Clone)]
struct Owned {
    image: Image,
    tagged: bool,
    artifacts: Vec<Artifact>,
}

/// What the clients went through: every clean failure is counted.
#[derive(Default)]
struct Stats {
    manifest_blob_unknown: AtomicU64,
    uploads_expired: AtomicU64,
    mounted: AtomicU64,
    mount_fell_back: AtomicU64,
    collected_before_delete: AtomicU64,
    most_attempts: AtomicU64,
}

fn error_code(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A client of the test: pushes with the recoveries a real client has, and reports anything
/// else (a 5xx above all) as an error.
struct Pusher {
    reg: Registry,
    id: u64,
    stats: Arc<Stats>,
}

impl Pusher {
    /// Monolithic `POST ?digest=`. With a zero grace period a concurrent collection may expire
    /// the session inside the request (404 BLOB_UPLOAD_UNKNOWN); the client starts again.
    async fn upload(&self, repo: &str, data: &Bytes) -> Result<(), String> {
        let digest = digest_of(data);
        for _ in 0..MAX_ATTEMPTS {
            let response = self
                .reg
                .http
                .post(
                    self.reg
                        .url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")),
                )
                .header("content-type", "application/octet-stream")
                .body(data.clone())
                .send()
                .await
                .map_err(|e| format!("blob push {digest} to {repo}: {e}"))?;
            let status = response.status();
            let digest_header = header(&response, "docker-content-digest");
            let text = response.text().await.unwrap_or_default();
            match status.as_u16() {
                201 if digest_header.as_deref() == Some(digest.as_str()) => return Ok(()),
                404 if error_code(&text) == "BLOB_UPLOAD_UNKNOWN" => {
                    self.stats.uploads_expired.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    return Err(format!(
                        "blob push {digest} to {repo}: {status} (digest header {digest_header:?}): {text}"
                    ))
                }
            }
        }
        Err(format!(
            "blob push {digest} to {repo}: session expired {MAX_ATTEMPTS} times"
        ))
    }

    /// Cross-repository mount from `from`; when the registry starts an upload instead (the
    /// blob is not there any more), the bytes go to that session.
    async fn mount(&self, repo: &str, from: &str, data: &Bytes) -> Result<(), String> {
        let digest = digest_of(data);
        let what = format!("mount of {digest} from {from} to {repo}");
        let response = self
            .reg
            .http
            .post(self.reg.url(&format!(
                "/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"
            )))
            .header("content-length", "0")
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let status = response.status();
        let location = header(&response, "location");
        let text = response.text().await.unwrap_or_default();
        match (status.as_u16(), location) {
            (201, _) => {
                self.stats.mounted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            (202, Some(location)) => {
                self.stats.mount_fell_back.fetch_add(1, Ordering::Relaxed);
                let url = Registry::with_digest(&self.reg.absolute(&location), &digest);
                let response = self
                    .reg
                    .http
                    .put(url)
                    .header("content-type", "application/octet-stream")
                    .body(data.clone())
                    .send()
                    .await
                    .map_err(|e| format!("{what}: PUT to the session: {e}"))?;
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                match status.as_u16() {
                    201 => Ok(()),
                    404 if error_code(&text) == "BLOB_UPLOAD_UNKNOWN" => {
                        self.stats.uploads_expired.fetch_add(1, Ordering::Relaxed);
                        self.upload(repo, data).await
                    }
                    _ => Err(format!("{what}: PUT to the session: {status}: {text}")),
                }
            }
            (status, _) => Err(format!("{what}: {status}: {text}")),
        }
    }

    async fn push_blobs(
        &self,
        repo: &str,
        blobs: &[Bytes],
        mount_from: Option<&str>,
    ) -> Result<(), String> {
        for blob in blobs {
            match mount_from {
                Some(from) => self.mount(repo, from, blob).await?,
                None => self.upload(repo, blob).await?,
            }
        }
        Ok(())
    }

    /// `PUT` of a manifest. A 400 MANIFEST_BLOB_UNKNOWN means a collection took a blob between
    /// its push and this one: the blobs are pushed again, then the manifest.
    async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        body: &Bytes,
        blobs: &[Bytes],
    ) -> Result<(), String> {
        let digest = digest_of(body);
        for attempt in 1..=MAX_ATTEMPTS {
            let response = self
                .reg
                .put_manifest(repo, reference, OCI_MANIFEST, body.clone())
                .await
                .map_err(|e| format!("manifest PUT {repo}:{reference}: {e}"))?;
            let status = response.status();
            let digest_header = header(&response, "docker-content-digest");
            let text = response.text().await.unwrap_or_default();
            match status.as_u16() {
                201 if digest_header.as_deref() == Some(digest.as_str()) => {
                    self.stats
                        .most_attempts
                        .fetch_max(attempt, Ordering::Relaxed);
                    return Ok(());
                }
                400 if error_code(&text) == "MANIFEST_BLOB_UNKNOWN" => {
                    self.stats
                        .manifest_blob_unknown
                        .fetch_add(1, Ordering::Relaxed);
                    self.push_blobs(repo, blobs, None).await?;
                }
                _ => {
                    return Err(format!(
                        "manifest PUT {repo}:{reference} ({digest}): {status} (digest header {digest_header:?}): {text}"
                    ))
                }
            }
        }
        Err(format!(
            "manifest PUT {repo}:{reference}: blobs collected under it {MAX_ATTEMPTS} times"
        ))
    }

    async fn push_image(&self, image: &Image, mount_from: Option<&str>) -> Result<(), String> {
        let blobs = image.blobs();
        self.push_blobs(&image.repo, &blobs, mount_from).await?;
        self.put_manifest(&image.repo, &image.tag, &image.manifest, &blobs)
            .await
    }

    async fn push_artifact(&self, repo: &str, artifact: &Artifact) -> Result<(), String> {
        let blobs = artifact.blobs();
        self.push_blobs(repo, &blobs, None).await?;
        self.put_manifest(repo, &artifact.digest, &artifact.manifest, &blobs)
            .await
    }

    /// `DELETE` of a tag or manifest: 202, or 404 MANIFEST_UNKNOWN when `may_be_gone`.
    async fn delete(&self, repo: &str, reference: &str, may_be_gone: bool) -> Result<(), String> {
        let response = self
            .reg
            .http
            .delete(self.reg.url(&format!("/v2/{repo}/manifests/{reference}")))
            .send()
            .await
            .map_err(|e| format!("DELETE {repo}:{reference}: {e}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        match status.as_u16() {
            202 => Ok(()),
            404 if may_be_gone && error_code(&text) == "MANIFEST_UNKNOWN" => {
                self.stats
                    .collected_before_delete
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            _ => Err(format!("DELETE {repo}:{reference}: {status}: {text}")),
        }
    }

    fn other_repo(&self, rng: &mut Rng, repo: &str) -> &'static str {
        let others: Vec<&'static str> = REPOS.iter().copied().filter(|r| *r != repo).collect();
        others[rng.below(others.len() as u64) as usize]
    }

    /// Pushes a new tagged image, maybe with a signature, maybe with an SBOM signed in turn.
    async fn push_new(&self, rng: &mut Rng, iteration: u64) -> Result<Owned, String> {
        let seed = 1_000_000 * (self.id + 1) + iteration;
        let repo = REPOS[rng.below(REPOS.len() as u64) as usize];
        let mut layers = vec![shared_layer(rng.below(SHARED_LAYERS))];
        if rng.chance(50) {
            layers.push(pseudo_random(seed, 200 + rng.below(400) as usize));
        }
        let tag = format!("c{}-{iteration}", self.id);
        let image = Image::with_layers(repo, &tag, seed, layers);
        let mount_from = rng.chance(70).then(|| self.other_repo(rng, repo));
        self.push_image(&image, mount_from).await?;
        let mut artifacts = Vec::new();
        let size = image.manifest.len();
        if rng.chance(60) {
            let payload = pseudo_random(seed + 500_000, 64);
            artifacts.push(Artifact::new(SIGNATURE, &image.digest, size, payload));
        }
        if rng.chance(40) {
            let sbom = Artifact::new(
                SBOM,
                &image.digest,
                size,
                pseudo_random(seed + 600_000, 300),
            );
            let signature = Artifact::new(
                SIGNATURE,
                &sbom.digest,
                sbom.manifest.len(),
                pseudo_random(seed + 700_000, 64),
            );
            artifacts.push(sbom);
            artifacts.push(signature);
        }
        for artifact in &artifacts {
            self.push_artifact(repo, artifact).await?;
        }
        Ok(Owned {
            image,
            tagged: true,
            artifacts,
        })
    }

    async fn run(self) -> Result<Vec<Owned>, String> {
        let mut rng = Rng::new(self.id + 11);
        let mut owned: Vec<Owned> = Vec::new();
        for iteration in 0..ITERATIONS {
            let tagged: Vec<usize> = (0..owned.len()).filter(|&i| owned[i].tagged).collect();
            let untagged: Vec<usize> = (0..owned.len()).filter(|&i| !owned[i].tagged).collect();
            let action = rng.below(10);
            if (4..=5).contains(&action) && !tagged.is_empty() {
                // Untag: the image and its referrers become garbage.
                let i = rng.pick(&tagged);
                self.delete(&owned[i].image.repo, &owned[i].image.tag, false)
                    .await?;
                owned[i].tagged = false;
            } else if action == 6 && !owned.is_empty() {
                // Delete by digest: a tagged image must still be there; an untagged one may
                // have been collected already. Its referrers are orphaned.
                let all: Vec<usize> = (0..owned.len()).collect();
                let i = rng.pick(&all);
                let may_be_gone = !owned[i].tagged;
                self.delete(&owned[i].image.repo, &owned[i].image.digest, may_be_gone)
                    .await?;
                owned[i].tagged = false;
            } else if action == 7 && !tagged.is_empty() {
                // Copy a tagged image to another repository, mounting its blobs from there.
                let i = rng.pick(&tagged);
                let source = owned[i].image.clone();
                let target = self.other_repo(&mut rng, &source.repo);
                if owned
                    .iter()
                    .any(|o| o.image.repo == target && o.image.digest == source.digest)
                {
                    continue;
                }
                let copy = Image {
                    repo: target.to_owned(),
                    tag: format!("c{}-{iteration}", self.id),
                    ..source.clone()
                };
                self.push_image(&copy, Some(&source.repo)).await?;
                owned.push(Owned {
                    image: copy,
                    tagged: true,
                    artifacts: Vec::new(),
                });
            } else if action >= 8 && !untagged.is_empty() {
                // Push an untagged (maybe collected) image again, with all its referrers.
                let i = rng.pick(&untagged);
                let image = owned[i].image.clone();
                let mount_from = rng
                    .chance(50)
                    .then(|| self.other_repo(&mut rng, &image.repo));
                self.push_image(&image, mount_from).await?;
                for artifact in &owned[i].artifacts {
                    self.push_artifact(&image.repo, artifact).await?;
                }
                owned[i].tagged = true;
            } else {
                owned.push(self.push_new(&mut rng, iteration).await?);
            }
        }
        Ok(owned)
    }
}

/// Totals of the collections run while the clients worked.
#[derive(Debug, Default)]
struct Collections {
    runs: u64,
    dry_runs: u64,
    manifests_deleted: u64,
    blobs_deleted: u64,
}

/// `POST /berth/v1/gc` back to back until `stop`; every answer must be a 200 report.
async fn collect_back_to_back(reg: Registry, stop: Arc<AtomicBool>) -> Result<Collections, String> {
    let mut totals = Collections::default();
    while !stop.load(Ordering::Relaxed) {
        let dry_run = totals.runs % 8 == 7;
        let path = if dry_run {
            "/berth/v1/gc?dry_run=true"
        } else {
            "/berth/v1/gc"
        };
        let response = reg
            .http
            .post(reg.url(path))
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status != StatusCode::OK {
            return Err(format!(
                "collection {} ({path}): {status}: {text}",
                totals.runs + 1
            ));
        }
        let report: Value = serde_json::from_str(&text)
            .map_err(|e| format!("collection report is not JSON ({e}): {text}"))?;
        if report["dry_run"] != dry_run {
            return Err(format!("collection report with the wrong dry_run: {text}"));
        }
        totals.runs += 1;
        if dry_run {
            totals.dry_runs += 1;
        } else {
            totals.manifests_deleted += report["manifests_deleted"].as_u64().unwrap_or(0);
            totals.blobs_deleted += report["blobs_deleted"].as_u64().unwrap_or(0);
        }
    }
    Ok(totals)
}

/// One collection through the admin endpoint; asserts a 200 report.
async fn collect(reg: &Registry) -> Value {
    let response = reg
        .http
        .post(reg.url("/berth/v1/gc"))
        .send()
        .await
        .expect("POST /berth/v1/gc");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "collection: {text}");
    let report: Value = serde_json::from_str(&text).expect("a JSON report");
    assert_eq!(report["dry_run"], false, "a real collection: {text}");
    report
}

/// The digests `GET /v2/<repo>/referrers/<subject>` lists (one page holds them all here).
async fn referrer_digests(reg: &Registry, repo: &str, subject: &str) -> BTreeSet<String> {
    let response = reg
        .http
        .get(reg.url(&format!("/v2/{repo}/referrers/{subject}")))
        .send()
        .await
        .expect("referrers GET");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(
        status,
        StatusCode::OK,
        "referrers of {subject} in {repo}: {text}"
    );
    let index: Value = serde_json::from_str(&text).expect("referrers JSON");
    index["manifests"]
        .as_array()
        .unwrap_or_else(|| panic!("referrers of {subject} in {repo}: no manifests: {text}"))
        .iter()
        .map(|d| d["digest"].as_str().expect("descriptor digest").to_owned())
        .collect()
}

/// The repository's tags (an absent or null list is empty).
async fn tag_names(reg: &Registry, repo: &str) -> BTreeSet<String> {
    let response = reg
        .http
        .get(reg.url(&format!("/v2/{repo}/tags/list")))
        .send()
        .await
        .expect("tags GET");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::OK, "tags of {repo}: {text}");
    let value: Value = serde_json::from_str(&text).expect("tags JSON");
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
/// referrers, transitively.
async fn crawl_live_blobs(reg: &Registry, repos: &[&str]) -> BTreeSet<String> {
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
async fn pull_blobs(reg: &Registry, image: &Image) -> Result<(), String> {
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

/// Runs `check` on every image, a few at a time; returns the failures.
async fn check_all<F, Fut>(reg: &Registry, images: &[Image], check: F) -> Vec<String>
where
    F: Fn(Registry, Image) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    futures::stream::iter(images.iter().cloned())
        .map(|image| check(reg.clone(), image))
        .buffer_unordered(8)
        .filter_map(|outcome| async move { outcome.err() })
        .collect()
        .await
}

/// Every image pulls back byte-exact.
async fn pull_all(reg: &Registry, images: &[Image], what: &str) {
    let failures = check_all(reg, images, pull_exact).await;
    assert!(
        failures.is_empty(),
        "{what}: {} of {} images do not pull back byte-exact:\n{}",
        failures.len(),
        images.len(),
        failures.join("\n")
    );
}

/// The counts of a collection report.
fn summary(report: &Value) -> String {
    format!(
        "{} manifests, {} blobs, {} links, {} uploads deleted",
        report["manifests_deleted"],
        report["blobs_deleted"],
        report["links_removed"],
        report["uploads_expired"]
    )
}

/// At most a few entries of a set difference, for failure messages.
fn sample(items: impl Iterator<Item = String>) -> Vec<String> {
    items.take(8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_back_to_back_never_break_concurrent_pushes_or_lose_reachable_content() {
    let server = TestServer::start_with(&[
        "--gc-grace",
        "0s",
        "--gc-interval",
        "0s",
        "--gc-untagged",
        "delete",
    ]);
    let reg = Registry::new(server.url());
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));

    let collector = tokio::spawn(collect_back_to_back(reg.clone(), stop.clone()));
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
        "collections while clients ran: {collections:?}; manifest PUTs that lost a blob: {}, \
         upload sessions expired under a push: {}, mounts: {} (fell back to uploads: {}), \
         deletes of already collected manifests: {}, most attempts of one manifest PUT: {}",
        stats.manifest_blob_unknown.load(Ordering::Relaxed),
        stats.uploads_expired.load(Ordering::Relaxed),
        stats.mounted.load(Ordering::Relaxed),
        stats.mount_fell_back.load(Ordering::Relaxed),
        stats.collected_before_delete.load(Ordering::Relaxed),
        stats.most_attempts.load(Ordering::Relaxed),
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

    // Tags are exactly what the clients left.
    let mut expected_tags: BTreeMap<&str, BTreeSet<String>> =
        REPOS.iter().map(|r| (*r, BTreeSet::new())).collect();
    for o in owned.iter().filter(|o| o.tagged) {
        expected_tags
            .get_mut(o.image.repo.as_str())
            .expect("a test repository")
            .insert(o.image.tag.clone());
    }
    for (repo, expected) in &expected_tags {
        assert_eq!(&tag_names(&reg, repo).await, expected, "tags of {repo}");
    }

    // Tagged images, their referrers and the referrer chains pull byte-exact and are listed;
    // untagged images and their referrers are gone.
    let mut live_blobs = BTreeSet::new();
    for o in &owned {
        let repo = &o.image.repo;
        let what = format!("{repo}:{} ({})", o.image.tag, o.image.digest);
        if !o.tagged {
            reg.assert_manifest_absent(repo, &o.image.digest, &format!("untagged {what}"))
                .await;
            for artifact in &o.artifacts {
                reg.assert_manifest_absent(
                    repo,
                    &artifact.digest,
                    &format!("referrer {} of untagged {what}", artifact.digest),
                )
                .await;
            }
            continue;
        }
        reg.assert_image(&o.image, &format!("tagged {what}")).await;
        live_blobs.extend(o.image.blobs().iter().map(|b| digest_of(b)));
        for artifact in &o.artifacts {
            let about = format!("referrer {} of {what}", artifact.digest);
            reg.assert_manifest(repo, &artifact.digest, &artifact.manifest, &about)
                .await;
            for blob in artifact.blobs() {
                reg.assert_blob(repo, &blob, &about).await;
                live_blobs.insert(digest_of(&blob));
            }
        }
        let subjects =
            std::iter::once(&o.image.digest).chain(o.artifacts.iter().map(|a| &a.digest));
        for subject in subjects {
            let expected: BTreeSet<String> = o
                .artifacts
                .iter()
                .filter(|a| &a.subject == subject)
                .map(|a| a.digest.clone())
                .collect();
            assert_eq!(
                referrer_digests(&reg, repo, subject).await,
                expected,
                "referrers of {subject} in {repo} (tagged {what})"
            );
        }
    }

    // The server's own view agrees, and every blob file on disk is in use.
    let crawled = crawl_live_blobs(&reg, &REPOS).await;
    assert_eq!(
        crawled, live_blobs,
        "blobs reachable by crawling tags and referrers vs the bookkeeping"
    );
    let on_disk: BTreeSet<String> = assert_committed_blobs_valid(&server.data_dir())
        .into_iter()
        .collect();
    assert!(
        on_disk.is_subset(&live_blobs),
        "blob files no live manifest uses: {:?}",
        sample(on_disk.difference(&live_blobs).cloned())
    );
    assert!(
        live_blobs.is_subset(&on_disk),
        "blobs of live manifests missing on disk: {:?}",
        sample(live_blobs.difference(&on_disk).cloned())
    );
    assert_eq!(
        staged_uploads(&server.data_dir()),
        Vec::<String>::new(),
        "the final collection expired every upload session"
    );
    assert_log_clean(&server.log());
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_killed_midway_loses_nothing_and_the_next_one_finishes() {
    let mut server = TestServer::start_with(&[
        "--gc-grace",
        "0s",
        "--gc-interval",
        "0s",
        "--gc-untagged",
        "delete",
    ]);
    let mut tagged: Vec<Image> = Vec::new();
    let mut garbage: Vec<Image> = Vec::new();
    for (round, kill_after_ms) in [5u64, 30, 100].into_iter().enumerate() {
        let registry = Registry::new(server.url());
        let (kept, dropped) = crash_batch(round as u64);
        let mut by_repo: BTreeMap<String, Vec<Image>> = BTreeMap::new();
        for image in kept.iter().chain(&dropped) {
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
        for image in &dropped {
            let response = registry
                .http
                .delete(registry.url(&format!("/v2/{}/manifests/{}", image.repo, image.tag)))
                .send()
                .await
                .expect("tag DELETE");
            assert_eq!(
                response.status(),
                StatusCode::ACCEPTED,
                "untagging {}:{}",
                image.repo,
                image.tag
            );
        }

        // A collection, and SIGKILL shortly after it starts.
        let gc_url = registry.url("/berth/v1/gc");
        let started = tokio::spawn(async move { client().post(gc_url).send().await });
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        server.kill();
        assert_log_clean(&server.log());
        let finished = match started.await.expect("collection request task") {
            Ok(response) => response.status() == StatusCode::OK,
            Err(_) => false,
        };
        eprintln!(
            "round {round}: killed {kill_after_ms} ms into a collection (it {} before the kill)",
            if finished {
                "finished"
            } else {
                "had not finished"
            }
        );
        server.restart();
        let registry = Registry::new(server.url());
        tagged.extend(kept);
        garbage.extend(dropped);

        pull_all(
            &registry,
            &tagged,
            &format!("round {round}: tagged images after a crash mid-collection"),
        )
        .await;
        assert_committed_blobs_valid(&server.data_dir());
        // What the collection had not deleted yet is still whole.
        let survivors = check_all(&registry, &garbage, |registry, image| async move {
            match registry.get_manifest(&image.repo, &image.digest).await {
                Ok(reply) if reply.status == StatusCode::NOT_FOUND => Ok(()),
                Ok(reply) if reply.status == StatusCode::OK && reply.body == image.manifest => {
                    pull_blobs(&registry, &image).await
                }
                Ok(reply) => Err(format!(
                    "GET untagged {}@{}: {} ({} bytes)",
                    image.repo,
                    image.digest,
                    reply.status,
                    reply.body.len()
                )),
                Err(e) => Err(format!("GET {}@{}: {e}", image.repo, image.digest)),
            }
        })
        .await;
        assert!(
            survivors.is_empty(),
            "round {round}: untagged manifests that survived the crash are not whole:\n{}",
            survivors.join("\n")
        );

        // The next collection finishes the work.
        let report = collect(&registry).await;
        eprintln!(
            "round {round}: collection after the restart: {}",
            summary(&report)
        );
        let leftovers = check_all(&registry, &garbage, |registry, image| async move {
            match registry.get_manifest(&image.repo, &image.digest).await {
                Ok(reply) if reply.status == StatusCode::NOT_FOUND => Ok(()),
                Ok(reply) => Err(format!(
                    "untagged {}@{} after the next collection: {}",
                    image.repo, image.digest, reply.status
                )),
                Err(e) => Err(format!("GET {}@{}: {e}", image.repo, image.digest)),
            }
        })
        .await;
        assert!(
            leftovers.is_empty(),
            "round {round}: the next collection left untagged manifests:\n{}",
            leftovers.join("\n")
        );
        pull_all(
            &registry,
            &tagged,
            &format!("round {round}: tagged images after the next collection"),
        )
        .await;
        let expected: BTreeSet<String> = tagged
            .iter()
            .flat_map(|i| i.blobs())
            .map(|b| digest_of(&b))
            .collect();
        let on_disk: BTreeSet<String> = assert_committed_blobs_valid(&server.data_dir())
            .into_iter()
            .collect();
        assert_eq!(
            on_disk.len(),
            expected.len(),
            "round {round}: blob files on disk vs distinct blobs of the tagged images; \
             unexpected files: {:?}; missing: {:?}",
            sample(on_disk.difference(&expected).cloned()),
            sample(expected.difference(&on_disk).cloned())
        );
        assert_eq!(on_disk, expected, "round {round}: blob files on disk");
        assert_log_clean(&server.log());
    }
}
