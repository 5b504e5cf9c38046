//! Collection scenarios on the embedded backends: every policy, chains, dry runs, blobs.

use std::sync::Arc;
use std::time::Duration;

use berth_blobstore::fs::FsBlobStore;
use berth_metadata::sqlite::SqliteMetadataStore;
use berth_oci::{Digest, Reference, RepoName};
use bytes::Bytes;

use super::*;
use crate::gc::RetentionRule;
use crate::{ManifestTarget, RegistryConfig};

struct Fixture {
    _dir: tempfile::TempDir,
    registry: Registry,
    repo: RepoName,
    config: Digest,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let blobs = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    let meta = SqliteMetadataStore::open(&dir.path().join("meta.db"))
        .await
        .unwrap();
    let registry = Registry::new(Arc::new(blobs), Arc::new(meta), RegistryConfig::default());
    let repo: RepoName = "gc/app".parse().unwrap();
    let config = push_blob(&registry, &repo, b"{}").await;
    Fixture {
        _dir: dir,
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

impl Fixture {
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
            .delete_manifest(repo, &Reference::Digest(digest.clone()))
            .await
            .unwrap();
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

#[tokio::test]
async fn a_deleted_subject_takes_its_referrer_chain_with_it() {
    let f = fixture().await;
    let image = f.put("v1", manifest(&f.config, &[], None, "image")).await;
    let sbom = f
        .put("", manifest(&f.config, &[], Some(&image), "sbom"))
        .await;
    let sig = f
        .put("", manifest(&f.config, &[], Some(&sbom), "sig"))
        .await;
    let other = f.put("v2", manifest(&f.config, &[], None, "other")).await;
    let other_sig = f
        .put("", manifest(&f.config, &[], Some(&other), "other sig"))
        .await;
    let report = f
        .collect(now(Untagged::Keep, OrphanedReferrers::Delete))
        .await;
    assert_eq!(report.manifests_deleted, 0, "nothing is orphaned yet");
    f.registry
        .delete_manifest(&f.repo, &Reference::Digest(image.clone()))
        .await
        .unwrap();
    let report = f
        .collect(now(Untagged::Keep, OrphanedReferrers::Delete))
        .await;
    assert_eq!(report.manifests_deleted, 2);
    assert!(!f.exists(&sbom).await && !f.exists(&sig).await);
    assert!(f.exists(&other).await && f.exists(&other_sig).await);
}

#[tokio::test]
async fn orphaned_referrers_can_be_kept_for_audit() {
    let f = fixture().await;
    let image = f.put("v1", manifest(&f.config, &[], None, "image")).await;
    let sig = f
        .put("", manifest(&f.config, &[], Some(&image), "sig"))
        .await;
    f.registry
        .delete_manifest(&f.repo, &Reference::Digest(image))
        .await
        .unwrap();
    let report = f
        .collect(now(Untagged::Keep, OrphanedReferrers::Keep))
        .await;
    assert_eq!(report.manifests_deleted, 0);
    assert!(f.exists(&sig).await);
}

#[tokio::test]
async fn orphaned_referrers_can_be_kept_for_a_delay_after_their_subject_goes() {
    let delay = Duration::from_millis(300);
    let options = now(Untagged::Keep, OrphanedReferrers::After(delay));
    let f = fixture().await;
    let image = f.put("v1", manifest(&f.config, &[], None, "image")).await;
    let sbom = f
        .put("", manifest(&f.config, &[], Some(&image), "sbom"))
        .await;
    let sig = f
        .put("", manifest(&f.config, &[], Some(&sbom), "sig"))
        .await;
    tokio::time::sleep(delay + Duration::from_millis(100)).await;
    f.delete(&f.repo, &image).await;
    let report = f.collect(options.clone()).await;
    assert_eq!(
        report.manifests_deleted, 0,
        "the delay counts from the subject's deletion, not the referrers' push"
    );
    assert!(f.exists(&sbom).await && f.exists(&sig).await);
    tokio::time::sleep(delay).await;
    let report = f.collect(options).await;
    assert_eq!(
        report.manifests_deleted, 2,
        "past the delay the SBOM goes, and its signature with it"
    );
    assert!(!f.exists(&sbom).await && !f.exists(&sig).await);
}

#[tokio::test]
async fn referrers_of_a_collected_subject_stay_when_the_policy_keeps_orphans() {
    let delay = Duration::from_millis(300);
    for policy in [OrphanedReferrers::Keep, OrphanedReferrers::After(delay)] {
        let f = fixture().await;
        let untagged = f.put("", manifest(&f.config, &[], None, "untagged")).await;
        let sig = f
            .put("", manifest(&f.config, &[], Some(&untagged), "sig"))
            .await;
        let report = f.collect(now(Untagged::Delete, policy)).await;
        assert_eq!(report.manifests, vec![collected(&f.repo, &untagged)]);
        assert!(f.exists(&sig).await, "{policy:?} keeps the signature");
        tokio::time::sleep(delay + Duration::from_millis(50)).await;
        let report = f.collect(now(Untagged::Delete, policy)).await;
        let expected = match policy {
            OrphanedReferrers::After(_) => vec![collected(&f.repo, &sig)],
            _ => vec![],
        };
        assert_eq!(report.manifests, expected, "{policy:?}");
    }
}

#[tokio::test]
async fn repository_patterns_override_the_global_policies() {
    let f = fixture().await;
    let ci: RepoName = "ci/build".parse().unwrap();
    push_blob(&f.registry, &ci, b"{}").await;
    let mut pushed = Vec::new();
    for repo in [&f.repo, &ci] {
        let untagged = f
            .put_in(repo, "", manifest(&f.config, &[], None, "untagged"))
            .await;
        let image = f
            .put_in(repo, "v1", manifest(&f.config, &[], None, "image"))
            .await;
        let sig = f
            .put_in(repo, "", manifest(&f.config, &[], Some(&image), "sig"))
            .await;
        f.delete(repo, &image).await;
        pushed.push((untagged, sig));
    }
    let options = GcOptions {
        retention: vec![RetentionRule {
            untagged: Some(Untagged::Delete),
            orphaned_referrers: Some(OrphanedReferrers::Keep),
            ..rule_for("ci/*")
        }],
        ..now(Untagged::Keep, OrphanedReferrers::Delete)
    };
    let report = f.collect(options).await;
    let (app_untagged, app_sig) = &pushed[0];
    let (ci_untagged, ci_sig) = &pushed[1];
    let mut expected = vec![collected(&f.repo, app_sig), collected(&ci, ci_untagged)];
    expected.sort_by(|a, b| (&a.repository, &a.digest).cmp(&(&b.repository, &b.digest)));
    let mut deleted = report.manifests.clone();
    deleted.sort_by(|a, b| (&a.repository, &a.digest).cmp(&(&b.repository, &b.digest)));
    assert_eq!(deleted, expected);
    assert!(f.exists(app_untagged).await, "global policy keeps untagged");
    assert!(
        f.exists_in(&ci, ci_sig).await,
        "the ci/* rule keeps orphans"
    );
}

#[tokio::test]
async fn untagged_manifests_go_unless_an_index_or_a_subject_keeps_them() {
    let f = fixture().await;
    let platform = f.put("", manifest(&f.config, &[], None, "platform")).await;
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": platform.as_str(), "size": 1}],
    });
    let index = f
        .put("multi", Bytes::from(serde_json::to_vec(&index).unwrap()))
        .await;
    let platform_sig = f
        .put(
            "",
            manifest(&f.config, &[], Some(&platform), "platform sig"),
        )
        .await;
    let loose = f.put("", manifest(&f.config, &[], None, "untagged")).await;
    let loose_sig = f
        .put(
            "",
            manifest(&f.config, &[], Some(&loose), "sig on untagged"),
        )
        .await;
    let kept = f
        .collect(now(Untagged::Keep, OrphanedReferrers::Delete))
        .await;
    assert_eq!(
        kept.manifests_deleted, 0,
        "untagged manifests are kept by default"
    );
    let report = f
        .collect(now(Untagged::Delete, OrphanedReferrers::Delete))
        .await;
    assert_eq!(report.manifests_deleted, 2);
    assert!(!f.exists(&loose).await && !f.exists(&loose_sig).await);
    assert!(f.exists(&index).await && f.exists(&platform).await && f.exists(&platform_sig).await);
    f.registry
        .delete_manifest(&f.repo, &Reference::Tag("multi".parse().unwrap()))
        .await
        .unwrap();
    let report = f
        .collect(now(Untagged::Delete, OrphanedReferrers::Delete))
        .await;
    assert_eq!(
        report.manifests_deleted, 3,
        "the index, its platform manifest and that one's signature"
    );
}

#[tokio::test]
async fn the_grace_period_protects_recent_pushes() {
    let f = fixture().await;
    let image = f.put("v1", manifest(&f.config, &[], None, "image")).await;
    let sig = f
        .put("", manifest(&f.config, &[], Some(&image), "sig"))
        .await;
    f.registry
        .delete_manifest(&f.repo, &Reference::Digest(image))
        .await
        .unwrap();
    let options = GcOptions {
        grace: Duration::from_secs(3600),
        ..GcOptions::default()
    };
    let report = f.collect(options).await;
    assert_eq!(report.manifests_deleted + report.blobs_deleted, 0);
    assert!(f.exists(&sig).await);
}

#[tokio::test]
async fn blobs_no_manifest_uses_are_collected_and_used_ones_stay() {
    let f = fixture().await;
    let used = push_blob(&f.registry, &f.repo, b"used layer").await;
    let image = f
        .put("v1", manifest(&f.config, &[&used], None, "image"))
        .await;
    let stray = push_blob(&f.registry, &f.repo, b"uploaded, never referenced").await;
    let dropped = push_blob(&f.registry, &f.repo, b"layer of a deleted image").await;
    let gone = f
        .put("v2", manifest(&f.config, &[&dropped], None, "to delete"))
        .await;
    f.registry
        .delete_manifest(&f.repo, &Reference::Digest(gone))
        .await
        .unwrap();
    let dry = f
        .collect(GcOptions {
            dry_run: true,
            ..now(Untagged::Keep, OrphanedReferrers::Delete)
        })
        .await;
    let report = f
        .collect(now(Untagged::Keep, OrphanedReferrers::Delete))
        .await;
    let mut expected = vec![stray.to_string(), dropped.to_string()];
    expected.sort();
    let mut blobs = report.blobs.clone();
    blobs.sort();
    assert_eq!(blobs, expected);
    assert_eq!(report.bytes_freed, (26 + 24) as u64);
    assert_eq!(
        dry.blobs, report.blobs,
        "a dry run reports exactly what the real run deletes"
    );
    assert_eq!(dry.bytes_freed, report.bytes_freed);
    assert!(matches!(
        f.registry.blob_size(&f.repo, &stray).await,
        Err(crate::RegistryError::BlobUnknown(_))
    ));
    assert!(f.exists(&image).await);
    assert_eq!(f.registry.blob_size(&f.repo, &used).await.unwrap(), 10);
    assert_eq!(f.registry.blob_size(&f.repo, &f.config).await.unwrap(), 2);
    let again = push_blob(&f.registry, &f.repo, b"uploaded, never referenced").await;
    assert_eq!(
        f.registry.blob_size(&f.repo, &again).await.unwrap(),
        26,
        "a collected digest can be pushed again"
    );
}

#[tokio::test]
async fn a_dry_run_reports_exactly_what_the_real_run_deletes() {
    let f = fixture().await;
    let image = f.put("v1", manifest(&f.config, &[], None, "image")).await;
    f.put("", manifest(&f.config, &[], Some(&image), "sbom"))
        .await;
    f.put("", manifest(&f.config, &[], None, "untagged")).await;
    f.registry
        .delete_manifest(&f.repo, &Reference::Digest(image))
        .await
        .unwrap();
    let options = now(Untagged::Delete, OrphanedReferrers::Delete);
    let dry = f
        .collect(GcOptions {
            dry_run: true,
            ..options.clone()
        })
        .await;
    let real = f.collect(options).await;
    let mut dry_manifests = dry.manifests.clone();
    let mut real_manifests = real.manifests.clone();
    dry_manifests.sort_by(|a, b| a.digest.cmp(&b.digest));
    real_manifests.sort_by(|a, b| a.digest.cmp(&b.digest));
    assert_eq!(dry_manifests, real_manifests);
    assert_eq!(real.manifests_deleted, 2);
    assert!(dry.dry_run && !real.dry_run);
}

fn scan(f: &Fixture, subject: &Digest, i: usize) -> Bytes {
    let mut scan: serde_json::Value = serde_json::from_slice(&manifest(
        &f.config,
        &[],
        Some(subject),
        &format!("scan {i}"),
    ))
    .unwrap();
    scan["artifactType"] = serde_json::json!("application/vnd.example.scan");
    Bytes::from(serde_json::to_vec(&scan).unwrap())
}

fn rule_for(pattern: &str) -> RetentionRule {
    RetentionRule {
        repositories: glob::Pattern::new(pattern).unwrap(),
        keep_newest_tags: None,
        keep_tags_matching: None,
        expire_tags_after: None,
        keep_newest_referrers: None,
        untagged: None,
        orphaned_referrers: None,
    }
}

#[tokio::test]
async fn retention_expires_tags_and_what_only_they_kept() {
    let f = fixture().await;
    let mut digests = Vec::new();
    for (i, tag) in ["build-1", "build-2", "build-3", "release-1"]
        .iter()
        .enumerate()
    {
        digests.push(
            f.put(tag, manifest(&f.config, &[], None, &format!("image {i}")))
                .await,
        );
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let image = digests[2].clone();
    let scanned = f.put("", scan(&f, &image, 0)).await;
    let signature = f
        .put("", manifest(&f.config, &[], Some(&image), "signature"))
        .await;
    let rule = RetentionRule {
        keep_newest_tags: Some(1),
        keep_tags_matching: Some(glob::Pattern::new("release-*").unwrap()),
        ..rule_for("gc/*")
    };
    let options = GcOptions {
        retention: vec![rule],
        ..now(Untagged::Delete, OrphanedReferrers::Delete)
    };
    let dry = f
        .collect(GcOptions {
            dry_run: true,
            ..options.clone()
        })
        .await;
    let report = f.collect(options).await;
    let mut tags: Vec<_> = report.tags.iter().map(|t| t.tag.clone()).collect();
    tags.sort();
    assert_eq!(
        tags,
        ["build-1", "build-2", "build-3"],
        "release-1 is the newest and matches release-*"
    );
    assert_eq!(dry.tags, report.tags, "the dry run reported the same tags");
    assert!(f.exists(&digests[3]).await, "release-1 stays");
    assert!(
        !f.exists(&image).await,
        "an image only an expired tag kept goes"
    );
    assert!(
        !f.exists(&signature).await && !f.exists(&scanned).await,
        "and its referrers with it"
    );
    let other_rule = GcOptions {
        retention: vec![RetentionRule {
            keep_newest_tags: Some(0),
            ..rule_for("elsewhere/*")
        }],
        ..now(Untagged::Keep, OrphanedReferrers::Delete)
    };
    assert_eq!(
        f.collect(other_rule).await.tags_deleted,
        0,
        "rules apply only to matching repositories"
    );
}

#[tokio::test]
async fn retention_keeps_only_the_newest_referrers_of_each_type() {
    let f = fixture().await;
    let image = f.put("v1", manifest(&f.config, &[], None, "image")).await;
    let mut scans = Vec::new();
    for i in 0..3 {
        scans.push(f.put("", scan(&f, &image, i)).await);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let signature = f
        .put("", manifest(&f.config, &[], Some(&image), "signature"))
        .await;
    let rule = RetentionRule {
        keep_newest_referrers: Some(1),
        ..rule_for("*")
    };
    let options = GcOptions {
        retention: vec![rule],
        ..now(Untagged::Keep, OrphanedReferrers::Delete)
    };
    let report = f.collect(options).await;
    assert_eq!(report.manifests_deleted, 2);
    assert!(!f.exists(&scans[0]).await && !f.exists(&scans[1]).await);
    assert!(f.exists(&scans[2]).await && f.exists(&signature).await && f.exists(&image).await);
}

#[tokio::test]
async fn blob_files_metadata_never_recorded_are_collected() {
    let f = fixture().await;
    let image = f.put("v1", manifest(&f.config, &[], None, "image")).await;
    // What a crash between an upload's commit and its link leaves: bytes without a row.
    let stray = Digest::sha256_of(b"committed, never linked");
    let id = berth_oci::UploadId::new_random(uuid::Uuid::new_v4());
    f.registry.blobs.create_upload(&id).await.unwrap();
    let body: berth_blobstore::ByteStream = Box::pin(futures::stream::iter([Ok(
        Bytes::from_static(b"committed, never linked"),
    )]));
    f.registry.blobs.append_upload(&id, 0, body).await.unwrap();
    f.registry.blobs.commit_upload(&id, &stray).await.unwrap();
    let kept = f
        .collect(GcOptions {
            grace: Duration::from_secs(3600),
            ..GcOptions::default()
        })
        .await;
    assert_eq!(kept.blobs_deleted, 0, "young files stay");
    let dry = f
        .collect(GcOptions {
            dry_run: true,
            ..now(Untagged::Keep, OrphanedReferrers::Delete)
        })
        .await;
    let report = f
        .collect(now(Untagged::Keep, OrphanedReferrers::Delete))
        .await;
    assert_eq!(report.blobs, vec![stray.to_string()]);
    assert_eq!(dry.blobs, report.blobs);
    assert!(f.registry.blobs.stat(&stray).await.is_err());
    assert_eq!(f.registry.blob_size(&f.repo, &f.config).await.unwrap(), 2);
    assert!(f.exists(&image).await);
}

#[tokio::test]
async fn pushing_a_blob_again_restarts_its_grace_period() {
    let f = fixture().await;
    let blob = push_blob(&f.registry, &f.repo, b"pushed twice").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    push_blob(&f.registry, &f.repo, b"pushed twice").await;
    let options = GcOptions {
        grace: Duration::from_millis(200),
        ..GcOptions::default()
    };
    let report = f.collect(options).await;
    assert_eq!(
        report.links_removed, 1,
        "only the fixture's unused config link is old enough"
    );
    assert_eq!(f.registry.blob_size(&f.repo, &blob).await.unwrap(), 12);
}
