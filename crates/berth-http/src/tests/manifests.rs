//! Manifest push: every accepted kind, tags by path and by `?tag=`, byte-exact storage, and
//! every rejection with its error code.

use super::*;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

fn docker_manifest(config: &Digest, layer: &Digest) -> Vec<u8> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": descriptor(DOCKER_CONFIG, config, 1),
        "layers": [descriptor(DOCKER_LAYER, layer, 1)],
    });
    serde_json::to_vec(&manifest).unwrap()
}

/// A fresh app with an image at `app:stable`, which no refused push may disturb.
async fn app_with_kept_image() -> (TestApp, Image) {
    let app = TestApp::new().await;
    let image = app.push_image("app", "stable", "kept").await;
    (app, image)
}

/// Asserts that a refused push stored none of `references` and left the image intact.
async fn assert_nothing_stored(app: &TestApp, image: &Image, references: &[&str]) {
    for reference in references {
        app.assert_manifest_unknown("app", reference).await;
    }
    app.assert_image_intact("app", "stable", image).await;
}

/// Asserts that pushing `body` to `app:<reference>`, next to a stored image, is refused with
/// 400 and `code`, stores nothing and leaves the image intact.
async fn assert_rejected(reference: &str, content_type: &str, body: &[u8], code: &str) {
    let (app, image) = app_with_kept_image().await;
    let reply = app.put_manifest("app", reference, content_type, body).await;
    reply.assert_error(StatusCode::BAD_REQUEST, code);
    let digest = Digest::sha256_of(body);
    assert_nothing_stored(&app, &image, &[reference, digest.as_str()]).await;
}

/// Pushes `body` to `app:<reference>` as `content_type` and asserts it is then served by tag,
/// byte-exact, as `served_as`.
async fn assert_round_trip(
    app: &TestApp,
    reference: &str,
    content_type: &str,
    body: &[u8],
    served_as: &str,
) {
    app.push_manifest("app", reference, content_type, body)
        .await;
    app.assert_manifest("app", reference, body, served_as).await;
}

/// An image manifest of one config pushed to `app`, and no layers.
async fn config_only_manifest(app: &TestApp) -> Vec<u8> {
    let config = app.push_blob("app", b"config").await;
    image_manifest(&config, &[])
}

#[tokio::test]
async fn manifest_put_by_tag_is_201_with_location_and_digest() {
    let app = TestApp::new().await;
    let config = app.push_blob("app", b"config").await;
    let layer = app.push_blob("app", b"layer").await;
    let body = image_manifest(&config, &[&layer]);
    let reply = app.put_manifest("app", "v1", OCI_MANIFEST, &body).await;
    let digest = reply.assert_manifest_created("app", &body);
    assert!(reply.headers.get("oci-tag").is_none());
    let pulled = app.get(reply.header("location")).await;
    assert_eq!(pulled.body, body);
    app.assert_manifest("app", "v1", &body, OCI_MANIFEST).await;
    app.assert_manifest("app", digest.as_str(), &body, OCI_MANIFEST)
        .await;
}

#[tokio::test]
async fn manifest_put_by_digest_is_201_and_creates_no_tag() {
    let app = TestApp::new().await;
    let body = config_only_manifest(&app).await;
    let digest = Digest::sha256_of(&body);
    let reply = app
        .put_manifest("app", digest.as_str(), OCI_MANIFEST, &body)
        .await;
    reply.assert_manifest_created("app", &body);
    app.assert_manifest("app", digest.as_str(), &body, OCI_MANIFEST)
        .await;
    let tags = app.get("/v2/app/tags/list").await;
    assert_eq!(tags.json(), json!({"name": "app", "tags": []}));
}

#[tokio::test]
async fn manifest_put_by_sha512_digest_is_accepted() {
    let app = TestApp::new().await;
    let body = config_only_manifest(&app).await;
    let digest = sha512_of(&body);
    let reply = app
        .put_manifest("app", digest.as_str(), OCI_MANIFEST, &body)
        .await;
    reply.assert_status(StatusCode::CREATED);
    assert_eq!(reply.header("docker-content-digest"), digest.as_str());
    let pulled = app.get(&format!("/v2/app/manifests/{digest}")).await;
    assert_eq!(pulled.body, body);
    assert_eq!(pulled.header("docker-content-digest"), digest.as_str());
}

