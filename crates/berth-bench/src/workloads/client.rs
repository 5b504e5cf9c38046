//! The registry operations the workloads time, spoken over plain HTTP.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context};
use berth_oci::Digest;
use bytes::Bytes;
use reqwest::{header, Client, Response, StatusCode};

use crate::data::MANIFEST_TYPE;

/// An HTTP client bound to one registry. A registry of several nodes (Berth scale-out) is
/// spoken to round-robin: each operation (a manifest PUT, a whole blob upload with its
/// follow-up requests, a download) goes to the next node, as behind a load balancer that
/// keeps an upload's requests on one node.
#[derive(Clone)]
pub struct Registry {
    pub http: Client,
    nodes: Arc<[String]>,
    next: Arc<AtomicUsize>,
}

async fn expect(response: Response, status: StatusCode, what: &str) -> anyhow::Result<Response> {
    if response.status() != status {
        let got = response.status();
        let body = response.text().await.unwrap_or_default();
        bail!("{what}: expected {status}, got {got}: {body}");
    }
    Ok(response)
}

impl Registry {
    pub fn new(base: &str) -> Registry {
        Registry::build(base, header::HeaderMap::new())
    }

    /// A client for every node of `server`, round-robin.
    pub fn for_server(server: &crate::servers::Server) -> Registry {
        Registry::for_nodes(&server.nodes)
    }

    /// A client for the nodes `bases`, round-robin.
    pub fn for_nodes(bases: &[String]) -> Registry {
        let mut registry = Registry::new(&bases[0]);
        registry.nodes = bases.into();
        registry
    }

    /// The base URL of the node for the next operation.
    pub fn node(&self) -> &str {
        &self.nodes[self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len()]
    }

    /// A client that sends `authorization` (an `Authorization` header value) with every
    /// request, for a registry under access control.
    pub fn with_authorization(base: &str, authorization: &str) -> anyhow::Result<Registry> {
        let mut headers = header::HeaderMap::new();
        headers.insert(header::AUTHORIZATION, authorization.parse()?);
        Ok(Registry::build(base, headers))
    }

