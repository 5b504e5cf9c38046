//! What the concurrent clients push: the repositories, deterministic choices, shared layers,
//! referrer artifacts, and each client's record of what it owns.

use bytes::Bytes;
use serde_json::json;

use crate::support::http::{digest_of, pseudo_random, Image, OCI_MANIFEST};

pub const REPOS: [&str; 3] = ["online/alpha", "online/beta", "online/gamma"];
pub const CLIENTS: u64 = 6;
pub const ITERATIONS: u64 = 50;
pub const SHARED_LAYERS: u64 = 6;
pub const SIGNATURE: &str = "application/vnd.example.signature.v1";
pub const SBOM: &str = "application/vnd.example.sbom.v1";
const EMPTY_CONFIG: &[u8] = b"{}";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// Deterministic choices for one client (xorshift64*), so a failing run can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick(&mut self, items: &[usize]) -> usize {
        items[self.below(items.len() as u64) as usize]
    }

    /// One of `REPOS` other than `repo`: where a copy or a mount comes from.
    pub fn other_repo(&mut self, repo: &str) -> &'static str {
        let others: Vec<&'static str> = REPOS.iter().copied().filter(|r| *r != repo).collect();
        others[self.below(others.len() as u64) as usize]
    }
}

/// A layer several images (in several repositories) share, so collections see blobs that
/// one image drops and another still holds.
pub fn shared_layer(k: u64) -> Bytes {
    pseudo_random(7_000_000 + k, 700 + 97 * k as usize)
}

/// A referrer: an artifact manifest with the empty config, one payload blob and a subject.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub manifest: Bytes,
    pub digest: String,
    pub subject: String,
    payload: Bytes,
}

impl Artifact {
    pub fn new(
        artifact_type: &str,
        subject: &str,
        subject_size: usize,
        payload: Bytes,
    ) -> Artifact {
        let body = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {"mediaType": OCI_EMPTY, "digest": digest_of(EMPTY_CONFIG), "size": EMPTY_CONFIG.len()},
            "layers": [{"mediaType": "application/octet-stream", "digest": digest_of(&payload), "size": payload.len()}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
            "annotations": {"org.example.payload": digest_of(&payload)},
        });
        let manifest = Bytes::from(serde_json::to_vec(&body).expect("artifact serialises"));
        Artifact {
            digest: digest_of(&manifest),
            manifest,
            subject: subject.to_owned(),
            payload,
        }
    }

    pub fn blobs(&self) -> Vec<Bytes> {
        vec![Bytes::from_static(EMPTY_CONFIG), self.payload.clone()]
    }
}

/// One image a client pushed, whether its tag should still be there, and its referrers (in
/// push order: an SBOM before the signature on it).
#[derive(Debug, Clone)]
pub struct Owned {
    pub image: Image,
    pub tagged: bool,
    pub artifacts: Vec<Artifact>,
}

impl Owned {
    /// `repo:tag (digest)`, for failure messages.
    pub fn describe(&self) -> String {
        let image = &self.image;
        format!("{}:{} ({})", image.repo, image.tag, image.digest)
    }
}
