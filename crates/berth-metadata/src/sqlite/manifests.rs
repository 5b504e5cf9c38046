//! Manifest rows with their edges and tags.

use berth_oci::{Digest, RepoName, Tag};
use bytes::Bytes;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{ensure_repository, now_millis, parse_column};
use crate::error::{MetadataError, Result};
use crate::model::{NewManifest, StoredManifest};

/// JSON array of digests or tags, so that one statement handles a whole list (`json_each`).
fn json_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    serde_json::to_string(&items.into_iter().collect::<Vec<_>>()).expect("strings serialise")
}

/// Stores a manifest with its edges and tags. Validation runs before any write, so a refused
/// manifest (`MissingBlob`, `MissingChild`) leaves the transaction untouched.
pub(super) async fn put(
    conn: &mut SqliteConnection,
    repo: &RepoName,
    manifest: &NewManifest,
    tags: &[Tag],
) -> Result<()> {
    let blobs = json_list(manifest.blobs.iter().map(Digest::as_str));
    let children = json_list(manifest.children.iter().map(Digest::as_str));
    let missing: Option<(String, String)> = sqlx::query_as(
        "SELECT 'blob', j.value FROM json_each(?2) j WHERE NOT EXISTS
           (SELECT 1 FROM repository_blobs b WHERE b.repo = ?1 AND b.digest = j.value)
         UNION ALL
         SELECT 'child', j.value FROM json_each(?3) j WHERE NOT EXISTS
           (SELECT 1 FROM manifests m WHERE m.repo = ?1 AND m.digest = j.value)
         LIMIT 1",
    )
    .bind(repo.as_str())
    .bind(&blobs)
    .bind(&children)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((kind, digest)) = missing {
        let digest = parse_column(&digest)?;
        return Err(match kind.as_str() {
            "blob" => MetadataError::MissingBlob(digest),
            _ => MetadataError::MissingChild(digest),
        });
    }
    ensure_repository(&mut *conn, repo).await?;
    let now = now_millis();
    let inserted = sqlx::query(
        "INSERT OR IGNORE INTO manifests
           (repo, digest, media_type, size, body, artifact_type, subject, annotations, pushed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(repo.as_str())
    .bind(manifest.digest.as_str())
    .bind(&manifest.media_type)
    .bind(manifest.body.len() as i64)
    .bind(&manifest.body[..])
    .bind(&manifest.artifact_type)
    .bind(manifest.subject.as_ref().map(Digest::as_str))
    .bind(&manifest.annotations_json)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    if inserted && !manifest.blobs.is_empty() {
        sqlx::query(
            "INSERT OR IGNORE INTO manifest_blobs (repo, manifest, blob)
             SELECT ?1, ?2, value FROM json_each(?3)",
        )
        .bind(repo.as_str())
        .bind(manifest.digest.as_str())
        .bind(&blobs)
        .execute(&mut *conn)
        .await?;
    }
    if inserted && !manifest.children.is_empty() {
        sqlx::query(
            "INSERT OR IGNORE INTO manifest_children (repo, parent, child)
             SELECT ?1, ?2, value FROM json_each(?3)",
        )
        .bind(repo.as_str())
        .bind(manifest.digest.as_str())
        .bind(&children)
        .execute(&mut *conn)
        .await?;
    }
    if !tags.is_empty() {
        sqlx::query(
            "INSERT INTO tags (repo, name, digest, updated_at)
             SELECT ?1, value, ?2, ?3 FROM json_each(?4) WHERE true
             ON CONFLICT (repo, name) DO UPDATE
               SET digest = excluded.digest, updated_at = excluded.updated_at",
        )
        .bind(repo.as_str())
        .bind(manifest.digest.as_str())
        .bind(now)
        .bind(json_list(tags.iter().map(Tag::as_str)))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

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

pub(super) async fn delete(
    conn: &mut SqliteConnection,
    repo: &RepoName,
    digest: &Digest,
) -> Result<bool> {
    let deleted = sqlx::query("DELETE FROM manifests WHERE repo = ? AND digest = ?")
        .bind(repo.as_str())
        .bind(digest.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected()
        > 0;
    if deleted {
        for statement in [
            "DELETE FROM tags WHERE repo = ? AND digest = ?",
            "DELETE FROM manifest_blobs WHERE repo = ? AND manifest = ?",
            "DELETE FROM manifest_children WHERE repo = ? AND parent = ?",
        ] {
            sqlx::query(statement)
                .bind(repo.as_str())
                .bind(digest.as_str())
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(deleted)
}
