//! Pull: `/v2/`, blob GET/HEAD with ranges, manifest GET/HEAD by tag and by digest.

use super::*;

/// `GET uri` with a `Range` header.
async fn get_range(app: &TestApp, uri: &str, range: &str) -> Reply {
    app.send(Method::GET, uri, &[("range", range)], Bytes::new())
        .await
}

/// Asserts the headers of a 200 for a blob of `len` bytes, which GET and HEAD share.
fn assert_blob_headers(reply: &Reply, digest: &Digest, len: &str) {
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.header("content-length"), len);
    assert_eq!(reply.header("docker-content-digest"), digest.as_str());
}

/// Asserts the headers of a 200 for `image`'s manifest, which GET and HEAD share.
fn assert_manifest_headers(reply: &Reply, image: &Image) {
    reply.assert_status(StatusCode::OK);
    assert_eq!(reply.header("content-type"), OCI_MANIFEST);
    assert_eq!(reply.header("docker-content-digest"), image.digest.as_str());
    assert_eq!(reply.header("content-length"), image.body.len().to_string());
}

#[tokio::test]
async fn api_version_endpoint_answers_200_with_and_without_slash() {
    let app = TestApp::new().await;
    for uri in ["/v2/", "/v2"] {
        let reply = app.get(uri).await;
        reply.assert_status(StatusCode::OK);
        assert_eq!(reply.header("content-type"), "application/json");
        assert_eq!(reply.json(), json!({}));
    }
    app.head("/v2/").await.assert_status(StatusCode::OK);
}

#[tokio::test]
async fn blob_get_returns_the_bytes_with_length_and_digest() {
    let app = TestApp::new().await;
    let digest = app.push_blob("library/alpine", b"layer bytes").await;
    let reply = app.get(&format!("/v2/library/alpine/blobs/{digest}")).await;
    assert_blob_headers(&reply, &digest, "11");
    assert_eq!(&reply.body[..], b"layer bytes");
}

#[tokio::test]
async fn blob_head_returns_length_and_digest_without_a_body() {
    let app = TestApp::new().await;
    let digest = app.push_blob("app", b"0123456789").await;
    let reply = app.head(&format!("/v2/app/blobs/{digest}")).await;
    assert_blob_headers(&reply, &digest, "10");
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn blob_digest_may_have_a_percent_encoded_colon() {
    let app = TestApp::new().await;
    let digest = app.push_blob("app", b"encoded").await;
    let encoded = digest.as_str().replace(':', "%3A");
    let reply = app.get(&format!("/v2/app/blobs/{encoded}")).await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(&reply.body[..], b"encoded");
}

#[tokio::test]
async fn blob_range_requests_return_206_with_content_range() {
    let app = TestApp::new().await;
    let digest = app.push_blob("app", b"0123456789").await;
    let uri = format!("/v2/app/blobs/{digest}");
    for (range, content_range, expected) in [
        ("bytes=2-5", "bytes 2-5/10", &b"2345"[..]),
        ("bytes=7-", "bytes 7-9/10", b"789"),
        ("bytes=-3", "bytes 7-9/10", b"789"),
        ("bytes=8-100", "bytes 8-9/10", b"89"),
    ] {
        let reply = get_range(&app, &uri, range).await;
        reply.assert_status(StatusCode::PARTIAL_CONTENT);
        assert_eq!(reply.header("content-range"), content_range, "{range}");
        assert_eq!(reply.header("content-length"), expected.len().to_string());
        assert_eq!(&reply.body[..], expected, "{range}");
    }
}

#[tokio::test]
async fn unsatisfiable_blob_range_is_416() {
    let app = TestApp::new().await;
    let digest = app.push_blob("app", b"0123456789").await;
    let uri = format!("/v2/app/blobs/{digest}");
    for range in ["bytes=10-", "bytes=50-60", "bytes=-0"] {
        let reply = get_range(&app, &uri, range).await;
        assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
    }
    app.assert_blob("app", &digest, b"0123456789").await;
}

#[tokio::test]
async fn unparsable_range_serves_the_whole_blob() {
    let app = TestApp::new().await;
    let digest = app.push_blob("app", b"0123456789").await;
    let uri = format!("/v2/app/blobs/{digest}");
    let reply = get_range(&app, &uri, "lines=1-2").await;
    reply.assert_status(StatusCode::OK);
    assert_eq!(&reply.body[..], b"0123456789");
}

#[tokio::test]
async fn unknown_blob_is_404_blob_unknown_for_get_and_head() {
    let app = TestApp::new().await;
    app.push_blob("app", b"present").await;
    let missing = Digest::sha256_of(b"never pushed");
    for repo in ["app", "no/such/repo"] {
        app.assert_blob_unknown(repo, &missing).await;
    }
}

#[tokio::test]
async fn blob_of_another_repository_is_not_readable_without_a_mount() {
    let app = TestApp::new().await;
    let digest = app.push_blob("team/a", b"private layer").await;
    app.push_blob("team/b", b"something else").await;
    app.assert_blob_unknown("team/b", &digest).await;
}

#[tokio::test]
async fn manifest_get_by_tag_and_digest_returns_exact_bytes_and_headers() {
    let app = TestApp::new().await;
    let image = app.push_image("library/app", "v1", "pull").await;
    for reference in ["v1", image.digest.as_str()] {
        let reply = app
            .get(&format!("/v2/library/app/manifests/{reference}"))
            .await;
        assert_manifest_headers(&reply, &image);
        assert_eq!(reply.body, image.body, "{reference}");
    }
}

#[tokio::test]
async fn manifest_head_by_tag_and_digest_returns_headers_without_a_body() {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "head").await;
    for reference in ["v1", image.digest.as_str()] {
        let reply = app.head(&format!("/v2/app/manifests/{reference}")).await;
        assert_manifest_headers(&reply, &image);
        assert!(reply.body.is_empty());
    }
}

#[tokio::test]
async fn unknown_manifest_in_existing_repository_is_manifest_unknown() {
    let app = TestApp::new().await;
    app.push_image("app", "v1", "exists").await;
    let missing = Digest::sha256_of(b"no manifest");
    for reference in ["v2", missing.as_str()] {
        app.assert_manifest_unknown("app", reference).await;
    }
}

#[tokio::test]
async fn manifest_in_unknown_repository_is_name_unknown() {
    let app = TestApp::new().await;
    app.push_image("app", "v1", "exists").await;
    let digest = Digest::sha256_of(b"no manifest");
    for reference in ["v1", digest.as_str()] {
        let uri = format!("/v2/other/manifests/{reference}");
        app.assert_not_found(&uri, "NAME_UNKNOWN").await;
    }
}
