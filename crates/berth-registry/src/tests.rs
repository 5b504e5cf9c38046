//! Service tests of the registry domain on the embedded backends in a temporary directory.

use berth_blobstore::{ByteRange, ByteStream};
use berth_oci::{Algorithm, Digest, Reference, RepoName};
use bytes::Bytes;
use futures::TryStreamExt;

use super::*;
use crate::test_backends::Place;

pub(crate) struct Fixture {
    pub(crate) place: Place,
    pub(crate) registry: Registry,
}

impl Fixture {
    /// A registry on the same stores, as after a restart (or on another node).
    pub(crate) async fn reopen(&self) -> Registry {
        registry_at(&self.place, RegistryConfig::default()).await
    }
}

async fn registry_at(place: &Place, config: RegistryConfig) -> Registry {
    let (blobs, meta) = place.open().await;
    Registry::new(blobs, meta, config)
}

/// A registry on fresh stores of the running test's backend.
pub(crate) async fn fixture() -> Fixture {
    let place = Place::new().await;
    let registry = registry_at(&place, RegistryConfig::default()).await;
    Fixture { place, registry }
}

pub(crate) fn repo(name: &str) -> RepoName {
    name.parse().unwrap()
}

pub(crate) fn body(bytes: &[u8]) -> ByteStream {
    let owned = Bytes::copy_from_slice(bytes);
    Box::pin(futures::stream::iter([Ok(owned)]))
}

pub(crate) async fn read_all(registry: &Registry, r: &RepoName, d: &Digest) -> Vec<u8> {
    let read = registry.read_blob(r, d, None).await.unwrap();
    read.body.map_ok(|b| b.to_vec()).try_concat().await.unwrap()
}

pub(crate) async fn push_blob(registry: &Registry, r: &RepoName, bytes: &[u8]) -> Digest {
    let digest = Digest::sha256_of(bytes);
    registry
        .upload_monolithic(r, &digest, Some(bytes.len() as u64), body(bytes))
        .await
        .unwrap();
    digest
}

pub(crate) fn image_manifest(config: &Digest, layers: &[&Digest]) -> Bytes {
    let layers: Vec<_> = layers
        .iter()
        .map(|d| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.as_str(), "size": 1}))
        .collect();
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.as_str(), "size": 1},
        "layers": layers,
    });
    Bytes::from(serde_json::to_vec(&m).unwrap())
}

pub(crate) fn tag_target(tag: &str) -> ManifestTarget {
    ManifestTarget {
        reference: Reference::Tag(tag.parse().unwrap()),
        extra_tags: vec![],
        precondition: None,
    }
}

async fn chunked_upload_is_verified_and_readable() {
    let f = fixture().await;
    let r = repo("app");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let digest = Digest::sha256_of(&data);
    let status = f.registry.start_upload(&r).await.unwrap();
    let first = ChunkBounds {
        start: Some(0),
        len: Some(100_000),
    };
    let after = f
        .registry
        .append_chunk(&r, &status.id, first, body(&data[..100_000]))
        .await
        .unwrap();
    assert_eq!(after.len, 100_000);
    let out_of_order = ChunkBounds {
        start: Some(5),
        len: None,
    };
    let err = f
        .registry
        .append_chunk(&r, &status.id, out_of_order, body(b"x"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RegistryError::ChunkOutOfOrder { current: 100_000 }
    ));
    assert!(matches!(
        f.registry.blob_size(&r, &digest).await,
        Err(RegistryError::BlobUnknown(_))
    ));
    let size = f
        .registry
        .finish_upload(
            &r,
            &status.id,
            &digest,
            ChunkBounds::default(),
            Some(body(&data[100_000..])),
        )
        .await
        .unwrap();
    assert_eq!(size, 200_000);
    assert_eq!(read_all(&f.registry, &r, &digest).await, data);
    assert!(matches!(
        f.registry.upload_status(&r, &status.id).await,
        Err(RegistryError::UploadUnknown)
    ));
}

async fn mismatched_digest_never_becomes_readable() {
    let f = fixture().await;
    let r = repo("app");
    let claimed = Digest::sha256_of(b"what the client claims");
    let err = f
        .registry
        .upload_monolithic(&r, &claimed, None, body(b"other bytes"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }));
    assert!(matches!(
        f.registry.blob_size(&r, &claimed).await,
        Err(RegistryError::BlobUnknown(_))
    ));
    let actual = Digest::sha256_of(b"other bytes");
    assert!(matches!(
        f.registry.blob_size(&r, &actual).await,
        Err(RegistryError::BlobUnknown(_))
    ));
    let staged = f.registry.blobs.list_uploads().await.unwrap();
    assert_eq!(staged, vec![], "the failed upload's bytes are discarded");
}

