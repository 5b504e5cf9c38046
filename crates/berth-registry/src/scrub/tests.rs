//! Scrub service tests on both deployments: damage is made through the blob store's own
//! trait (bytes deleted, or other bytes committed under a digest), as a failing disk or an
//! operator's mistake would leave it.

use std::num::NonZeroU32;

use berth_metadata::NewManifest;
use berth_oci::Digest;
use bytes::Bytes;

use super::*;
use crate::test_backends::Place;
use crate::tests::{fixture, image_manifest, push_blob, repo, tag_target, Fixture};
use crate::MountOutcome;

/// Replaces the bytes stored under `digest` with `bytes`, behind the blob store's back (it
/// verifies what it commits): the file, or the object in the bucket.
pub(super) async fn corrupt(f: &Fixture, digest: &Digest, bytes: &[u8]) {
    let hex = digest.hex();
    match &f.place {
        Place::Dir(dir) => {
            let file = dir
                .path()
                .join("blobs/blobs/sha256")
                .join(&hex[..2])
                .join(hex);
            assert!(file.is_file(), "{file:?}");
            std::fs::write(file, bytes).unwrap();
        }
        Place::Shared { prefix, .. } => {
            use object_store::ObjectStoreExt;
            let var =
                |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
            let s3 = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name(var("BERTH_TEST_S3_BUCKET"))
                .with_region(var("BERTH_TEST_S3_REGION"))
                .with_endpoint(var("BERTH_TEST_S3_ENDPOINT"))
                .with_allow_http(true)
                .with_virtual_hosted_style_request(false)
                .with_access_key_id(var("AWS_ACCESS_KEY_ID"))
                .with_secret_access_key(var("AWS_SECRET_ACCESS_KEY"))
                .build()
                .unwrap();
            let key = object_store::path::Path::from(format!("{prefix}/blobs/sha256/{hex}"));
            s3.head(&key).await.expect("the blob's object exists");
            s3.put(&key, bytes.to_vec().into()).await.unwrap();
        }
    }
}

async fn push_image(
    registry: &Registry,
    r: &berth_oci::RepoName,
    tag: &str,
    blobs: &[&Digest],
) -> Digest {
    let manifest = image_manifest(blobs[0], &blobs[1..]);
    registry
        .put_manifest(
            r,
            tag_target(tag),
            Some("application/vnd.oci.image.manifest.v1+json"),
            manifest,
        )
        .await
        .unwrap()
        .digest
}

fn index_of(children: &[&Digest]) -> Bytes {
    let manifests: Vec<_> = children
        .iter()
        .map(|d| serde_json::json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d.as_str(), "size": 1}))
        .collect();
    Bytes::from(
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        }))
        .unwrap(),
    )
}

fn referrer_of(subject: &Digest, config: &Digest) -> Bytes {
    Bytes::from(serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config.as_str(), "size": 1},
        "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.as_str(), "size": 1},
    })).unwrap())
}

