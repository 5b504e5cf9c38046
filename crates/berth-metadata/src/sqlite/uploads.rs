//! Reading upload session rows.

use berth_oci::UploadId;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::parse_column;
use crate::error::Result;
use crate::model::UploadRecord;

fn record(row: &SqliteRow) -> Result<UploadRecord> {
    Ok(UploadRecord {
        id: parse_column(row.get::<&str, _>(0))?,
        repo: parse_column(row.get::<&str, _>(1))?,
        created_at: row.get(2),
    })
}

pub(super) async fn get(pool: &SqlitePool, id: &UploadId) -> Result<Option<UploadRecord>> {
    let row = sqlx::query("SELECT id, repo, created_at FROM uploads WHERE id = ?")
        .bind(id.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(record).transpose()
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
