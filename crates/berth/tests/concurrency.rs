//! Many clients at once against the real binary: the same and different blobs (monolithic and
//! chunked) and manifests (same tag, different tags, one tag raced by different manifests),
//! in the same and in different repositories, with readers polling all along. Afterwards
//! everything pushed is readable byte-exact, every tag names one of the manifests pushed to
//! it, tag lists are complete, and no staged upload is left behind.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use support::http::*;
use support::TestServer;
use tokio::sync::Barrier;

const TASKS: usize = 32;
const SHARED_REPO: &str = "conc/shared";

/// How a blob travels.
#[derive(Debug, Clone, Copy)]
enum Method {
    Monolithic,
    /// PATCHes of this many bytes.
    Chunked(usize),
}

/// How a manifest is addressed.
#[derive(Debug, Clone)]
enum Target {
    Tag(String),
    /// By digest, with these `?tag=` values.
    Digest(Vec<String>),
}

/// Everything one client pushes, decided before any of them starts.
#[derive(Debug, Clone)]
struct Plan {
    repo: String,
    /// Blobs in push order, each with its method.
    blobs: Vec<(Bytes, Method)>,
    manifest: Bytes,
    target: Target,
}

impl Plan {
    fn tags(&self) -> Vec<String> {
        match &self.target {
            Target::Tag(t) => vec![t.clone()],
            Target::Digest(tags) => tags.clone(),
        }
    }
}

fn repo_of(i: usize) -> String {
    if i.is_multiple_of(2) {
        SHARED_REPO.to_owned()
    } else {
        format!("conc/r{}", (i / 2) % 4)
    }
}

fn plans(shared_layer: &Bytes, shared_config: &Bytes) -> Vec<Plan> {
    (0..TASKS)
        .map(|i| {
            let repo = repo_of(i);
            let own_layer = pseudo_random(1000 + i as u64, 64 * 1024 + i * 45_000);
            let own_config = Bytes::from(format!(
                "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"task\":{i}}}"
            ));
            let shared_method = match i % 3 {
                0 => Method::Monolithic,
                1 => Method::Chunked(256 * 1024 + i * 4096),
                _ => Method::Chunked(shared_layer.len()),
            };
            let own_method = if i.is_multiple_of(2) {
                Method::Chunked(100_000 + i * 1000)
            } else {
                Method::Monolithic
            };
            let task = i.to_string();
            let (config, layers, annotations, target): (
                Bytes,
                Vec<Bytes>,
                Vec<(&str, &str)>,
                Target,
            ) = match i % 4 {
                // The same manifest to the same tag (of each repository).
                0 => (
                    shared_config.clone(),
                    vec![shared_layer.clone()],
                    vec![],
                    Target::Tag("same".into()),
                ),
                // Different manifests to different tags.
                1 => (
                    own_config,
                    vec![shared_layer.clone(), own_layer.clone()],
                    vec![("task", task.as_str())],
                    Target::Tag(format!("t{i}")),
                ),
                // Different manifests racing for one tag.
                2 => (
                    own_config,
                    vec![own_layer.clone(), shared_layer.clone()],
                    vec![("task", task.as_str())],
                    Target::Tag("race".into()),
                ),
                // By digest with `?tag=`: an own tag and one raced by the others doing the same.
                _ => (
                    own_config,
                    vec![shared_layer.clone(), own_layer.clone()],
                    vec![("task", task.as_str()), ("by", "digest")],
                    Target::Digest(vec![format!("d{i}"), "multi".into()]),
                ),
            };
            let manifest = image_manifest(&config, &layers, &annotations);
            let mut blobs = vec![
                (shared_layer.clone(), shared_method),
                (config, Method::Monolithic),
            ];
            if layers.len() > 1 {
                blobs.push((own_layer, own_method));
            }
            Plan {
                repo,
                blobs,
                manifest,
                target,
            }
        })
        .collect()
}

