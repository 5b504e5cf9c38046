//! The HTTP steps of a test client, with the recoveries a real client has when a concurrent
//! collection takes something from under it; anything else (a 5xx above all) is an error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use reqwest::StatusCode;

use crate::requests::{delete_manifest, read, send, Reply};
use crate::support::http::{digest_of, Image, Registry, OCI_MANIFEST};
use crate::workload::Artifact;

/// Attempts of one push: a push whose blobs a concurrent collection took is pushed again.
const MAX_ATTEMPTS: u64 = 50;

/// What the clients went through: every clean failure is counted.
#[derive(Default)]
pub struct Stats {
    manifest_blob_unknown: AtomicU64,
    uploads_expired: AtomicU64,
    mounted: AtomicU64,
    mount_fell_back: AtomicU64,
    collected_before_delete: AtomicU64,
    most_attempts: AtomicU64,
}

impl Stats {
    pub fn describe(&self) -> String {
        let count = |n: &AtomicU64| n.load(Ordering::Relaxed);
        format!(
            "manifest PUTs that lost a blob: {}, upload sessions expired under a push: {}, \
             mounts: {} (fell back to uploads: {}), deletes of already collected manifests: {}, \
             most attempts of one manifest PUT: {}",
            count(&self.manifest_blob_unknown),
            count(&self.uploads_expired),
            count(&self.mounted),
            count(&self.mount_fell_back),
            count(&self.collected_before_delete),
            count(&self.most_attempts),
        )
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A client of the test, numbered `id`.
pub struct Pusher {
    pub reg: Registry,
    pub id: u64,
    pub stats: Arc<Stats>,
}

/// Whether a reply refused an upload session a concurrent collection expired.
fn session_expired(reply: &Reply) -> bool {
    reply.status == StatusCode::NOT_FOUND && reply.error_code() == "BLOB_UPLOAD_UNKNOWN"
}

impl Pusher {
    /// Monolithic `POST ?digest=`. With a zero grace period a concurrent collection may expire
    /// the session inside the request (404 BLOB_UPLOAD_UNKNOWN); the client starts again.
    async fn upload(&self, repo: &str, data: &Bytes) -> Result<(), String> {
        let digest = digest_of(data);
        let what = format!("blob push {digest} to {repo}");
        for _ in 0..MAX_ATTEMPTS {
            let url = self
                .reg
                .url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}"));
            let request = self.reg.http.post(url);
            let reply = send(octet_body(request, data), &what).await?;
            if reply.created(&digest) {
                return Ok(());
            }
            if !session_expired(&reply) {
                return Err(reply.unexpected(&what));
            }
            Stats::bump(&self.stats.uploads_expired);
        }
        Err(format!("{what}: session expired {MAX_ATTEMPTS} times"))
    }

    /// Cross-repository mount from `from`; when the registry starts an upload instead (the
    /// blob is not there any more), the bytes go to that session.
    async fn mount(&self, repo: &str, from: &str, data: &Bytes) -> Result<(), String> {
        let digest = digest_of(data);
        let what = format!("mount of {digest} from {from} to {repo}");
        let url = self.reg.url(&format!(
            "/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"
        ));
        let reply = send(self.reg.http.post(url).header("content-length", "0"), &what).await?;
        let location = match (reply.status.as_u16(), reply.header("location")) {
            (201, _) => {
                Stats::bump(&self.stats.mounted);
                return Ok(());
            }
            (202, Some(location)) => location,
            (status, _) => return Err(format!("{what}: {status}: {}", reply.text)),
        };
        Stats::bump(&self.stats.mount_fell_back);
        let what = format!("{what}: PUT to the session");
        let url = Registry::with_digest(&self.reg.absolute(&location), &digest);
        let reply = send(octet_body(self.reg.http.put(url), data), &what).await?;
        if reply.status == StatusCode::CREATED {
            return Ok(());
        }
        if !session_expired(&reply) {
            return Err(format!("{what}: {}: {}", reply.status, reply.text));
        }
        Stats::bump(&self.stats.uploads_expired);
        self.upload(repo, data).await
    }

    async fn push_blobs(
        &self,
        repo: &str,
        blobs: &[Bytes],
        mount_from: Option<&str>,
    ) -> Result<(), String> {
        for blob in blobs {
            match mount_from {
                Some(from) => self.mount(repo, from, blob).await?,
                None => self.upload(repo, blob).await?,
            }
        }
        Ok(())
    }

    /// `PUT` of a manifest. A 400 MANIFEST_BLOB_UNKNOWN means a collection took a blob between
    /// its push and this one: the blobs are pushed again, then the manifest.
    async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        body: &Bytes,
        blobs: &[Bytes],
    ) -> Result<(), String> {
        let digest = digest_of(body);
        let what = format!("manifest PUT {repo}:{reference}");
        for attempt in 1..=MAX_ATTEMPTS {
            let response = self
                .reg
                .put_manifest(repo, reference, OCI_MANIFEST, body.clone())
                .await
                .map_err(|e| format!("{what}: {e}"))?;
            let reply = read(response).await;
            if reply.created(&digest) {
                let most = &self.stats.most_attempts;
                most.fetch_max(attempt, Ordering::Relaxed);
                return Ok(());
            }
            let lost_blob = reply.status == StatusCode::BAD_REQUEST
                && reply.error_code() == "MANIFEST_BLOB_UNKNOWN";
            if !lost_blob {
                return Err(reply.unexpected(&format!("{what} ({digest})")));
            }
            Stats::bump(&self.stats.manifest_blob_unknown);
            self.push_blobs(repo, blobs, None).await?;
        }
        Err(format!(
            "{what}: blobs collected under it {MAX_ATTEMPTS} times"
        ))
    }

    pub async fn push_image(&self, image: &Image, mount_from: Option<&str>) -> Result<(), String> {
        let blobs = image.blobs();
        self.push_blobs(&image.repo, &blobs, mount_from).await?;
        self.put_manifest(&image.repo, &image.tag, &image.manifest, &blobs)
            .await
    }

    pub async fn push_artifact(&self, repo: &str, artifact: &Artifact) -> Result<(), String> {
        let blobs = artifact.blobs();
        self.push_blobs(repo, &blobs, None).await?;
        self.put_manifest(repo, &artifact.digest, &artifact.manifest, &blobs)
            .await
    }

    /// `DELETE` of a tag or manifest: 202, or 404 MANIFEST_UNKNOWN when `may_be_gone`.
    pub async fn delete(
        &self,
        repo: &str,
        reference: &str,
        may_be_gone: bool,
    ) -> Result<(), String> {
        let reply = delete_manifest(&self.reg, repo, reference).await?;
        match reply.status {
            StatusCode::ACCEPTED => Ok(()),
            StatusCode::NOT_FOUND if may_be_gone && reply.error_code() == "MANIFEST_UNKNOWN" => {
                Stats::bump(&self.stats.collected_before_delete);
                Ok(())
            }
            status => Err(format!(
                "DELETE {repo}:{reference}: {status}: {}",
                reply.text
            )),
        }
    }
}

/// `request` with `data` as its octet-stream body.
fn octet_body(request: reqwest::RequestBuilder, data: &Bytes) -> reqwest::RequestBuilder {
    request
        .header("content-type", "application/octet-stream")
        .body(data.clone())
}
