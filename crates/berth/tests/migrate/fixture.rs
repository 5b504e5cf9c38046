//! The registry the migrate tests build on the source, and the snapshot of everything it serves
//! that a migrated registry must serve the same.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::support::http::*;

const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
const ORAS_ARTIFACT: &str = "application/vnd.cncf.oras.artifact.manifest.v1+json";
const SBOM_TYPE: &str = "application/spdx+json";
const SIGNATURE_TYPE: &str = "application/vnd.example.signature.v1+json";
/// The same, percent-encoded for a query (a bare `+` is a space there).
const SIGNATURE_QUERY: &str = "application%2Fvnd.example.signature.v1%2Bjson";
/// Every manifest type the fixture pushes, as a client accepts them.
const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
                      application/vnd.oci.image.index.v1+json, \
                      application/vnd.cncf.oras.artifact.manifest.v1+json";

/// What the fixture pushed, repository by repository.
#[derive(Debug, Default)]
pub struct Fixture {
    repos: BTreeMap<String, Pushed>,
}

#[derive(Debug, Default)]
struct Pushed {
    /// Digests of the manifests, in push order.
    manifests: Vec<String>,
    tags: Vec<String>,
    blobs: Vec<Bytes>,
}

/// A blob of the source made corrupt on disk, with the manifest that uses it.
pub struct Victim {
    pub repo: String,
    pub digest: String,
    pub manifest: String,
}

/// Responses by request (`GET <path>`), each as status, the headers that matter and the body.
pub type Snapshot = BTreeMap<String, String>;

