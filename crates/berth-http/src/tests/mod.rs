//! Router tests: every request goes through `router(registry)` with `oneshot`, no socket,
//! over a real registry (filesystem blobs, SQLite metadata) in a temporary directory.
//!
//! `TestApp::send` checks what every response must carry: the API version header, and for
//! every error the JSON error body with its content type.

mod artifacts;
mod auth;
mod browse;
mod browse_graph;
mod browse_requests;
mod browse_ui;
mod conditional;
mod discovery;
mod errors;
mod management;
mod manifests;
mod mount;
mod operations;
mod pull;
mod referrers;
mod uploads;

use std::fmt::Display;
use std::sync::Arc;

use axum::body::Body;
use axum::Router;
use berth_blobstore::fs::FsBlobStore;
use berth_metadata::sqlite::SqliteMetadataStore;
use berth_oci::{Algorithm, Digest};
use berth_registry::{Registry, RegistryConfig};
use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A router over a fresh registry; the temporary directory lives as long as the app.
pub struct TestApp {
    _dir: tempfile::TempDir,
    router: Router,
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    /// The request's method: replies to `HEAD` carry headers only.
    pub method: Method,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// A header that must be present, as text.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {self:?}"))
            .to_str()
            .unwrap()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    pub fn assert_status(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "{self:?}");
        self
    }

    /// Asserts an error reply with `status` and the single OCI error `code` (which a reply to
    /// `HEAD` cannot show).
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        self.assert_status(status);
        if self.method != Method::HEAD {
            assert_eq!(self.json()["errors"][0]["code"], code, "{self:?}");
        }
    }

    /// Asserts a 202 that opened an empty upload session in `repo`, and returns its id.
    pub fn assert_session_started(&self, repo: &str) -> &str {
        self.assert_status(StatusCode::ACCEPTED);
        let id = self
            .header("location")
            .strip_prefix(&format!("/v2/{repo}/blobs/uploads/"))
            .unwrap_or_else(|| panic!("not an upload of {repo}: {self:?}"));
        assert_eq!(self.header("docker-upload-uuid"), id);
        assert_eq!(self.header("range"), "0-0");
        id
    }

    /// Asserts the 201 of a manifest push of `body` to `repo`, with the `Location` and digest
    /// of its content, and returns that digest.
    pub fn assert_manifest_created(&self, repo: &str, body: &[u8]) -> Digest {
        self.assert_status(StatusCode::CREATED);
        let digest = Digest::sha256_of(body);
        assert_eq!(
            self.header("location"),
            format!("/v2/{repo}/manifests/{digest}")
        );
        assert_eq!(self.header("docker-content-digest"), digest.as_str());
        digest
    }
}