#[tokio::test]
async fn tag_query_parameters_tag_the_manifest_and_are_echoed_as_oci_tag() {
    let app = TestApp::new().await;
    let body = config_only_manifest(&app).await;
    let digest = Digest::sha256_of(&body);
    let uri = format!("/v2/app/manifests/{digest}?tag=a&tag=b");
    let reply = app
        .send(
            Method::PUT,
            &uri,
            &[("content-type", OCI_MANIFEST)],
            body.clone(),
        )
        .await;
    reply.assert_manifest_created("app", &body);
    let echoed: Vec<&str> = reply
        .headers
        .get_all("oci-tag")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(echoed, ["a", "b"]);
    for tag in ["a", "b"] {
        app.assert_manifest("app", tag, &body, OCI_MANIFEST).await;
    }
    assert_eq!(
        app.get("/v2/app/tags/list").await.json()["tags"],
        json!(["a", "b"])
    );
}

#[tokio::test]
async fn oci_index_of_pushed_manifests_is_accepted() {
    let app = TestApp::new().await;
    let amd64 = app.push_image("app", "amd64", "amd64").await;
    let arm64 = app.push_image("app", "arm64", "arm64").await;
    let body = index_manifest(OCI_INDEX, OCI_MANIFEST, &[&amd64.digest, &arm64.digest]);
    assert_round_trip(&app, "multi", OCI_INDEX, &body, OCI_INDEX).await;
}

#[tokio::test]
async fn docker_schema2_manifest_and_manifest_list_are_accepted() {
    let app = TestApp::new().await;
    let config = app.push_blob("app", b"docker config").await;
    let layer = app.push_blob("app", b"docker layer").await;
    let manifest = docker_manifest(&config, &layer);
    assert_round_trip(&app, "docker", DOCKER_MANIFEST, &manifest, DOCKER_MANIFEST).await;

    let child = Digest::sha256_of(&manifest);
    let list = index_manifest(DOCKER_LIST, DOCKER_MANIFEST, &[&child]);
    assert_round_trip(&app, "list", DOCKER_LIST, &list, DOCKER_LIST).await;
}

#[tokio::test]
async fn manifest_without_media_type_takes_the_content_type_and_parameters_are_ignored() {
    let app = TestApp::new().await;
    let config = app.push_blob("app", b"config").await;
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "config": descriptor(OCI_CONFIG, &config, 6),
        "layers": [],
    }))
    .unwrap();
    let content_type = format!("{OCI_MANIFEST}; charset=utf-8");
    assert_round_trip(&app, "v1", &content_type, &body, OCI_MANIFEST).await;
}

#[tokio::test]
async fn unknown_fields_and_formatting_are_stored_byte_exact() {
    let app = TestApp::new().await;
    let config = app.push_blob("app", b"config").await;
    let body = format!(
        "{{\n  \"layers\" : [ ],\n  \"x-vendor\": {{\"nested\": [1, 2.50, null], \"s\": \"\\u00e9\"}},\n\
         \t\"schemaVersion\":2, \"mediaType\": \"{OCI_MANIFEST}\",\n  \"config\": {{\"size\": 6,\
         \"digest\": \"{config}\", \"mediaType\": \"{OCI_CONFIG}\", \"future\": true}}\n}}\n"
    );
    let body = body.as_bytes();
    assert_round_trip(&app, "exact", OCI_MANIFEST, body, OCI_MANIFEST).await;
}

#[tokio::test]
async fn manifest_with_a_subject_that_does_not_exist_is_accepted() {
    let app = TestApp::new().await;
    let mut manifest: Value = serde_json::from_slice(&config_only_manifest(&app).await).unwrap();
    let missing = Digest::sha256_of(b"subject pushed later");
    manifest["subject"] = descriptor(OCI_MANIFEST, &missing, 10);
    let body = serde_json::to_vec(&manifest).unwrap();
    app.push_manifest("app", "sig", OCI_MANIFEST, &body).await;
}

#[tokio::test]
async fn pushing_to_an_existing_tag_moves_it_and_keeps_the_old_manifest() {
    let app = TestApp::new().await;
    let old = app.push_image("app", "latest", "old").await;
    let new = app.push_image("app", "latest", "new").await;
    app.assert_manifest("app", "latest", &new.body, OCI_MANIFEST)
        .await;
    app.assert_manifest("app", old.digest.as_str(), &old.body, OCI_MANIFEST)
        .await;
}

#[tokio::test]
async fn manifest_largest_accepted_is_4_mib() {
    const LIMIT: usize = 4 * 1024 * 1024;
    let app = TestApp::new().await;
    let mut manifest: Value = serde_json::from_slice(&config_only_manifest(&app).await).unwrap();
    manifest["x-padding"] = json!("");
    let base = serde_json::to_vec(&manifest).unwrap().len();
    manifest["x-padding"] = json!("p".repeat(LIMIT - base));
    let body = serde_json::to_vec(&manifest).unwrap();
    assert_eq!(body.len(), LIMIT);
    assert_round_trip(&app, "big", OCI_MANIFEST, &body, OCI_MANIFEST).await;
}

