//! Raw HTTP on the real binary at the spec's edges: the conformance suite's unnamable manifest
//! reference, the absolute URL `_oci/ext/discover` gives for `_berth` (and the document it
//! serves), and a `NAME_INVALID` that says what is wrong with the name.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::http::*;
use crate::support::TestServer;

/// The reference the OCI conformance suite reads to see a 404 for a missing manifest.
const UNNAMABLE: &str = ".INVALID_MANIFEST_NAME";

#[tokio::test]
async fn an_unnamable_manifest_reference_is_unknown_to_reads_and_refused_to_writes() {
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let repo = "conformance/app";
    let image = Image::new(repo, "v1", 1, &[700]);
    registry.push_image(&image).await;
    let url = registry.manifest_url(repo, UNNAMABLE);

    let get = registry.http.get(&url).send().await.expect("GET");
    expect_error(
        "GET of .INVALID_MANIFEST_NAME",
        get,
        &[404],
        &["MANIFEST_UNKNOWN"],
    )
    .await;
    let head = registry.http.head(&url).send().await.expect("HEAD");
    assert_eq!(head.status(), StatusCode::NOT_FOUND, "HEAD of {UNNAMABLE}");

    // No tag can have that name, so a push to it is a bad request, and stores nothing.
    let put = registry
        .put_manifest(repo, UNNAMABLE, OCI_MANIFEST, image.manifest.clone())
        .await
        .expect("PUT");
    expect_error(
        "PUT to .INVALID_MANIFEST_NAME",
        put,
        &[400],
        &["MANIFEST_INVALID", "TAG_INVALID"],
    )
    .await;
    let get = registry.http.get(&url).send().await.expect("GET");
    expect_error(
        "GET after the refused PUT",
        get,
        &[404],
        &["MANIFEST_UNKNOWN"],
    )
    .await;
    assert_eq!(registry.tags(repo).await, ["v1"]);
    registry
        .assert_image(&image, "after the unnamable reference")
        .await;

    // In a repository that does not exist it is just as unknown.
    let missing = registry.manifest_url("conformance/none", UNNAMABLE);
    let get = registry.http.get(&missing).send().await.expect("GET");
    expect_error(
        "GET in a missing repository",
        get,
        &[404],
        &["MANIFEST_UNKNOWN", "NAME_UNKNOWN"],
    )
    .await;
    assert_log_clean(&server.log());
}

#[tokio::test]
async fn discovery_names_the_berth_extension_by_an_absolute_url_that_serves_its_document() {
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let image = Image::new("discover/app", "v1", 1, &[300]);
    registry.push_image(&image).await;
    let expected = format!(
        "http://127.0.0.1:{}/berth/v1/extensions/referrers-graph",
        server.port
    );

    for path in [
        "/v2/_oci/ext/discover",
        "/v2/discover/app/_oci/ext/discover",
    ] {
        let discover = registry.get_json(path, path).await;
        let extensions = discover["extensions"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no extensions: {discover}"))
            .clone();
        for extension in &extensions {
            let url = extension["url"].as_str().unwrap_or_default();
            assert!(
                url.starts_with("http://") || url.starts_with("https://"),
                "{path}: {} has a relative url {url:?}",
                extension["name"]
            );
        }
        let berth = extensions
            .iter()
            .find(|e| e["name"] == "_berth")
            .unwrap_or_else(|| panic!("{path}: no _berth extension: {discover}"));
        assert_eq!(berth["url"], expected.as_str(), "{path}");
        assert_eq!(
            berth["endpoints"],
            Value::from(vec!["_berth/referrers-graph"]),
            "{path}"
        );
    }

    // The URL, followed as given, serves the extension's document.
    let response = registry.http.get(&expected).send().await.expect("GET");
    let content_type = header(&response, "content-type").unwrap_or_default();
    assert_eq!(response.status(), StatusCode::OK, "GET {expected}");
    assert!(content_type.starts_with("text/markdown"), "{content_type}");
    let text = response.text().await.expect("document");
    assert!(text.contains("_berth/referrers-graph"), "{text}");
    assert_log_clean(&server.log());
}

#[tokio::test]
async fn name_invalid_says_the_name_has_upper_case_letters() {
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    let uploads = registry.url("/v2/Demo/UPPER/blobs/uploads/");
    for (what, request) in [
        (
            "tags list",
            registry.http.get(registry.url("/v2/Demo/UPPER/tags/list")),
        ),
        ("upload", registry.http.post(&uploads)),
        (
            "manifest push",
            registry
                .http
                .put(registry.manifest_url("Demo/UPPER", "v1"))
                .header("content-type", OCI_MANIFEST)
                .body(Image::new("x", "v1", 1, &[10]).manifest),
        ),
    ] {
        let response = request.send().await.expect(what);
        let status = response.status();
        let body: Value = response.json().await.expect("error JSON");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["errors"][0]["code"], "NAME_INVALID", "{what}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("\"Demo\"") && message.contains("upper-case"),
            "{what}: the message does not say the name has upper-case letters: {message}"
        );
    }
    assert_eq!(registry.catalog().await, Vec::<String>::new());
    assert_log_clean(&server.log());
}
