//! Repairs of findings a scrub saved earlier, on both deployments: each is judged again under
//! the blob's lock before anything is quarantined or deleted.

use bytes::Bytes;

use super::tests::corrupt;
use super::*;
use crate::tests::{fixture, push_blob, repo};
use berth_oci::Digest;

/// Findings a reporting run saved may be stale by the time a repairing run continues it: the
/// corrupt blob was collected and pushed again, the missing one pushed again. The repair
/// judges each again under the blob's lock and leaves sound bytes alone.
async fn a_repair_drops_saved_findings_whose_blobs_were_pushed_again() {
    let f = fixture().await;
    let r = repo("scrub/stale");
    let contents: Vec<Vec<u8>> = (0..3u8)
        .map(|i| format!("stale finding {i}").into_bytes())
        .collect();
    let mut blobs = Vec::new();
    for bytes in &contents {
        blobs.push((push_blob(&f.registry, &r, bytes).await, bytes.clone()));
    }
    blobs.sort();
    let (rotten, rotten_bytes) = blobs[0].clone();
    let (lost, lost_bytes) = blobs[1].clone();
    corrupt(&f, &rotten, b"rotten bytes").await;
    f.registry.blobs.delete(&lost).await.unwrap();
    let reported = f
        .registry
        .scrub(&ScrubOptions {
            max_blobs: Some(2),
            ..ScrubOptions::default()
        })
        .await
        .unwrap();
    assert!(!reported.complete);
    assert_eq!(reported.blobs.len(), 2, "{reported:?}");

    // The rotten blob is collected and pushed again; the lost one is pushed again.
    f.registry.delete_blob(&r, &rotten).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let collected = f
        .registry
        .gc(&crate::gc::GcOptions {
            grace: std::time::Duration::ZERO,
            ..crate::gc::GcOptions::default()
        })
        .await
        .unwrap();
    assert!(
        collected.blobs.contains(&rotten.to_string()),
        "{collected:?}"
    );
    push_blob(&f.registry, &r, &rotten_bytes).await;
    push_blob(&f.registry, &r, &lost_bytes).await;

    let repaired = f
        .reopen()
        .await
        .scrub(&ScrubOptions {
            repair: true,
            ..ScrubOptions::default()
        })
        .await
        .unwrap();
    assert!(repaired.complete);
    assert!(repaired.blobs.is_empty(), "{repaired:?}");
    assert!(f
        .registry
        .meta
        .quarantined_blobs()
        .await
        .unwrap()
        .is_empty());
    for (digest, bytes) in [(&rotten, &rotten_bytes), (&lost, &lost_bytes)] {
        let read = f.registry.read_blob(&r, digest, None).await.unwrap();
        let chunks: Vec<Bytes> = futures::TryStreamExt::try_collect(read.body).await.unwrap();
        assert_eq!(chunks.concat(), *bytes);
    }
}

/// A finding a repair confirms under the lock is still quarantined.
async fn a_repair_quarantines_a_saved_finding_that_still_holds() {
    let f = fixture().await;
    let r = repo("scrub/still");
    let mut digests = Vec::new();
    for i in 0..2u8 {
        digests.push(push_blob(&f.registry, &r, format!("still damaged {i}").as_bytes()).await);
    }
    digests.sort();
    corrupt(&f, &digests[0], b"first rot").await;
    let reported = f
        .registry
        .scrub(&ScrubOptions {
            max_blobs: Some(1),
            ..ScrubOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(reported.blobs.len(), 1);
    // Damaged differently since: the repair reports what it found itself.
    corrupt(&f, &digests[0], b"second, longer rot").await;
    let repaired = f
        .registry
        .scrub(&ScrubOptions {
            repair: true,
            ..ScrubOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(repaired.blobs.len(), 1, "{repaired:?}");
    let finding = &repaired.blobs[0];
    assert!(finding.quarantined && finding.bytes_deleted, "{finding:?}");
    assert_eq!(
        finding.problem,
        BlobProblem::Corrupt {
            actual_digest: Digest::sha256_of(b"second, longer rot").to_string(),
            actual_size: 18,
        }
    );
}

crate::test_backends::on_both_backends!(
    a_repair_drops_saved_findings_whose_blobs_were_pushed_again,
    a_repair_quarantines_a_saved_finding_that_still_holds,
);
