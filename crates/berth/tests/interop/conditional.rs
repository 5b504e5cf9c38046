//! Conditional requests over real sockets: `If-None-Match` answered 304 without a body, a tag
//! push with a stale `If-Match` refused with 412 and storing nothing, and sixteen pushes
//! racing with the same `If-Match`, of which exactly one moves the tag, round after round.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::support::http::*;
use crate::support::TestServer;

fn quoted(digest: &str) -> String {
    format!("\"{digest}\"")
}

/// The `ETag` a GET of `repo:reference` answers with.
async fn etag_of(registry: &Registry, repo: &str, reference: &str) -> String {
    let response = registry
        .http
        .get(registry.manifest_url(repo, reference))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .expect("manifest GET");
    let etag = header(&response, "etag");
    assert_status(response, StatusCode::OK, "manifest GET").await;
    etag.unwrap_or_else(|| panic!("no ETag for {repo}:{reference}"))
}

/// `PUT` of an OCI manifest to `repo:reference` with `If-Match: if_match`.
async fn put_if_match(
    registry: &Registry,
    repo: &str,
    reference: &str,
    body: Bytes,
    if_match: &str,
) -> Response {
    registry
        .http
        .put(registry.manifest_url(repo, reference))
        .header("content-type", OCI_MANIFEST)
        .header("if-match", if_match)
        .body(body)
        .send()
        .await
        .expect("manifest PUT")
}

/// A 412 with an OCI error body (whichever code it names).
async fn assert_precondition_failed(response: Response, what: &str) {
    let status = response.status();
    let content_type = header(&response, "content-type").unwrap_or_default();
    let body = response.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{what}: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {content_type}"
    );
    let value: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(value["errors"][0]["code"].is_string(), "{what}: {text}");
}

#[tokio::test]
async fn a_cached_manifest_is_answered_304_without_a_body() {
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let repo = "cond/app";
    let image = Image::new(repo, "v1", 1, &[2_000]);
    registry.push_image(&image).await;
    let etag = etag_of(&registry, repo, "v1").await;
    assert_eq!(etag, quoted(&image.digest), "the ETag is the quoted digest");

    for reference in ["v1", image.digest.as_str()] {
        let target = format!("/v2/{repo}/manifests/{reference}");
        for method in ["GET", "HEAD"] {
            // Byte-exact over a bare socket: nothing may follow the head of a 304.
            let reply = raw_request(
                &server.host(),
                method,
                &target,
                &[
                    ("If-None-Match", etag.clone()),
                    ("Accept", OCI_MANIFEST.into()),
                ],
                b"",
                false,
            )
            .await
            .expect("raw request");
            let what = format!("{method} {target} If-None-Match {etag}");
            assert_eq!(
                reply.status,
                304,
                "{what}: {:?}",
                String::from_utf8_lossy(&reply.body)
            );
            assert!(reply.body.is_empty(), "{what}: a body after a 304");
            assert_eq!(reply.header("etag"), Some(etag.as_str()), "{what}");
            assert_eq!(
                reply.header("docker-content-digest"),
                Some(image.digest.as_str()),
                "{what}"
            );
        }
        // Another entity tag does not match: the manifest itself.
        let response = registry
            .http
            .get(registry.manifest_url(repo, reference))
            .header("if-none-match", quoted(&digest_of(b"other")))
            .send()
            .await
            .expect("manifest GET");
        assert_eq!(response.status(), StatusCode::OK, "{target}");
        assert!(response.bytes().await.expect("body") == image.manifest);
    }

    // A blob the client holds is not sent again either.
    let layer = digest_of(&image.layers[0]);
    let response = registry
        .http
        .get(registry.blob_url(repo, &layer))
        .header("if-none-match", quoted(&layer))
        .send()
        .await
        .expect("blob GET");
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert!(response.bytes().await.expect("body").is_empty());
    assert_log_clean(&server.log());
}

#[tokio::test]
async fn a_tag_push_with_a_stale_if_match_is_refused_and_leaves_the_tag() {
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let repo = "cond/tag";
    let first = Image::new(repo, "v1", 1, &[1_000]);
    let second = Image::new(repo, "v1", 2, &[1_000]);
    let third = Image::new(repo, "v1", 3, &[1_000]);
    registry.push_image(&first).await;
    registry.push_image(&second).await;
    for blob in third.blobs() {
        registry.push_blob(repo, &blob).await;
    }

    // The client last saw v1 at the first image; the tag has moved on since.
    let stale = quoted(&first.digest);
    let response = put_if_match(&registry, repo, "v1", third.manifest.clone(), &stale).await;
    assert_precondition_failed(response, "PUT v1 with a stale If-Match").await;
    registry
        .assert_manifest(repo, "v1", &second.manifest, "v1 after the refused push")
        .await;
    registry
        .assert_manifest_absent(repo, &third.digest, "the refused manifest")
        .await;
    assert_eq!(registry.tags(repo).await, ["v1"]);

    // With the tag's current entity tag the same push moves it.
    let current = etag_of(&registry, repo, "v1").await;
    assert_eq!(current, quoted(&second.digest));
    let response = put_if_match(&registry, repo, "v1", third.manifest.clone(), &current).await;
    assert_created(response, &third.digest, "PUT v1 with the current If-Match").await;
    registry.assert_image(&third, "v1 moved").await;
    assert_log_clean(&server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_sixteen_pushes_racing_with_one_if_match_exactly_one_moves_the_tag() {
    const RACERS: usize = 16;
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let repo = "cond/race";
    let base = Image::new(repo, "shared", 1, &[1_000]);
    registry.push_image(&base).await;

    for round in 0..4 {
        let seen = etag_of(&registry, repo, "shared").await;
        // Manifests the tag has never named, so none passes If-Match without moving it.
        let candidates: Vec<Bytes> = (0..RACERS)
            .map(|i| {
                let (round, racer) = (round.to_string(), i.to_string());
                image_manifest(
                    &base.config,
                    &base.layers,
                    &[("round", &round), ("racer", &racer)],
                )
            })
            .collect();
        let start = Arc::new(tokio::sync::Barrier::new(RACERS));
        let racers = candidates.iter().cloned().map(|body| {
            let (registry, seen, start) = (registry.clone(), seen.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                put_if_match(&registry, repo, "shared", body, &seen)
                    .await
                    .status()
            })
        });
        let statuses: Vec<StatusCode> = futures::future::join_all(racers)
            .await
            .into_iter()
            .map(|s| s.expect("racer task"))
            .collect();
        let winners: Vec<usize> = (0..RACERS)
            .filter(|&i| statuses[i] == StatusCode::CREATED)
            .collect();
        let refused = statuses
            .iter()
            .filter(|&&s| s == StatusCode::PRECONDITION_FAILED)
            .count();
        assert_eq!(
            (winners.len(), refused),
            (1, RACERS - 1),
            "round {round}: {statuses:?}"
        );
        let winner = &candidates[winners[0]];
        registry
            .assert_manifest(
                repo,
                "shared",
                winner,
                &format!("round {round}: the winner"),
            )
            .await;
        for (i, body) in candidates
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != winners[0])
        {
            registry
                .assert_manifest_absent(
                    repo,
                    &digest_of(body),
                    &format!("round {round}: racer {i}"),
                )
                .await;
        }
    }
    assert_eq!(registry.tags(repo).await, ["shared"]);
    assert_log_clean(&server.log());
}