async fn run_plan(reg: Registry, plan: Plan, barrier: Arc<Barrier>) {
    barrier.wait().await;
    for (blob, method) in &plan.blobs {
        match method {
            Method::Monolithic => reg.push_blob(&plan.repo, blob).await,
            Method::Chunked(chunk) => reg.push_blob_chunked(&plan.repo, blob, *chunk).await,
        };
    }
    match &plan.target {
        Target::Tag(tag) => {
            reg.push_manifest(&plan.repo, tag, &plan.manifest).await;
        }
        Target::Digest(tags) => {
            let digest = digest_of(&plan.manifest);
            let query: Vec<String> = tags.iter().map(|t| format!("tag={t}")).collect();
            let response = reg
                .http
                .put(reg.url(&format!(
                    "/v2/{}/manifests/{digest}?{}",
                    plan.repo,
                    query.join("&")
                )))
                .header("content-type", OCI_MANIFEST)
                .body(plan.manifest.clone())
                .send()
                .await
                .expect("manifest PUT");
            let status = response.status();
            let header = header(&response, "docker-content-digest");
            let text = response.text().await.unwrap_or_default();
            assert_eq!(
                status,
                StatusCode::CREATED,
                "PUT {} by digest with {query:?}: {text}",
                plan.repo
            );
            assert_eq!(header.as_deref(), Some(digest.as_str()));
        }
    }
}

/// What each (repository, tag) may resolve to: digest → manifest bytes.
type Expected = BTreeMap<(String, String), BTreeMap<String, Bytes>>;

