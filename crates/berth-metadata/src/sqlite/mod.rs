//! SQLite backend: the embedded default, one file in the data directory.
//!
//! One writer connection runs every write (SQLite allows one writer anyway, and a single
//! connection avoids lock-upgrade failures), committing concurrent writes together (see
//! `writer`); readers use a separate pool and see the last committed state through WAL.

mod collection;
mod forecast;
mod manifests;
mod uploads;
mod writer;
mod writes;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use berth_oci::{Digest, RepoName, Tag, UploadId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection};

use self::writer::Writer;

use crate::error::{MetadataError, Result};
use crate::model::{ManifestGraph, NewManifest, Referrer, StoredManifest, UploadRecord};
use crate::store::MetadataStore;

/// Metadata in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteMetadataStore {
    writer: Writer,
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
        let mut conn = SqliteConnection::connect_with(&options).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut conn)
            .await
            .map_err(|e| MetadataError::Database(e.into()))?;
        conn.close().await?;
        let writer = Writer::start(path)?;
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
        let (repo, digest) = (repo.clone(), digest.clone());
        self.writer
            .run(move |conn| writes::link_blob(conn, &repo, &digest, size))
            .await
    }

    async fn unlink_blob(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let (repo, digest) = (repo.clone(), digest.clone());
        self.writer
            .run(move |conn| writes::unlink_blob(conn, &repo, &digest))
            .await
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
        let (repo, manifest, tags) = (repo.clone(), manifest.clone(), tags.to_vec());
        self.writer
            .run(move |conn| writes::put_manifest(conn, &repo, &manifest, &tags))
            .await
    }

    async fn manifest_by_digest(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<StoredManifest>> {
        manifests::by_digest(&self.reader, repo, digest).await
    }

    async fn list_referrers(
        &self,
        repo: &RepoName,
        subject: &Digest,
        artifact_types: &[String],
        after: Option<&Digest>,
        limit: u32,
    ) -> Result<Vec<Referrer>> {
        manifests::referrers(&self.reader, repo, subject, artifact_types, after, limit).await
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
        // One row holding the page as a JSON array: per-row overhead would dominate long lists.
        let query = match after {
            None => sqlx::query_scalar(
                "SELECT json_group_array(name) FROM (SELECT name FROM tags WHERE repo = ?1
                 ORDER BY name COLLATE NOCASE, name LIMIT ?3)",
            ),
            Some(_) => sqlx::query_scalar(
                "SELECT json_group_array(name) FROM (SELECT name FROM tags WHERE repo = ?1
                   AND name COLLATE NOCASE >= ?2 AND (name COLLATE NOCASE > ?2 OR name > ?2)
                 ORDER BY name COLLATE NOCASE, name LIMIT ?3)",
            ),
        };
        let names: String = query
            .bind(repo.as_str())
            .bind(after)
            .bind(limit)
            .fetch_one(&self.reader)
            .await?;
        serde_json::from_str(&names).map_err(|e| MetadataError::Corrupt(format!("tag list: {e}")))
    }

    async fn delete_tag(&self, repo: &RepoName, tag: &Tag) -> Result<bool> {
        let (repo, tag) = (repo.clone(), tag.clone());
        self.writer
            .run(move |conn| writes::delete_tag(conn, &repo, &tag))
            .await
    }

    async fn delete_manifest(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let (repo, digest) = (repo.clone(), digest.clone());
        self.writer
            .run(move |conn| writes::delete_manifest(conn, &repo, &digest))
            .await
    }

    async fn create_upload(&self, upload: &UploadRecord) -> Result<()> {
        let upload = upload.clone();
        self.writer
            .run(move |conn| writes::create_upload(conn, &upload))
            .await
    }

    async fn upload(&self, id: &UploadId) -> Result<Option<UploadRecord>> {
        uploads::get(&self.reader, id).await
    }

    async fn delete_upload(&self, id: &UploadId) -> Result<bool> {
        let id = id.clone();
        self.writer
            .run(move |conn| writes::delete_upload(conn, &id))
            .await
    }

    async fn complete_upload(&self, id: &UploadId, digest: &Digest, size: u64) -> Result<bool> {
        let (id, digest) = (id.clone(), digest.clone());
        self.writer
            .run(move |conn| writes::complete_upload(conn, &id, &digest, size))
            .await
    }

    async fn uploads_created_before(&self, before: i64) -> Result<Vec<UploadRecord>> {
        uploads::created_before(&self.reader, before).await
    }

    async fn manifest_graph(&self, repo: &RepoName) -> Result<ManifestGraph> {
        collection::manifest_graph(&self.reader, repo).await
    }

    async fn delete_unreachable_manifest(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let (repo, digest) = (repo.clone(), digest.clone());
        self.writer
            .run(move |conn| writes::delete_unreachable_manifest(conn, &repo, &digest))
            .await
    }

    async fn delete_tag_if_unchanged(
        &self,
        repo: &RepoName,
        tag: &str,
        digest: &Digest,
        updated_at: i64,
    ) -> Result<bool> {
        let (repo, tag, digest) = (repo.clone(), tag.to_owned(), digest.clone());
        self.writer
            .run(move |conn| {
                writes::delete_tag_if_unchanged(conn, &repo, &tag, &digest, updated_at)
            })
            .await
    }

    async fn delete_superseded_referrer(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let (repo, digest) = (repo.clone(), digest.clone());
        self.writer
            .run(move |conn| writes::delete_superseded_referrer(conn, &repo, &digest))
            .await
    }

    async fn unreferenced_links(&self, before: i64) -> Result<Vec<(RepoName, Digest)>> {
        collection::unreferenced_links(&self.reader, before).await
    }

    async fn unlink_unreferenced(
        &self,
        repo: &RepoName,
        digest: &Digest,
        before: i64,
    ) -> Result<bool> {
        let (repo, digest) = (repo.clone(), digest.clone());
        self.writer
            .run(move |conn| writes::unlink_unreferenced(conn, &repo, &digest, before))
            .await
    }

    async fn unlinked_blobs(&self, before: i64) -> Result<Vec<(Digest, u64)>> {
        collection::unlinked_blobs(&self.reader, before).await
    }

    async fn links_unreferenced_without(
        &self,
        repo: &RepoName,
        manifests: &[Digest],
        before: i64,
    ) -> Result<Vec<Digest>> {
        forecast::links_unreferenced_without(&self.reader, repo, manifests, before).await
    }

    async fn blobs_unlinked_without(
        &self,
        links: &[(RepoName, Digest)],
        before: i64,
    ) -> Result<Vec<(Digest, u64)>> {
        forecast::blobs_unlinked_without(&self.reader, links, before).await
    }

    async fn forget_unlinked_blob(&self, digest: &Digest) -> Result<bool> {
        let digest = digest.clone();
        self.writer
            .run(move |conn| writes::forget_unlinked_blob(conn, &digest))
            .await
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_in_a_batch_leaves_the_others_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(
            SqliteMetadataStore::open(&dir.path().join("meta.db"))
                .await
                .unwrap(),
        );
        let repo: RepoName = "batch".parse().unwrap();
        let present = Digest::sha256_of(b"present");
        store.link_blob(&repo, &present, 7).await.unwrap();
        let writes = (0..64).map(|i| {
            let (store, repo) = (store.clone(), repo.clone());
            let blob = if i % 2 == 0 {
                present.clone()
            } else {
                Digest::sha256_of(format!("absent {i}").as_bytes())
            };
            tokio::spawn(async move {
                let body = format!("{{\"n\":{i}}}");
                let manifest = NewManifest {
                    digest: Digest::sha256_of(body.as_bytes()),
                    media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    body: bytes::Bytes::from(body),
                    artifact_type: None,
                    subject: None,
                    annotations_json: None,
                    blobs: vec![blob],
                    children: vec![],
                };
                let tag: Tag = format!("t{i}").parse().unwrap();
                (i, store.put_manifest(&repo, &manifest, &[tag]).await)
            })
        });
        for write in futures::future::join_all(writes).await {
            let (i, result) = write.unwrap();
            assert_eq!(result.is_ok(), i % 2 == 0, "write {i}: {result:?}");
        }
        let tags = store.list_tags(&repo, None, 100).await.unwrap();
        assert_eq!(tags.len(), 32);
        assert!(tags.iter().all(|t| t[1..].parse::<u32>().unwrap() % 2 == 0));
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

    /// A database written before migrations 0003 and 0004 gains reference counts and orphan
    /// times that match its content.
    #[tokio::test]
    async fn upgrading_backfills_reference_counts_and_orphan_times() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let upgraded_from = now_millis() - 1_000;
        let repo: RepoName = "old/app".parse().unwrap();
        let layer = Digest::sha256_of(b"layer");
        let (first, second) = (Digest::sha256_of(b"first"), Digest::sha256_of(b"second"));
        let (signature, gone) = (Digest::sha256_of(b"sig"), Digest::sha256_of(b"deleted"));
        {
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
            let mut before = sqlx::migrate!("./migrations/sqlite");
            before.migrations = before
                .migrations
                .iter()
                .filter(|m| m.version < 3)
                .cloned()
                .collect::<Vec<_>>()
                .into();
            before.run(&mut conn).await.unwrap();
            let (r, l) = (repo.as_str(), layer.as_str());
            let statements = [
                format!("INSERT INTO repositories VALUES ('{r}', 0)"),
                format!("INSERT INTO blobs VALUES ('{l}', 5, 0)"),
                format!("INSERT INTO repository_blobs VALUES ('{r}', '{l}', 0)"),
                format!("INSERT INTO manifests VALUES ('{r}', '{first}', 'm', 1, x'00', NULL, NULL, NULL, 0)"),
                format!("INSERT INTO manifests VALUES ('{r}', '{second}', 'm', 1, x'00', NULL, NULL, NULL, 0)"),
                format!("INSERT INTO manifests VALUES ('{r}', '{signature}', 'm', 1, x'00', NULL, '{gone}', NULL, 0)"),
                format!("INSERT INTO manifest_blobs VALUES ('{r}', '{first}', '{l}')"),
                format!("INSERT INTO manifest_blobs VALUES ('{r}', '{second}', '{l}')"),
                format!("INSERT INTO referrers VALUES ('{r}', '{gone}', '{signature}', 'm', 1, NULL, NULL)"),
            ];
            for statement in statements {
                sqlx::query(&statement).execute(&mut conn).await.unwrap();
            }
            conn.close().await.unwrap();
        }
        let store = SqliteMetadataStore::open(&path).await.unwrap();
        let graph = store.manifest_graph(&repo).await.unwrap();
        let orphaned_at = graph
            .manifests
            .iter()
            .find(|m| m.digest == signature)
            .and_then(|m| m.subject_deleted_at);
        assert!(
            orphaned_at.is_some_and(|at| at >= upgraded_from),
            "an orphan's delay starts at the upgrade: {orphaned_at:?}"
        );
        let unreferenced = || async { store.unreferenced_links(i64::MAX).await.unwrap() };
        assert!(unreferenced().await.is_empty());
        assert!(store.delete_manifest(&repo, &first).await.unwrap());
        assert!(
            unreferenced().await.is_empty(),
            "the second manifest still counts"
        );
        assert!(store.delete_manifest(&repo, &second).await.unwrap());
        assert_eq!(unreferenced().await, vec![(repo, layer)]);
    }
}
