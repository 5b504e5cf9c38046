//! Bad names, digests, tags, paths and methods; the shape of every error reply; and that no
//! bad request disturbs stored content.

use super::*;

/// A registry holding one image at `app:v1`, checked intact after the bad requests.
async fn app_with_image() -> (TestApp, Image) {
    let app = TestApp::new().await;
    let image = app.push_image("app", "v1", "intact").await;
    (app, image)
}

/// Sends `method uri` with an empty body and asserts a 400 with `code`.
async fn assert_bad_request(app: &TestApp, method: Method, uri: &str, code: &str) {
    let reply = app.send_empty(method.clone(), uri).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "{method} {uri}: {reply:?}"
    );
    reply.assert_error(StatusCode::BAD_REQUEST, code);
}

/// Asserts `GET` and `DELETE` of the manifest `reference` (a malformed digest) in `app` are 400
/// with `code`.
async fn assert_bad_reference(app: &TestApp, reference: &str, code: &str) {
    let uri = format!("/v2/app/manifests/{reference}");
    for method in [Method::GET, Method::DELETE] {
        assert_bad_request(app, method, &uri, code).await;
    }
}

#[tokio::test]
async fn invalid_repository_names_are_name_invalid_on_every_endpoint() {
    let (app, image) = app_with_image().await;
    let digest = &image.layer;
    let names = [
        "App",
        "a/../app",
        "..",
        "a/%2e%2e/app",
        "%2e%2e/app",
        "a//app",
        "app/",
        "a%2fb",
        "a%20b",
        "-app",
    ];
    for name in names {
        for (method, uri) in [
            (Method::GET, format!("/v2/{name}/manifests/v1")),
            (Method::PUT, format!("/v2/{name}/manifests/v1")),
            (Method::DELETE, format!("/v2/{name}/manifests/v1")),
            (Method::GET, format!("/v2/{name}/blobs/{digest}")),
            (Method::DELETE, format!("/v2/{name}/blobs/{digest}")),
            (Method::POST, format!("/v2/{name}/blobs/uploads/")),
            (Method::GET, format!("/v2/{name}/tags/list")),
        ] {
            assert_bad_request(&app, method, &uri, "NAME_INVALID").await;
        }
    }
    let too_long = format!("/v2/{}/tags/list", "a".repeat(256));
    assert_bad_request(&app, Method::GET, &too_long, "NAME_INVALID").await;
    app.assert_image_intact("app", "v1", &image).await;
}

#[tokio::test]
async fn invalid_digests_are_digest_invalid() {
    let (app, image) = app_with_image().await;
    let sha256 = image.layer.as_str();
    let upper = sha256.to_uppercase().replace("SHA256", "sha256");
    let short = &sha256[..sha256.len() - 1];
    let bad = [
        short,
        &upper,
        "sha256:",
        "sha256",
        "notadigest:abc",
        "md5:5d41402abc4b2a76b9719d911017c592",
    ];
    for digest in bad {
        let blob = format!("/v2/app/blobs/{digest}");
        for (method, uri) in [
            (Method::GET, blob.clone()),
            (Method::HEAD, blob.clone()),
            (Method::DELETE, blob),
            (
                Method::POST,
                format!("/v2/app/blobs/uploads/?digest={digest}"),
            ),
            (
                Method::POST,
                format!("/v2/app/blobs/uploads/?mount={digest}&from=app"),
            ),
        ] {
            assert_bad_request(&app, method, &uri, "DIGEST_INVALID").await;
        }
    }
    for digest in [short, upper.as_str(), "sha256:zz"] {
        assert_bad_reference(&app, digest, "DIGEST_INVALID").await;
    }
    app.assert_image_intact("app", "v1", &image).await;
}

#[tokio::test]
async fn invalid_tags_are_400_to_pushes_and_404_to_reads() {
    let (app, image) = app_with_image().await;
    let too_long = "t".repeat(129);
    for tag in [
        "-v1",
        ".hidden",
        "v%201",
        ".INVALID_MANIFEST_NAME",
        too_long.as_str(),
    ] {
        // No manifest can be named so: reads and deletes find nothing (as the conformance
        // suite's "GET nonexistent manifest" expects), pushes are refused.
        let uri = format!("/v2/app/manifests/{tag}");
        for method in [Method::GET, Method::HEAD, Method::DELETE] {
            app.send_empty(method, &uri)
                .await
                .assert_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
        }
        let reply = app
            .put_manifest("app", tag, OCI_MANIFEST, &image.body)
            .await;
        reply.assert_error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
    }
    let longest = "t".repeat(128);
    app.push_manifest("app", &longest, OCI_MANIFEST, &image.body)
        .await;
    app.assert_image_intact("app", "v1", &image).await;
}

