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

/// `PUT <location>?digest=<digest>` with an optional final chunk; `digest` may be malformed.
async fn finish(app: &TestApp, location: &str, digest: impl Display, chunk: &[u8]) -> Reply {
    let uri = format!("{location}?digest={digest}");
    app.send(Method::PUT, &uri, &[], chunk.to_vec()).await
}

/// An upload session in `repo` holding the first half of `HELLO`, bytes 0-9.
async fn half_uploaded(app: &TestApp, repo: &str) -> String {
    let location = app.start_upload(repo).await;
    patch(app, &location, Some("0-9"), &HELLO[..10])
        .await
        .assert_status(StatusCode::ACCEPTED);
    location
}

/// Asserts a session status reply (to GET or HEAD): 204 with `Range: <range>`.
fn assert_upload_status(reply: &Reply, location: &str, range: &str) {
    reply.assert_status(StatusCode::NO_CONTENT);
    assert_eq!(reply.header("range"), range);
    assert_eq!(reply.header("location"), location);
}

/// Asserts the session answers status 204 with `Range: <range>`.
async fn assert_upload_range(app: &TestApp, location: &str, range: &str) {
    assert_upload_status(&app.get(location).await, location, range);
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

/// Closes a session that holds the rest of `HELLO` with `last` as the final chunk, and
/// asserts `repo` then serves all of `HELLO`.
async fn assert_completes_hello(app: &TestApp, repo: &str, location: &str, last: &[u8]) {
    let digest = Digest::sha256_of(HELLO);
    created_location(&finish(app, location, &digest, last).await, repo, &digest);
    app.assert_blob(repo, &digest, HELLO).await;
}

#[tokio::test]
async fn post_opens_a_session_with_location_range_and_uuid() {
    let app = TestApp::new().await;
    let reply = app.post("/v2/team/app/blobs/uploads/").await;
    let id = reply.assert_session_started("team/app");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_upload_range(&app, reply.header("location"), "0-0").await;
}

#[tokio::test]
async fn upload_status_answers_head_like_get() {
    let app = TestApp::new().await;
    let location = half_uploaded(&app, "app").await;
    assert_upload_status(&app.head(&location).await, &location, "0-9");
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
    let reply = app.post_blob("app", &digest, b"monolithic").await;
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
    app.assert_blob("app", &digest, b"post then put").await;
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
    assert_completes_hello(&app, "app", &location, b"").await;
}

#[tokio::test]
async fn chunked_upload_may_send_the_last_chunk_with_the_put() {
    let app = TestApp::new().await;
    let location = half_uploaded(&app, "app").await;
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
    app.assert_blob("app", &digest, HELLO).await;
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
    app.assert_blob("app", &digest, HELLO).await;
}

#[tokio::test]
async fn out_of_order_chunk_is_416_with_the_current_range_and_the_upload_resumes() {
    let app = TestApp::new().await;
    let location = half_uploaded(&app, "app").await;
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
    assert_completes_hello(&app, "app", &location, b"").await;
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
    let location = half_uploaded(&app, "app").await;
    let uri = format!("{location}?digest={}", Digest::sha256_of(HELLO));
    let headers = [("content-range", "12-19")];
    let reply = app
        .send(Method::PUT, &uri, &headers, HELLO[12..].to_vec())
        .await;
    reply.assert_error(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID");
    assert_upload_range(&app, &location, "0-9").await;
}

#[tokio::test]
async fn content_length_disagreeing_with_content_range_is_size_invalid() {
    let app = TestApp::new().await;
    let location = half_uploaded(&app, "app").await;
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
    let headers = [("content-length", "20")];
    let reply = app
        .send(Method::POST, &uri, &headers, HELLO[..8].to_vec())
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "SIZE_INVALID");
    app.assert_blob_unknown("app", &digest).await;
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

    let reply = app
        .post_blob("app", &claimed, b"what the client sends")
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");

    for digest in [&claimed, &actual] {
        app.assert_blob_unknown("app", digest).await;
    }
}

#[tokio::test]
async fn put_without_digest_is_digest_invalid_and_keeps_the_session() {
    let app = TestApp::new().await;
    let location = half_uploaded(&app, "app").await;
    let reply = app.send_empty(Method::PUT, &location).await;
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
        let put = finish(&app, &location, digest, b"x").await;
        put.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
        let post = app.post_blob("app", digest, b"x").await;
        post.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
    }
    assert_upload_range(&app, &location, "0-0").await;
}

#[tokio::test]
async fn sha512_digests_are_verified_for_monolithic_and_chunked_pushes() {
    let app = TestApp::new().await;
    let digest = sha512_of(b"sha512 monolithic");
    let reply = app.post_blob("app", &digest, b"sha512 monolithic").await;
    created_location(&reply, "app", &digest);
    app.assert_blob("app", &digest, b"sha512 monolithic").await;

    let location = half_uploaded(&app, "app").await;
    let digest = sha512_of(HELLO);
    let reply = finish(&app, &location, &digest, &HELLO[10..]).await;
    created_location(&reply, "app", &digest);
    app.assert_blob("app", &digest, HELLO).await;

    let location = app.start_upload("app").await;
    let wrong = sha512_of(b"something else");
    let reply = finish(&app, &location, &wrong, HELLO).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
}

#[tokio::test]
async fn cancelled_upload_is_204_and_then_unknown() {
    let app = TestApp::new().await;
    let location = half_uploaded(&app, "app").await;
    let reply = app.delete(&location).await;
    reply.assert_status(StatusCode::NO_CONTENT);
    assert_upload_unknown(&app, &location).await;
}

#[tokio::test]
async fn unknown_or_malformed_upload_id_is_blob_upload_unknown() {
    let app = TestApp::new().await;
    app.start_upload("app").await;
    for location in [
        "/v2/app/blobs/uploads/0b1e5cfa-3f6b-4a3c-9f0e-2d3c4b5a6978",
        "/v2/app/blobs/uploads/not-a-session",
    ] {
        assert_upload_unknown(&app, location).await;
    }
}

#[tokio::test]
async fn upload_id_of_another_repository_is_unknown_there_and_intact_at_home() {
    let app = TestApp::new().await;
    let location = half_uploaded(&app, "home").await;
    app.start_upload("elsewhere").await;
    let foreign = location.replace("/v2/home/", "/v2/elsewhere/");
    assert_upload_unknown(&app, &foreign).await;

    assert_upload_range(&app, &location, "0-9").await;
    assert_completes_hello(&app, "home", &location, &HELLO[10..]).await;
    let digest = Digest::sha256_of(HELLO);
    app.assert_blob_unknown("elsewhere", &digest).await;
}

#[tokio::test]
async fn pushing_the_same_blob_twice_is_idempotent() {
    let app = TestApp::new().await;
    let first = app.push_blob("app", b"same bytes").await;
    let second = app.push_blob("app", b"same bytes").await;
    assert_eq!(first, second);
    app.assert_blob("app", &first, b"same bytes").await;
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
    assert_completes_hello(&app, "app", &location, b"").await;
}

#[tokio::test]
async fn a_content_range_beyond_any_count_is_invalid() {
    let app = TestApp::new().await;
    let location = app.start_upload("app").await;
    for body in [&b""[..], b"x"] {
        patch(&app, &location, Some("0-18446744073709551615"), body)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID");
    }
    assert_upload_range(&app, &location, "0-0").await;
}
