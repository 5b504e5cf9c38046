//! Referrer artifacts: manifests with the empty config, one payload blob and a subject, as
//! signatures and SBOMs are pushed.

use bytes::Bytes;
use serde_json::json;

use crate::support::http::{digest_of, Registry, OCI_MANIFEST};

pub const SIGNATURE: &str = "application/vnd.example.signature.v1";
pub const SBOM: &str = "application/vnd.example.sbom.v1";
const EMPTY_CONFIG: &[u8] = b"{}";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

#[derive(Debug, Clone)]
pub struct Artifact {
    pub artifact_type: String,
    pub manifest: Bytes,
    pub digest: String,
    pub payload: Bytes,
}

impl Artifact {
    /// An artifact of `artifact_type` about the manifest `subject` (`subject_size` bytes).
    pub fn new(artifact_type: &str, subject: &str, subject_size: usize, payload: Bytes) -> Self {
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
            artifact_type: artifact_type.to_owned(),
            digest: digest_of(&manifest),
            manifest,
            payload,
        }
    }

    pub fn blobs(&self) -> Vec<Bytes> {
        vec![Bytes::from_static(EMPTY_CONFIG), self.payload.clone()]
    }

    /// Pushes the blobs, then the manifest by digest, through `reg`.
    pub async fn push(&self, reg: &Registry, repo: &str) {
        for blob in self.blobs() {
            reg.push_blob(repo, &blob).await;
        }
        let digest = reg.push_manifest(repo, &self.digest, &self.manifest).await;
        assert_eq!(digest, self.digest, "artifact digest");
    }
}
