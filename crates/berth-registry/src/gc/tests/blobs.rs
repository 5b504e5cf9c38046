//! Blob links, blobs and blob files nothing references, and their grace period.

use super::*;

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
    f.delete(&f.repo, &gone).await;
    let (dry, report) = f
        .dry_then_real(now(Untagged::Keep, OrphanedReferrers::Delete))
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

async fn blob_files_metadata_never_recorded_are_collected() {
    let f = fixture().await;
    let image = f.image("v1", "image").await;
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
    let (dry, report) = f
        .dry_then_real(now(Untagged::Keep, OrphanedReferrers::Delete))
        .await;
    assert_eq!(report.blobs, vec![stray.to_string()]);
    assert_eq!(dry.blobs, report.blobs);
    assert!(f.registry.blobs.stat(&stray).await.is_err());
    assert_eq!(f.registry.blob_size(&f.repo, &f.config).await.unwrap(), 2);
    assert!(f.exists(&image).await);
}

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

crate::test_backends::on_both_backends!(
    blobs_no_manifest_uses_are_collected_and_used_ones_stay,
    blob_files_metadata_never_recorded_are_collected,
    pushing_a_blob_again_restarts_its_grace_period,
);
