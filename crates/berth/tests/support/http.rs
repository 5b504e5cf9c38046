//! Raw-HTTP helpers shared by the end-to-end tests: pushing and pulling blobs, manifests and
//! images with reqwest, sending byte-exact requests over a bare TCP socket (for paths and
//! framing reqwest would normalise or refuse), checking error bodies, and checking the data
//! directory on disk.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The canonical `sha256:<hex>` digest of `data`.
pub fn digest_of(data: &[u8]) -> String {
    berth_oci::Digest::sha256_of(data).to_string()
}

/// Deterministic pseudo-random bytes (xorshift64*), distinct for distinct seeds.
pub fn pseudo_random(seed: u64, len: usize) -> Bytes {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// A request body that yields `piece`-sized chunks of `data` with `delay` between them, so
/// that the upload stays in flight for a while. Sent with chunked transfer encoding unless the
/// caller sets `Content-Length`.
pub fn slow_body(data: Bytes, piece: usize, delay: Duration) -> reqwest::Body {
    let stream = futures::stream::unfold(0usize, move |offset| {
        let data = data.clone();
        async move {
            if offset >= data.len() {
                return None;
            }
            if offset > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let end = (offset + piece).min(data.len());
            Some((Ok::<_, std::io::Error>(data.slice(offset..end)), end))
        }
    });
    reqwest::Body::wrap_stream(stream)
}

/// Bytes received by an upload according to a `Range: 0-<last>` header. `0-0` is ambiguous
/// (nothing or one byte), as in the distribution API; it is reported as `None`.
pub fn range_len(range: &str) -> Option<u64> {
    let (start, end) = range.trim().trim_start_matches("bytes=").split_once('-')?;
    let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
    assert_eq!(start, 0, "upload ranges start at 0: {range}");
    (end > 0).then_some(end + 1)
}

/// An OCI image: config and layer blobs plus the manifest naming them, to be pushed to a tag.
#[derive(Debug, Clone)]
pub struct Image {
    pub repo: String,
    pub tag: String,
    pub config: Bytes,
    pub layers: Vec<Bytes>,
    pub manifest: Bytes,
    pub digest: String,
}

impl Image {
    /// An image with a small JSON config and pseudo-random layers of the given sizes.
    pub fn new(repo: &str, tag: &str, seed: u64, layer_sizes: &[usize]) -> Image {
        let layers: Vec<Bytes> = layer_sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                pseudo_random(seed.wrapping_mul(1000).wrapping_add(i as u64 + 1), size)
            })
            .collect();
        Image::with_layers(repo, tag, seed, layers)
    }

    /// An image with a small JSON config unique to `seed` and the given layers.
    pub fn with_layers(repo: &str, tag: &str, seed: u64, layers: Vec<Bytes>) -> Image {
        let config = Bytes::from(
            serde_json::to_vec(&json!({
                "architecture": "amd64",
                "os": "linux",
                "config": {"Labels": {"seed": seed.to_string()}},
                "rootfs": {"type": "layers", "diff_ids": []},
            }))
            .expect("config serialises"),
        );
        let manifest = image_manifest(&config, &layers, &[("seed", &seed.to_string())]);
        Image {
            repo: repo.to_owned(),
            tag: tag.to_owned(),
            digest: digest_of(&manifest),
            config,
            layers,
            manifest,
        }
    }

    /// Every blob the manifest references: the config first, then the layers.
    pub fn blobs(&self) -> Vec<Bytes> {
        std::iter::once(self.config.clone())
            .chain(self.layers.iter().cloned())
            .collect()
    }
}

/// A descriptor JSON value for `data`.
pub fn descriptor(media_type: &str, data: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": digest_of(data), "size": data.len()})
}

/// The bytes of an OCI image manifest referencing `config` and `layers`.
pub fn image_manifest(config: &[u8], layers: &[Bytes], annotations: &[(&str, &str)]) -> Bytes {
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": layers.iter().map(|l| descriptor(OCI_LAYER, l)).collect::<Vec<_>>(),
    });
    if !annotations.is_empty() {
        let map: serde_json::Map<String, Value> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        manifest["annotations"] = Value::Object(map);
    }
    Bytes::from(serde_json::to_vec_pretty(&manifest).expect("manifest serialises"))
}