impl Fixture {
    /// Pushes the fixture: `app/web` (two images, four tags, a blob no manifest uses yet),
    /// `app/multi` (a two-platform index tagged twice, an SBOM of the index, a signature of the
    /// SBOM, a signature of one platform image, an ORAS artifact on it, the SBOM tagged),
    /// `bulk/layers` (one image of `bulk_layers` layers) and `zz/blobs-only` (a blob alone).
    pub async fn push(registry: &Registry, bulk_layers: usize) -> Fixture {
        let mut fixture = Fixture::default();
        let v1 = Image::new("app/web", "v1", 1, &[1000, 200_000]);
        let v2 = Image::new("app/web", "v2", 2, &[1500, 150_000]);
        fixture.image(registry, &v1, &["v1", "stable"]).await;
        fixture.image(registry, &v2, &["v2", "latest"]).await;
        fixture
            .blob(registry, "app/web", pseudo_random(77, 5000))
            .await;

        let amd64 = Image::new("app/multi", "", 3, &[4000, 60_000]);
        let arm64 = Image::new("app/multi", "", 4, &[4100, 61_000]);
        fixture.image(registry, &amd64, &[]).await;
        fixture.image(registry, &arm64, &[]).await;
        let index = Bytes::from(
            serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    platform(&amd64.manifest, "amd64"),
                    platform(&arm64.manifest, "arm64"),
                ],
            }))
            .unwrap(),
        );
        let index = (OCI_INDEX, index);
        fixture
            .manifest(registry, "app/multi", &index, &["1.0", "latest"])
            .await;
        let sbom = fixture
            .referrer(registry, "app/multi", SBOM_TYPE, &index, 10, &["sbom"])
            .await;
        fixture
            .referrer(registry, "app/multi", SIGNATURE_TYPE, &sbom, 11, &[])
            .await;
        let amd64 = (OCI_MANIFEST, amd64.manifest.clone());
        fixture
            .referrer(registry, "app/multi", SIGNATURE_TYPE, &amd64, 12, &[])
            .await;
        let payload = pseudo_random(13, 700);
        fixture.blob(registry, "app/multi", payload.clone()).await;
        let oras = Bytes::from(
            serde_json::to_vec(&json!({
                "mediaType": ORAS_ARTIFACT,
                "artifactType": SIGNATURE_TYPE,
                "blobs": [descriptor("application/octet-stream", &payload)],
                "subject": descriptor(OCI_MANIFEST, &amd64.1),
                "annotations": {"io.cncf.oras.artifact.created": "2024-05-06T07:08:09Z"},
            }))
            .unwrap(),
        );
        fixture
            .manifest(registry, "app/multi", &(ORAS_ARTIFACT, oras), &[])
            .await;

        let sizes = vec![64 * 1024; bulk_layers];
        let bulk = Image::new("bulk/layers", "big", 5, &sizes);
        fixture.image(registry, &bulk, &["big"]).await;
        fixture
            .blob(registry, "zz/blobs-only", pseudo_random(99, 3000))
            .await;
        fixture
    }

    async fn blob(&mut self, registry: &Registry, repo: &str, data: Bytes) {
        registry.push_blob(repo, &data).await;
        self.repos
            .entry(repo.to_owned())
            .or_default()
            .blobs
            .push(data);
    }

    async fn image(&mut self, registry: &Registry, image: &Image, tags: &[&str]) {
        for blob in image.blobs() {
            self.blob(registry, &image.repo, blob).await;
        }
        let manifest = (OCI_MANIFEST, image.manifest.clone());
        self.manifest(registry, &image.repo, &manifest, tags).await;
    }

    /// Pushes a manifest by digest, then by each tag.
    async fn manifest(
        &mut self,
        registry: &Registry,
        repo: &str,
        (media_type, body): &(&str, Bytes),
        tags: &[&str],
    ) {
        let digest = digest_of(body);
        for reference in std::iter::once(digest.as_str()).chain(tags.iter().copied()) {
            let response = registry
                .put_manifest(repo, reference, media_type, body.clone())
                .await
                .expect("manifest PUT");
            assert_created(response, &digest, &format!("PUT {repo}:{reference}")).await;
        }
        let pushed = self.repos.entry(repo.to_owned()).or_default();
        pushed.manifests.push(digest);
        pushed.tags.extend(tags.iter().map(|t| t.to_string()));
    }

    /// Pushes an OCI image manifest of `artifact_type` whose subject is `subject`, with one
    /// layer of its own; returns it as (media type, body).
    async fn referrer(
        &mut self,
        registry: &Registry,
        repo: &str,
        artifact_type: &str,
        (subject_type, subject): &(&str, Bytes),
        seed: u64,
        tags: &[&str],
    ) -> (&'static str, Bytes) {
        let empty = Bytes::from_static(b"{}");
        let layer = pseudo_random(seed, 900);
        self.blob(registry, repo, empty.clone()).await;
        self.blob(registry, repo, layer.clone()).await;
        let body = Bytes::from(
            serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": artifact_type,
                "config": descriptor(EMPTY_CONFIG, &empty),
                "layers": [descriptor("application/octet-stream", &layer)],
                "subject": descriptor(subject_type, subject),
                "annotations": {"seed": seed.to_string()},
            }))
            .unwrap(),
        );
        let manifest = (OCI_MANIFEST, body);
        self.manifest(registry, repo, &manifest, tags).await;
        manifest
    }

    /// Repositories with content (those of blobs alone included).
    pub fn repositories(&self) -> usize {
        self.repos.len()
    }

    pub fn manifests(&self) -> usize {
        self.repos.values().map(|r| r.manifests.len()).sum()
    }

    pub fn tags(&self) -> usize {
        self.repos.values().map(|r| r.tags.len()).sum()
    }

    /// Flips a byte in the middle of the largest layer of `app/web`'s first image, in the
    /// source's blob file (the server must be stopped).
    pub fn corrupt_one_layer(&self, data_dir: &Path) -> Victim {
        let web = &self.repos["app/web"];
        let digest = digest_of(&web.blobs[2]);
        let hex = digest.trim_start_matches("sha256:");
        let path = data_dir
            .join("blobs/blobs/sha256")
            .join(&hex[..2])
            .join(hex);
        let mut bytes = std::fs::read(&path).expect("the layer's blob file");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x5a;
        std::fs::write(&path, bytes).expect("rewriting the blob file");
        Victim {
            repo: "app/web".to_owned(),
            digest,
            manifest: web.manifests[0].clone(),
        }
    }

    /// What `registry` answers to every request about the fixture's content: the catalog, tag
    /// lists, each manifest by digest and by tag, its OCI and ORAS referrers listings, and each
    /// blob (by the hash of its body).
    pub async fn snapshot(&self, registry: &Registry) -> Snapshot {
        let mut snapshot = Snapshot::new();
        snapshot.insert("catalog".into(), get(registry, "/v2/_catalog", false).await);
        for (repo, pushed) in &self.repos {
            let tags = format!("/v2/{repo}/tags/list");
            snapshot.insert(tags.clone(), get(registry, &tags, false).await);
            let references = pushed.manifests.iter().chain(&pushed.tags);
            for reference in references {
                let path = format!("/v2/{repo}/manifests/{reference}");
                snapshot.insert(path.clone(), get(registry, &path, false).await);
            }
            for digest in &pushed.manifests {
                for path in [
                    format!("/v2/{repo}/referrers/{digest}"),
                    format!("/v2/{repo}/referrers/{digest}?artifactType={SIGNATURE_QUERY}"),
                    format!("/oras/artifacts/v1/{repo}/manifests/{digest}/referrers"),
                ] {
                    snapshot.insert(path.clone(), get(registry, &path, false).await);
                }
            }
            for blob in &pushed.blobs {
                let path = format!("/v2/{repo}/blobs/{}", digest_of(blob));
                let answer = get(registry, &path, true).await;
                assert!(
                    answer.contains(&format!("body {}", digest_of(blob))),
                    "GET {path}: {answer}"
                );
                snapshot.insert(path, answer);
            }
        }
        snapshot
    }
}

/// A platform entry of an index for an image manifest.
fn platform(manifest: &[u8], architecture: &str) -> Value {
    let mut entry = descriptor(OCI_MANIFEST, manifest);
    entry["platform"] = json!({"architecture": architecture, "os": "linux"});
    entry
}

/// `GET path` as status, content type, digest header and body (its digest when `hashed`).
async fn get(registry: &Registry, path: &str, hashed: bool) -> String {
    let response = registry
        .http
        .get(registry.url(path))
        .header("accept", ACCEPT)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status();
    let content_type = header(&response, "content-type");
    let digest = header(&response, "docker-content-digest");
    let link = header(&response, "link");
    let body = response.bytes().await.expect("body");
    assert_eq!(
        status.as_u16(),
        200,
        "GET {path}: {}",
        String::from_utf8_lossy(&body)
    );
    let body = if hashed {
        digest_of(&body)
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    format!("{status} {content_type:?} {digest:?} {link:?} body {body}")
}

/// Both registries answered every request alike; the first difference otherwise.
pub fn assert_same(before: &Snapshot, after: &Snapshot) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (request, answer) in before {
        assert_eq!(
            answer, &after[request],
            "the migrated registry answers GET {request} differently"
        );
    }
}
