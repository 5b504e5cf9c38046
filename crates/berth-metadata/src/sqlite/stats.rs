//! Readiness and content counts of the SQLite backend, read on the reader pool.

use sqlx::SqlitePool;

use crate::error::{MetadataError, Result};
use crate::stats::{ContentStats, MAX_ARTIFACT_TYPES};

/// The database answers on the reader pool and has every migration this build embeds.
pub(super) async fn check_ready(reader: &SqlitePool) -> Result<()> {
    let needed = sqlx::migrate!("./migrations/sqlite")
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or_default();
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(reader)
            .await?;
    match applied.unwrap_or_default() {
        applied if applied >= needed => Ok(()),
        applied => Err(MetadataError::NotReady(format!(
            "schema at migration {applied}, this build needs {needed}"
        ))),
    }
}

pub(super) async fn content_stats(reader: &SqlitePool) -> Result<ContentStats> {
    let (manifests, blobs, blob_bytes, referrers): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM manifests), (SELECT COUNT(*) FROM blobs),
                (SELECT COALESCE(SUM(size), 0) FROM blobs), (SELECT COUNT(*) FROM referrers)",
    )
    .fetch_one(reader)
    .await?;
    let top: Vec<(String, i64)> = sqlx::query_as(
        "SELECT COALESCE(artifact_type, '') AS kind, COUNT(*) AS n FROM referrers
         GROUP BY kind ORDER BY n DESC, kind LIMIT ?",
    )
    .bind(MAX_ARTIFACT_TYPES as i64)
    .fetch_all(reader)
    .await?;
    Ok(ContentStats {
        manifests: manifests as u64,
        blobs: blobs as u64,
        blob_bytes: blob_bytes as u64,
        referrers: ContentStats::capped_referrers(
            top.into_iter().map(|(k, n)| (k, n as u64)).collect(),
            referrers as u64,
        ),
    })
}