/// What the router's status endpoint answers in these tests.
pub fn test_status() -> crate::ServerStatus {
    crate::ServerStatus {
        data_dir: Some("/srv/berth-test".into()),
        pid: 4242,
        version: "0.0.0-test".into(),
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with_auth(|_| crate::Auth::open()).await
    }

    /// A router over a fresh registry whose access is controlled by what `auth` builds from
    /// the temporary directory (where it may write its user file and key).
    pub async fn with_auth(auth: impl FnOnce(&std::path::Path) -> crate::Auth) -> TestApp {
        let options = crate::RouterOptions::default();
        TestApp::build(RegistryConfig::default(), auth, options).await
    }

    /// A router without access control over a fresh registry with `config`, serving what
    /// `options` adds.
    pub async fn configured(config: RegistryConfig, options: crate::RouterOptions) -> TestApp {
        TestApp::build(config, |_| crate::Auth::open(), options).await
    }

    async fn build(
        config: RegistryConfig,
        auth: impl FnOnce(&std::path::Path) -> crate::Auth,
        options: crate::RouterOptions,
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
        let meta = SqliteMetadataStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap();
        let registry = Registry::new(Arc::new(blobs), Arc::new(meta), config);
        let auth = auth(dir.path());
        TestApp {
            _dir: dir,
            router: crate::observed_router(registry, test_status(), auth, options),
        }
    }

    /// Sends a request as a client would: with `Content-Length` for the body unless `headers`
    /// set one.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let body = body.into();
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let has_length = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-length"));
        if !has_length {
            request = request.header(header::CONTENT_LENGTH, body.len());
        }
        self.request(request.body(Body::from(body)).unwrap()).await
    }

    /// Sends a request exactly as built, and checks what every response must carry.
    pub async fn request(&self, request: Request<Body>) -> Reply {
        let method = request.method().clone();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let reply = Reply {
            method,
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        };
        assert_eq!(
            reply.header("docker-distribution-api-version"),
            "registry/2.0"
        );
        if reply.method == Method::HEAD {
            assert!(reply.body.is_empty(), "{reply:?}");
        } else if reply.status.is_client_error() || reply.status.is_server_error() {
            assert_error_body(&reply);
        }
        reply
    }

    /// Sends `method uri` without headers or body.
    pub async fn send_empty(&self, method: Method, uri: &str) -> Reply {
        self.send(method, uri, &[], Bytes::new()).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send_empty(Method::GET, uri).await
    }

    pub async fn head(&self, uri: &str) -> Reply {
        self.send_empty(Method::HEAD, uri).await
    }

    pub async fn delete(&self, uri: &str) -> Reply {
        self.send_empty(Method::DELETE, uri).await
    }

    pub async fn post(&self, uri: &str) -> Reply {
        self.send_empty(Method::POST, uri).await
    }

    /// A monolithic push, `POST ?digest=`, whatever its outcome; `digest` may be malformed.
    pub async fn post_blob(&self, repo: &str, digest: impl Display, bytes: &[u8]) -> Reply {
        let uri = format!("/v2/{repo}/blobs/uploads/?digest={digest}");
        self.send(Method::POST, &uri, &[], bytes.to_vec()).await
    }

    /// Pushes a blob with a single `POST ?digest=` and returns its digest.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::sha256_of(bytes);
        let reply = self.post_blob(repo, &digest, bytes).await;
        reply.assert_status(StatusCode::CREATED);
        digest
    }

    /// Opens an upload session and returns its `Location`.
    pub async fn start_upload(&self, repo: &str) -> String {
        let reply = self.post(&format!("/v2/{repo}/blobs/uploads/")).await;
        reply.assert_session_started(repo);
        reply.header("location").to_owned()
    }

    /// `PUT /v2/<repo>/manifests/<reference>` with the given `Content-Type`.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        content_type: &str,
        body: &[u8],
    ) -> Reply {
        let uri = format!("/v2/{repo}/manifests/{reference}");
        let headers = [("content-type", content_type)];
        self.send(Method::PUT, &uri, &headers, body.to_vec()).await
    }

    /// A `put_manifest` that must be accepted (see `Reply::assert_manifest_created`); returns
    /// the manifest's digest.
    pub async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        content_type: &str,
        body: &[u8],
    ) -> Digest {
        let reply = self.put_manifest(repo, reference, content_type, body).await;
        reply.assert_manifest_created(repo, body)
    }

    /// Deletes a manifest or tag and asserts the 202.
    pub async fn delete_manifest(&self, repo: &str, reference: &str) {
        let reply = self
            .delete(&format!("/v2/{repo}/manifests/{reference}"))
            .await;
        reply.assert_status(StatusCode::ACCEPTED);
    }

    /// Deletes a blob and asserts the 202.
    pub async fn delete_blob(&self, repo: &str, digest: &Digest) {
        let reply = self.delete(&format!("/v2/{repo}/blobs/{digest}")).await;
        reply.assert_status(StatusCode::ACCEPTED);
    }

    /// Pushes a config and a layer, then an OCI image manifest referencing them under `tag`.
    pub async fn push_image(&self, repo: &str, tag: &str, seed: &str) -> Image {
        let config = self
            .push_blob(repo, format!("config {seed}").as_bytes())
            .await;
        let layer = self
            .push_blob(repo, format!("layer {seed}").as_bytes())
            .await;
        let body = image_manifest(&config, &[&layer]);
        Image {
            digest: self.push_manifest(repo, tag, OCI_MANIFEST, &body).await,
            body,
            config,
            layer,
        }
    }

    /// The bytes a blob GET returns, after asserting 200 and that they match `digest`.
    pub async fn blob_bytes(&self, repo: &str, digest: &Digest) -> Bytes {
        let reply = self.get(&format!("/v2/{repo}/blobs/{digest}")).await;
        reply.assert_status(StatusCode::OK);
        assert_eq!(reply.header("docker-content-digest"), digest.as_str());
        assert_eq!(Digest::of(digest.algorithm(), &reply.body), *digest);
        reply.body
    }

    /// Asserts `repo` serves exactly `bytes` as the blob `digest`.
    pub async fn assert_blob(&self, repo: &str, digest: &Digest, bytes: &[u8]) {
        assert_eq!(&self.blob_bytes(repo, digest).await[..], bytes);
    }

    /// Asserts `GET` and `HEAD` of `uri` both answer 404 with `code`.
    pub async fn assert_not_found(&self, uri: &str, code: &str) {
        let get = self.get(uri).await;
        get.assert_error(StatusCode::NOT_FOUND, code);
        let head = self.head(uri).await;
        head.assert_error(StatusCode::NOT_FOUND, code);
    }

    /// Asserts `repo` does not serve the blob `digest`.
    pub async fn assert_blob_unknown(&self, repo: &str, digest: &Digest) {
        let uri = format!("/v2/{repo}/blobs/{digest}");
        self.assert_not_found(&uri, "BLOB_UNKNOWN").await;
    }

    /// Asserts `repo` (which exists) does not serve the manifest or tag `reference`.
    pub async fn assert_manifest_unknown(&self, repo: &str, reference: &str) {
        let uri = format!("/v2/{repo}/manifests/{reference}");
        self.assert_not_found(&uri, "MANIFEST_UNKNOWN").await;
    }

    /// Asserts `reference` in `repo` serves exactly `body` as `content_type`.
    pub async fn assert_manifest(
        &self,
        repo: &str,
        reference: &str,
        body: &[u8],
        content_type: &str,
    ) {
        let reply = self.get(&format!("/v2/{repo}/manifests/{reference}")).await;
        reply.assert_status(StatusCode::OK);
        assert_eq!(&reply.body[..], body, "{reference}");
        assert_eq!(reply.header("content-type"), content_type);
        let digest = Digest::sha256_of(body);
        assert_eq!(reply.header("docker-content-digest"), digest.as_str());
    }

    /// Asserts a pushed image is still pullable by `tag` and by digest, with its blobs.
    pub async fn assert_image_intact(&self, repo: &str, tag: &str, image: &Image) {
        self.assert_manifest(repo, tag, &image.body, OCI_MANIFEST)
            .await;
        self.assert_manifest(repo, image.digest.as_str(), &image.body, OCI_MANIFEST)
            .await;
        self.blob_bytes(repo, &image.config).await;
        self.blob_bytes(repo, &image.layer).await;
    }
}

