//! `Registry`, the reqwest client the end-to-end tests drive the server with: upload sessions,
//! blob and manifest pushes, reads, listings, and assertions that what was pushed reads back
//! byte-exact (or is cleanly absent).

use std::collections::BTreeMap;

use bytes::Bytes;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::Value;

use super::http::{client, digest_of};
use super::image::{Image, OCI_INDEX, OCI_MANIFEST};
use super::replies::{assert_created, assert_status, expect_error, header, location};

/// The registry under test, addressed over HTTP.
#[derive(Clone)]
pub struct Registry {
    pub http: Client,
    pub base: String,
}

impl Registry {
    pub fn new(base: impl Into<String>) -> Registry {
        Registry {
            http: client(),
            base: base.into(),
        }
    }

    /// A registry every request of which carries Basic credentials of `user`.
    pub fn with_basic(base: impl Into<String>, user: &str, password: &str) -> Registry {
        use base64::Engine;
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Basic {credentials}")
                .parse()
                .expect("a header value"),
        );
        Registry {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(120))
                .connect_timeout(std::time::Duration::from_secs(10))
                .default_headers(headers)
                .build()
                .expect("an HTTP client"),
            base: base.into(),
        }
    }

    /// `base` + `path` (which starts with `/v2/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An absolute URL for a `Location` header value.
    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else {
            self.url(location)
        }
    }

    /// `URL?digest=...` with the right separator.
    pub fn with_digest(location: &str, digest: &str) -> String {
        let sep = if location.contains('?') { '&' } else { '?' };
        format!("{location}{sep}digest={digest}")
    }

    pub fn blob_url(&self, repo: &str, digest: &str) -> String {
        self.url(&format!("/v2/{repo}/blobs/{digest}"))
    }

    pub fn manifest_url(&self, repo: &str, reference: &str) -> String {
        self.url(&format!("/v2/{repo}/manifests/{reference}"))
    }

    /// Starts an upload session and returns its absolute location.
    pub async fn start_upload(&self, repo: &str) -> reqwest::Result<String> {
        let response = self
            .http
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/")))
            .send()
            .await?;
        assert_eq!(
            response.status(),
            StatusCode::ACCEPTED,
            "starting an upload in {repo}"
        );
        Ok(self.absolute(location(&response)))
    }

    /// A monolithic `POST ?digest=` without its body, so callers can stream one (and set a
    /// `Content-Length` for it).
    pub fn monolithic_post(&self, repo: &str, digest: &str) -> RequestBuilder {
        self.http
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
            .header("content-type", "application/octet-stream")
    }

    /// Monolithic `POST ?digest=` of a blob; asserts 201 and returns the digest.
    pub async fn push_blob(&self, repo: &str, data: &Bytes) -> String {
        let digest = digest_of(data);
        let response = self
            .monolithic_post(repo, &digest)
            .body(data.clone())
            .send()
            .await
            .expect("monolithic blob push");
        assert_created(
            response,
            &digest,
            &format!("monolithic push of {digest} to {repo}"),
        )
        .await;
        digest
    }

    /// POST, PATCHes of `chunk` bytes with `Content-Range`, then `PUT ?digest=`; asserts every
    /// step and returns the digest.
    pub async fn push_blob_chunked(&self, repo: &str, data: &Bytes, chunk: usize) -> String {
        let digest = digest_of(data);
        let location = self.start_upload(repo).await.expect("upload start");
        let mut offset = 0;
        while offset < data.len() {
            let end = (offset + chunk).min(data.len());
            let response = self
                .patch_chunk(&location, data.slice(offset..end), offset as u64)
                .await
                .expect("PATCH");
            let what = format!("PATCH {offset}-{end} of {digest} to {repo}");
            assert_status(response, StatusCode::ACCEPTED, &what).await;
            offset = end;
        }
        let response = self.finish_upload(&location, &digest).await.expect("PUT");
        assert_created(
            response,
            &digest,
            &format!("chunked push of {digest} to {repo}"),
        )
        .await;
        digest
    }

    /// A `PATCH` of `len` bytes at `offset` with `Content-Range` and `Content-Length`, without
    /// its body, so callers can stream one.
    pub fn patch_request(&self, location: &str, offset: u64, len: u64) -> RequestBuilder {
        let last = offset + len - 1;
        self.http
            .patch(location)
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{offset}-{last}"))
            .header("content-length", len)
    }

    /// `PATCH` of one chunk with `Content-Range: <offset>-<last>` and `Content-Length`.
    pub async fn patch_chunk(
        &self,
        location: &str,
        chunk: Bytes,
        offset: u64,
    ) -> reqwest::Result<Response> {
        self.patch_request(location, offset, chunk.len() as u64)
            .body(chunk)
            .send()
            .await
    }

    /// The empty `PUT ?digest=` that commits a session whose bytes were all sent.
    pub async fn finish_upload(&self, location: &str, digest: &str) -> reqwest::Result<Response> {
        self.http
            .put(Self::with_digest(location, digest))
            .header("content-length", "0")
            .send()
            .await
    }

    /// `GET` of an upload session's status: 204 with the bytes received, or the error reply.
    pub async fn upload_status(&self, location: &str) -> reqwest::Result<Response> {
        self.http.get(location).send().await
    }

    /// `PUT /v2/<repo>/manifests/<reference>` with `content_type`.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        content_type: &str,
        body: Bytes,
    ) -> reqwest::Result<Response> {
        self.http
            .put(self.manifest_url(repo, reference))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
    }

    /// Pushes an OCI manifest and asserts 201 with the right digest header.
    pub async fn push_manifest(&self, repo: &str, reference: &str, body: &Bytes) -> String {
        let digest = digest_of(body);
        let response = self
            .put_manifest(repo, reference, OCI_MANIFEST, body.clone())
            .await
            .expect("manifest PUT");
        assert_created(
            response,
            &digest,
            &format!("manifest PUT {repo}:{reference}"),
        )
        .await;
        digest
    }

    /// Pushes every blob of `image` (monolithic), then its manifest by tag.
    pub async fn push_image(&self, image: &Image) {
        for blob in image.blobs() {
            self.push_blob(&image.repo, &blob).await;
        }
        let digest = self
            .push_manifest(&image.repo, &image.tag, &image.manifest)
            .await;
        assert_eq!(digest, image.digest);
    }

    /// `GET` of a blob: status and body.
    pub async fn get_blob(&self, repo: &str, digest: &str) -> reqwest::Result<(StatusCode, Bytes)> {
        let response = self.http.get(self.blob_url(repo, digest)).send().await?;
        let status = response.status();
        Ok((status, response.bytes().await?))
    }

    /// `HEAD` of a blob.
    pub async fn head_blob(&self, repo: &str, digest: &str) -> reqwest::Result<Response> {
        self.http.head(self.blob_url(repo, digest)).send().await
    }

    /// The blob is readable through `repo`, byte-exact, by GET and HEAD.
    pub async fn assert_blob(&self, repo: &str, data: &[u8], what: &str) {
        let digest = digest_of(data);
        let (status, body) = self.get_blob(repo, &digest).await.expect("blob GET");
        assert_eq!(
            status,
            StatusCode::OK,
            "{what}: GET blob {digest} in {repo}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(
            body.len() == data.len() && body[..] == data[..],
            "{what}: blob {digest} in {repo} differs ({} bytes, expected {})",
            body.len(),
            data.len()
        );
        let head = self.head_blob(repo, &digest).await.expect("blob HEAD");
        assert_eq!(
            head.status(),
            StatusCode::OK,
            "{what}: HEAD blob {digest} in {repo}"
        );
        assert_eq!(
            header(&head, "content-length").as_deref(),
            Some(data.len().to_string().as_str()),
            "{what}: HEAD length of {digest}"
        );
        assert_eq!(
            header(&head, "docker-content-digest").as_deref(),
            Some(digest.as_str()),
            "{what}: HEAD digest of {digest}"
        );
    }

    /// The blob is not readable through `repo`: GET and HEAD answer 404.
    pub async fn assert_blob_absent(&self, repo: &str, digest: &str, what: &str) {
        let response = self
            .http
            .get(self.blob_url(repo, digest))
            .send()
            .await
            .expect("blob GET");
        expect_error(
            &format!("{what}: GET blob {digest} in {repo}"),
            response,
            &[404],
            &["BLOB_UNKNOWN", "NAME_UNKNOWN"],
        )
        .await;
        let head = self.head_blob(repo, digest).await.expect("blob HEAD");
        assert_eq!(
            head.status(),
            StatusCode::NOT_FOUND,
            "{what}: HEAD blob {digest} in {repo}"
        );
    }

    /// `GET` of a manifest: status, `Content-Type`, `Docker-Content-Digest` and body.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> reqwest::Result<ManifestReply> {
        let response = self
            .http
            .get(self.manifest_url(repo, reference))
            .header("accept", format!("{OCI_MANIFEST}, {OCI_INDEX}"))
            .send()
            .await?;
        Ok(ManifestReply {
            status: response.status(),
            content_type: header(&response, "content-type"),
            digest: header(&response, "docker-content-digest"),
            body: response.bytes().await?,
        })
    }

    /// The manifest `body` is readable through `repo` by `reference`, byte-exact.
    pub async fn assert_manifest(&self, repo: &str, reference: &str, body: &[u8], what: &str) {
        let reply = self
            .get_manifest(repo, reference)
            .await
            .expect("manifest GET");
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "{what}: GET manifest {repo}:{reference}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert!(
            reply.body[..] == body[..],
            "{what}: manifest {repo}:{reference} differs"
        );
        assert_eq!(
            reply.digest.as_deref(),
            Some(digest_of(body).as_str()),
            "{what}: digest header of {repo}:{reference}"
        );
    }

    /// The manifest is not readable through `repo` by `reference`: 404.
    pub async fn assert_manifest_absent(&self, repo: &str, reference: &str, what: &str) {
        let response = self
            .http
            .get(self.manifest_url(repo, reference))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .expect("manifest GET");
        expect_error(
            &format!("{what}: GET manifest {repo}:{reference}"),
            response,
            &[404],
            &["MANIFEST_UNKNOWN", "NAME_UNKNOWN"],
        )
        .await;
    }

    /// The image pulls back byte-exact: manifest by tag and by digest, then every blob.
    pub async fn assert_image(&self, image: &Image, what: &str) {
        self.assert_manifest(&image.repo, &image.tag, &image.manifest, what)
            .await;
        self.assert_manifest(&image.repo, &image.digest, &image.manifest, what)
            .await;
        let reply = self
            .get_manifest(&image.repo, &image.tag)
            .await
            .expect("manifest GET");
        assert_eq!(
            reply.content_type.as_deref(),
            Some(OCI_MANIFEST),
            "{what}: manifest content type"
        );
        for blob in image.blobs() {
            self.assert_blob(&image.repo, &blob, what).await;
        }
    }

    /// `GET` of `path` answered 200 with a JSON body.
    pub async fn get_json(&self, path: &str, what: &str) -> Value {
        let response = self
            .http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: GET {path}: {e}"));
        assert_eq!(response.status(), StatusCode::OK, "{what}");
        response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{what}: GET {path}: not JSON: {e}"))
    }

    /// The repository's tag list (one page).
    pub async fn tags(&self, repo: &str) -> Vec<String> {
        let what = format!("tags list of {repo}");
        let value = self.get_json(&format!("/v2/{repo}/tags/list"), &what).await;
        assert_eq!(value["name"], repo, "tags list names its repository");
        strings(&value["tags"], &what)
    }

    /// The repositories the catalog lists (one page).
    pub async fn catalog(&self) -> Vec<String> {
        let value = self.get_json("/v2/_catalog", "catalog").await;
        strings(&value["repositories"], "catalog")
    }
}

/// A JSON array of strings, as listings return names.
fn strings(list: &Value, what: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("{what}: not an array: {list}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("{what}: not a string: {s}"))
                .to_owned()
        })
        .collect()
}

/// A manifest GET, read.
#[derive(Debug)]
pub struct ManifestReply {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub digest: Option<String>,
    pub body: Bytes,
}

impl ManifestReply {
    /// A tag that several pushes raced for (or a crash interrupted) may name any of them:
    /// the digest header is one of `allowed` (digest → manifest bytes) and the body is exactly
    /// that manifest. Returns the digest.
    pub fn assert_one_of(&self, allowed: &BTreeMap<String, Bytes>, what: &str) -> String {
        let digest = self
            .digest
            .clone()
            .unwrap_or_else(|| panic!("{what}: no digest header"));
        let body = allowed.get(&digest).unwrap_or_else(|| {
            panic!(
                "{what}: resolves to {digest}, not one of the manifests pushed to it {:?}",
                allowed.keys()
            )
        });
        assert!(
            self.body == *body,
            "{what}: served bytes differ from manifest {digest}"
        );
        digest
    }
}
