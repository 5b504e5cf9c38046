//! Blob push: upload sessions (POST, PATCH, status, PUT, DELETE), monolithic pushes, digest
//! and size verification, and every upload error.

use super::*;

const HELLO: &[u8] = b"hello world, chunked";

/// `PATCH <location>` with an optional `Content-Range`.
async fn patch(app: &TestApp, location: &str, range: Option<&str>, chunk: &[u8]) -> Reply {
    let headers: Vec<(&str, &str)> = range.map(|r| ("content-range", r)).into_iter().collect();
    app.send(Method::PATCH, location, &headers, chunk.to_vec())
        .await
}

/// `PUT <location>?digest=<digest>` with an optional final chunk.
async fn finish(app: &TestApp, location: &str, digest: &Digest, chunk: &[u8]) -> Reply {
    let uri = format!("{location}?digest={digest}");
    app.send(Method::PUT, &uri, &[], chunk.to_vec()).await
}

/// Asserts the session answers status 204 with `Range: <range>`.
async fn assert_upload_range(app: &TestApp, location: &str, range: &str) {
    let reply = app.get(location).await;
    reply.assert_status(StatusCode::NO_CONTENT);
    assert_eq!(reply.header("range"), range);
    assert_eq!(reply.header("location"), location);
}

/// Asserts every session request on `location` is 404 `BLOB_UPLOAD_UNKNOWN`.
async fn assert_upload_unknown(app: &TestApp, location: &str) {
    let digest = Digest::sha256_of(b"x");
    let replies = [
        app.get(location).await,
        patch(app, location, None, b"x").await,
        finish(app, location, &digest, b"x").await,
        app.delete(location).await,
    ];
    for reply in replies {
        reply.assert_error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
    }
}

fn created_location(reply: &Reply, repo: &str, digest: &Digest) {
    reply.assert_status(StatusCode::CREATED);
    assert_eq!(
        reply.header("location"),
        format!("/v2/{repo}/blobs/{digest}")
    );
    assert_eq!(reply.header("docker-content-digest"), digest.as_str());
}

#[tokio::test]
async fn post_opens_a_session_with_location_range_and_uuid() {
    let app = TestApp::new().await;
    let reply = app
        .send(
            Method::POST,
            "/v2/team/app/blobs/uploads/",
            &[],
            Bytes::new(),
        )
        .await;
    reply.assert_status(StatusCode::ACCEPTED);
    let location = reply.header("location");
    let id = location
        .strip_prefix("/v2/team/app/blobs/uploads/")
        .unwrap();
    assert_eq!(reply.header("docker-upload-uuid"), id);
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(reply.header("range"), "0-0");
    assert_upload_range(&app, location, "0-0").await;
}

#[tokio::test]
async fn upload_status_answers_head_like_get() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    patch(&app, &location, Some("0-9"), &HELLO[..10])
        .await
        .assert_status(StatusCode::ACCEPTED);
    let reply = app.head(&location).await;
    reply.assert_status(StatusCode::NO_CONTENT);
    assert_eq!(reply.header("range"), "0-9");
    assert_eq!(reply.header("location"), location);
}

#[tokio::test]
async fn two_sessions_get_different_locations() {
    let app = TestApp::new().await;
    let first = app.start_upload("app").await;
    let second = app.start_upload("app").await;
    assert_ne!(first, second);
}

#[tokio::test]
async fn single_post_with_digest_stores_the_blob() {
    let app = TestApp::new().await;
    let digest = Digest::sha256_of(b"monolithic");
    let uri = format!("/v2/app/blobs/uploads/?digest={digest}");
    let reply = app.send(Method::POST, &uri, &[], &b"monolithic"[..]).await;
    created_location(&reply, "app", &digest);
    let pulled = app.get(reply.header("location")).await;
    assert_eq!(&pulled.body[..], b"monolithic");
}

