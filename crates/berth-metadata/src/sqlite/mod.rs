//! SQLite backend: the embedded default, one file in the data directory.
//!
//! One writer connection serialises write transactions (SQLite allows one writer anyway, and
//! a single connection avoids lock-upgrade failures); readers use a separate pool and see the
//! last committed state through WAL.

mod manifests;
mod uploads;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use berth_oci::{Digest, RepoName, Tag, UploadId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};

use crate::error::{MetadataError, Result};
use crate::model::{NewManifest, StoredManifest, UploadRecord};
use crate::store::MetadataStore;

/// Metadata in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteMetadataStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteMetadataStore {
    /// Opens (creating and migrating when needed) the database at `path`.
    pub async fn open(path: &Path) -> Result<SqliteMetadataStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| MetadataError::Database(e.into()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteMetadataStore { writer, reader })
    }
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

pub(crate) fn parse_column<T: FromStr>(text: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e: T::Err| MetadataError::Corrupt(format!("{text:?}: {e}")))
}

/// Records a repository the first time it receives content.
pub(crate) async fn ensure_repository(conn: &mut SqliteConnection, repo: &RepoName) -> Result<()> {
    sqlx::query("INSERT OR IGNORE INTO repositories (name, created_at) VALUES (?, ?)")
        .bind(repo.as_str())
        .bind(now_millis())
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn link_blob_in(
    conn: &mut SqliteConnection,
    repo: &RepoName,
    digest: &Digest,
    size: u64,
) -> Result<()> {
    let now = now_millis();
    ensure_repository(&mut *conn, repo).await?;
    sqlx::query("INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES (?, ?, ?)")
        .bind(digest.as_str())
        .bind(size as i64)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT OR IGNORE INTO repository_blobs (repo, digest, linked_at) VALUES (?, ?, ?)",
    )
    .bind(repo.as_str())
    .bind(digest.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl MetadataStore for SqliteMetadataStore {
    async fn repository_exists(&self, repo: &RepoName) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM repositories WHERE name = ?")
            .bind(repo.as_str())
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.is_some())
    }

    async fn list_repositories(&self, after: Option<&str>, limit: u32) -> Result<Vec<RepoName>> {
        let rows = sqlx::query(
            "SELECT name FROM repositories WHERE (?1 IS NULL OR name > ?1) ORDER BY name LIMIT ?2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| parse_column(r.get::<&str, _>(0)))
            .collect()
    }

    async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let size: Option<i64> = sqlx::query_scalar("SELECT size FROM blobs WHERE digest = ?")
            .bind(digest.as_str())
            .fetch_optional(&self.reader)
            .await?;
        Ok(size.map(|s| s as u64))
    }

    async fn linked_blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<Option<u64>> {
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT b.size FROM repository_blobs l JOIN blobs b ON b.digest = l.digest
             WHERE l.repo = ? AND l.digest = ?",
        )
        .bind(repo.as_str())
        .bind(digest.as_str())
        .fetch_optional(&self.reader)
        .await?;
        Ok(size.map(|s| s as u64))
    }

    async fn link_blob(&self, repo: &RepoName, digest: &Digest, size: u64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        link_blob_in(&mut tx, repo, digest, size).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn unlink_blob(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let done = sqlx::query("DELETE FROM repository_blobs WHERE repo = ? AND digest = ?")
            .bind(repo.as_str())
            .bind(digest.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn repositories_with_blob(&self, digest: &Digest) -> Result<Vec<RepoName>> {
        let rows = sqlx::query("SELECT repo FROM repository_blobs WHERE digest = ? ORDER BY repo")
            .bind(digest.as_str())
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| parse_column(r.get::<&str, _>(0)))
            .collect()
    }

    async fn put_manifest(
        &self,
        repo: &RepoName,
        manifest: &NewManifest,
        tags: &[Tag],
    ) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        manifests::put(&mut tx, repo, manifest, tags).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn manifest_by_digest(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<StoredManifest>> {
        manifests::by_digest(&self.reader, repo, digest).await
    }

    async fn manifest_by_tag(&self, repo: &RepoName, tag: &Tag) -> Result<Option<StoredManifest>> {
        manifests::by_tag(&self.reader, repo, tag).await
    }

    async fn list_tags(
        &self,
        repo: &RepoName,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        let names = sqlx::query_scalar(
            "SELECT name FROM tags WHERE repo = ?1
               AND (?2 IS NULL OR name COLLATE NOCASE > ?2 OR (name COLLATE NOCASE = ?2 AND name > ?2))
             ORDER BY name COLLATE NOCASE, name LIMIT ?3",
        )
        .bind(repo.as_str())
        .bind(after)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(names)
    }

    async fn delete_tag(&self, repo: &RepoName, tag: &Tag) -> Result<bool> {
        let done = sqlx::query("DELETE FROM tags WHERE repo = ? AND name = ?")
            .bind(repo.as_str())
            .bind(tag.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_manifest(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let deleted = manifests::delete(&mut tx, repo, digest).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn create_upload(&self, upload: &UploadRecord) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        uploads::create(&mut tx, upload).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upload(&self, id: &UploadId) -> Result<Option<UploadRecord>> {
        uploads::get(&self.reader, id).await
    }

    async fn delete_upload(&self, id: &UploadId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn complete_upload(&self, id: &UploadId, digest: &Digest, size: u64) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let completed = uploads::complete(&mut tx, id, digest, size).await?;
        tx.commit().await?;
        Ok(completed)
    }

    async fn uploads_created_before(&self, before: i64) -> Result<Vec<UploadRecord>> {
        uploads::created_before(&self.reader, before).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_store_passes_the_shared_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetadataStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap();
        crate::suite::run_all(&store).await;
    }

    #[tokio::test]
    async fn reopening_keeps_committed_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let repo: RepoName = "a/b".parse().unwrap();
        let digest = Digest::sha256_of(b"x");
        {
            let store = SqliteMetadataStore::open(&path).await.unwrap();
            store.link_blob(&repo, &digest, 1).await.unwrap();
        }
        let store = SqliteMetadataStore::open(&path).await.unwrap();
        assert_eq!(
            store.linked_blob_size(&repo, &digest).await.unwrap(),
            Some(1)
        );
    }
}
