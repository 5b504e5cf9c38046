//! The operator's tasks on PostgreSQL: the scrub's blob walk, quarantine, checkpoints (shared
//! by every node, so that a scrub resumes on any of them), and storage usage.

use berth_oci::Digest;
use sqlx::{PgConnection, PgPool, Row};

use super::{db_now, parse_column};
use crate::error::Result;
use crate::operations::{QuarantinedBlob, RepositoryUsage};

pub(super) async fn blobs_after(
    pool: &PgPool,
    after: Option<&Digest>,
    limit: u32,
) -> Result<Vec<(Digest, u64)>> {
    let rows =
        sqlx::query("SELECT digest, size FROM blobs WHERE digest > $1 ORDER BY digest LIMIT $2")
            .bind(after.map_or("", Digest::as_str))
            .bind(i64::from(limit))
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

pub(super) async fn quarantine_blob(
    conn: &mut PgConnection,
    digest: &Digest,
    reason: &str,
) -> Result<()> {
    let now = db_now(&mut *conn).await?;
    sqlx::query(
        "INSERT INTO quarantined_blobs (digest, reason, quarantined_at) VALUES ($1, $2, $3)
         ON CONFLICT (digest) DO UPDATE SET reason = EXCLUDED.reason",
    )
    .bind(digest.as_str())
    .bind(reason)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Lifts the quarantine of a blob whose right bytes were just committed.
pub(super) async fn lift_quarantine(conn: &mut PgConnection, digest: &Digest) -> Result<()> {
    sqlx::query("DELETE FROM quarantined_blobs WHERE digest = $1")
        .bind(digest.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn quarantined_blobs(pool: &PgPool) -> Result<Vec<QuarantinedBlob>> {
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

pub(super) async fn checkpoint(pool: &PgPool, name: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT state FROM checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?,
    )
}

pub(super) async fn save_checkpoint(
    conn: &mut PgConnection,
    name: &str,
    state: Option<&str>,
) -> Result<()> {
    match state {
        Some(state) => {
            let now = db_now(&mut *conn).await?;
            sqlx::query(
                "INSERT INTO checkpoints (name, state, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state,
                   updated_at = EXCLUDED.updated_at",
            )
            .bind(name)
            .bind(state)
            .bind(now)
            .execute(&mut *conn)
            .await?
        }
        None => {
            sqlx::query("DELETE FROM checkpoints WHERE name = $1")
                .bind(name)
                .execute(&mut *conn)
                .await?
        }
    };
    Ok(())
}

/// One statement: each figure is a correlated aggregate over the repository's rows, read from
/// the primary keys (`repository_blobs` by repository, the other links of a blob through
/// `repository_blobs_by_digest`).
pub(super) async fn repository_usage(pool: &PgPool) -> Result<Vec<RepositoryUsage>> {
    let rows = sqlx::query(
        r#"SELECT name, manifests, manifest_bytes, tags, blobs, blob_bytes, shared_bytes FROM (
             SELECT r.name,
               (SELECT COUNT(*) FROM manifests m WHERE m.repo = r.name) AS manifests,
               (SELECT COALESCE(SUM(m.size), 0)::BIGINT FROM manifests m WHERE m.repo = r.name)
                 AS manifest_bytes,
               (SELECT COUNT(*) FROM tags t WHERE t.repo = r.name) AS tags,
               (SELECT COUNT(*) FROM repository_blobs l JOIN blobs b ON b.digest = l.digest
                 WHERE l.repo = r.name) AS blobs,
               (SELECT COALESCE(SUM(b.size), 0)::BIGINT FROM repository_blobs l
                 JOIN blobs b ON b.digest = l.digest WHERE l.repo = r.name) AS blob_bytes,
               (SELECT COALESCE(SUM(b.size), 0)::BIGINT FROM repository_blobs l
                 JOIN blobs b ON b.digest = l.digest WHERE l.repo = r.name
                   AND EXISTS (SELECT 1 FROM repository_blobs o
                               WHERE o.digest = l.digest AND o.repo <> l.repo)) AS shared_bytes
             FROM repositories r) u
           WHERE manifests > 0 OR blobs > 0 ORDER BY name COLLATE "C""#,
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