#[tokio::test]
async fn manifest_over_4_mib_is_413_with_or_without_content_length() {
    let (app, image) = app_with_kept_image().await;
    let huge = vec![b' '; 4 * 1024 * 1024 + 1];
    let reply = app.put_manifest("app", "huge", OCI_MANIFEST, &huge).await;
    reply.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "MANIFEST_INVALID");
    let request = Request::put("/v2/app/manifests/huge")
        .header("content-type", OCI_MANIFEST)
        .body(Body::from(huge))
        .unwrap();
    let reply = app.request(request).await;
    reply.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "MANIFEST_INVALID");
    assert_nothing_stored(&app, &image, &["huge"]).await;
}

#[tokio::test]
async fn manifest_referencing_a_missing_blob_is_manifest_blob_unknown() {
    let missing = Digest::sha256_of(b"missing blob");
    // `assert_rejected` pushed this config through `push_image`.
    let config = Digest::sha256_of(b"config kept");
    let missing_layer = image_manifest(&config, &[&missing]);
    let missing_config = image_manifest(&missing, &[]);
    for body in [missing_layer, missing_config] {
        assert_rejected("v1", OCI_MANIFEST, &body, "MANIFEST_BLOB_UNKNOWN").await;
    }
}

#[tokio::test]
async fn manifest_referencing_a_blob_of_another_repository_is_manifest_blob_unknown() {
    let app = TestApp::new().await;
    let config = app.push_blob("other", b"config elsewhere").await;
    app.push_blob("app", b"something").await;
    let body = image_manifest(&config, &[]);
    let reply = app.put_manifest("app", "v1", OCI_MANIFEST, &body).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
}

#[tokio::test]
async fn index_referencing_a_missing_child_is_manifest_blob_unknown() {
    let missing = Digest::sha256_of(b"missing child manifest");
    let body = index_manifest(OCI_INDEX, OCI_MANIFEST, &[&missing]);
    assert_rejected("multi", OCI_INDEX, &body, "MANIFEST_BLOB_UNKNOWN").await;
}

#[tokio::test]
async fn digest_reference_not_matching_the_body_is_digest_invalid() {
    let body = index_manifest(OCI_INDEX, OCI_MANIFEST, &[]);
    let other = Digest::sha256_of(b"another body");
    assert_rejected(other.as_str(), OCI_INDEX, &body, "DIGEST_INVALID").await;
}

#[tokio::test]
async fn malformed_or_incomplete_manifest_is_manifest_invalid() {
    let invalid: [&[u8]; 6] = [
        b"{not json",
        b"",
        b"[1, 2]",
        br#"{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}"#,
        br#"{"schemaVersion": 3, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}"#,
        br#"{"schemaVersion": 2, "mediaType": "application/vnd.example.unknown+json"}"#,
    ];
    for body in invalid {
        assert_rejected("v1", OCI_MANIFEST, body, "MANIFEST_INVALID").await;
    }
}

#[tokio::test]
async fn media_type_disagreeing_with_content_type_is_manifest_invalid() {
    for (content_type, body) in [
        (OCI_MANIFEST, index_manifest(OCI_INDEX, OCI_MANIFEST, &[])),
        (OCI_INDEX, index_manifest(DOCKER_LIST, DOCKER_MANIFEST, &[])),
    ] {
        assert_rejected("v1", content_type, &body, "MANIFEST_INVALID").await;
    }
}

#[tokio::test]
async fn docker_schema1_manifest_is_unsupported() {
    let body = br#"{"schemaVersion": 1, "name": "app", "tag": "v1", "architecture": "amd64", "fsLayers": [], "history": []}"#;
    for content_type in [SCHEMA1, "application/json"] {
        assert_rejected("v1", content_type, body, "UNSUPPORTED").await;
    }
}

#[tokio::test]
async fn invalid_tag_query_parameter_is_rejected_and_nothing_is_stored() {
    let body = index_manifest(OCI_INDEX, OCI_MANIFEST, &[]);
    let digest = Digest::sha256_of(&body);
    let (app, image) = app_with_kept_image().await;
    let uri = format!("/v2/app/manifests/{digest}?tag=ok&tag=-bad");
    let reply = app
        .send(Method::PUT, &uri, &[("content-type", OCI_INDEX)], body)
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
    assert_nothing_stored(&app, &image, &["ok", digest.as_str()]).await;
}

#[tokio::test]
async fn manifest_body_that_fails_midway_is_400_not_413() {
    let (app, image) = app_with_kept_image().await;
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"schemaVersion\": 2,")),
        Err(std::io::Error::other("connection reset")),
    ];
    let request = Request::put("/v2/app/manifests/v2")
        .header("content-type", OCI_MANIFEST)
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap();
    let reply = app.request(request).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID");
    assert_nothing_stored(&app, &image, &["v2"]).await;
}