fn expected_tags(plans: &[Plan]) -> Expected {
    let mut expected: Expected = BTreeMap::new();
    for plan in plans {
        for tag in plan.tags() {
            expected
                .entry((plan.repo.clone(), tag))
                .or_default()
                .insert(digest_of(&plan.manifest), plan.manifest.clone());
        }
    }
    expected
}

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
                let digest = reply.digest.clone().expect("digest header");
                let body = allowed.get(&digest).unwrap_or_else(|| {
                    panic!("{repo}:{tag} resolved to {digest}, which was never pushed to it")
                });
                assert!(
                    reply.body == *body,
                    "{repo}:{tag} served bytes that are not manifest {digest}"
                );
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

    // Every blob and manifest is readable byte-exact where it was pushed.
    let mut blobs_by_repo: BTreeMap<String, BTreeMap<String, Bytes>> = BTreeMap::new();
    for plan in plans.iter() {
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
    for plan in plans.iter() {
        reg.assert_manifest(
            &plan.repo,
            &digest_of(&plan.manifest),
            &plan.manifest,
            "after the concurrent pushes",
        )
        .await;
    }
    // Every tag resolves to one of the manifests pushed to it.
    for ((repo, tag), allowed) in expected.iter() {
        let reply = reg.get_manifest(repo, tag).await.unwrap();
        assert_eq!(reply.status, StatusCode::OK, "tag {repo}:{tag}");
        let digest = reply.digest.expect("digest header");
        let body = allowed.get(&digest).unwrap_or_else(|| {
            panic!(
                "{repo}:{tag} resolves to {digest}, not one of {:?}",
                allowed.keys()
            )
        });
        assert!(
            reply.body == *body,
            "{repo}:{tag} body differs from manifest {digest}"
        );
        assert_eq!(reply.content_type.as_deref(), Some(OCI_MANIFEST));
    }
    // Tag lists are complete and hold nothing else; the catalog lists every repository.
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
    let catalog: serde_json::Value = reg
        .http
        .get(reg.url("/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: BTreeSet<String> = catalog["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        tags_by_repo.keys().cloned().collect::<BTreeSet<_>>(),
        "catalog"
    );

    // On disk: no staged upload is left, and exactly the pushed blobs are committed, each
    // hashing to its name.
    let data_dir = server.data_dir();
    assert_eq!(
        staged_uploads(&data_dir),
        Vec::<String>::new(),
        "staged uploads left behind"
    );
    let on_disk: BTreeSet<String> = assert_committed_blobs_valid(&data_dir)
        .into_iter()
        .collect();
    let pushed: BTreeSet<String> = blobs_by_repo
        .values()
        .flat_map(|b| b.keys().cloned())
        .collect();
    assert_eq!(
        on_disk, pushed,
        "committed blob files are exactly the pushed blobs"
    );
    assert_log_clean(&server.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_requests_on_one_upload_session_are_serialised() {
    let server = TestServer::start();
    let reg = Registry::new(server.url());
    const RACERS: usize = 16;
    let data = pseudo_random(21, 64 * 1024);
    let half = data.len() / 2;
    let digest = digest_of(&data);
    let location = reg.start_upload("race/session").await.unwrap();

    // The same chunk PATCHed by many clients at once is appended exactly once; the others
    // are told where the upload stands. The racers use bare sockets that send the whole body
    // before reading: the server answers a refused chunk without reading it and closes, which
    // reqwest may report as a dropped connection instead of the 416.
    let path = location
        .strip_prefix(&reg.base)
        .expect("same server")
        .to_owned();
    for (start, end) in [(0, half), (half, data.len())] {
        let barrier = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                let (addr, path, chunk, barrier) = (
                    server.host(),
                    path.clone(),
                    data.slice(start..end),
                    barrier.clone(),
                );
                tokio::spawn(async move {
                    let headers = vec![
                        ("Content-Type", "application/octet-stream".to_owned()),
                        ("Content-Range", format!("{start}-{}", end - 1)),
                    ];
                    barrier.wait().await;
                    let reply = raw_request(&addr, "PATCH", &path, &headers, &chunk, false)
                        .await
                        .expect("PATCH reply");
                    if reply.status != 202 {
                        reply.expect_error(
                            "racing PATCH",
                            &[416],
                            &["BLOB_UPLOAD_INVALID", "RANGE_INVALID"],
                        );
                    }
                    (reply.status, reply.header("range").map(str::to_owned))
                })
            })
            .collect();
        let mut accepted = 0;
        for racer in racers {
            let (status, range) = racer.await.unwrap();
            if status == 202 {
                accepted += 1;
            }
            assert_eq!(
                range.as_deref(),
                Some(format!("0-{}", end - 1).as_str()),
                "Range after a racing PATCH ({status})"
            );
        }
        assert_eq!(
            accepted, 1,
            "exactly one of the racing PATCHes of {start}-{end} is accepted"
        );
    }

    // Many clients finishing the same session: one stores the blob, the others find it gone.
    let barrier = Arc::new(Barrier::new(8));
    let finishers: Vec<_> = (0..8)
        .map(|_| {
            let (reg, url, barrier) = (
                reg.clone(),
                Registry::with_digest(&location, &digest),
                barrier.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                let response = reg
                    .http
                    .put(url)
                    .header("content-length", "0")
                    .send()
                    .await
                    .expect("PUT");
                let status = response.status().as_u16();
                if status != 201 {
                    expect_error("racing PUT", response, &[404], &["BLOB_UPLOAD_UNKNOWN"]).await;
                }
                status
            })
        })
        .collect();
    let mut created = 0;
    for finisher in finishers {
        if finisher.await.unwrap() == 201 {
            created += 1;
        }
    }
    assert_eq!(created, 1, "exactly one of the racing PUTs stores the blob");
    reg.assert_blob("race/session", &data, "blob of the raced session")
        .await;

    assert_eq!(
        staged_uploads(&server.data_dir()),
        Vec::<String>::new(),
        "staged uploads left behind"
    );
    assert_committed_blobs_valid(&server.data_dir());
    assert_log_clean(&server.log());
}

