//! Reading and checking reqwest replies: headers, `Link` targets, expected statuses (with the
//! body shown when they differ), `201 Created` with its digest header, and OCI error bodies.

use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde_json::Value;

/// A header of `headers` as a string.
pub fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A response header as a string.
pub fn header(response: &Response, name: &str) -> Option<String> {
    header_value(response.headers(), name)
}

/// The target of a `Link: <target>; rel="next"` header, as listings page on.
pub fn next_link_target(link: &str) -> String {
    assert!(
        link.contains("rel=\"next\""),
        "Link without rel=next: {link}"
    );
    let start = link.find('<').expect("Link opens with <") + 1;
    let end = link.find('>').expect("Link closes with >");
    link[start..end].to_owned()
}

/// The `Location` header, which every upload reply must carry.
pub fn location(response: &Response) -> &str {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location header")
}

/// Asserts the status `expected`, with the body in the message when it differs (which is why
/// it consumes the reply); returns the headers for the checks that follow.
pub async fn assert_status(response: Response, expected: StatusCode, what: &str) -> HeaderMap {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, expected, "{what}: {text}");
    headers
}

/// Asserts a 201 for a stored blob or manifest with its digest header.
pub async fn assert_created(response: Response, digest: &str, what: &str) {
    let headers = assert_status(response, StatusCode::CREATED, what).await;
    assert_eq!(
        header_value(&headers, "docker-content-digest").as_deref(),
        Some(digest),
        "{what}: digest header"
    );
}

/// Checks an error response: the expected status, a JSON body `{"errors":[{"code":..}]}` and
/// a code among `codes`. Returns the code.
pub async fn expect_error(
    what: &str,
    response: Response,
    statuses: &[u16],
    codes: &[&str],
) -> String {
    let status = response.status().as_u16();
    let content_type =
        header(&response, reqwest::header::CONTENT_TYPE.as_str()).unwrap_or_default();
    let body = response.bytes().await.unwrap_or_default();
    check_error_reply(what, status, &content_type, &body, statuses, codes)
}

/// The checks of `expect_error` on an already read reply.
pub fn check_error_reply(
    what: &str,
    status: u16,
    content_type: &str,
    body: &[u8],
    statuses: &[u16],
    codes: &[&str],
) -> String {
    let text = String::from_utf8_lossy(body);
    assert!(status < 500, "{what}: server error {status}: {text}");
    assert!(
        statuses.contains(&status),
        "{what}: status {status}, expected one of {statuses:?}; body: {text}"
    );
    assert!(
        content_type.starts_with("application/json"),
        "{what}: error content type {content_type:?}, expected application/json; body: {text}"
    );
    let value: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{what}: error body is not JSON ({e}): {text}"));
    let errors = value["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: error body has no errors array: {text}"));
    assert!(!errors.is_empty(), "{what}: empty errors array");
    for entry in errors {
        assert!(
            entry["code"].is_string(),
            "{what}: error entry without a code: {text}"
        );
    }
    let code = errors[0]["code"].as_str().expect("code").to_owned();
    assert!(
        codes.contains(&code.as_str()),
        "{what}: code {code}, expected one of {codes:?} (status {status}); body: {text}"
    );
    code
}