async fn scrub_finds_damage_and_a_repair_stops_serving_it_until_pushed_again() {
    let f = fixture().await;
    let (r, other) = (repo("scrub/app"), repo("scrub/other"));
    let config = push_blob(&f.registry, &r, b"{\"config\":1}").await;
    let good = push_blob(&f.registry, &r, b"healthy layer").await;
    let flipped = push_blob(&f.registry, &r, b"layer whose byte flips").await;
    let lost = push_blob(&f.registry, &r, b"layer whose bytes are lost").await;
    let v1 = push_image(&f.registry, &r, "v1", &[&config, &good, &flipped]).await;
    let v2 = push_image(&f.registry, &r, "v2", &[&config, &lost]).await;
    let ok = push_image(&f.registry, &r, "ok", &[&config, &good]).await;
    let index = f
        .registry
        .put_manifest(
            &r,
            tag_target("multi"),
            Some("application/vnd.oci.image.index.v1+json"),
            index_of(&[&v1, &ok]),
        )
        .await
        .unwrap()
        .digest;
    let signature = f
        .registry
        .put_manifest(&r, tag_target("sig"), None, referrer_of(&v2, &config))
        .await
        .unwrap()
        .digest;
    let absent = Digest::sha256_of(b"a subject never pushed");
    let orphan = f
        .registry
        .put_manifest(
            &r,
            tag_target("orphan"),
            None,
            referrer_of(&absent, &config),
        )
        .await
        .unwrap()
        .digest;

    let clean = f.registry.scrub(&ScrubOptions::default()).await.unwrap();
    assert!(clean.is_clean(), "{clean:?}");
    assert_eq!((clean.blobs_checked, clean.manifests_checked), (4, 6));

    corrupt(&f, &flipped, b"layer whose byte flipS").await;
    f.registry.blobs.delete(&lost).await.unwrap();
    let report = f.registry.scrub(&ScrubOptions::default()).await.unwrap();
    assert!(report.complete);
    let mut expected_blobs = vec![
        BlobFinding {
            digest: flipped.to_string(),
            size: 22,
            problem: BlobProblem::Corrupt {
                actual_digest: Digest::sha256_of(b"layer whose byte flipS").to_string(),
                actual_size: 22,
            },
            quarantined: false,
            bytes_deleted: false,
        },
        BlobFinding {
            digest: lost.to_string(),
            size: 26,
            problem: BlobProblem::Missing,
            quarantined: false,
            bytes_deleted: false,
        },
    ];
    expected_blobs.sort_by(|a, b| a.digest.cmp(&b.digest));
    assert_eq!(report.blobs, expected_blobs);
    let mut damaged: Vec<(String, ManifestProblem)> = report
        .manifests
        .iter()
        .map(|m| (m.digest.clone(), m.problem.clone()))
        .collect();
    damaged.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![
        (
            v1.to_string(),
            ManifestProblem::BlobDamaged {
                blob: flipped.to_string(),
            },
        ),
        (
            v2.to_string(),
            ManifestProblem::BlobDamaged {
                blob: lost.to_string(),
            },
        ),
    ];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(damaged, expected);
    assert_eq!(report.affected.len(), 1);
    let affected = &report.affected[0];
    assert_eq!(affected.repository, "scrub/app");
    let mut manifests = vec![v1.to_string(), v2.to_string(), index.to_string()];
    manifests.sort();
    assert_eq!(
        affected.manifests, manifests,
        "the index over v1 is damaged too"
    );
    assert_eq!(affected.tags, ["multi", "v1", "v2"]);
    assert_eq!(affected.referrers, [signature.to_string()]);
    assert_eq!(
        report.orphaned_referrers,
        [OrphanedReferrer {
            repository: "scrub/app".into(),
            referrer: orphan.to_string(),
            subject: absent.to_string(),
        }]
    );
    // Only reporting changes nothing: the corrupt bytes are still served.
    assert_eq!(f.registry.blob_size(&r, &flipped).await.unwrap(), 22);

    let repaired = f
        .registry
        .scrub(&ScrubOptions {
            repair: true,
            ..ScrubOptions::default()
        })
        .await
        .unwrap();
    assert!(repaired.blobs.iter().all(|b| b.quarantined));
    let deleted: Vec<bool> = repaired.blobs.iter().map(|b| b.bytes_deleted).collect();
    assert_eq!(
        deleted.iter().filter(|d| **d).count(),
        1,
        "only corrupt bytes are deleted"
    );
    for blob in [&flipped, &lost] {
        assert!(matches!(
            f.registry.blob_size(&r, blob).await,
            Err(RegistryError::BlobUnknown(_))
        ));
        assert!(matches!(
            f.registry.read_blob(&r, blob, None).await,
            Err(RegistryError::BlobUnknown(_))
        ));
        assert!(matches!(
            f.registry.mount_blob(&other, blob, Some(&r)).await.unwrap(),
            MountOutcome::UploadStarted(_)
        ));
        assert!(matches!(
            f.registry.mount_blob(&other, blob, None).await.unwrap(),
            MountOutcome::UploadStarted(_)
        ));
    }
    assert_eq!(f.registry.blob_size(&r, &good).await.unwrap(), 13);
    assert!(matches!(
        f.registry.blobs.stat(&flipped).await,
        Err(berth_blobstore::BlobStoreError::BlobNotFound)
    ));

    // Pushing the right bytes again repairs the blob, in whichever repository.
    push_blob(&f.registry, &other, b"layer whose byte flips").await;
    assert_eq!(f.registry.blob_size(&r, &flipped).await.unwrap(), 22);
    let read = f.registry.read_blob(&r, &flipped, None).await.unwrap();
    let bytes: Vec<u8> =
        futures::TryStreamExt::try_concat(futures::TryStreamExt::map_ok(read.body, |b| b.to_vec()))
            .await
            .unwrap();
    assert_eq!(bytes, b"layer whose byte flips");
    let after = f.registry.scrub(&ScrubOptions::default()).await.unwrap();
    assert_eq!(after.blobs.len(), 1);
    assert_eq!(after.blobs[0].digest, lost.to_string());
    assert_eq!(after.affected[0].tags, ["v2"]);
}

