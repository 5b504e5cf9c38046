//! Scrub: checks that what metadata records is what storage holds. `Registry::scrub` is the
//! one entry point, used by the admin endpoint and `berth scrub`.
//!
//! It re-hashes every recorded blob from the blob store (streamed, throttled), then parses
//! every stored manifest, checks its digest and follows its edges, and reports what is damaged
//! and which manifests, tags and referrers that reaches. A repairing run quarantines damaged
//! blobs (metadata stops serving and mounting them) and deletes corrupt bytes, so that a
//! client pushing the right bytes again repairs the blob.
//!
//! Progress is saved in the metadata store (checkpoint `scrub`) as it goes: a run that stops
//! (its blob limit, a crash, a restart) is continued by the next one, on any node.

mod blobs;
mod graph;
mod report;
mod throttle;

pub use report::{
    AffectedRepository, BlobFinding, BlobProblem, ManifestFinding, ManifestProblem,
    OrphanedReferrer, ScrubReport,
};

use std::num::NonZeroU32;

use berth_metadata::LockName;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::error::{RegistryError, Result};
use crate::Registry;

/// The checkpoint name under which a scrub's progress is saved.
const CHECKPOINT: &str = "scrub";

/// How one scrub run goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubOptions {
    /// Quarantine damaged blobs and delete corrupt bytes; otherwise only report.
    pub repair: bool,
    /// Most MiB per second read from the blob store; none reads as fast as it can.
    pub rate_mib_per_second: Option<NonZeroU32>,
    /// Forget the saved progress of an interrupted run and check everything again.
    pub restart: bool,
    /// Stop after hashing this many blobs in this run, keeping the progress for the next
    /// one (a scrub spread over several maintenance windows); none checks them all.
    pub max_blobs: Option<u64>,
}

/// What a run saves as it goes, and the next one continues from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Progress {
    /// The last blob checked; the walk continues after it.
    after: Option<String>,
    blobs_checked: u64,
    bytes_checked: u64,
    /// Damaged blobs found so far.
    blobs: Vec<BlobFinding>,
}

impl Registry {
    /// Runs one scrub (see the module documentation). Scrubs run one at a time across every
    /// node sharing the metadata store; a second waits for the first, then continues where it
    /// left the progress (nothing, when the first completed).
    ///
    /// The run goes on in a task of its own, so that a client that disconnects does not leave
    /// a quarantine half done. Errors: the stores' (an unreadable blob is an error, not a
    /// finding: the run stops, its progress kept, and the next run retries that blob).
    pub async fn scrub(&self, options: &ScrubOptions) -> Result<ScrubReport> {
        let (registry, options) = (self.clone(), options.clone());
        let task = async move {
            let _turn = registry.meta.lock(&LockName::Scrub).await?;
            registry.scrub_locked(&options).await
        };
        tokio::spawn(task).await.map_err(|e| {
            RegistryError::Metadata(berth_metadata::MetadataError::CommitFailed(format!(
                "the scrub task ended: {e}"
            )))
        })?
    }

    async fn scrub_locked(&self, options: &ScrubOptions) -> Result<ScrubReport> {
        let started = std::time::Instant::now();
        if options.restart {
            self.meta.save_checkpoint(CHECKPOINT, None).await?;
        }
        let mut progress = match self.meta.checkpoint(CHECKPOINT).await? {
            Some(state) => serde_json::from_str(&state).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "unreadable scrub progress; starting over");
                Progress::default()
            }),
            None => Progress::default(),
        };
        let resumed_after = progress.after.clone();
        let quarantined_before = self.meta.quarantined_blobs().await?;
        info!(repair = options.repair, resumed_after = ?resumed_after, "scrub started");
        let complete = self.scrub_blobs(options, &mut progress).await?;
        if options.repair {
            // Findings carried over from a run that only reported are repaired now, those
            // that no longer hold dropped.
            let throttle = options.rate_mib_per_second.map(throttle::Throttle::new);
            let mut kept = Vec::with_capacity(progress.blobs.len());
            for mut finding in std::mem::take(&mut progress.blobs) {
                if finding.quarantined || self.repair_blob(&mut finding, throttle.as_ref()).await? {
                    kept.push(finding);
                }
            }
            progress.blobs = kept;
        }
        let mut report = ScrubReport {
            repair: options.repair,
            complete,
            resumed_after,
            blobs_checked: progress.blobs_checked,
            bytes_checked: progress.bytes_checked,
            blobs: progress.blobs.clone(),
            ..ScrubReport::default()
        };
        if complete {
            self.scrub_manifests(&progress.blobs, &mut report).await?;
            self.meta.save_checkpoint(CHECKPOINT, None).await?;
        } else {
            self.save_progress(&progress).await?;
        }
        report.quarantined_earlier = quarantined_before
            .into_iter()
            .map(|q| q.digest.to_string())
            .filter(|d| report.blobs.iter().any(|b| &b.digest == d))
            .collect();
        report.quarantined_earlier.sort();
        report.duration_ms = started.elapsed().as_millis() as u64;
        info!(
            complete,
            blobs_checked = report.blobs_checked,
            damaged_blobs = report.blobs.len(),
            damaged_manifests = report.manifests.len(),
            "scrub finished"
        );
        Ok(report)
    }

    async fn save_progress(&self, progress: &Progress) -> Result<()> {
        let state = serde_json::to_string(progress).expect("progress serialises");
        Ok(self.meta.save_checkpoint(CHECKPOINT, Some(&state)).await?)
    }
}

#[cfg(test)]
mod repair_tests;
#[cfg(test)]
mod tests;
