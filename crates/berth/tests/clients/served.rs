//! Raw HTTP checks of what berth serves, independent of the client that pushed it: manifests,
//! blobs (whole and ranged) and tag lists.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::content::sha256;
use crate::layout::PlatformImage;
use crate::support::TestServer;

/// The value of header `name`; panics if it is missing, since every caller requires it.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("response has no {name} header: {headers:?}"))
        .to_str()
        .expect("ASCII header")
}

/// GETs (or HEADs) a manifest with `accept`, returning status, headers and body.
async fn http_manifest(
    server: &TestServer,
    method: Method,
    repo: &str,
    reference: &str,
    accept: &str,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let url = format!("{}/v2/{repo}/manifests/{reference}", server.url());
    let response = reqwest::Client::new()
        .request(method, &url)
        .header("accept", accept)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("manifest body").to_vec();
    (status, headers, body)
}

/// Checks with raw HTTP that `repo` serves `expected` byte for byte under `reference`, with
/// the right digest and content type, on GET and HEAD (which must have the same headers and
/// no body).
pub async fn assert_served_manifest(
    server: &TestServer,
    repo: &str,
    reference: &str,
    media_type: &str,
    expected: &[u8],
) {
    let digest = sha256(expected);
    for (method, expected_body) in [(Method::GET, expected), (Method::HEAD, &[][..])] {
        let (status, headers, body) =
            http_manifest(server, method.clone(), repo, reference, media_type).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{method} manifest {repo}:{reference}; body {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(
            body, expected_body,
            "{method} manifest {repo}:{reference} is not byte-exact"
        );
        assert_eq!(
            header(&headers, "docker-content-digest"),
            digest,
            "{method} {repo}:{reference}"
        );
        assert_eq!(
            header(&headers, "content-type"),
            media_type,
            "{method} {repo}:{reference}"
        );
        assert_eq!(
            header(&headers, "content-length"),
            expected.len().to_string()
        );
    }
}

/// Checks with raw HTTP that `repo` serves the blob `expected`, whole and in a range.
pub async fn assert_served_blob(server: &TestServer, repo: &str, expected: &[u8]) {
    let digest = sha256(expected);
    let url = format!("{}/v2/{repo}/blobs/{digest}", server.url());
    let http = reqwest::Client::new();
    let response = http.get(&url).send().await.expect("blob GET");
    assert_eq!(response.status(), StatusCode::OK, "GET {url}");
    assert_eq!(header(response.headers(), "docker-content-digest"), digest);
    assert_eq!(
        header(response.headers(), "content-length"),
        expected.len().to_string()
    );
    let body = response.bytes().await.expect("blob body");
    assert!(
        body == expected,
        "GET {url} is not byte-exact ({} bytes, expected {})",
        body.len(),
        expected.len()
    );

    if expected.len() > 10 {
        let (start, end) = (expected.len() / 3, expected.len() / 3 * 2);
        let response = http
            .get(&url)
            .header("range", format!("bytes={start}-{end}"))
            .send()
            .await
            .expect("ranged blob GET");
        assert_eq!(
            response.status(),
            StatusCode::PARTIAL_CONTENT,
            "ranged GET {url}"
        );
        assert_eq!(
            header(response.headers(), "content-range"),
            format!("bytes {start}-{end}/{}", expected.len())
        );
        let body = response.bytes().await.expect("range body");
        assert!(
            body == expected[start..=end],
            "ranged GET {url} returned the wrong bytes"
        );
    }
}

/// Checks with raw HTTP that `repo` serves `image`'s OCI manifest by digest and every blob it
/// references.
pub async fn assert_served_image(server: &TestServer, repo: &str, image: &PlatformImage) {
    assert_served_manifest(
        server,
        repo,
        &image.digest(),
        oci_client::manifest::OCI_IMAGE_MEDIA_TYPE,
        &image.manifest,
    )
    .await;
    for blob in image.blobs() {
        assert_served_blob(server, repo, blob).await;
    }
}

/// The tags of `repo`, listed with raw HTTP (which must name the repository back).
pub async fn http_tags(server: &TestServer, repo: &str) -> Vec<String> {
    let url = format!("{}/v2/{repo}/tags/list", server.url());
    let response = reqwest::get(&url).await.expect("tags list");
    assert_eq!(response.status(), StatusCode::OK, "GET {url}");
    let body: Value = response.json().await.expect("tags JSON");
    assert_eq!(body["name"], repo);
    serde_json::from_value(body["tags"].clone()).expect("tags is a list of strings")
}
