//! Manifest rows with their edges and tags.

use berth_oci::{Digest, RepoName, Tag};
use bytes::Bytes;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{ensure_repository, now_millis, parse_column};
use crate::error::{MetadataError, Result};
use crate::model::{NewManifest, StoredManifest};

pub(super) async fn put(
    conn: &mut SqliteConnection,
    repo: &RepoName,
    manifest: &NewManifest,
    tags: &[Tag],
) -> Result<()> {
    for blob in &manifest.blobs {
        let linked = sqlx::query("SELECT 1 FROM repository_blobs WHERE repo = ? AND digest = ?")
            .bind(repo.as_str())
            .bind(blob.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        if linked.is_none() {
            return Err(MetadataError::MissingBlob(blob.clone()));
        }
    }
    for child in &manifest.children {
        let present = sqlx::query("SELECT 1 FROM manifests WHERE repo = ? AND digest = ?")
            .bind(repo.as_str())
            .bind(child.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        if present.is_none() {
            return Err(MetadataError::MissingChild(child.clone()));
        }
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
    if inserted {
        for blob in &manifest.blobs {
            sqlx::query(
                "INSERT OR IGNORE INTO manifest_blobs (repo, manifest, blob) VALUES (?, ?, ?)",
            )
            .bind(repo.as_str())
            .bind(manifest.digest.as_str())
            .bind(blob.as_str())
            .execute(&mut *conn)
            .await?;
        }
        for child in &manifest.children {
            sqlx::query(
                "INSERT OR IGNORE INTO manifest_children (repo, parent, child) VALUES (?, ?, ?)",
            )
            .bind(repo.as_str())
            .bind(manifest.digest.as_str())
            .bind(child.as_str())
            .execute(&mut *conn)
            .await?;
        }
    }
    for tag in tags {
        sqlx::query(
            "INSERT INTO tags (repo, name, digest, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (repo, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
        )
        .bind(repo.as_str())
        .bind(tag.as_str())
        .bind(manifest.digest.as_str())
        .bind(now)
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