async fn stored_manifests_are_hashed_and_parsed() {
    let f = fixture().await;
    let r = repo("scrub/manifests");
    let config = push_blob(&f.registry, &r, b"{}").await;
    let body = Bytes::from_static(b"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:0000000000000000000000000000000000000000000000000000000000000000\",\"size\":1},\"layers\":[]}");
    let not_json = Bytes::from_static(b"not a manifest");
    let row = |digest: Digest, body: Bytes| NewManifest {
        digest,
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        body,
        artifact_type: None,
        subject: None,
        annotations_json: None,
        blobs: vec![config.clone()],
        children: vec![],
        subject_must_exist: false,
        created_at: None,
    };
    let misnamed = Digest::sha256_of(b"some other body");
    let t = |name: &str| -> berth_oci::Tag { name.parse().unwrap() };
    f.registry
        .meta
        .put_manifest(
            &r,
            &row(misnamed.clone(), body.clone()),
            &[t("misnamed")],
            None,
        )
        .await
        .unwrap();
    let unparseable = Digest::sha256_of(&not_json);
    f.registry
        .meta
        .put_manifest(
            &r,
            &row(unparseable.clone(), not_json),
            &[t("garbage")],
            None,
        )
        .await
        .unwrap();
    let unlinked = Digest::sha256_of(&body);
    f.registry
        .meta
        .put_manifest(
            &r,
            &row(unlinked.clone(), body.clone()),
            &[t("unlinked")],
            None,
        )
        .await
        .unwrap();

    let report = f.registry.scrub(&ScrubOptions::default()).await.unwrap();
    assert!(report.blobs.is_empty());
    let problem = |d: &Digest| {
        report
            .manifests
            .iter()
            .find(|m| m.digest == d.to_string())
            .map(|m| m.problem.clone())
    };
    assert_eq!(
        problem(&misnamed),
        Some(ManifestProblem::DigestMismatch {
            actual: unlinked.to_string()
        })
    );
    assert!(matches!(
        problem(&unparseable),
        Some(ManifestProblem::Unparseable { .. })
    ));
    assert_eq!(
        problem(&unlinked),
        Some(ManifestProblem::BlobNotLinked {
            blob: "sha256:0000000000000000000000000000000000000000000000000000000000000000".into()
        })
    );
    assert_eq!(report.affected[0].tags, ["garbage", "misnamed", "unlinked"]);
}

async fn an_interrupted_scrub_continues_where_it_stopped() {
    let f = fixture().await;
    let r = repo("scrub/resume");
    let mut digests = Vec::new();
    for i in 0..5u8 {
        digests.push(push_blob(&f.registry, &r, format!("blob number {i}").as_bytes()).await);
    }
    digests.sort();
    corrupt(&f, &digests[0], b"garbage").await;
    let limited = |max| ScrubOptions {
        max_blobs: Some(max),
        ..ScrubOptions::default()
    };

    let first = f.registry.scrub(&limited(2)).await.unwrap();
    assert!(!first.complete);
    assert_eq!((first.blobs_checked, first.manifests_checked), (2, 0));
    assert_eq!(first.resumed_after, None);
    assert_eq!(first.blobs.len(), 1);

    // A restart (another registry on the same stores) continues from the saved progress.
    let reopened = f.reopen().await;
    let second = reopened.scrub(&ScrubOptions::default()).await.unwrap();
    assert!(second.complete);
    assert_eq!(second.resumed_after, Some(digests[1].to_string()));
    assert_eq!(second.blobs_checked, 5, "counts carry over");
    assert_eq!(
        second.blobs.len(),
        1,
        "the first run's finding is kept, once"
    );
    assert_eq!(second.blobs[0].digest, digests[0].to_string());

    // A complete run leaves no progress: the next starts from the beginning.
    let third = reopened.scrub(&limited(3)).await.unwrap();
    assert_eq!((third.resumed_after, third.blobs_checked), (None, 3));
    let restarted = reopened
        .scrub(&ScrubOptions {
            restart: true,
            max_blobs: Some(1),
            ..ScrubOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (restarted.resumed_after, restarted.blobs_checked),
        (None, 1)
    );
    // A repairing run that continues a reporting one quarantines what that one found.
    let repaired = reopened
        .scrub(&ScrubOptions {
            repair: true,
            ..ScrubOptions::default()
        })
        .await
        .unwrap();
    assert!(repaired.complete);
    assert_eq!(repaired.resumed_after, Some(digests[0].to_string()));
    assert!(repaired.blobs[0].quarantined && repaired.blobs[0].bytes_deleted);
    assert_eq!(reopened.meta.quarantined_blobs().await.unwrap().len(), 1);
}

async fn a_throttled_scrub_reads_every_byte() {
    let f = fixture().await;
    let r = repo("scrub/throttled");
    let sizes = [10usize, 200_000, 300_000];
    for (i, size) in sizes.iter().enumerate() {
        push_blob(&f.registry, &r, &vec![i as u8; *size]).await;
    }
    let report = f
        .registry
        .scrub(&ScrubOptions {
            rate_mib_per_second: NonZeroU32::new(1),
            ..ScrubOptions::default()
        })
        .await
        .unwrap();
    assert!(report.is_clean());
    assert_eq!(report.bytes_checked, sizes.iter().sum::<usize>() as u64);
}

crate::test_backends::on_both_backends!(
    scrub_finds_damage_and_a_repair_stops_serving_it_until_pushed_again,
    stored_manifests_are_hashed_and_parsed,
    an_interrupted_scrub_continues_where_it_stopped,
    a_throttled_scrub_reads_every_byte,
);
