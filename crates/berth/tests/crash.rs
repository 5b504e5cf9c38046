//! `kill -9` of the real binary while many uploads and manifest pushes are in flight, at a few
//! different moments, then a restart on the same data directory and a consistency check:
//! blobs are either unknown or byte-exact, acknowledged pushes survived, manifests that resolve
//! have all their blobs, interrupted chunked uploads resume or are cleanly unknown, every
//! committed file hashes to its name, and the server keeps working.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::Value;
use support::http::*;
use support::TestServer;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// When each round's kill happens, after the clients start.
const KILL_AFTER: [Duration; 3] = [
    Duration::from_millis(150),
    Duration::from_millis(600),
    Duration::from_millis(1100),
];

/// One blob push, recorded before it starts and updated as it progresses.
#[derive(Debug, Clone)]
struct BlobAttempt {
    round: usize,
    repo: String,
    data: Bytes,
    digest: String,
    chunked: bool,
    /// The session URL, once the server has answered the POST.
    location: Option<String>,
    /// The server answered 201.
    completed: bool,
}

/// One image push (blobs, then the manifest by tag).
#[derive(Debug, Clone)]
struct ManifestAttempt {
    image: Image,
    /// The server answered 201 to the manifest PUT.
    completed: bool,
}

type Log<T> = Arc<Mutex<Vec<T>>>;

fn record<T>(log: &Log<T>, item: T) -> usize {
    let mut log = log.lock().unwrap();
    log.push(item);
    log.len() - 1
}

/// Chunked uploads of 1-3 MiB blobs in 512 KiB PATCHes, each streamed slowly. Returns when
/// a request fails (the server was killed) or after a few blobs; any other answer than the
/// expected one while the server is up is a failure.
async fn chunked_uploader(
    reg: Registry,
    round: usize,
    repo: String,
    seed: u64,
    log: Log<BlobAttempt>,
) {
    for n in 0..4u64 {
        let size = MIB + ((seed * 7 + n * 13) % 9) as usize * 256 * KIB;
        let data = pseudo_random(seed * 100 + n, size);
        let digest = digest_of(&data);
        let idx = record(
            &log,
            BlobAttempt {
                round,
                repo: repo.clone(),
                data: data.clone(),
                digest: digest.clone(),
                chunked: true,
                location: None,
                completed: false,
            },
        );
        let Ok(response) = reg
            .http
            .post(reg.url(&format!("/v2/{repo}/blobs/uploads/")))
            .send()
            .await
        else {
            return;
        };
        assert_eq!(
            response.status(),
            StatusCode::ACCEPTED,
            "POST to start an upload while the server is up"
        );
        let location = reg.absolute(location(&response));
        log.lock().unwrap()[idx].location = Some(location.clone());
        let mut offset = 0;
        while offset < size {
            let end = (offset + 512 * KIB).min(size);
            let sent = reg
                .http
                .patch(&location)
                .header("content-type", "application/octet-stream")
                .header("content-range", format!("{offset}-{}", end - 1))
                .header("content-length", end - offset)
                .body(slow_body(
                    data.slice(offset..end),
                    32 * KIB,
                    Duration::from_millis(5),
                ))
                .send()
                .await;
            let Ok(response) = sent else { return };
            let status = response.status();
            assert_eq!(
                status,
                StatusCode::ACCEPTED,
                "PATCH {offset}-{end} while the server is up: {}",
                response.text().await.unwrap_or_default()
            );
            offset = end;
        }
        let sent = reg
            .http
            .put(Registry::with_digest(&location, &digest))
            .header("content-length", "0")
            .send()
            .await;
        let Ok(response) = sent else { return };
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "PUT {digest} while the server is up"
        );
        log.lock().unwrap()[idx].completed = true;
    }
}