/// Sends `method` to `url` once `barrier` opens; returns the status, checking error bodies.
async fn race_request(
    reg: Registry,
    method: reqwest::Method,
    url: String,
    barrier: Arc<Barrier>,
    ok: u16,
) -> u16 {
    barrier.wait().await;
    let what = format!("racing {method} {url}");
    let response = reg
        .http
        .request(method, url)
        .header("content-length", "0")
        .send()
        .await
        .expect("reply");
    let status = response.status().as_u16();
    if status != ok {
        expect_error(&what, response, &[404], &["BLOB_UPLOAD_UNKNOWN"]).await;
    }
    status
}

/// A session finished and cancelled at once, or cancelled twice at once: the requests must
/// behave as if they ran one after the other, so exactly one of them succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn finishing_and_cancelling_one_session_at_once_has_exactly_one_winner() {
    let server = TestServer::start();
    let reg = Registry::new(server.url());
    let mut put_vs_delete = Vec::new();
    let mut delete_vs_delete = Vec::new();
    for k in 0..12u64 {
        let blob = pseudo_random(100 + k, 300 * 1024);
        let blob_digest = digest_of(&blob);
        let location = reg.start_upload("race/session").await.unwrap();
        let patched = reg.patch_chunk(&location, blob.clone(), 0).await.unwrap();
        assert_eq!(patched.status(), StatusCode::ACCEPTED);
        let barrier = Arc::new(Barrier::new(2));
        let put_url = Registry::with_digest(&location, &blob_digest);
        let put = tokio::spawn(race_request(
            reg.clone(),
            reqwest::Method::PUT,
            put_url,
            barrier.clone(),
            201,
        ));
        let delete = tokio::spawn(race_request(
            reg.clone(),
            reqwest::Method::DELETE,
            location.clone(),
            barrier,
            204,
        ));
        let (put, delete) = (put.await.unwrap(), delete.await.unwrap());
        if put == 201 {
            reg.assert_blob("race/session", &blob, "blob whose PUT raced a DELETE")
                .await;
        } else {
            reg.assert_blob_absent(
                "race/session",
                &blob_digest,
                "blob whose DELETE won against a PUT",
            )
            .await;
        }
        put_vs_delete.push((put, delete));

        let location = reg.start_upload("race/session").await.unwrap();
        let patched = reg
            .patch_chunk(&location, blob.slice(..1000), 0)
            .await
            .unwrap();
        assert_eq!(patched.status(), StatusCode::ACCEPTED);
        let barrier = Arc::new(Barrier::new(2));
        let first = tokio::spawn(race_request(
            reg.clone(),
            reqwest::Method::DELETE,
            location.clone(),
            barrier.clone(),
            204,
        ));
        let second = tokio::spawn(race_request(
            reg.clone(),
            reqwest::Method::DELETE,
            location.clone(),
            barrier,
            204,
        ));
        delete_vs_delete.push((first.await.unwrap(), second.await.unwrap()));
    }
    assert_eq!(
        staged_uploads(&server.data_dir()),
        Vec::<String>::new(),
        "staged uploads left behind"
    );
    assert_log_clean(&server.log());
    let both_won = put_vs_delete
        .iter()
        .filter(|&&(put, delete)| put == 201 && delete == 204)
        .count();
    let double_cancel = delete_vs_delete
        .iter()
        .filter(|&&(a, b)| a == 204 && b == 204)
        .count();
    assert!(
        put_vs_delete.iter().all(|&(put, delete)| (put == 201) != (delete == 204))
            && delete_vs_delete.iter().all(|&(a, b)| (a == 204) != (b == 204)),
        "racing requests on one session both succeeded: PUT 201 + DELETE 204 in {both_won} of {} races {put_vs_delete:?}; \
         DELETE 204 + DELETE 204 in {double_cancel} of {} races {delete_vs_delete:?}\nserver log:\n{}",
        put_vs_delete.len(),
        delete_vs_delete.len(),
        server.log()
    );
}
