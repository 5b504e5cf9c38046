//! Reading manifest rows.

use berth_oci::{Digest, RepoName, Tag};
use bytes::Bytes;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::parse_column;
use crate::error::Result;
use crate::model::{Referrer, StoredManifest};

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

pub(super) async fn referrers(
    pool: &SqlitePool,
    repo: &RepoName,
    subject: &Digest,
    artifact_types: &[String],
    after: Option<&Digest>,
    limit: u32,
) -> Result<Vec<Referrer>> {
    let types = serde_json::to_string(artifact_types).expect("strings serialise");
    let query = match after {
        None => sqlx::query(
            "SELECT referrer, media_type, size, artifact_type, annotations FROM referrers
             WHERE repo = ?1 AND subject = ?2
               AND (?3 = '[]' OR artifact_type IN (SELECT value FROM json_each(?3)))
             ORDER BY referrer LIMIT ?5",
        ),
        Some(_) => sqlx::query(
            "SELECT referrer, media_type, size, artifact_type, annotations FROM referrers
             WHERE repo = ?1 AND subject = ?2 AND referrer > ?4
               AND (?3 = '[]' OR artifact_type IN (SELECT value FROM json_each(?3)))
             ORDER BY referrer LIMIT ?5",
        ),
    };
    let rows = query
        .bind(repo.as_str())
        .bind(subject.as_str())
        .bind(types)
        .bind(after.map(Digest::as_str))
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Referrer {
                digest: parse_column(row.get::<&str, _>(0))?,
                media_type: row.get(1),
                size: row.get::<i64, _>(2) as u64,
                artifact_type: row.get(3),
                annotations_json: row.get(4),
            })
        })
        .collect()
}