/// A reqwest client with generous timeouts and no connection reuse surprises.
pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
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
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
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

    /// Monolithic `POST ?digest=` of a blob; asserts 201 and returns the digest.
    pub async fn push_blob(&self, repo: &str, data: &Bytes) -> String {
        let digest = digest_of(data);
        let response = self
            .http
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}")))
            .header("content-type", "application/octet-stream")
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
            let status = response.status();
            let text = if status == StatusCode::ACCEPTED {
                String::new()
            } else {
                response.text().await.unwrap_or_default()
            };
            assert_eq!(
                status,
                StatusCode::ACCEPTED,
                "PATCH {offset}-{end} of {digest} to {repo}: {text}"
            );
            offset = end;
        }
        let response = self
            .http
            .put(Self::with_digest(&location, &digest))
            .header("content-length", "0")
            .send()
            .await
            .expect("PUT");
        assert_created(
            response,
            &digest,
            &format!("chunked push of {digest} to {repo}"),
        )
        .await;
        digest
    }

    /// `PATCH` of one chunk with `Content-Range: <offset>-<last>` and `Content-Length`.
    pub async fn patch_chunk(
        &self,
        location: &str,
        chunk: Bytes,
        offset: u64,
    ) -> reqwest::Result<Response> {
        let last = offset + chunk.len() as u64 - 1;
        self.http
            .patch(location)
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{offset}-{last}"))
            .header("content-length", chunk.len())
            .body(chunk)
            .send()
            .await
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
            .put(self.url(&format!("/v2/{repo}/manifests/{reference}")))
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
        let status = response.status();
        let header = header(&response, "docker-content-digest");
        let text = response.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "manifest PUT {repo}:{reference}: {text}"
        );
        assert_eq!(
            header.as_deref(),
            Some(digest.as_str()),
            "manifest digest header for {repo}:{reference}"
        );
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
        let response = self
            .http
            .get(self.url(&format!("/v2/{repo}/blobs/{digest}")))
            .send()
            .await?;
        let status = response.status();
        Ok((status, response.bytes().await?))
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
        let head = self
            .http
            .head(self.url(&format!("/v2/{repo}/blobs/{digest}")))
            .send()
            .await
            .expect("blob HEAD");
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
            .get(self.url(&format!("/v2/{repo}/blobs/{digest}")))
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
        let head = self
            .http
            .head(self.url(&format!("/v2/{repo}/blobs/{digest}")))
            .send()
            .await
            .expect("blob HEAD");
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
            .get(self.url(&format!("/v2/{repo}/manifests/{reference}")))
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
            .get(self.url(&format!("/v2/{repo}/manifests/{reference}")))
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

    /// The repository's tag list (one page).
    pub async fn tags(&self, repo: &str) -> Vec<String> {
        let response = self
            .http
            .get(self.url(&format!("/v2/{repo}/tags/list")))
            .send()
            .await
            .expect("tags GET");
        assert_eq!(response.status(), StatusCode::OK, "tags list of {repo}");
        let value: Value = response.json().await.expect("tags JSON");
        assert_eq!(value["name"], repo, "tags list names its repository");
        value["tags"]
            .as_array()
            .expect("tags array")
            .iter()
            .map(|t| t.as_str().expect("tag string").to_owned())
            .collect()
    }

    /// `GET` of an upload session's status: 204 with the bytes received, or the error reply.
    pub async fn upload_status(&self, location: &str) -> reqwest::Result<Response> {
        self.http.get(location).send().await
    }
}

/// A manifest GET, read.
#[derive(Debug)]
pub struct ManifestReply {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub digest: Option<String>,
    pub body: Bytes,
}

/// A response header as a string.
pub fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The `Location` header, which every upload reply must carry.
pub fn location(response: &Response) -> &str {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location header")
}

/// Asserts a 201 for a stored blob with its digest header.
pub async fn assert_created(response: Response, digest: &str, what: &str) {
    let status = response.status();
    let header = header(&response, "docker-content-digest");
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "{what}: {text}");
    assert_eq!(header.as_deref(), Some(digest), "{what}: digest header");
}

