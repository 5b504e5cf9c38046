//! The fixture every test starts from (a server holding one pushed image), the checks each
//! bad request ends with, and the request steps several themes share.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use reqwest::StatusCode;

use crate::support::http::*;
use crate::support::TestServer;

/// 404 codes acceptable for a path that names nothing.
pub const NOT_FOUND_CODES: &[&str] = &[
    "NAME_UNKNOWN",
    "UNSUPPORTED",
    "NOT_FOUND",
    "BLOB_UNKNOWN",
    "MANIFEST_UNKNOWN",
    "BLOB_UPLOAD_UNKNOWN",
];

/// Request headers for `raw_request`.
pub type Headers = Vec<(&'static str, String)>;

/// The Content-Type of a blob body.
pub fn octet() -> (&'static str, String) {
    ("Content-Type", "application/octet-stream".to_owned())
}

/// A refusal that may name the defect (400) or treat the target as something that cannot
/// exist (404): both are fine, as long as the body carries a matching code.
pub fn expect_invalid_or_missing(
    reply: &RawResponse,
    what: &str,
    invalid: &[&str],
    missing: &[&str],
) {
    if reply.status == 400 {
        reply.expect_error(what, &[400], invalid);
    } else {
        reply.expect_error(what, &[404], missing);
    }
}

/// A HEAD reply has no body to check, so only its status can tell a refusal.
pub fn assert_head_refused(what: &str, reply: &RawResponse) {
    assert!(
        matches!(reply.status, 400 | 404),
        "{what}: status {}",
        reply.status
    );
}

/// A server with one image pushed, checked after every bad request.
pub struct Fixture {
    pub server: TestServer,
    pub reg: Registry,
    pub image: Image,
}

impl Fixture {
    pub async fn start() -> Fixture {
        let server = TestServer::start();
        let reg = Registry::new(server.url());
        let image = Image::new("acme/app", "v1", 1, &[70_000, 3_000]);
        reg.push_image(&image).await;
        reg.assert_image(&image, "freshly pushed").await;
        Fixture { server, reg, image }
    }

    pub fn addr(&self) -> String {
        self.server.host()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.server.data_dir()
    }

    /// The previously pushed image still pulls back byte-exact, and its tag list is intact.
    pub async fn intact(&self, after: &str) {
        self.reg
            .assert_image(&self.image, &format!("after {after}"))
            .await;
    }

    /// Sends a raw request and returns the reply; a dropped connection is a failure.
    pub async fn raw(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> RawResponse {
        let what = format!("{method} {target}");
        self.raw_as(&what, method, target, headers, body, false)
            .await
    }

    /// As `raw`, named `what` in a failure; with `half_close` the body ends in EOF, so a body
    /// shorter than its Content-Length is seen as cut short rather than awaited.
    pub async fn raw_as(
        &self,
        what: &str,
        method: &str,
        target: &str,
        headers: &[(&str, String)],
        body: &[u8],
        half_close: bool,
    ) -> RawResponse {
        raw_request(&self.addr(), method, target, headers, body, half_close)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{what}: no HTTP reply: {e}\nserver log:\n{}",
                    self.server.log()
                )
            })
    }

    /// Final checks: no internal error was logged and the data directory holds only what the
    /// layout allows.
    pub fn finish(&self) {
        assert_log_clean(&self.server.log());
        assert_data_dir_layout(&self.data_dir());
    }

    /// The path and query of a session location, for `raw`, which needs them byte-exact.
    pub fn path_of(&self, location: &str) -> String {
        location
            .strip_prefix(&self.reg.base)
            .expect("same server")
            .to_owned()
    }

    /// Starts a session in `repo` whose first chunk, `chunk`, is accepted; returns its
    /// absolute location.
    pub async fn start_with_chunk(&self, repo: &str, chunk: Bytes, what: &str) -> String {
        let location = self.reg.start_upload(repo).await.unwrap();
        let patched = self.reg.patch_chunk(&location, chunk, 0).await.unwrap();
        assert_eq!(
            patched.status(),
            StatusCode::ACCEPTED,
            "{what}: first chunk"
        );
        location
    }

    /// Commits a session whose bytes were all sent, with an empty PUT.
    pub async fn finish_upload(&self, location: &str, digest: &str, what: &str) {
        let done = self
            .reg
            .http
            .put(Registry::with_digest(location, digest))
            .header("content-length", "0")
            .send()
            .await
            .unwrap();
        assert_created(done, digest, what).await;
    }

    /// Cancels a session that must still exist.
    pub async fn cancel(&self, location: &str, what: &str) {
        let cancelled = self
            .reg
            .http
            .delete(self.reg.absolute(location))
            .send()
            .await
            .unwrap();
        assert_eq!(cancelled.status(), StatusCode::NO_CONTENT, "{what}: cancel");
    }

    /// None of `digests` is readable in `repo`.
    pub async fn assert_blobs_absent(&self, repo: &str, digests: &[&str], what: &str) {
        for digest in digests {
            self.reg.assert_blob_absent(repo, digest, what).await;
        }
    }

    /// None of `references` names a manifest in the fixture's repository.
    pub async fn assert_manifests_absent(&self, references: &[&str], what: &str) {
        for reference in references {
            self.reg
                .assert_manifest_absent("acme/app", reference, what)
                .await;
        }
    }

    /// The fixture's repository still has its one tag and no other.
    pub async fn assert_only_original_tag(&self, what: &str) {
        assert_eq!(
            self.reg.tags("acme/app").await,
            vec!["v1".to_owned()],
            "{what}"
        );
    }

    /// `body` pushed as a manifest under `reference`: refused with one of `statuses` and a
    /// code among `codes`.
    pub async fn refuse_put_manifest(
        &self,
        what: &str,
        reference: &str,
        content_type: &str,
        body: &Bytes,
        statuses: &[u16],
        codes: &[&str],
    ) {
        let response = self
            .reg
            .put_manifest("acme/app", reference, content_type, body.clone())
            .await
            .unwrap();
        expect_error(what, response, statuses, codes).await;
    }

    /// A manifest refused both under `tag` and under its own digest, with neither reference
    /// readable afterwards.
    pub async fn refuse_manifest(
        &self,
        what: &str,
        tag: &str,
        content_type: &str,
        body: &Bytes,
        statuses: &[u16],
        codes: &[&str],
    ) {
        let digest = digest_of(body);
        for reference in [tag, digest.as_str()] {
            let what = format!("{what} (PUT to {reference})");
            self.refuse_put_manifest(&what, reference, content_type, body, statuses, codes)
                .await;
            self.intact(&what).await;
        }
        self.assert_manifests_absent(&[tag, &digest], what).await;
        self.intact(what).await;
    }
}

/// The data directory holds only its owner's lock, the metadata database, committed blobs and
/// staged uploads.
fn assert_data_dir_layout(data_dir: &Path) {
    for path in files_under(data_dir) {
        let relative = path
            .strip_prefix(data_dir)
            .expect("under data dir")
            .to_string_lossy()
            .into_owned();
        let allowed = matches!(
            relative.as_str(),
            "berth.lock" | "metadata.db" | "metadata.db-wal" | "metadata.db-shm"
        ) || relative.starts_with("blobs/blobs/sha256/")
            || relative
                .strip_prefix("blobs/uploads/")
                .is_some_and(|id| id.len() == 36 && !id.contains('/'));
        assert!(allowed, "unexpected file in the data directory: {relative}");
    }
    assert_committed_blobs_valid(data_dir);
}