#[tokio::test]
async fn post_then_put_stores_the_blob_and_closes_the_session() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    let digest = Digest::sha256_of(b"post then put");
    let reply = finish(&app, &location, &digest, b"post then put").await;
    created_location(&reply, "app", &digest);
    assert_eq!(&app.blob_bytes("app", &digest).await[..], b"post then put");
    assert_upload_unknown(&app, &location).await;
}

#[tokio::test]
async fn empty_blob_can_be_pushed() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    let digest = Digest::sha256_of(b"");
    created_location(&finish(&app, &location, &digest, b"").await, "app", &digest);
    let reply = app.head(&format!("/v2/app/blobs/{digest}")).await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.header("content-length"), "0");
}

#[tokio::test]
async fn chunked_upload_reports_range_and_closes_with_an_empty_put() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    let reply = patch(&app, &location, Some("0-5"), &HELLO[..6]).await;
    reply.assert_status(StatusCode::ACCEPTED);
    assert_eq!(reply.header("range"), "0-5");
    assert_eq!(reply.header("location"), location);
    assert!(location.ends_with(reply.header("docker-upload-uuid")));
    let reply = patch(&app, &location, Some("6-19"), &HELLO[6..]).await;
    reply.assert_status(StatusCode::ACCEPTED);
    assert_eq!(reply.header("range"), "0-19");
    assert_upload_range(&app, &location, "0-19").await;
    let digest = Digest::sha256_of(HELLO);
    created_location(&finish(&app, &location, &digest, b"").await, "app", &digest);
    assert_eq!(&app.blob_bytes("app", &digest).await[..], HELLO);
}

#[tokio::test]
async fn chunked_upload_may_send_the_last_chunk_with_the_put() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    patch(&app, &location, Some("0-9"), &HELLO[..10])
        .await
        .assert_status(StatusCode::ACCEPTED);
    let digest = Digest::sha256_of(HELLO);
    let uri = format!("{location}?digest={digest}");
    let headers = [
        ("content-range", "10-19"),
        ("content-type", "application/octet-stream"),
    ];
    let reply = app
        .send(Method::PUT, &uri, &headers, HELLO[10..].to_vec())
        .await;
    created_location(&reply, "app", &digest);
    assert_eq!(&app.blob_bytes("app", &digest).await[..], HELLO);
}

#[tokio::test]
async fn chunks_without_content_range_are_appended_in_order() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    patch(&app, &location, None, &HELLO[..4])
        .await
        .assert_status(StatusCode::ACCEPTED);
    let reply = patch(&app, &location, None, &HELLO[4..]).await;
    assert_eq!(reply.header("range"), "0-19");
    // A closing PUT without Content-Length and without a body.
    let digest = Digest::sha256_of(HELLO);
    let request = Request::put(format!("{location}?digest={digest}")).body(Body::empty());
    created_location(&app.request(request.unwrap()).await, "app", &digest);
    assert_eq!(&app.blob_bytes("app", &digest).await[..], HELLO);
}

#[tokio::test]
async fn out_of_order_chunk_is_416_with_the_current_range_and_the_upload_resumes() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    patch(&app, &location, Some("0-9"), &HELLO[..10])
        .await
        .assert_status(StatusCode::ACCEPTED);
    for (range, chunk) in [
        ("15-19", &HELLO[15..]),
        ("0-9", &HELLO[..10]),
        ("5-14", &HELLO[5..15]),
    ] {
        let reply = patch(&app, &location, Some(range), chunk).await;
        reply.assert_error(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID");
        assert_eq!(reply.header("range"), "0-9", "{range}");
    }
    assert_upload_range(&app, &location, "0-9").await;
    patch(&app, &location, Some("10-19"), &HELLO[10..])
        .await
        .assert_status(StatusCode::ACCEPTED);
    let digest = Digest::sha256_of(HELLO);
    created_location(&finish(&app, &location, &digest, b"").await, "app", &digest);
    assert_eq!(&app.blob_bytes("app", &digest).await[..], HELLO);
}

#[tokio::test]
async fn first_chunk_must_start_at_zero() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    let reply = patch(&app, &location, Some("1-3"), b"abc").await;
    reply.assert_error(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID");
    assert_eq!(reply.header("range"), "0-0");
}

