//! Dry runs by example: a dry run reports, count for count and item for item, what the real
//! run that follows it deletes.

use super::*;

async fn a_dry_run_reports_exactly_what_the_real_run_deletes() {
    let f = fixture().await;
    let other: RepoName = "gc/other".parse().unwrap();
    f.image("v2", "keeps the config").await;
    let layer = push_blob(&f.registry, &f.repo, b"layer only the subject uses").await;
    let subject = f
        .put("v1", manifest(&f.config, &[&layer], None, "subject"))
        .await;
    // The signature's config is linked (and used) in another repository too.
    let sig_config = push_blob(&f.registry, &f.repo, b"{\"signature\":true}").await;
    push_blob(&f.registry, &other, b"{\"signature\":true}").await;
    f.put_in(&other, "v1", manifest(&sig_config, &[], None, "other"))
        .await;
    let own = push_blob(&f.registry, &f.repo, b"the signature's own blob bytes").await;
    let signature = f
        .put("", manifest(&sig_config, &[&own], Some(&subject), "sig"))
        .await;
    let untagged = f.image("", "untagged").await;
    f.delete(&f.repo, &subject).await;

    let (dry, real) = f
        .dry_then_real(now(Untagged::Delete, OrphanedReferrers::Delete))
        .await;
    assert!(dry.dry_run && !real.dry_run);
    assert_eq!(comparable(&dry), comparable(&real));
    let mut manifests = vec![
        CollectedManifest::new(&f.repo, &signature),
        CollectedManifest::new(&f.repo, &untagged),
    ];
    manifests.sort();
    assert_eq!(real.manifests, manifests);
    let mut blobs = vec![layer.to_string(), own.to_string()];
    blobs.sort();
    assert_eq!(real.blobs, blobs);
    assert_eq!(real.bytes_freed, 27 + 30);
    assert_eq!(
        real.links_removed, 3,
        "the subject's layer, and the signature's blob and config in gc/app"
    );
    assert_eq!(
        f.registry.blob_size(&other, &sig_config).await.unwrap(),
        18,
        "gc/other still uses the signature's config"
    );
    assert!(!f.exists(&signature).await);
}

async fn a_dry_run_counts_the_uploads_the_real_run_expires() {
    // Sessions expire by the configured upload expiry, not the collection's grace period.
    let young = fixture().await;
    young.registry.start_upload(&young.repo).await.unwrap();
    let (dry, real) = young
        .dry_then_real(now(Untagged::Keep, OrphanedReferrers::Delete))
        .await;
    assert_eq!(
        (dry.uploads_expired, real.uploads_expired),
        (0, 0),
        "a collection never cuts short a session its client may resume"
    );
    let f = fixture_with(RegistryConfig {
        upload_expiry: Duration::ZERO,
        ..RegistryConfig::default()
    })
    .await;
    let abandoned = f.registry.start_upload(&f.repo).await.unwrap();
    // What a crash leaves: a staged object whose session row is gone.
    let staged = berth_oci::UploadId::new_random(uuid::Uuid::new_v4());
    f.registry.blobs.create_upload(&staged).await.unwrap();
    let (dry, real) = f
        .dry_then_real(now(Untagged::Keep, OrphanedReferrers::Delete))
        .await;
    assert_eq!(dry.uploads_expired, 2);
    assert_eq!(comparable(&dry), comparable(&real));
    assert!(matches!(
        f.registry.upload_status(&f.repo, &abandoned.id).await,
        Err(crate::RegistryError::UploadUnknown)
    ));
    let after = f
        .collect(GcOptions {
            dry_run: true,
            ..now(Untagged::Keep, OrphanedReferrers::Delete)
        })
        .await;
    assert_eq!(after.uploads_expired, 0, "nothing left to expire");
}

crate::test_backends::on_both_backends!(
    a_dry_run_reports_exactly_what_the_real_run_deletes,
    a_dry_run_counts_the_uploads_the_real_run_expires,
);