async fn declared_lengths_must_match_the_body() {
    let f = fixture().await;
    let r = repo("app");
    let status = f.registry.start_upload(&r).await.unwrap();
    let short = ChunkBounds {
        start: Some(0),
        len: Some(10),
    };
    let err = f
        .registry
        .append_chunk(&r, &status.id, short, body(b"abc"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::SizeInvalid(_)));
    let long = ChunkBounds {
        start: Some(3),
        len: Some(2),
    };
    let err = f
        .registry
        .append_chunk(&r, &status.id, long, body(b"defgh"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::UploadInvalid(_)));
}

async fn uploads_resume_after_a_restart_and_support_sha512() {
    let f = fixture().await;
    let r = repo("resume");
    let status = f.registry.start_upload(&r).await.unwrap();
    f.registry
        .append_chunk(
            &r,
            &status.id,
            ChunkBounds::default(),
            body(b"first half, "),
        )
        .await
        .unwrap();
    let restarted = f.reopen().await;
    let now = restarted.upload_status(&r, &status.id).await.unwrap();
    assert_eq!(now.len, 12);
    restarted
        .append_chunk(
            &r,
            &status.id,
            ChunkBounds {
                start: Some(12),
                len: None,
            },
            body(b"second half"),
        )
        .await
        .unwrap();
    let digest = Digest::of(Algorithm::Sha512, b"first half, second half");
    restarted
        .finish_upload(&r, &status.id, &digest, ChunkBounds::default(), None)
        .await
        .unwrap();
    assert_eq!(
        read_all(&restarted, &r, &digest).await,
        b"first half, second half"
    );
}

async fn uploads_belong_to_their_repository() {
    let f = fixture().await;
    let status = f.registry.start_upload(&repo("a")).await.unwrap();
    let err = f
        .registry
        .upload_status(&repo("b"), &status.id)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::UploadUnknown));
    f.registry
        .cancel_upload(&repo("a"), &status.id)
        .await
        .unwrap();
    assert!(matches!(
        f.registry.upload_status(&repo("a"), &status.id).await,
        Err(RegistryError::UploadUnknown)
    ));
}

async fn blobs_are_readable_only_where_linked_and_mountable() {
    let f = fixture().await;
    let (a, b, c) = (repo("a"), repo("b"), repo("c"));
    let digest = push_blob(&f.registry, &a, b"shared layer").await;
    assert!(matches!(
        f.registry.blob_size(&b, &digest).await,
        Err(RegistryError::BlobUnknown(_))
    ));
    assert_eq!(
        f.registry.mount_blob(&b, &digest, Some(&a)).await.unwrap(),
        MountOutcome::Mounted
    );
    assert_eq!(read_all(&f.registry, &b, &digest).await, b"shared layer");
    assert_eq!(
        f.registry.mount_blob(&c, &digest, None).await.unwrap(),
        MountOutcome::Mounted
    );
    let unknown = Digest::sha256_of(b"nowhere");
    assert!(matches!(
        f.registry.mount_blob(&c, &unknown, Some(&a)).await.unwrap(),
        MountOutcome::UploadStarted(_)
    ));
    f.registry.delete_blob(&a, &digest).await.unwrap();
    assert!(matches!(
        f.registry.blob_size(&a, &digest).await,
        Err(RegistryError::BlobUnknown(_))
    ));
    assert_eq!(read_all(&f.registry, &b, &digest).await, b"shared layer");
}

async fn ranges_are_resolved_against_the_blob() {
    let f = fixture().await;
    let r = repo("ranges");
    let digest = push_blob(&f.registry, &r, b"0123456789").await;
    let read = f
        .registry
        .read_blob(&r, &digest, Some(ByteRange { start: 2, end: 5 }))
        .await
        .unwrap();
    assert_eq!(read.size, 10);
    let bytes: Vec<u8> = read.body.map_ok(|b| b.to_vec()).try_concat().await.unwrap();
    assert_eq!(bytes, b"234");
    let err = f
        .registry
        .read_blob(&r, &digest, Some(ByteRange { start: 10, end: 11 }))
        .await
        .err()
        .unwrap();
    assert!(matches!(
        err,
        RegistryError::RangeNotSatisfiable { size: 10 }
    ));
}

