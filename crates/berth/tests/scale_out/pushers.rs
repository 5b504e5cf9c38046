//! Pushes that race collections on another node, with the recoveries a real client has (as in
//! the single-node `gc_online` test): a monolithic upload whose session a collection expired
//! (404 BLOB_UPLOAD_UNKNOWN) starts again; a manifest whose blob a collection took before the
//! manifest arrived (400 MANIFEST_BLOB_UNKNOWN) has its blobs pushed again. Any other reply,
//! a 5xx above all, is an error.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::http::{digest_of, Image, Registry, OCI_MANIFEST};

/// Attempts of one push before the client gives up.
const MAX_ATTEMPTS: u32 = 50;

/// The clean refusals the clients met and recovered from.
#[derive(Debug, Default)]
pub struct Recoveries {
    pub sessions_expired: AtomicU64,
    pub manifest_blob_unknown: AtomicU64,
}

impl Recoveries {
    pub fn describe(&self) -> String {
        format!(
            "upload sessions expired under a push: {}, manifest PUTs that lost a blob: {}",
            self.sessions_expired.load(Ordering::Relaxed),
            self.manifest_blob_unknown.load(Ordering::Relaxed)
        )
    }
}

/// A reply read whole: status, digest header, first error code and text.
struct Reply {
    status: StatusCode,
    digest: Option<String>,
    code: String,
    text: String,
}

async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let digest = crate::support::http::header(&response, "docker-content-digest");
    let text = response.text().await.unwrap_or_default();
    let code = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Reply {
        status,
        digest,
        code,
        text,
    }
}

impl Reply {
    fn created(&self, digest: &str) -> bool {
        self.status == StatusCode::CREATED && self.digest.as_deref() == Some(digest)
    }

    fn unexpected(&self, what: &str) -> String {
        format!("{what}: {} ({}): {}", self.status, self.code, self.text)
    }
}

/// Monolithic `POST ?digest=` of `data`, again while a collection expires its session.
pub async fn push_blob(
    reg: &Registry,
    repo: &str,
    data: &Bytes,
    seen: &Recoveries,
) -> Result<(), String> {
    let digest = digest_of(data);
    let what = format!("blob push {digest} to {repo}");
    for _ in 0..MAX_ATTEMPTS {
        let response = reg
            .monolithic_post(repo, &digest)
            .body(data.clone())
            .send()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let reply = read(response).await;
        if reply.created(&digest) {
            return Ok(());
        }
        if !(reply.status == StatusCode::NOT_FOUND && reply.code == "BLOB_UPLOAD_UNKNOWN") {
            return Err(reply.unexpected(&what));
        }
        seen.sessions_expired.fetch_add(1, Ordering::Relaxed);
    }
    Err(format!("{what}: session expired {MAX_ATTEMPTS} times"))
}

/// The image's blobs, then its manifest by tag; blobs again whenever the manifest is refused
/// for a blob a collection took meanwhile.
pub async fn push_image(reg: &Registry, image: &Image, seen: &Recoveries) -> Result<(), String> {
    let blobs = image.blobs();
    for blob in &blobs {
        push_blob(reg, &image.repo, blob, seen).await?;
    }
    let what = format!(
        "manifest PUT {}:{} ({})",
        image.repo, image.tag, image.digest
    );
    for _ in 0..MAX_ATTEMPTS {
        let response = reg
            .put_manifest(
                &image.repo,
                &image.tag,
                OCI_MANIFEST,
                image.manifest.clone(),
            )
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        let reply = read(response).await;
        if reply.created(&image.digest) {
            return Ok(());
        }
        if !(reply.status == StatusCode::BAD_REQUEST && reply.code == "MANIFEST_BLOB_UNKNOWN") {
            return Err(reply.unexpected(&what));
        }
        seen.manifest_blob_unknown.fetch_add(1, Ordering::Relaxed);
        for blob in &blobs {
            push_blob(reg, &image.repo, blob, seen).await?;
        }
    }
    Err(format!(
        "{what}: blobs collected under it {MAX_ATTEMPTS} times"
    ))
}

/// `DELETE` of a tag, which must answer 202.
pub async fn untag(reg: &Registry, repo: &str, tag: &str) -> Result<(), String> {
    let response = reg
        .http
        .delete(reg.manifest_url(repo, tag))
        .send()
        .await
        .map_err(|e| format!("DELETE {repo}:{tag}: {e}"))?;
    let reply = read(response).await;
    if reply.status == StatusCode::ACCEPTED {
        Ok(())
    } else {
        Err(reply.unexpected(&format!("DELETE {repo}:{tag}")))
    }
}
