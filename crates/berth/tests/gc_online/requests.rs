//! Requests sent by hand and read whole: status, headers and body text together, so the
//! callers can decide what a reply means without juggling the response.

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::support::http::Registry;

/// A reply, read to the end (a body that cannot be read counts as empty).
pub struct Reply {
    pub status: StatusCode,
    headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The first OCI error code of the body; empty when it has none.
    pub fn error_code(&self) -> String {
        serde_json::from_str::<Value>(&self.text)
            .ok()
            .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Whether this is a 201 whose `Docker-Content-Digest` is `digest`.
    pub fn created(&self, digest: &str) -> bool {
        self.status == StatusCode::CREATED
            && self.header("docker-content-digest").as_deref() == Some(digest)
    }

    /// A failure message for a reply nothing expected, with its digest header.
    pub fn unexpected(&self, what: &str) -> String {
        format!(
            "{what}: {} (digest header {:?}): {}",
            self.status,
            self.header("docker-content-digest"),
            self.text
        )
    }
}

/// Sends `request`; a transport failure is reported as `what: error`.
pub async fn send(request: RequestBuilder, what: &str) -> Result<Reply, String> {
    let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
    Ok(read(response).await)
}

/// Reads `response` to the end.
pub async fn read(response: Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Reply {
        status,
        headers,
        text,
    }
}

/// `GET path`, which must answer 200 with JSON; returns the value and the text behind it.
pub async fn get_json(reg: &Registry, path: &str, what: &str) -> (Value, String) {
    let reply = send(reg.http.get(reg.url(path)), &format!("{what}: GET"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.text);
    let value = serde_json::from_str(&reply.text)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", reply.text));
    (value, reply.text)
}

/// `DELETE /v2/<repo>/manifests/<reference>` (a tag or a digest).
pub async fn delete_manifest(reg: &Registry, repo: &str, reference: &str) -> Result<Reply, String> {
    let url = reg.url(&format!("/v2/{repo}/manifests/{reference}"));
    send(reg.http.delete(url), &format!("DELETE {repo}:{reference}")).await
}