async fn manifests_need_their_blobs_and_are_stored_byte_exact() {
    let f = fixture().await;
    let r = repo("images/app");
    let config = push_blob(&f.registry, &r, b"{}").await;
    let layer = Digest::sha256_of(b"missing layer");
    let body = image_manifest(&config, &[&layer]);
    let err = f
        .registry
        .put_manifest(&r, tag_target("v1"), None, body)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::ManifestBlobUnknown(d) if d == layer));
    let layer = push_blob(&f.registry, &r, b"layer bytes").await;
    let body = image_manifest(&config, &[&layer]);
    let pushed = f
        .registry
        .put_manifest(&r, tag_target("v1"), None, body.clone())
        .await
        .unwrap();
    assert_eq!(pushed.digest, Digest::sha256_of(&body));
    let by_tag = f
        .registry
        .get_manifest(&r, &Reference::Tag("v1".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(by_tag.body, body);
    assert_eq!(
        by_tag.media_type,
        "application/vnd.oci.image.manifest.v1+json"
    );
}

async fn manifest_digest_references_must_match_the_body() {
    let f = fixture().await;
    let r = repo("app");
    let config = push_blob(&f.registry, &r, b"{}").await;
    let body = image_manifest(&config, &[]);
    let wrong = ManifestTarget {
        reference: Reference::Digest(Digest::sha256_of(b"other")),
        extra_tags: vec![],
        precondition: None,
    };
    let err = f
        .registry
        .put_manifest(&r, wrong, None, body.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::DigestMismatch { .. }));
    let sha512 = Digest::of(Algorithm::Sha512, &body);
    let by_digest = ManifestTarget {
        reference: Reference::Digest(sha512.clone()),
        extra_tags: vec!["a".parse().unwrap(), "b".parse().unwrap()],
        precondition: None,
    };
    let pushed = f
        .registry
        .put_manifest(&r, by_digest, None, body)
        .await
        .unwrap();
    assert_eq!(pushed.digest, sha512);
    assert_eq!(pushed.tags.len(), 2);
    let page = f.registry.list_tags(&r, None, None).await.unwrap();
    assert_eq!(page.items, ["a", "b"]);
}

async fn oversized_and_schema1_manifests_are_refused() {
    let f = fixture().await;
    let r = repo("app");
    let huge = Bytes::from(vec![b' '; 4 * 1024 * 1024 + 1]);
    let err = f
        .registry
        .put_manifest(&r, tag_target("big"), None, huge)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::ManifestTooLarge { .. }));
    let schema1 =
        Bytes::from_static(br#"{"schemaVersion":1,"name":"app","tag":"v1","fsLayers":[]}"#);
    let err = f
        .registry
        .put_manifest(&r, tag_target("old"), None, schema1)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        RegistryError::Oci(berth_oci::OciError::ManifestUnsupported(_))
    ));
}

async fn index_children_must_exist_and_deletes_follow_the_spec() {
    let f = fixture().await;
    let r = repo("multi");
    let config = push_blob(&f.registry, &r, b"{}").await;
    let child = image_manifest(&config, &[]);
    let child_digest = Digest::sha256_of(&child);
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": child_digest.as_str(), "size": child.len()}],
    });
    let index = Bytes::from(serde_json::to_vec(&index).unwrap());
    let err = f
        .registry
        .put_manifest(&r, tag_target("latest"), None, index.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::ManifestBlobUnknown(_)));
    let child_target = ManifestTarget {
        reference: Reference::Digest(child_digest.clone()),
        extra_tags: vec![],
        precondition: None,
    };
    f.registry
        .put_manifest(&r, child_target, None, child)
        .await
        .unwrap();
    f.registry
        .put_manifest(&r, tag_target("latest"), None, index)
        .await
        .unwrap();
    let latest = Reference::Tag("latest".parse().unwrap());
    f.registry.delete_manifest(&r, &latest, None).await.unwrap();
    assert!(matches!(
        f.registry.get_manifest(&r, &latest).await,
        Err(RegistryError::ManifestUnknown(_))
    ));
    let by_digest = Reference::Digest(child_digest);
    f.registry
        .delete_manifest(&r, &by_digest, None)
        .await
        .unwrap();
    assert!(matches!(
        f.registry.delete_manifest(&r, &by_digest, None).await,
        Err(RegistryError::ManifestUnknown(_))
    ));
    let missing = repo("never/pushed");
    assert!(matches!(
        f.registry.get_manifest(&missing, &latest).await,
        Err(RegistryError::NameUnknown(_))
    ));
    assert!(matches!(
        f.registry.list_tags(&missing, None, None).await,
        Err(RegistryError::NameUnknown(_))
    ));
}