    fn build(base: &str, headers: header::HeaderMap) -> Registry {
        let http = Client::builder()
            .pool_max_idle_per_host(256)
            .default_headers(headers)
            .build()
            .expect("http client");
        Registry {
            http,
            nodes: vec![base.to_owned()].into(),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Absolute URL of a `Location` header, which may be relative or absolute, answered to a
    /// request for `url`: a relative one is on the same node.
    fn absolute(url: &str, location: &str) -> String {
        if location.starts_with("http") {
            return location.to_owned();
        }
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        let origin = url[after_scheme..]
            .find('/')
            .map_or(url, |i| &url[..after_scheme + i]);
        format!("{origin}{location}")
    }

    fn with_digest(location: &str, digest: &Digest) -> String {
        let separator = if location.contains('?') { '&' } else { '?' };
        format!("{location}{separator}digest={digest}")
    }

    async fn start_upload(&self, repo: &str) -> anyhow::Result<String> {
        let url = format!("{}/v2/{repo}/blobs/uploads/", self.node());
        let response = self.http.post(&url).send().await?;
        let response = expect(response, StatusCode::ACCEPTED, "start upload").await?;
        let location = response
            .headers()
            .get(header::LOCATION)
            .context("upload location")?
            .to_str()?;
        Ok(Self::absolute(&url, location))
    }

    /// POST then a single PUT carrying the whole blob.
    pub async fn upload_monolithic(
        &self,
        repo: &str,
        digest: &Digest,
        blob: Bytes,
    ) -> anyhow::Result<()> {
        let location = self.start_upload(repo).await?;
        let response = self
            .http
            .put(Self::with_digest(&location, digest))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(blob)
            .send()
            .await?;
        expect(response, StatusCode::CREATED, "monolithic PUT").await?;
        Ok(())
    }

    /// Bulk transfers go through curl: a lean, widely used client that leaves both servers
    /// the same CPU, where an in-process client would take its share of the two cores.
    fn curl(&self, args: &[&str], what: &str) -> anyhow::Result<(u16, String)> {
        let output = std::process::Command::new("curl")
            .args([
                "-s",
                "-H",
                "Expect:",
                "-o",
                "/dev/null",
                "-D",
                "-",
                "-w",
                "\n%{http_code}",
            ])
            .args(args)
            .output()
            .with_context(|| format!("running curl for {what}"))?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let code = text
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0);
        Ok((code, text))
    }

    /// POST then a single PUT of the file `blob`, sent by curl.
    pub async fn upload_file(
        &self,
        repo: &str,
        digest: &Digest,
        blob: &Path,
    ) -> anyhow::Result<()> {
        let location = self.start_upload(repo).await?;
        let url = Self::with_digest(&location, digest);
        let file = blob.to_str().context("path")?;
        let (code, text) = self.curl(
            &[
                "-X",
                "PUT",
                "-H",
                "Content-Type: application/octet-stream",
                "-T",
                file,
                &url,
            ],
            "PUT",
        )?;
        if code != 201 {
            bail!("monolithic PUT: expected 201, got {code}: {text}");
        }
        Ok(())
    }

    /// POST, one PATCH per file in `parts` with `Content-Range`, then the closing PUT.
    pub async fn upload_parts(
        &self,
        repo: &str,
        digest: &Digest,
        parts: &[PathBuf],
    ) -> anyhow::Result<()> {
        let mut location = self.start_upload(repo).await?;
        let mut offset = 0u64;
        for part in parts {
            let len = std::fs::metadata(part)?.len();
            let range = format!("Content-Range: {offset}-{}", offset + len - 1);
            let file = part.to_str().context("path")?;
            let args = [
                "-X",
                "PATCH",
                "-H",
                "Content-Type: application/octet-stream",
                "-H",
                &range,
                "-T",
                file,
                &location,
            ];
            let (code, text) = self.curl(&args, "PATCH")?;
            if code != 202 {
                bail!("PATCH chunk: expected 202, got {code}: {text}");
            }
            let next = text
                .lines()
                .find_map(|l| {
                    l.strip_prefix("Location:")
                        .or_else(|| l.strip_prefix("location:"))
                })
                .context("PATCH location")?;
            location = Self::absolute(&location, next.trim());
            offset += len;
        }
        let response = self
            .http
            .put(Self::with_digest(&location, digest))
            .send()
            .await?;
        expect(response, StatusCode::CREATED, "closing PUT").await?;
        Ok(())
    }

    /// Downloads a blob with curl into /dev/null, returning how many bytes arrived.
    pub fn download_file(&self, repo: &str, digest: &Digest) -> anyhow::Result<u64> {
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.node());
        let output = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{size_download}",
                &url,
            ])
            .output()
            .context("running curl for GET")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let (code, size) = text.split_once(' ').context("curl output")?;
        if code != "200" {
            bail!("blob GET: expected 200, got {code}");
        }
        Ok(size.trim().parse()?)
    }

    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        body: Bytes,
    ) -> anyhow::Result<()> {
        let response = self
            .http
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.node()))
            .header(header::CONTENT_TYPE, MANIFEST_TYPE)
            .body(body)
            .send()
            .await?;
        expect(response, StatusCode::CREATED, "manifest PUT").await?;
        Ok(())
    }

    /// GETs a tag list page; returns the tags and the next page's URL from `Link`.
    pub async fn tags_page(&self, url: &str) -> anyhow::Result<(Vec<String>, Option<String>)> {
        let response = expect(
            self.http.get(url).send().await?,
            StatusCode::OK,
            "tags list",
        )
        .await?;
        let next = response
            .headers()
            .get(header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once('<'))
            .and_then(|(_, rest)| rest.split_once('>'))
            .map(|(target, _)| Self::absolute(url, target));
        let body: serde_json::Value = response.json().await?;
        let tags = body["tags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok((tags, next))
    }
}