#[tokio::test]
async fn out_of_order_final_chunk_on_put_is_416() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    patch(&app, &location, Some("0-9"), &HELLO[..10])
        .await
        .assert_status(StatusCode::ACCEPTED);
    let uri = format!("{location}?digest={}", Digest::sha256_of(HELLO));
    let reply = app
        .send(
            Method::PUT,
            &uri,
            &[("content-range", "12-19")],
            HELLO[12..].to_vec(),
        )
        .await;
    reply.assert_error(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID");
    assert_upload_range(&app, &location, "0-9").await;
}

#[tokio::test]
async fn content_length_disagreeing_with_content_range_is_size_invalid() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    patch(&app, &location, Some("0-9"), &HELLO[..10])
        .await
        .assert_status(StatusCode::ACCEPTED);
    let headers = [("content-range", "10-19"), ("content-length", "4")];
    let reply = app
        .send(Method::PATCH, &location, &headers, HELLO[10..14].to_vec())
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "SIZE_INVALID");
    assert_upload_range(&app, &location, "0-9").await;
}

#[tokio::test]
async fn body_shorter_than_declared_is_size_invalid() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    let headers = [("content-range", "0-19"), ("content-length", "20")];
    let reply = app
        .send(Method::PATCH, &location, &headers, HELLO[..8].to_vec())
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "SIZE_INVALID");

    let digest = Digest::sha256_of(HELLO);
    let uri = format!("/v2/app/blobs/uploads/?digest={digest}");
    let reply = app
        .send(
            Method::POST,
            &uri,
            &[("content-length", "20")],
            HELLO[..8].to_vec(),
        )
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "SIZE_INVALID");
    let blob = format!("/v2/app/blobs/{digest}");
    app.get(&blob)
        .await
        .assert_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn malformed_content_range_is_rejected_and_nothing_is_appended() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    for range in ["abc", "5-2", "-4", "0-"] {
        let reply = patch(&app, &location, Some(range), b"data").await;
        reply.assert_error(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID");
    }
    assert_upload_range(&app, &location, "0-0").await;
}

#[tokio::test]
async fn digest_mismatch_is_digest_invalid_and_the_blob_is_not_readable() {
    let app = TestApp::new().await;
    let claimed = Digest::sha256_of(b"what the client claims");
    let actual = Digest::sha256_of(b"what the client sends");

    let location = app.start_upload("app").await;
    let reply = finish(&app, &location, &claimed, b"what the client sends").await;
    reply.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");

    let uri = format!("/v2/app/blobs/uploads/?digest={claimed}");
    let reply = app
        .send(Method::POST, &uri, &[], &b"what the client sends"[..])
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");

    for digest in [&claimed, &actual] {
        let blob = format!("/v2/app/blobs/{digest}");
        app.get(&blob)
            .await
            .assert_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
        app.head(&blob)
            .await
            .assert_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
    }
}

#[tokio::test]
async fn put_without_digest_is_digest_invalid_and_keeps_the_session() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    patch(&app, &location, Some("0-9"), &HELLO[..10])
        .await
        .assert_status(StatusCode::ACCEPTED);
    let reply = app.send(Method::PUT, &location, &[], Bytes::new()).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    assert_upload_range(&app, &location, "0-9").await;
}

#[tokio::test]
async fn malformed_or_unsupported_digest_on_push_is_digest_invalid() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    let md5 = "md5:5d41402abc4b2a76b9719d911017c592";
    let bad = ["sha256:abc", "sha256:XYZ", "nocolon", md5];
    for digest in bad {
        let put = app
            .send(
                Method::PUT,
                &format!("{location}?digest={digest}"),
                &[],
                "x",
            )
            .await;
        put.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
        let uri = format!("/v2/app/blobs/uploads/?digest={digest}");
        let post = app.send(Method::POST, &uri, &[], "x").await;
        post.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    }
    assert_upload_range(&app, &location, "0-0").await;
}