/// An image pushed by `TestApp::push_image`.
pub struct Image {
    pub digest: Digest,
    pub body: Vec<u8>,
    pub config: Digest,
    pub layer: Digest,
}

/// Every error is `{"errors":[{"code":..,"message":..}]}` served as JSON.
fn assert_error_body(reply: &Reply) {
    assert_eq!(
        reply.header("content-type"),
        "application/json",
        "{reply:?}"
    );
    let errors = reply.json()["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(errors.len(), 1, "{reply:?}");
    let code = errors[0]["code"].as_str().unwrap_or_default();
    assert!(
        !code.is_empty() && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
        "{reply:?}"
    );
    assert!(errors[0]["message"].is_string(), "{reply:?}");
}

/// A content descriptor; the registry does not check `size` against the blob.
fn descriptor(media_type: &str, digest: &Digest, size: usize) -> Value {
    json!({"mediaType": media_type, "digest": digest.as_str(), "size": size})
}

/// An OCI image manifest of a config and layers pushed before.
pub fn image_manifest(config: &Digest, layers: &[&Digest]) -> Vec<u8> {
    let layers: Vec<Value> = layers.iter().map(|d| descriptor(OCI_LAYER, d, 1)).collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config, 1),
        "layers": layers,
    });
    serde_json::to_vec(&manifest).unwrap()
}

/// An index (OCI or Docker manifest list, by `media_type`) of `children` of `child_type`.
pub fn index_manifest(media_type: &str, child_type: &str, children: &[&Digest]) -> Vec<u8> {
    let manifests: Vec<Value> = children
        .iter()
        .map(|d| {
            let mut entry = descriptor(child_type, d, 1);
            entry["platform"] = json!({"architecture": "amd64", "os": "linux"});
            entry
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests});
    serde_json::to_vec(&index).unwrap()
}

pub fn sha512_of(bytes: &[u8]) -> Digest {
    Digest::of(Algorithm::Sha512, bytes)
}

/// The URI inside `Link: <uri>; rel="next"`.
pub fn next_link(reply: &Reply) -> Option<String> {
    let link = reply.headers.get(header::LINK)?.to_str().unwrap();
    let (target, relation) = link.split_once(';').unwrap();
    assert_eq!(relation.trim(), "rel=\"next\"", "{link}");
    let uri = target
        .trim()
        .strip_prefix('<')
        .unwrap()
        .strip_suffix('>')
        .unwrap();
    Some(uri.to_owned())
}
