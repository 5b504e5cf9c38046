//! Collection scenarios on the embedded backends: every policy, chains, dry runs (by example
//! and over random graphs), blobs, retention, and interleavings with clients at named pause
//! points.

mod blobs;
mod dry_runs;
mod dry_runs_property;
mod interleavings;
mod policies;
mod retention;

use std::time::Duration;

use berth_oci::{Digest, Reference, RepoName};
use bytes::Bytes;

use super::*;
use crate::gc::RetentionRule;
use crate::test_backends::Place;
use crate::{ManifestTarget, RegistryConfig};

struct Fixture {
    _place: Place,
    registry: Registry,
    repo: RepoName,
    config: Digest,
}

async fn fixture() -> Fixture {
    fixture_with(RegistryConfig::default()).await
}

async fn fixture_with(config: RegistryConfig) -> Fixture {
    let place = Place::new().await;
    let (blobs, meta) = place.open().await;
    let registry = Registry::new(blobs, meta, config);
    let repo: RepoName = "gc/app".parse().unwrap();
    let config = push_blob(&registry, &repo, b"{}").await;
    Fixture {
        _place: place,
        registry,
        repo,
        config,
    }
}

async fn push_blob(registry: &Registry, repo: &RepoName, bytes: &[u8]) -> Digest {
    let digest = Digest::sha256_of(bytes);
    let body: berth_blobstore::ByteStream =
        Box::pin(futures::stream::iter([Ok(Bytes::copy_from_slice(bytes))]));
    registry
        .upload_monolithic(repo, &digest, None, body)
        .await
        .unwrap();
    digest
}

fn manifest(config: &Digest, layers: &[&Digest], subject: Option<&Digest>, note: &str) -> Bytes {
    let mut m = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.as_str(), "size": 2},
        "layers": layers.iter().map(|d| serde_json::json!({"mediaType": "application/octet-stream", "digest": d.as_str(), "size": 1})).collect::<Vec<_>>(),
        "annotations": {"note": note},
    });
    if let Some(subject) = subject {
        m["subject"] = serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.as_str(), "size": 1});
    }
    Bytes::from(serde_json::to_vec(&m).unwrap())
}

/// An image index over `children`.
fn index(children: &[&Digest]) -> Bytes {
    let manifests: Vec<_> = children
        .iter()
        .map(|d| serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d.as_str(), "size": 1}))
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    Bytes::from(serde_json::to_vec(&index).unwrap())
}

impl Fixture {
    /// An image without layers under `reference` (a tag, or empty for by digest).
    async fn image(&self, reference: &str, note: &str) -> Digest {
        self.put(reference, manifest(&self.config, &[], None, note))
            .await
    }

    /// An untagged artifact whose subject is `subject`.
    async fn referrer(&self, subject: &Digest, note: &str) -> Digest {
        self.put("", manifest(&self.config, &[], Some(subject), note))
            .await
    }

    async fn put(&self, reference: &str, body: Bytes) -> Digest {
        self.put_in(&self.repo, reference, body).await
    }

    async fn put_in(&self, repo: &RepoName, reference: &str, body: Bytes) -> Digest {
        let reference: Reference = if reference.is_empty() {
            Reference::Digest(Digest::sha256_of(&body))
        } else {
            reference.parse().unwrap()
        };
        let target = ManifestTarget {
            reference,
            extra_tags: vec![],
            precondition: None,
        };
        self.registry
            .put_manifest(repo, target, None, body)
            .await
            .unwrap()
            .digest
    }

    async fn exists(&self, digest: &Digest) -> bool {
        self.exists_in(&self.repo, digest).await
    }

    async fn exists_in(&self, repo: &RepoName, digest: &Digest) -> bool {
        self.registry
            .get_manifest(repo, &Reference::Digest(digest.clone()))
            .await
            .is_ok()
    }

    async fn delete(&self, repo: &RepoName, digest: &Digest) {
        self.registry
            .delete_manifest(repo, &Reference::Digest(digest.clone()), None)
            .await
            .unwrap();
    }

    /// A dry run, then the real run with the same options.
    async fn dry_then_real(&self, options: GcOptions) -> (GcReport, GcReport) {
        let dry = self
            .collect(GcOptions {
                dry_run: true,
                ..options.clone()
            })
            .await;
        (dry, self.collect(options).await)
    }

    async fn collect(&self, options: GcOptions) -> GcReport {
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.registry.gc(&options).await.unwrap()
    }
}

fn now(untagged: Untagged, orphaned_referrers: OrphanedReferrers) -> GcOptions {
    GcOptions {
        dry_run: false,
        grace: Duration::ZERO,
        untagged,
        orphaned_referrers,
        retention: Vec::new(),
    }
}

fn rule_for(pattern: &str) -> RetentionRule {
    RetentionRule::for_repositories(glob::Pattern::new(pattern).unwrap())
}

/// `report` without what differs between a dry run and the real run that follows it.
fn comparable(report: &GcReport) -> GcReport {
    GcReport {
        dry_run: false,
        finished_at: String::new(),
        duration_ms: 0,
        ..report.clone()
    }
}
