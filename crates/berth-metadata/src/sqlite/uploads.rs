//! Upload session rows.

use berth_oci::{Digest, UploadId};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{ensure_repository, link_blob_in, parse_column};
use crate::error::Result;
use crate::model::UploadRecord;

fn record(row: &SqliteRow) -> Result<UploadRecord> {
    Ok(UploadRecord {
        id: parse_column(row.get::<&str, _>(0))?,
        repo: parse_column(row.get::<&str, _>(1))?,
        created_at: row.get(2),
    })
}

pub(super) async fn create(conn: &mut SqliteConnection, upload: &UploadRecord) -> Result<()> {
    ensure_repository(&mut *conn, &upload.repo).await?;
    sqlx::query("INSERT INTO uploads (id, repo, created_at) VALUES (?, ?, ?)")
        .bind(upload.id.as_str())
        .bind(upload.repo.as_str())
        .bind(upload.created_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn get(pool: &SqlitePool, id: &UploadId) -> Result<Option<UploadRecord>> {
    let row = sqlx::query("SELECT id, repo, created_at FROM uploads WHERE id = ?")
        .bind(id.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(record).transpose()
}

pub(super) async fn complete(
    conn: &mut SqliteConnection,
    id: &UploadId,
    digest: &Digest,
    size: u64,
) -> Result<bool> {
    let row = sqlx::query("DELETE FROM uploads WHERE id = ? RETURNING id, repo, created_at")
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(upload) = row.as_ref().map(record).transpose()? else {
        return Ok(false);
    };
    link_blob_in(conn, &upload.repo, digest, size).await?;
    Ok(true)
}

pub(super) async fn created_before(pool: &SqlitePool, before: i64) -> Result<Vec<UploadRecord>> {
    let rows = sqlx::query(
        "SELECT id, repo, created_at FROM uploads WHERE created_at < ? ORDER BY created_at",
    )
    .bind(before)
    .fetch_all(pool)
    .await?;
    rows.iter().map(record).collect()
}