#[tokio::test]
async fn sha512_digests_are_verified_for_monolithic_and_chunked_pushes() {
    let app = TestApp::new().await;
    let digest = sha512_of(b"sha512 monolithic");
    let uri = format!("/v2/app/blobs/uploads/?digest={digest}");
    let reply = app
        .send(Method::POST, &uri, &[], &b"sha512 monolithic"[..])
        .await;
    created_location(&reply, "app", &digest);
    let pulled = app.get(&format!("/v2/app/blobs/{digest}")).await;
    assert_eq!(&pulled.body[..], b"sha512 monolithic");
    assert_eq!(pulled.header("docker-content-digest"), digest.as_str());

    let location = app.start_upload("app").await;
    patch(&app, &location, Some("0-9"), &HELLO[..10])
        .await
        .assert_status(StatusCode::ACCEPTED);
    let digest = sha512_of(HELLO);
    let reply = finish(&app, &location, &digest, &HELLO[10..]).await;
    created_location(&reply, "app", &digest);
    assert_eq!(&app.blob_bytes("app", &digest).await[..], HELLO);

    let location = app.start_upload("app").await;
    let wrong = sha512_of(b"something else");
    let reply = finish(&app, &location, &wrong, HELLO).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
}

#[tokio::test]
async fn cancelled_upload_is_204_and_then_unknown() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    patch(&app, &location, Some("0-9"), &HELLO[..10])
        .await
        .assert_status(StatusCode::ACCEPTED);
    let reply = app.delete(&location).await;
    reply.assert_status(StatusCode::NO_CONTENT);
    assert_upload_unknown(&app, &location).await;
}

#[tokio::test]
async fn unknown_or_malformed_upload_id_is_blob_upload_unknown() {
    let app = TestApp::new().await;
    app.start_upload("app").await;
    assert_upload_unknown(
        &app,
        "/v2/app/blobs/uploads/0b1e5cfa-3f6b-4a3c-9f0e-2d3c4b5a6978",
    )
    .await;
    assert_upload_unknown(&app, "/v2/app/blobs/uploads/not-a-session").await;
}

#[tokio::test]
async fn upload_id_of_another_repository_is_unknown_there_and_intact_at_home() {
    let app = TestApp::new().await;
    let location = app.start_upload("home").await;
    patch(&app, &location, Some("0-9"), &HELLO[..10])
        .await
        .assert_status(StatusCode::ACCEPTED);
    app.start_upload("elsewhere").await;
    let foreign = location.replace("/v2/home/", "/v2/elsewhere/");
    assert_upload_unknown(&app, &foreign).await;

    assert_upload_range(&app, &location, "0-9").await;
    let digest = Digest::sha256_of(HELLO);
    created_location(
        &finish(&app, &location, &digest, &HELLO[10..]).await,
        "home",
        &digest,
    );
    let elsewhere = format!("/v2/elsewhere/blobs/{digest}");
    app.get(&elsewhere)
        .await
        .assert_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn pushing_the_same_blob_twice_is_idempotent() {
    let app = TestApp::new().await;
    let first = app.push_blob("app", b"same bytes").await;
    let second = app.push_blob("app", b"same bytes").await;
    assert_eq!(first, second);
    assert_eq!(&app.blob_bytes("app", &first).await[..], b"same bytes");
}

#[tokio::test]
async fn chunk_that_fails_midway_keeps_what_arrived_and_the_upload_resumes() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::copy_from_slice(&HELLO[..5])),
        Err(std::io::Error::other("connection reset")),
    ];
    let request = Request::patch(&location)
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let reply = app.request(request).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID");
    assert_upload_range(&app, &location, "0-4").await;
    patch(&app, &location, Some("5-19"), &HELLO[5..])
        .await
        .assert_status(StatusCode::ACCEPTED);
    let digest = Digest::sha256_of(HELLO);
    created_location(&finish(&app, &location, &digest, b"").await, "app", &digest);
    assert_eq!(&app.blob_bytes("app", &digest).await[..], HELLO);
}