async fn tags_and_catalog_paginate() {
    let f = fixture().await;
    let r = repo("paged");
    let config = push_blob(&f.registry, &r, b"{}").await;
    let body = image_manifest(&config, &[]);
    let tags: Vec<_> = (0..25)
        .map(|i| format!("t{i:02}").parse().unwrap())
        .collect();
    let target = ManifestTarget {
        reference: Reference::Digest(Digest::sha256_of(&body)),
        extra_tags: tags,
        precondition: None,
    };
    f.registry
        .put_manifest(&r, target, None, body)
        .await
        .unwrap();
    let first = f.registry.list_tags(&r, Some(10), None).await.unwrap();
    assert_eq!(first.items.len(), 10);
    assert_eq!(first.next.as_deref(), Some("t09"));
    let last = f
        .registry
        .list_tags(&r, Some(10), Some("t19"))
        .await
        .unwrap();
    assert_eq!(last.items, ["t20", "t21", "t22", "t23", "t24"]);
    assert_eq!(last.next, None);
    assert!(f
        .registry
        .list_tags(&r, Some(0), None)
        .await
        .unwrap()
        .items
        .is_empty());
    for name in ["b", "a/x", "c"] {
        push_blob(&f.registry, &repo(name), b"x").await;
    }
    let listed = f.registry.catalog(None, None).await.unwrap();
    assert_eq!(
        listed.items,
        ["paged"],
        "blobs alone do not make a repository"
    );
    for name in ["b", "a/x", "c"] {
        let config = push_blob(&f.registry, &repo(name), b"{}").await;
        let body = image_manifest(&config, &[]);
        let target = ManifestTarget::new(Reference::Digest(Digest::sha256_of(&body)));
        f.registry
            .put_manifest(&repo(name), target, None, body)
            .await
            .unwrap();
    }
    let page = f.registry.catalog(Some(2), None).await.unwrap();
    assert_eq!(page.items, ["a/x", "b"]);
    let rest = f.registry.catalog(Some(2), Some("b")).await.unwrap();
    assert_eq!(rest.items, ["c", "paged"]);
}

