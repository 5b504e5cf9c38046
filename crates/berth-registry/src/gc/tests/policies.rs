//! The untagged and orphaned referrer policies, their per-repository overrides, and grace.

use super::*;

async fn a_deleted_subject_takes_its_referrer_chain_with_it() {
    let f = fixture().await;
    let image = f.image("v1", "image").await;
    let sbom = f.referrer(&image, "sbom").await;
    let sig = f.referrer(&sbom, "sig").await;
    let other = f.image("v2", "other").await;
    let other_sig = f.referrer(&other, "other sig").await;
    let report = f
        .collect(now(Untagged::Keep, OrphanedReferrers::Delete))
        .await;
    assert_eq!(report.manifests_deleted, 0, "nothing is orphaned yet");
    f.delete(&f.repo, &image).await;
    let report = f
        .collect(now(Untagged::Keep, OrphanedReferrers::Delete))
        .await;
    assert_eq!(report.manifests_deleted, 2);
    assert!(!f.exists(&sbom).await && !f.exists(&sig).await);
    assert!(f.exists(&other).await && f.exists(&other_sig).await);
}

async fn orphaned_referrers_can_be_kept_for_audit() {
    let f = fixture().await;
    let image = f.image("v1", "image").await;
    let sig = f.referrer(&image, "sig").await;
    f.delete(&f.repo, &image).await;
    let report = f
        .collect(now(Untagged::Keep, OrphanedReferrers::Keep))
        .await;
    assert_eq!(report.manifests_deleted, 0);
    assert!(f.exists(&sig).await);
}

async fn orphaned_referrers_can_be_kept_for_a_delay_after_their_subject_goes() {
    let delay = Duration::from_millis(300);
    let options = now(Untagged::Keep, OrphanedReferrers::After(delay));
    let f = fixture().await;
    let image = f.image("v1", "image").await;
    let sbom = f.referrer(&image, "sbom").await;
    let sig = f.referrer(&sbom, "sig").await;
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

async fn referrers_of_a_collected_subject_stay_when_the_policy_keeps_orphans() {
    let delay = Duration::from_millis(300);
    for policy in [OrphanedReferrers::Keep, OrphanedReferrers::After(delay)] {
        let f = fixture().await;
        let untagged = f.image("", "untagged").await;
        let sig = f.referrer(&untagged, "sig").await;
        let report = f.collect(now(Untagged::Delete, policy)).await;
        assert_eq!(
            report.manifests,
            vec![CollectedManifest::new(&f.repo, &untagged)]
        );
        assert!(f.exists(&sig).await, "{policy:?} keeps the signature");
        tokio::time::sleep(delay + Duration::from_millis(50)).await;
        let report = f.collect(now(Untagged::Delete, policy)).await;
        let expected = match policy {
            OrphanedReferrers::After(_) => vec![CollectedManifest::new(&f.repo, &sig)],
            _ => vec![],
        };
        assert_eq!(report.manifests, expected, "{policy:?}");
    }
}

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
    let mut expected = vec![
        CollectedManifest::new(&f.repo, app_sig),
        CollectedManifest::new(&ci, ci_untagged),
    ];
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

async fn untagged_manifests_go_unless_an_index_or_a_subject_keeps_them() {
    let f = fixture().await;
    let platform = f.image("", "platform").await;
    let index = f.put("multi", index(&[&platform])).await;
    let platform_sig = f.referrer(&platform, "platform sig").await;
    let loose = f.image("", "untagged").await;
    let loose_sig = f.referrer(&loose, "sig on untagged").await;
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
        .delete_manifest(&f.repo, &Reference::Tag("multi".parse().unwrap()), None)
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

async fn the_grace_period_protects_recent_pushes() {
    let f = fixture().await;
    let image = f.image("v1", "image").await;
    let sig = f.referrer(&image, "sig").await;
    f.delete(&f.repo, &image).await;
    let options = GcOptions {
        grace: Duration::from_secs(3600),
        ..GcOptions::default()
    };
    let report = f.collect(options).await;
    assert_eq!(report.manifests_deleted + report.blobs_deleted, 0);
    assert!(f.exists(&sig).await);
}

crate::test_backends::on_both_backends!(
    a_deleted_subject_takes_its_referrer_chain_with_it,
    orphaned_referrers_can_be_kept_for_audit,
    orphaned_referrers_can_be_kept_for_a_delay_after_their_subject_goes,
    referrers_of_a_collected_subject_stay_when_the_policy_keeps_orphans,
    repository_patterns_override_the_global_policies,
    untagged_manifests_go_unless_an_index_or_a_subject_keeps_them,
    the_grace_period_protects_recent_pushes,
);