/// A response read from a bare socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The checks of `expect_error`.
    pub fn expect_error(&self, what: &str, statuses: &[u16], codes: &[&str]) -> String {
        check_error_reply(
            what,
            self.status,
            self.header("content-type").unwrap_or_default(),
            &self.body,
            statuses,
            codes,
        )
    }
}

/// `data` in HTTP/1.1 chunked transfer coding, `piece` bytes a chunk, with the final chunk.
pub fn chunked_encoding(data: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / piece * 16 + 16);
    for chunk in data.chunks(piece) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Sends one request byte-exact over a new TCP connection (`Connection: close`) and reads the
/// reply. `target` is sent as is, so dot segments and percent-escapes reach the server
/// untouched. A `Content-Length` is added for a non-empty body unless `headers` has one. With
/// `half_close` the write side is shut down after the body, so a short body ends in EOF.
pub async fn raw_request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, String)],
    body: &[u8],
    half_close: bool,
) -> std::io::Result<RawResponse> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let has_length = headers.iter().any(|(n, _)| {
        n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("transfer-encoding")
    });
    if !has_length && (!body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH")) {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    // The server may answer (and close) before reading the whole body; that is its right.
    let _ = stream.write_all(body).await;
    if half_close {
        let _ = stream.shutdown().await;
    }
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut reply)).await;
    match read {
        Err(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no reply within 30 s",
            ))
        }
        Ok(Err(e)) if reply.is_empty() => return Err(e),
        Ok(_) => {}
    }
    parse_raw_response(&reply)
}

fn parse_raw_response(reply: &[u8]) -> std::io::Result<RawResponse> {
    let invalid = |m: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{m}: {:?}", String::from_utf8_lossy(reply)),
        )
    };
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no header end"))?;
    let head = std::str::from_utf8(&reply[..end]).map_err(|_| invalid("head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| invalid("no status line"))?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let raw_body = &reply[end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        decode_chunked(raw_body).ok_or_else(|| invalid("bad chunked body"))?
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        raw_body[..len.min(raw_body.len())].to_vec()
    } else {
        raw_body.to_vec()
    };
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn decode_chunked(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Checks every committed blob file under `DIR/blobs/blobs`: it lies at `sha256/<xx>/<hex>`
/// with `xx` the first two hex digits, and its bytes hash to its name. Returns the digests.
pub fn assert_committed_blobs_valid(data_dir: &Path) -> Vec<String> {
    let root = data_dir.join("blobs").join("blobs");
    let mut digests = Vec::new();
    for path in files_under(&root) {
        let relative = path.strip_prefix(&root).expect("under root");
        let parts: Vec<&str> = relative
            .iter()
            .map(|p| p.to_str().expect("UTF-8 file name"))
            .collect();
        assert_eq!(
            parts.len(),
            3,
            "unexpected file in committed blobs: {}",
            path.display()
        );
        assert_eq!(
            parts[0],
            "sha256",
            "unexpected algorithm directory: {}",
            path.display()
        );
        let hex_name = parts[2];
        assert!(
            hex_name.len() == 64 && hex_name.bytes().all(|b| b.is_ascii_hexdigit()),
            "committed blob file with a non-digest name: {}",
            path.display()
        );
        assert_eq!(
            parts[1],
            &hex_name[..2],
            "blob in the wrong fan-out directory: {}",
            path.display()
        );
        let bytes = std::fs::read(&path).expect("read committed blob");
        let actual = hex::encode(sha2::Sha256::digest(&bytes));
        assert_eq!(
            actual,
            hex_name,
            "committed blob file {} does not hash to its name",
            path.display()
        );
        digests.push(format!("sha256:{hex_name}"));
    }
    digests
}

/// Names of the staged upload files in `DIR/blobs/uploads`.
pub fn staged_uploads(data_dir: &Path) -> Vec<String> {
    let dir = data_dir.join("blobs").join("uploads");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The server log shows no internal error and no panic.
pub fn assert_log_clean(log: &str) {
    for marker in ["internal error", "panicked"] {
        assert!(
            !log.contains(marker),
            "server log contains {marker:?}:\n{log}"
        );
    }
}
