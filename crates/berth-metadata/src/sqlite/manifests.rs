//! Reading manifest rows.

use berth_oci::{Digest, RepoName, Tag};
use bytes::Bytes;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::parse_column;
use crate::error::Result;
use crate::model::StoredManifest;

fn stored(row: &SqliteRow) -> Result<StoredManifest> {
    Ok(StoredManifest {
        digest: parse_column(row.get::<&str, _>(0))?,
        media_type: row.get(1),
        body: Bytes::from(row.get::<Vec<u8>, _>(2)),
    })
}

pub(super) async fn by_digest(
    pool: &SqlitePool,
    repo: &RepoName,
    digest: &Digest,
) -> Result<Option<StoredManifest>> {
    let row =
        sqlx::query("SELECT digest, media_type, body FROM manifests WHERE repo = ? AND digest = ?")
            .bind(repo.as_str())
            .bind(digest.as_str())
            .fetch_optional(pool)
            .await?;
    row.as_ref().map(stored).transpose()
}

pub(super) async fn by_tag(
    pool: &SqlitePool,
    repo: &RepoName,
    tag: &Tag,
) -> Result<Option<StoredManifest>> {
    let row = sqlx::query(
        "SELECT m.digest, m.media_type, m.body FROM tags t
         JOIN manifests m ON m.repo = t.repo AND m.digest = t.digest
         WHERE t.repo = ? AND t.name = ?",
    )
    .bind(repo.as_str())
    .bind(tag.as_str())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(stored).transpose()
}
