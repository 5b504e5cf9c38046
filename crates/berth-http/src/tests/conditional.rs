//! Conditional requests (RFC 9110 section 13) on manifests and blobs, and unsatisfiable ranges.

use super::*;

fn quoted(digest: &Digest) -> String {
    format!("\"{digest}\"")
}

/// `PUT /v2/app/manifests/<reference>` of `body` with extra request headers.
async fn put_with(app: &TestApp, reference: &str, body: &[u8], extra: &[(&str, &str)]) -> Reply {
    let mut headers = vec![("content-type", OCI_MANIFEST)];
    headers.extend_from_slice(extra);
    let uri = format!("/v2/app/manifests/{reference}");
    app.send(Method::PUT, &uri, &headers, body.to_vec()).await
}

async fn send_with(app: &TestApp, method: Method, uri: &str, headers: &[(&str, &str)]) -> Reply {
    app.send(method, uri, headers, Bytes::new()).await
}

#[tokio::test]
async fn manifest_reads_answer_304_and_412() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "cond").await;
    let etag = quoted(&image.digest);
    for reference in ["v1", image.digest.as_str()] {
        let uri = format!("/v2/app/manifests/{reference}");
        let plain = app.get(&uri).await;
        assert_eq!(plain.header("etag"), etag);
        let last_modified = plain.header("last-modified").to_owned();
        for method in [Method::GET, Method::HEAD] {
            let not_modified =
                send_with(&app, method.clone(), &uri, &[("if-none-match", &etag)]).await;
            not_modified.assert_status(StatusCode::NOT_MODIFIED);
            assert!(not_modified.body.is_empty());
            assert_eq!(not_modified.header("etag"), etag);
            assert_eq!(
                not_modified.header("docker-content-digest"),
                image.digest.as_str()
            );
            let since = send_with(
                &app,
                method.clone(),
                &uri,
                &[("if-modified-since", &last_modified)],
            )
            .await;
            since.assert_status(StatusCode::NOT_MODIFIED);
            let other = send_with(
                &app,
                method.clone(),
                &uri,
                &[("if-none-match", "\"sha256:other\"")],
            )
            .await;
            other.assert_status(StatusCode::OK);
            let failed = send_with(
                &app,
                method.clone(),
                &uri,
                &[("if-match", "\"sha256:other\"")],
            )
            .await;
            failed.assert_error(StatusCode::PRECONDITION_FAILED, "DENIED");
            let matched = send_with(&app, method, &uri, &[("if-match", &etag)]).await;
            matched.assert_status(StatusCode::OK);
        }
        assert_eq!(
            send_with(&app, Method::GET, &uri, &[("if-none-match", "*")])
                .await
                .status,
            StatusCode::NOT_MODIFIED
        );
    }
    // A condition does not turn a missing manifest into anything but 404.
    let reply = send_with(
        &app,
        Method::GET,
        "/v2/app/manifests/v9",
        &[("if-none-match", &etag)],
    )
    .await;
    reply.assert_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn conditional_pushes_and_deletes_guard_the_tag() {
    let app = TestApp::new().await;
    let first = app.push_image("app", "v1", "first").await;
    let second = app.push_image("app", "other", "second").await;
    let third = app.push_image("app", "another", "third").await;
    // If-None-Match: * creates a tag only where there is none.
    put_with(&app, "v1", &second.body, &[("if-none-match", "*")])
        .await
        .assert_error(StatusCode::PRECONDITION_FAILED, "DENIED");
    app.assert_manifest("app", "v1", &first.body, OCI_MANIFEST)
        .await;
    put_with(&app, "fresh", &second.body, &[("if-none-match", "*")])
        .await
        .assert_manifest_created("app", &second.body);
    // If-Match moves a tag only from where the client saw it.
    put_with(
        &app,
        "v1",
        &second.body,
        &[("if-match", &quoted(&second.digest))],
    )
    .await
    .assert_error(StatusCode::PRECONDITION_FAILED, "DENIED");
    app.assert_manifest("app", "v1", &first.body, OCI_MANIFEST)
        .await;
    let moved = put_with(
        &app,
        "v1",
        &second.body,
        &[("if-match", &quoted(&first.digest))],
    )
    .await;
    moved.assert_manifest_created("app", &second.body);
    assert_eq!(moved.header("etag"), quoted(&second.digest));
    app.assert_manifest("app", "v1", &second.body, OCI_MANIFEST)
        .await;
    // If-Unmodified-Since before the tag moved refuses.
    let moved_at = app
        .get("/v2/app/manifests/v1")
        .await
        .header("last-modified")
        .to_owned();
    put_with(
        &app,
        "v1",
        &third.body,
        &[("if-unmodified-since", "Thu, 01 Jan 2015 00:00:00 GMT")],
    )
    .await
    .assert_error(StatusCode::PRECONDITION_FAILED, "DENIED");
    put_with(
        &app,
        "v1",
        &third.body,
        &[("if-unmodified-since", &moved_at)],
    )
    .await
    .assert_manifest_created("app", &third.body);
    // A push by digest with If-None-Match: * is refused when the manifest exists.
    put_with(
        &app,
        first.digest.as_str(),
        &first.body,
        &[("if-none-match", "*")],
    )
    .await
    .assert_error(StatusCode::PRECONDITION_FAILED, "DENIED");
    // Deletes: the tag goes only if it still names what the client saw.
    let v1 = "/v2/app/manifests/v1";
    send_with(
        &app,
        Method::DELETE,
        v1,
        &[("if-match", &quoted(&first.digest))],
    )
    .await
    .assert_error(StatusCode::PRECONDITION_FAILED, "DENIED");
    app.assert_manifest("app", "v1", &third.body, OCI_MANIFEST)
        .await;
    send_with(
        &app,
        Method::DELETE,
        v1,
        &[("if-match", &quoted(&third.digest))],
    )
    .await
    .assert_status(StatusCode::ACCEPTED);
    app.assert_manifest_unknown("app", "v1").await;
    // A malformed entity tag is refused, never read as "no condition".
    put_with(
        &app,
        "v1",
        &first.body,
        &[("if-none-match", first.digest.as_str())],
    )
    .await
    .assert_error(StatusCode::BAD_REQUEST, "UNSUPPORTED");
    app.assert_manifest_unknown("app", "v1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_writers_racing_with_if_match_exactly_one_wins() {
    let app = std::sync::Arc::new(TestApp::new().await);
    let base = app.push_image("app", "shared", "base").await;
    let candidates: Vec<Image> = futures::future::join_all((0..8).map(|i| {
        let app = app.clone();
        async move {
            app.push_image("app", &format!("c{i}"), &format!("racer {i}"))
                .await
        }
    }))
    .await;
    for round in 0..5 {
        let current = app.get("/v2/app/manifests/shared").await;
        let seen = current.header("etag").to_owned();
        // Pushing what the tag already names would pass its own If-Match without moving it.
        let movers = candidates
            .iter()
            .filter(|image| quoted(&image.digest) != seen);
        let racers = movers.map(|image| {
            let (app, seen, body) = (app.clone(), seen.clone(), image.body.clone());
            tokio::spawn(async move {
                put_with(&app, "shared", &body, &[("if-match", &seen)])
                    .await
                    .status
            })
        });
        let statuses: Vec<StatusCode> = futures::future::join_all(racers)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let won = statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count();
        let lost = statuses
            .iter()
            .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
            .count();
        assert_eq!(
            (won, lost),
            (1, statuses.len() - 1),
            "round {round}: {statuses:?}"
        );
        assert!(statuses.len() >= 7);
    }
    assert_ne!(
        app.get("/v2/app/manifests/shared").await.header("etag"),
        quoted(&base.digest)
    );
}

#[tokio::test]
async fn blob_reads_answer_conditions_and_if_range() {
    let app = TestApp::new().await;
    let digest = app.push_blob("app", b"0123456789").await;
    let uri = format!("/v2/app/blobs/{digest}");
    let etag = quoted(&digest);
    for method in [Method::GET, Method::HEAD] {
        let cached = send_with(&app, method.clone(), &uri, &[("if-none-match", &etag)]).await;
        cached.assert_status(StatusCode::NOT_MODIFIED);
        assert!(cached.body.is_empty());
        send_with(
            &app,
            method.clone(),
            &uri,
            &[("if-match", "\"sha256:other\"")],
        )
        .await
        .assert_error(StatusCode::PRECONDITION_FAILED, "DENIED");
        send_with(&app, method, &uri, &[("if-match", &etag)])
            .await
            .assert_status(StatusCode::OK);
    }
    let part = send_with(
        &app,
        Method::GET,
        &uri,
        &[("range", "bytes=2-4"), ("if-range", &etag)],
    )
    .await;
    part.assert_status(StatusCode::PARTIAL_CONTENT);
    assert_eq!(&part.body[..], b"234");
    let stale = send_with(
        &app,
        Method::GET,
        &uri,
        &[("range", "bytes=2-4"), ("if-range", "\"sha256:old\"")],
    )
    .await;
    stale.assert_status(StatusCode::OK);
    assert_eq!(
        &stale.body[..],
        b"0123456789",
        "a stale If-Range gets the whole blob"
    );
}

#[tokio::test]
async fn unsatisfiable_ranges_name_the_size() {
    let app = TestApp::new().await;
    let digest = app.push_blob("app", b"0123456789").await;
    let uri = format!("/v2/app/blobs/{digest}");
    for range in ["bytes=110-210", "bytes=10-", "bytes=-0"] {
        let reply = send_with(&app, Method::GET, &uri, &[("range", range)]).await;
        reply.assert_error(StatusCode::RANGE_NOT_SATISFIABLE, "SIZE_INVALID");
        assert_eq!(reply.header("content-range"), "bytes */10", "{range}");
    }
    let suffix = send_with(&app, Method::GET, &uri, &[("range", "bytes=-100")]).await;
    suffix.assert_status(StatusCode::PARTIAL_CONTENT);
    assert_eq!(suffix.header("content-range"), "bytes 0-9/10");
    assert_eq!(&suffix.body[..], b"0123456789");
}
