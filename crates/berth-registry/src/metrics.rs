//! The registry's metrics, recorded through the `metrics` facade (the server installs the
//! recorder that renders them; without one every call here costs next to nothing). Labels
//! stay low-cardinality: no repository, tag or digest is ever a label.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `berth_manifests`, `berth_blobs`, `berth_blob_bytes` | gauge | |
//! | `berth_referrers` | gauge | `artifact_type` (the 20 most common, then `other`; at most 50 values over the process's life) |
//! | `berth_uploads_in_progress` | gauge | |
//! | `berth_gc_runs_total`, `berth_gc_freed_bytes_total` | counter | |
//! | `berth_gc_deleted_total` | counter | `kind`: manifests, tags, blobs, links |
//! | `berth_gc_duration_seconds` | histogram | |
//! | `berth_cache_requests_total` | counter | `cache`: manifest_by_tag, tag_page; `result`: hit, miss |

use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth_metadata::{ContentStats, OTHER_ARTIFACT_TYPES};

use crate::error::Result;
use crate::gc::GcReport;
use crate::Registry;

/// Content gauges are read from metadata at most this often, so that however often the
/// metrics are scraped, the tables are counted no more than twice a minute.
pub const CONTENT_REFRESH: Duration = Duration::from_secs(30);

/// How long a scrape waits for the content gauges; past it, the last values are rendered (a
/// scrape that times out in Prometheus loses every metric, just when the store is in trouble).
pub const CONTENT_REFRESH_TIMEOUT: Duration = Duration::from_secs(2);

/// Most `artifact_type` values `berth_referrers` ever carries in one process. A type that
/// drops out of the most common keeps its series (at 0) until the process restarts, so
/// without a cap, pushers cycling through new types would grow the series without end; past
/// the cap, new types count under `other`.
const MAX_ARTIFACT_TYPE_LABELS: usize = 50;

/// When the content gauges were last read, shared by every clone of the registry.
#[derive(Default)]
pub(crate) struct ContentGauges {
    refreshed: tokio::sync::Mutex<Option<Instant>>,
    /// Every artifact type published so far, and those of the last time (to zero those that
    /// dropped out of the list).
    labels: Mutex<ArtifactTypeLabels>,
}

#[derive(Default)]
struct ArtifactTypeLabels {
    ever: std::collections::BTreeSet<String>,
    last: Vec<String>,
}

impl Registry {
    /// Sets the content gauges (`berth_manifests`, `berth_blobs`, `berth_blob_bytes`,
    /// `berth_referrers`) from metadata unless they were read less than [`CONTENT_REFRESH`]
    /// ago; concurrent callers wait for one read rather than each making their own. Call it
    /// before rendering the metrics. Errors: the metadata store's, or its not answering within
    /// [`CONTENT_REFRESH_TIMEOUT`], leaving the last values.
    pub async fn refresh_content_metrics(&self) -> Result<()> {
        let mut refreshed = self.content_gauges.refreshed.lock().await;
        if refreshed.is_some_and(|at| at.elapsed() < CONTENT_REFRESH) {
            return Ok(());
        }
        let stats = tokio::time::timeout(CONTENT_REFRESH_TIMEOUT, self.meta.content_stats())
            .await
            .map_err(|_| {
                crate::error::RegistryError::Metadata(berth_metadata::MetadataError::NotReady(
                    format!("content statistics not read within {CONTENT_REFRESH_TIMEOUT:?}"),
                ))
            })??;
        self.publish_content(&stats);
        *refreshed = Some(Instant::now());
        Ok(())
    }

    fn publish_content(&self, stats: &ContentStats) {
        metrics::gauge!("berth_manifests").set(stats.manifests as f64);
        metrics::gauge!("berth_blobs").set(stats.blobs as f64);
        metrics::gauge!("berth_blob_bytes").set(stats.blob_bytes as f64);
        let mut labels = self.content_gauges.labels.lock().expect("labels lock");
        let mut shown: Vec<(String, u64)> = Vec::new();
        let mut other = 0;
        for (kind, count) in &stats.referrers {
            let known = labels.ever.contains(kind);
            if kind == OTHER_ARTIFACT_TYPES
                || (!known && labels.ever.len() >= MAX_ARTIFACT_TYPE_LABELS - 1)
            {
                other += count;
                continue;
            }
            if !known {
                labels.ever.insert(kind.clone());
            }
            shown.push((kind.clone(), *count));
        }
        if other > 0 {
            shown.push((OTHER_ARTIFACT_TYPES.to_owned(), other));
        }
        for gone in labels
            .last
            .iter()
            .filter(|kind| !shown.iter().any(|(k, _)| k == *kind))
        {
            metrics::gauge!("berth_referrers", "artifact_type" => gone.clone()).set(0.0);
        }
        for (kind, count) in &shown {
            metrics::gauge!("berth_referrers", "artifact_type" => kind.clone()).set(*count as f64);
        }
        labels.last = shown.into_iter().map(|(k, _)| k).collect();
    }
}

/// Counts a finished collection that deleted (a dry run deletes nothing and is not counted).
pub(crate) fn collection_finished(report: &GcReport) {
    if report.dry_run {
        return;
    }
    metrics::counter!("berth_gc_runs_total").increment(1);
    metrics::histogram!("berth_gc_duration_seconds").record(report.duration_ms as f64 / 1000.0);
    for (kind, n) in [
        ("manifests", report.manifests_deleted),
        ("tags", report.tags_deleted),
        ("blobs", report.blobs_deleted),
        ("links", report.links_removed),
    ] {
        metrics::counter!("berth_gc_deleted_total", "kind" => kind).increment(n as u64);
    }
    metrics::counter!("berth_gc_freed_bytes_total").increment(report.bytes_freed);
}

/// The `berth_cache_requests_total` counters of one read cache, by `result`.
pub(crate) struct CacheCounters {
    hit: metrics::Counter,
    miss: metrics::Counter,
}

impl CacheCounters {
    /// The counters of the cache labelled `cache`, registered with the installed recorder.
    pub(crate) fn named(cache: &'static str) -> CacheCounters {
        CacheCounters {
            hit: metrics::counter!("berth_cache_requests_total", "cache" => cache, "result" => "hit"),
            miss: metrics::counter!(
                "berth_cache_requests_total",
                "cache" => cache,
                "result" => "miss"
            ),
        }
    }

    /// Counts one lookup.
    pub(crate) fn count(&self, hit: bool) {
        if hit { &self.hit } else { &self.miss }.increment(1);
    }
}

/// One request body streaming into an upload on this node, counted in
/// `berth_uploads_in_progress` from creation until dropped (whatever ended the stream).
pub(crate) struct UploadInProgress(());

impl UploadInProgress {
    pub(crate) fn start() -> UploadInProgress {
        metrics::gauge!("berth_uploads_in_progress").increment(1.0);
        UploadInProgress(())
    }
}

impl Drop for UploadInProgress {
    fn drop(&mut self) {
        metrics::gauge!("berth_uploads_in_progress").decrement(1.0);
    }
}