/// Monolithic `POST ?digest=` of 1-2 MiB blobs, streamed slowly with a `Content-Length`.
async fn monolithic_uploader(
    reg: Registry,
    round: usize,
    repo: String,
    seed: u64,
    log: Log<BlobAttempt>,
) {
    for n in 0..4u64 {
        let size = MIB + ((seed * 5 + n * 11) % 5) as usize * 256 * KIB;
        let data = pseudo_random(seed * 100 + n, size);
        let digest = digest_of(&data);
        let idx = record(
            &log,
            BlobAttempt {
                round,
                repo: repo.clone(),
                data: data.clone(),
                digest: digest.clone(),
                chunked: false,
                location: None,
                completed: false,
            },
        );
        let sent = reg
            .http
            .post(reg.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
            .header("content-type", "application/octet-stream")
            .header("content-length", size)
            .body(slow_body(data, 32 * KIB, Duration::from_millis(5)))
            .send()
            .await;
        let Ok(response) = sent else { return };
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "monolithic POST while the server is up: {}",
            response.text().await.unwrap_or_default()
        );
        log.lock().unwrap()[idx].completed = true;
    }
}

/// Small images pushed one after the other to a few tags that get overwritten.
async fn image_pusher(
    reg: Registry,
    round: usize,
    repo: String,
    seed: u64,
    log: Log<ManifestAttempt>,
) {
    for n in 0..40u64 {
        let tag = format!("m{}", n % 3);
        let image_seed = 10_000 * (round as u64 + 1) + seed * 100 + n;
        let image = Image::new(&repo, &tag, image_seed, &[20_000 + (n as usize % 7) * 3000]);
        let idx = record(
            &log,
            ManifestAttempt {
                image: image.clone(),
                completed: false,
            },
        );
        for blob in image.blobs() {
            let sent = reg
                .http
                .post(reg.url(&format!(
                    "/v2/{repo}/blobs/uploads/?digest={}",
                    digest_of(&blob)
                )))
                .header("content-type", "application/octet-stream")
                .body(blob)
                .send()
                .await;
            let Ok(response) = sent else { return };
            assert_eq!(
                response.status(),
                StatusCode::CREATED,
                "image blob push while the server is up"
            );
        }
        let Ok(response) = reg
            .put_manifest(&repo, &tag, OCI_MANIFEST, image.manifest.clone())
            .await
        else {
            return;
        };
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "manifest push while the server is up: {}",
            response.text().await.unwrap_or_default()
        );
        log.lock().unwrap()[idx].completed = true;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
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
                let digest = reply.digest.clone().expect("digest header");
                let body = allowed
                    .get(&digest)
                    .unwrap_or_else(|| panic!("{what}: resolves to {digest}, never pushed to it"));
                assert!(
                    reply.body == *body,
                    "{what}: served bytes differ from {digest}"
                );
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
    let catalog: Value = reg
        .http
        .get(reg.url("/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut manifests = 0;
    for repo in catalog["repositories"].as_array().expect("repositories") {
        let repo = repo.as_str().unwrap();
        let response = reg
            .http
            .get(reg.url(&format!("/v2/{repo}/tags/list")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{when}: tags of {repo}");
        let tags: Value = response.json().await.unwrap();
        for tag in tags["tags"].as_array().into_iter().flatten() {
            let tag = tag.as_str().unwrap();
            let what = format!("{when}: listed tag {repo}:{tag}");
            let reply = reg.get_manifest(repo, tag).await.unwrap();
            assert_eq!(reply.status, StatusCode::OK, "{what} does not resolve");
            let digest = reply.digest.clone().expect("digest header");
            assert_eq!(
                digest_of(&reply.body),
                digest,
                "{what}: body does not hash to its digest"
            );
            reg.assert_manifest(repo, &digest, &reply.body, &what).await;
            check_manifest_blobs(reg, repo, &reply.body, &what).await;
            manifests += 1;
        }
    }
    manifests
}

/// Interrupted chunked uploads of `round`: each either resumes from the length the server
/// reports (the staged bytes being exactly that prefix) or is cleanly unknown. Every third
/// live one is cancelled instead. Returns (resumed, cancelled, unknown).
async fn resume_interrupted(
    reg: &Registry,
    server: &TestServer,
    log: &Log<BlobAttempt>,
    round: usize,
) -> (usize, usize, usize) {
    let interrupted: Vec<(usize, BlobAttempt)> = log
        .lock()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, a)| a.round == round && a.chunked && !a.completed && a.location.is_some())
        .map(|(i, a)| (i, a.clone()))
        .collect();
    let (mut resumed, mut cancelled, mut unknown) = (0, 0, 0);
    for (n, (idx, attempt)) in interrupted.into_iter().enumerate() {
        let location = attempt.location.clone().unwrap();
        let what = format!(
            "round {round}: interrupted upload of {} ({} bytes) at {location}",
            attempt.digest,
            attempt.data.len()
        );
        let response = reg.upload_status(&location).await.expect("status GET");
        if response.status() == StatusCode::NOT_FOUND {
            expect_error(&what, response, &[404], &["BLOB_UPLOAD_UNKNOWN"]).await;
            unknown += 1;
            continue;
        }
        assert_eq!(
            response.status(),
            StatusCode::NO_CONTENT,
            "{what}: upload status"
        );
        let range =
            header(&response, "range").unwrap_or_else(|| panic!("{what}: status without Range"));
        let id = location.rsplit('/').next().unwrap();
        let staged = std::fs::read(server.data_dir().join("blobs/uploads").join(id))
            .unwrap_or_else(|e| panic!("{what}: staged file: {e}"));
        let len = range_len(&range).unwrap_or(staged.len() as u64) as usize;
        assert_eq!(
            len,
            staged.len(),
            "{what}: status Range {range} disagrees with the {} staged bytes",
            staged.len()
        );
        assert!(
            len <= attempt.data.len(),
            "{what}: {len} bytes staged, more than were sent"
        );
        assert!(
            staged[..] == attempt.data[..len],
            "{what}: the {len} staged bytes are not what was sent"
        );
        if n % 3 == 2 {
            let response = reg.http.delete(&location).send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::NO_CONTENT,
                "{what}: cancel after restart"
            );
            let status = reg.upload_status(&location).await.unwrap();
            expect_error(
                &format!("{what}: status after cancel"),
                status,
                &[404],
                &["BLOB_UPLOAD_UNKNOWN"],
            )
            .await;
            assert!(
                !server.data_dir().join("blobs/uploads").join(id).exists(),
                "{what}: cancel left the staged file"
            );
            cancelled += 1;
            continue;
        }
        if len < attempt.data.len() {
            let response = reg
                .patch_chunk(&location, attempt.data.slice(len..), len as u64)
                .await
                .expect("PATCH");
            let status = response.status();
            let range = header(&response, "range");
            let text = response.text().await.unwrap_or_default();
            assert_eq!(
                status,
                StatusCode::ACCEPTED,
                "{what}: resuming PATCH from {len}: {text}"
            );
            assert_eq!(
                range,
                Some(format!("0-{}", attempt.data.len() - 1)),
                "{what}: Range after resuming"
            );
        }
        let response = reg
            .http
            .put(Registry::with_digest(&location, &attempt.digest))
            .header("content-length", "0")
            .send()
            .await
            .unwrap();
        assert_created(
            response,
            &attempt.digest,
            &format!("{what}: finishing after restart"),
        )
        .await;
        reg.assert_blob(&attempt.repo, &attempt.data, &what).await;
        log.lock().unwrap()[idx].completed = true;
        resumed += 1;
    }
    (resumed, cancelled, unknown)
}

/// The server accepts and serves a fresh image and a fresh chunked blob.
async fn fresh_push(reg: &Registry, label: &str, seed: u64) {
    let image = Image::new("crash/fresh", label, seed, &[300 * KIB, 1000]);
    reg.push_image(&image).await;
    reg.assert_image(&image, &format!("fresh push {label}"))
        .await;
    let blob = pseudo_random(seed + 1, 700 * KIB);
    reg.push_blob_chunked("crash/fresh", &blob, 200 * KIB).await;
    reg.assert_blob("crash/fresh", &blob, &format!("fresh chunked push {label}"))
        .await;
}

/// What the server log of the current process must not show after a crash and restart.
fn assert_recovery_log_clean(log: &str) {
    assert_log_clean(log);
    assert!(
        !log.contains("missing from storage"),
        "metadata links a blob whose file is gone:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_uploads_and_pushes_leaves_a_consistent_registry() {
    let mut server = TestServer::start();
    let reg = Registry::new(server.url());
    let blobs: Log<BlobAttempt> = Arc::default();
    let images: Log<ManifestAttempt> = Arc::default();
    let mut summary = Vec::new();

    for (round, kill_after) in KILL_AFTER.into_iter().enumerate() {
        let mut tasks = Vec::new();
        for k in 0..4u64 {
            let seed = 1 + round as u64 * 50 + k;
            tasks.push(tokio::spawn(chunked_uploader(
                reg.clone(),
                round,
                format!("crash/c{k}"),
                seed,
                blobs.clone(),
            )));
        }
        for k in 0..3u64 {
            let seed = 20 + round as u64 * 50 + k;
            tasks.push(tokio::spawn(monolithic_uploader(
                reg.clone(),
                round,
                format!("crash/m{k}"),
                seed,
                blobs.clone(),
            )));
        }
        for k in 0..3u64 {
            let seed = 40 + round as u64 * 50 + k;
            tasks.push(tokio::spawn(image_pusher(
                reg.clone(),
                round,
                format!("crash/img{}", k % 2),
                seed,
                images.clone(),
            )));
        }
        tokio::time::sleep(kill_after).await;
        server.kill();
        let mut failures = Vec::new();
        for task in tasks {
            if let Err(e) = task.await {
                failures.push(e.to_string());
            }
        }
        assert!(
            failures.is_empty(),
            "round {round}: clients saw wrong answers before the kill: {failures:#?}"
        );
        let in_flight = {
            let blobs = blobs.lock().unwrap();
            let images = images.lock().unwrap();
            (
                blobs
                    .iter()
                    .filter(|a| a.round == round && a.completed)
                    .count(),
                blobs
                    .iter()
                    .filter(|a| a.round == round && !a.completed)
                    .count(),
                images.iter().filter(|a| a.completed).count(),
                images.len(),
            )
        };

        server.restart();
        let when = format!("after kill {round} ({kill_after:?})");
        let committed = assert_committed_blobs_valid(&server.data_dir());
        let blob_attempts = blobs.lock().unwrap().clone();
        check_blobs(&reg, &blob_attempts, &when).await;
        let image_attempts = images.lock().unwrap().clone();
        check_manifests(&reg, &image_attempts, &when).await;
        let walked = walk_registry(&reg, &when).await;
        let (resumed, cancelled, unknown) = resume_interrupted(&reg, &server, &blobs, round).await;
        fresh_push(&reg, &format!("round{round}"), 9000 + round as u64 * 10).await;
        assert_committed_blobs_valid(&server.data_dir());
        assert_recovery_log_clean(&server.log());
        summary.push(format!(
            "round {round}: blobs acknowledged {} / interrupted {}, images acknowledged {} of {} (cumulative), \
             {} committed files, {walked} tags walked, interrupted chunked uploads resumed {resumed}, cancelled {cancelled}, unknown {unknown}",
            in_flight.0,
            in_flight.1,
            in_flight.2,
            in_flight.3,
            committed.len()
        ));
    }

    // One more crash with nothing in flight: everything acknowledged, resumed or freshly pushed
    // is still there.
    server.restart();
    let when = "after the final restart";
    assert_committed_blobs_valid(&server.data_dir());
    let blob_attempts = blobs.lock().unwrap().clone();
    check_blobs(&reg, &blob_attempts, when).await;
    let image_attempts = images.lock().unwrap().clone();
    check_manifests(&reg, &image_attempts, when).await;
    walk_registry(&reg, when).await;
    for round in 0..KILL_AFTER.len() {
        let image = Image::new(
            "crash/fresh",
            &format!("round{round}"),
            9000 + round as u64 * 10,
            &[300 * KIB, 1000],
        );
        reg.assert_image(&image, when).await;
    }
    fresh_push(&reg, "final", 9999).await;
    assert_recovery_log_clean(&server.log());

    // The first kill comes before any paced upload can finish (each takes at least 160 ms of
    // sleeps), so uploads were interrupted there.
    let blobs = blobs.lock().unwrap();
    assert!(
        blobs.iter().any(|a| a.round == 0 && !a.completed),
        "no upload was in flight at the first kill: {summary:#?}"
    );
    eprintln!("{}", summary.join("\n"));
}
