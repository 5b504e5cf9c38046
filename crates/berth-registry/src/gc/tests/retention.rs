//! Retention rules: tag limits and superseded referrers.

use super::*;

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
    let signature = f.referrer(&image, "signature").await;
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

async fn retention_keeps_only_the_newest_referrers_of_each_type() {
    let f = fixture().await;
    let image = f.image("v1", "image").await;
    let mut scans = Vec::new();
    for i in 0..3 {
        scans.push(f.put("", scan(&f, &image, i)).await);
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let signature = f.referrer(&image, "signature").await;
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

async fn referrers_of_a_superseded_referrer_wait_their_delay_from_its_deletion() {
    let delay = Duration::from_millis(300);
    let f = fixture().await;
    let image = f.image("v1", "image").await;
    let old_scan = f.put("", scan(&f, &image, 0)).await;
    let sig_on_old = f.referrer(&old_scan, "signature of the old scan").await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    let new_scan = f.put("", scan(&f, &image, 1)).await;
    // Older than the delay: counted from its own push, it would go at once.
    tokio::time::sleep(delay + Duration::from_millis(100)).await;
    let options = GcOptions {
        retention: vec![RetentionRule {
            keep_newest_referrers: Some(1),
            ..rule_for("*")
        }],
        ..now(Untagged::Keep, OrphanedReferrers::After(delay))
    };
    let (dry, real) = f.dry_then_real(options.clone()).await;
    assert_eq!(comparable(&dry), comparable(&real));
    assert_eq!(
        real.manifests,
        vec![CollectedManifest::new(&f.repo, &old_scan)],
        "the signature is orphaned from the old scan's deletion on"
    );
    assert!(f.exists(&sig_on_old).await && f.exists(&new_scan).await);
    tokio::time::sleep(delay).await;
    let later = f.collect(options).await;
    assert_eq!(
        later.manifests,
        vec![CollectedManifest::new(&f.repo, &sig_on_old)]
    );
}

crate::test_backends::on_both_backends!(
    retention_expires_tags_and_what_only_they_kept,
    retention_keeps_only_the_newest_referrers_of_each_type,
    referrers_of_a_superseded_referrer_wait_their_delay_from_its_deletion,
);