async fn expired_and_orphaned_uploads_are_removed() {
    let f = fixture().await;
    let r = repo("expiry");
    let old = f.registry.start_upload(&r).await.unwrap();
    f.registry
        .append_chunk(&r, &old.id, ChunkBounds::default(), body(b"abandoned"))
        .await
        .unwrap();
    // A staged object whose session row is gone, as a crash can leave.
    let orphan: berth_oci::UploadId = "99999999-9999-4999-8999-999999999999".parse().unwrap();
    f.registry.blobs.create_upload(&orphan).await.unwrap();
    f.registry
        .blobs
        .append_upload(&orphan, 0, body(b"left by a crash"))
        .await
        .unwrap();
    assert_eq!(
        f.registry
            .expire_uploads(std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        1
    );
    assert!(!f
        .registry
        .blobs
        .list_uploads()
        .await
        .unwrap()
        .contains(&orphan));
    assert_eq!(
        f.registry.upload_status(&r, &old.id).await.unwrap().len,
        9,
        "young sessions stay"
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(
        f.registry
            .expire_uploads(std::time::Duration::ZERO)
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        f.registry.upload_status(&r, &old.id).await,
        Err(RegistryError::UploadUnknown)
    ));
}

async fn cached_reads_follow_every_tag_write() {
    let f = fixture().await;
    let r = repo("cached");
    let config = push_blob(&f.registry, &r, b"{}").await;
    let latest = Reference::Tag("latest".parse().unwrap());
    let first = image_manifest(&config, &[]);
    f.registry
        .put_manifest(&r, tag_target("latest"), None, first.clone())
        .await
        .unwrap();
    assert_eq!(
        f.registry.get_manifest(&r, &latest).await.unwrap().body,
        first
    );
    assert_eq!(
        f.registry.list_tags(&r, None, None).await.unwrap().items,
        ["latest"]
    );
    let layer = push_blob(&f.registry, &r, b"layer").await;
    let second = image_manifest(&config, &[&layer]);
    let retag = ManifestTarget {
        reference: Reference::Tag("latest".parse().unwrap()),
        extra_tags: vec!["v2".parse().unwrap()],
        precondition: None,
    };
    f.registry
        .put_manifest(&r, retag, None, second.clone())
        .await
        .unwrap();
    assert_eq!(
        f.registry.get_manifest(&r, &latest).await.unwrap().body,
        second,
        "a moved tag is served at once"
    );
    assert_eq!(
        f.registry.list_tags(&r, None, None).await.unwrap().items,
        ["latest", "v2"]
    );
    f.registry.delete_manifest(&r, &latest, None).await.unwrap();
    assert!(matches!(
        f.registry.get_manifest(&r, &latest).await,
        Err(RegistryError::ManifestUnknown(_))
    ));
    assert_eq!(
        f.registry.list_tags(&r, None, None).await.unwrap().items,
        ["v2"]
    );
    let by_digest = Reference::Digest(Digest::sha256_of(&second));
    f.registry
        .delete_manifest(&r, &by_digest, None)
        .await
        .unwrap();
    assert!(f
        .registry
        .list_tags(&r, None, None)
        .await
        .unwrap()
        .items
        .is_empty());
}

async fn referrer_pages_follow_the_configured_size() {
    let config = RegistryConfig {
        referrers_page_size: 2,
        ..RegistryConfig::default()
    };
    let place = Place::new().await;
    let registry = registry_at(&place, config).await;
    let r = repo("paged/referrers");
    let cfg = push_blob(&registry, &r, b"{}").await;
    let subject = Digest::sha256_of(b"subject");
    for i in 0..5 {
        let body = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cfg.as_str(), "size": 2},
            "layers": [], "annotations": {"n": i.to_string()},
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject.as_str(), "size": 1},
        });
        let body = Bytes::from(serde_json::to_vec(&body).unwrap());
        let target = ManifestTarget {
            reference: Reference::Digest(Digest::sha256_of(&body)),
            extra_tags: vec![],
            precondition: None,
        };
        registry.put_manifest(&r, target, None, body).await.unwrap();
    }
    let mut seen = 0;
    let mut after: Option<berth_metadata::ReferrerCursor> = None;
    loop {
        let page = registry
            .referrers(
                &r,
                &subject,
                &[],
                berth_metadata::ReferrerOrder::Digest,
                after.as_ref(),
                None,
            )
            .await
            .unwrap();
        assert!(
            page.referrers.len() <= 2,
            "the configured size caps every page"
        );
        seen += page.referrers.len();
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, 5);
    let asked = registry
        .referrers(
            &r,
            &subject,
            &[],
            berth_metadata::ReferrerOrder::Digest,
            None,
            Some(50),
        )
        .await
        .unwrap();
    assert_eq!(
        asked.referrers.len(),
        2,
        "n cannot exceed the configured size"
    );
}

async fn scheduled_collections_take_one_turn_per_interval() {
    let f = fixture().await;
    let other_node = f.reopen().await;
    let options = gc::GcOptions::default();
    let hour = std::time::Duration::from_secs(3600);
    let first = f.registry.gc_on_schedule(&options, hour).await.unwrap();
    assert!(first.is_some(), "the first turn runs");
    let second = other_node.gc_on_schedule(&options, hour).await.unwrap();
    match crate::test_backends::current() {
        crate::test_backends::Backend::Embedded => {
            assert!(
                second.is_some(),
                "one process: its own timer is the schedule"
            )
        }
        crate::test_backends::Backend::ScaleOut => {
            assert!(second.is_none(), "the other node took this interval's turn")
        }
    }
    // A collection asked for is not bound to the schedule.
    let asked = other_node.gc_unless_running(&options).await.unwrap();
    assert!(asked.is_some());
}

crate::test_backends::on_both_backends!(
    scheduled_collections_take_one_turn_per_interval,
    chunked_upload_is_verified_and_readable,
    mismatched_digest_never_becomes_readable,
    declared_lengths_must_match_the_body,
    uploads_resume_after_a_restart_and_support_sha512,
    uploads_belong_to_their_repository,
    blobs_are_readable_only_where_linked_and_mountable,
    ranges_are_resolved_against_the_blob,
    manifests_need_their_blobs_and_are_stored_byte_exact,
    manifest_digest_references_must_match_the_body,
    oversized_and_schema1_manifests_are_refused,
    index_children_must_exist_and_deletes_follow_the_spec,
    tags_and_catalog_paginate,
    expired_and_orphaned_uploads_are_removed,
    cached_reads_follow_every_tag_write,
    referrer_pages_follow_the_configured_size,
);