#[tokio::test]
async fn unknown_endpoints_are_404() {
    let (app, image) = app_with_image().await;
    // `/` redirects to the web UI (see `browse_ui`).
    let uris = [
        "/v1/",
        "/v3/app/manifests/v1",
        "/v2x",
        "/v2/app",
        "/v2/app/unknown/thing",
        "/v2/app/blobs",
        "/v2/app/tags",
        "/v2/app/tags/list/more",
        "/v2/manifests/v1",
        "/v2/app/referrers",
    ];
    for uri in uris {
        assert_eq!(app.get(uri).await.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(
            app.send(Method::PUT, uri, &[], "{}").await.status,
            StatusCode::NOT_FOUND,
            "{uri}"
        );
    }
    app.assert_image_intact("app", "v1", &image).await;
}

/// A known endpoint of each kind, the methods it answers, and some it does not.
fn endpoints(image: &Image, upload: &str) -> Vec<(String, &'static str, Vec<Method>)> {
    use Method as M;
    let blob = format!("/v2/app/blobs/{}", image.layer);
    vec![
        ("/v2/".into(), "GET, HEAD", vec![M::POST, M::PUT, M::DELETE]),
        ("/v2/_catalog".into(), "GET, HEAD", vec![M::POST, M::DELETE]),
        (
            "/v2/app/tags/list".into(),
            "GET, HEAD",
            vec![M::PUT, M::DELETE],
        ),
        (
            "/v2/app/manifests/v1".into(),
            "GET, HEAD, PUT, DELETE",
            vec![M::POST, M::PATCH, M::OPTIONS],
        ),
        (blob, "GET, HEAD, DELETE", vec![M::POST, M::PUT, M::PATCH]),
        (
            "/v2/app/blobs/uploads/".into(),
            "POST",
            vec![M::GET, M::HEAD, M::PUT, M::PATCH, M::DELETE],
        ),
        (
            upload.into(),
            "GET, HEAD, PATCH, PUT, DELETE",
            vec![M::POST],
        ),
    ]
}

#[tokio::test]
async fn unsupported_methods_on_known_endpoints_are_405_with_allow() {
    let (app, image) = app_with_image().await;
    let location = app.start_upload("app").await;
    for (uri, allow, refused) in endpoints(&image, &location) {
        for method in refused {
            let reply = app.send_empty(method.clone(), &uri).await;
            reply.assert_error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED");
            assert_eq!(reply.header("allow"), allow, "{method} {uri}");
        }
    }
    app.assert_image_intact("app", "v1", &image).await;
    app.get(&location)
        .await
        .assert_status(StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn every_method_in_allow_is_answered() {
    let (app, image) = app_with_image().await;
    let location = app.start_upload("app").await;
    for (uri, allow, _) in endpoints(&image, &location) {
        for method in allow.split(", ") {
            let method: Method = method.parse().unwrap();
            // Only whether the method is routed matters; the request itself may be refused.
            let reply = app.send_empty(method.clone(), &uri).await;
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}"
            );
        }
    }
}

/// One request for each error code the API can answer, and the status it comes with.
#[tokio::test]
async fn every_reachable_error_code_is_a_json_error_body() {
    let (app, image) = app_with_image().await;
    let missing = Digest::sha256_of(b"missing");
    let location = app.start_upload("app").await;
    let unknown_upload = "/v2/app/blobs/uploads/0b1e5cfa-3f6b-4a3c-9f0e-2d3c4b5a6978";
    let oci = [("content-type", OCI_MANIFEST)];
    let missing_config = image_manifest(&missing, &[]);
    let size_mismatch = [("content-range", "0-9"), ("content-length", "2")];
    let cases = [
        (
            app.get(&format!("/v2/app/blobs/{missing}")).await,
            404,
            "BLOB_UNKNOWN",
        ),
        (
            app.send(Method::PATCH, &location, &[("content-range", "x")], "1")
                .await,
            400,
            "BLOB_UPLOAD_INVALID",
        ),
        (app.get(unknown_upload).await, 404, "BLOB_UPLOAD_UNKNOWN"),
        (
            app.send(Method::PUT, &location, &[], "").await,
            400,
            "DIGEST_INVALID",
        ),
        (
            app.put_manifest("app", "v2", OCI_MANIFEST, &missing_config)
                .await,
            400,
            "MANIFEST_BLOB_UNKNOWN",
        ),
        (
            app.send(Method::PUT, "/v2/app/manifests/v2", &oci, "{")
                .await,
            400,
            "MANIFEST_INVALID",
        ),
        (
            app.get("/v2/app/manifests/v2").await,
            404,
            "MANIFEST_UNKNOWN",
        ),
        (app.get("/v2/APP/tags/list").await, 400, "NAME_INVALID"),
        (app.get("/v2/ghost/tags/list").await, 404, "NAME_UNKNOWN"),
        (
            app.send(Method::PATCH, &location, &size_mismatch, "12")
                .await,
            400,
            "SIZE_INVALID",
        ),
        (
            app.send(Method::POST, "/v2/app/manifests/v1", &[], "")
                .await,
            405,
            "UNSUPPORTED",
        ),
    ];
    for (reply, status, code) in cases {
        assert_eq!(reply.header("content-type"), "application/json");
        reply.assert_error(StatusCode::from_u16(status).unwrap(), code);
        let message = reply.json()["errors"][0]["message"].clone();
        assert!(!message.as_str().unwrap().is_empty(), "{reply:?}");
    }
    app.assert_image_intact("app", "v1", &image).await;
}
