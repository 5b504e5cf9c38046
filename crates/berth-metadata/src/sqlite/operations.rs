//! The operator's tasks on SQLite: the scrub's blob walk, quarantine, checkpoints, and
//! storage usage.

use berth_oci::Digest;
use rusqlite::{params, Connection};
use sqlx::{Row, SqlitePool};

use super::{now_millis, parse_column};
use crate::error::Result;
use crate::operations::{QuarantinedBlob, RepositoryUsage};

pub(super) async fn blobs_after(
    pool: &SqlitePool,
    after: Option<&Digest>,
    limit: u32,
) -> Result<Vec<(Digest, u64)>> {
    let rows =
        sqlx::query("SELECT digest, size FROM blobs WHERE digest > ?1 ORDER BY digest LIMIT ?2")
            .bind(after.map_or("", Digest::as_str))
            .bind(limit)
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|r| {
            Ok((
                parse_column(r.get::<&str, _>(0))?,
                r.get::<i64, _>(1) as u64,
            ))
        })
        .collect()
}

pub(super) fn quarantine_blob(conn: &Connection, digest: &Digest, reason: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO quarantined_blobs (digest, reason, quarantined_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (digest) DO UPDATE SET reason = excluded.reason",
    )?
    .execute(params![digest.as_str(), reason, now_millis()])?;
    Ok(())
}

/// Lifts the quarantine of a blob whose right bytes were just committed.
pub(super) fn lift_quarantine(conn: &Connection, digest: &Digest) -> Result<()> {
    conn.prepare_cached("DELETE FROM quarantined_blobs WHERE digest = ?1")?
        .execute(params![digest.as_str()])?;
    Ok(())
}

pub(super) async fn quarantined_blobs(pool: &SqlitePool) -> Result<Vec<QuarantinedBlob>> {
    let rows =
        sqlx::query("SELECT digest, reason, quarantined_at FROM quarantined_blobs ORDER BY digest")
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(QuarantinedBlob {
                digest: parse_column(r.get::<&str, _>(0))?,
                reason: r.get(1),
                quarantined_at: r.get(2),
            })
        })
        .collect()
}

pub(super) async fn checkpoint(pool: &SqlitePool, name: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT state FROM checkpoints WHERE name = ?1")
            .bind(name)
            .fetch_optional(pool)
            .await?,
    )
}

pub(super) fn save_checkpoint(conn: &Connection, name: &str, state: Option<&str>) -> Result<()> {
    match state {
        Some(state) => conn
            .prepare_cached(
                "INSERT INTO checkpoints (name, state, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET state = excluded.state,
                   updated_at = excluded.updated_at",
            )?
            .execute(params![name, state, now_millis()])?,
        None => conn
            .prepare_cached("DELETE FROM checkpoints WHERE name = ?1")?
            .execute(params![name])?,
    };
    Ok(())
}

/// One statement: each figure is a correlated aggregate over the repository's rows, read from
/// the primary keys (`repository_blobs` by repository, the other links of a blob through
/// `repository_blobs_by_digest`).
pub(super) async fn repository_usage(pool: &SqlitePool) -> Result<Vec<RepositoryUsage>> {
    let rows = sqlx::query(
        "SELECT name, manifests, manifest_bytes, tags, blobs, blob_bytes, shared_bytes FROM (
           SELECT r.name,
             (SELECT COUNT(*) FROM manifests m WHERE m.repo = r.name) AS manifests,
             (SELECT COALESCE(SUM(m.size), 0) FROM manifests m WHERE m.repo = r.name)
               AS manifest_bytes,
             (SELECT COUNT(*) FROM tags t WHERE t.repo = r.name) AS tags,
             (SELECT COUNT(*) FROM repository_blobs l JOIN blobs b ON b.digest = l.digest
               WHERE l.repo = r.name) AS blobs,
             (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs l
               JOIN blobs b ON b.digest = l.digest WHERE l.repo = r.name) AS blob_bytes,
             (SELECT COALESCE(SUM(b.size), 0) FROM repository_blobs l
               JOIN blobs b ON b.digest = l.digest WHERE l.repo = r.name
                 AND EXISTS (SELECT 1 FROM repository_blobs o
                             WHERE o.digest = l.digest AND o.repo <> l.repo)) AS shared_bytes
           FROM repositories r)
         WHERE manifests > 0 OR blobs > 0 ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let count = |i: usize| r.get::<i64, _>(i) as u64;
            Ok(RepositoryUsage {
                repo: parse_column(r.get::<&str, _>(0))?,
                manifests: count(1),
                manifest_bytes: count(2),
                tags: count(3),
                blobs: count(4),
                blob_bytes: count(5),
                own_bytes: count(5) - count(6),
                shared_bytes: count(6),
            })
        })
        .collect()
}
