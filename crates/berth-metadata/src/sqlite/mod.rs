//! SQLite backend: the embedded default, one file in the data directory.
//!
//! One writer connection runs every write (SQLite allows one writer anyway, and a single
//! connection avoids lock-upgrade failures), committing concurrent writes together (see
//! `writer`); readers use a separate pool and see the last committed state through WAL.

mod ancestry;
mod browse;
mod collection;
mod events;
mod forecast;
mod manifests;
mod operations;
mod stats;
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

use crate::coordination::{LockGuard, LockName, ProcessLocks};
use crate::error::{MetadataError, Result};
use crate::events::{DeadEvent, DeadLetter, EventSignal, NewEvent, StoredEvent};
use crate::model::{
    ManifestGraph, NewManifest, Precondition, Referrer, ReferrerCursor, ReferrerOrder,
    StoredManifest, UploadRecord,
};
use crate::operations::{QuarantinedBlob, RepositoryUsage};
use crate::store::MetadataStore;

/// Metadata in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteMetadataStore {
    writer: Writer,
    reader: SqlitePool,
    /// The data directory's lock file keeps other processes out, so locks live here.
    locks: std::sync::Arc<ProcessLocks>,
    /// Changed after every write that may have recorded events.
    events: EventSignal,
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
        Ok(SqliteMetadataStore {
            writer,
            reader,
            locks: Default::default(),
            events: EventSignal::default(),
        })
    }

    /// Passes `result` on, waking the event dispatchers when the write succeeded.
    fn signalled<T>(&self, result: Result<T>) -> Result<T> {
        if result.is_ok() {
            self.events.notify();
        }
        result
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
    async fn lock(&self, name: &LockName<'_>) -> Result<LockGuard> {
        Ok(self.locks.lock(name).await)
    }

    async fn try_lock(&self, name: &LockName<'_>) -> Result<Option<LockGuard>> {
        Ok(self.locks.try_lock(name))
    }

    async fn now_millis(&self) -> Result<i64> {
        Ok(now_millis())
    }

    async fn check_ready(&self) -> Result<()> {
        stats::check_ready(&self.reader).await
    }

    async fn content_stats(&self) -> Result<crate::ContentStats> {
        stats::content_stats(&self.reader).await
    }

    fn shared(&self) -> bool {
        false
    }

    async fn repository_exists(&self, repo: &RepoName) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM repositories WHERE name = ?")
            .bind(repo.as_str())
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.is_some())
    }

    async fn list_repositories(&self, after: Option<&str>, limit: u32) -> Result<Vec<RepoName>> {
        let rows = sqlx::query(
            "SELECT name FROM repositories r WHERE (?1 IS NULL OR name > ?1)
               AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo = r.name)
             ORDER BY name LIMIT ?2",
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
             WHERE l.repo = ? AND l.digest = ?
               AND NOT EXISTS (SELECT 1 FROM quarantined_blobs q WHERE q.digest = l.digest)",
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
        precondition: Option<&Precondition>,
    ) -> Result<()> {
        let (repo, manifest, tags) = (repo.clone(), manifest.clone(), tags.to_vec());
        let precondition = precondition.cloned();
        let written = self
            .writer
            .run(move |conn| {
                writes::put_manifest(conn, &repo, &manifest, &tags, precondition.as_ref())
            })
            .await;
        self.signalled(written)
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
        order: ReferrerOrder,
        after: Option<&ReferrerCursor>,
        limit: u32,
    ) -> Result<Vec<Referrer>> {
        let listing = manifests::ReferrersListing {
            repo,
            subject,
            artifact_types,
            after,
            limit,
        };
        match order {
            ReferrerOrder::Digest => listing.by_digest(&self.reader).await,
            ReferrerOrder::NewestFirst => listing.newest_first(&self.reader).await,
        }
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

    async fn delete_tag(
        &self,
        repo: &RepoName,
        tag: &Tag,
        precondition: Option<&Precondition>,
    ) -> Result<bool> {
        let (repo, tag, precondition) = (repo.clone(), tag.clone(), precondition.cloned());
        let written = self
            .writer
            .run(move |conn| writes::delete_tag(conn, &repo, &tag, precondition.as_ref()))
            .await;
        self.signalled(written)
    }

    async fn delete_manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
        precondition: Option<&Precondition>,
    ) -> Result<bool> {
        let (repo, digest, precondition) = (repo.clone(), digest.clone(), precondition.cloned());
        let written = self
            .writer
            .run(move |conn| {
                writes::delete_manifest_if(conn, &repo, &digest, precondition.as_ref())
            })
            .await;
        self.signalled(written)
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

    async fn ancestry_graph(
        &self,
        repo: &RepoName,
        seeds: &[Digest],
        removed_tag: Option<&str>,
    ) -> Result<ManifestGraph> {
        ancestry::ancestry_graph(&self.reader, repo, seeds, removed_tag).await
    }

    async fn delete_unreachable_manifest(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let (repo, digest) = (repo.clone(), digest.clone());
        let written = self
            .writer
            .run(move |conn| writes::delete_unreachable_manifest(conn, &repo, &digest))
            .await;
        self.signalled(written)
    }

    async fn delete_tag_if_unchanged(
        &self,
        repo: &RepoName,
        tag: &str,
        digest: &Digest,
        updated_at: i64,
    ) -> Result<bool> {
        let (repo, tag, digest) = (repo.clone(), tag.to_owned(), digest.clone());
        let written = self
            .writer
            .run(move |conn| {
                writes::delete_tag_if_unchanged(conn, &repo, &tag, &digest, updated_at)
            })
            .await;
        self.signalled(written)
    }

    async fn delete_superseded_referrer(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let (repo, digest) = (repo.clone(), digest.clone());
        let written = self
            .writer
            .run(move |conn| writes::delete_superseded_referrer(conn, &repo, &digest))
            .await;
        self.signalled(written)
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

    async fn blobs_after(&self, after: Option<&Digest>, limit: u32) -> Result<Vec<(Digest, u64)>> {
        operations::blobs_after(&self.reader, after, limit).await
    }

    async fn quarantine_blob(&self, digest: &Digest, reason: &str) -> Result<()> {
        let (digest, reason) = (digest.clone(), reason.to_owned());
        self.writer
            .run(move |conn| operations::quarantine_blob(conn, &digest, &reason))
            .await
    }

    async fn quarantined_blobs(&self) -> Result<Vec<QuarantinedBlob>> {
        operations::quarantined_blobs(&self.reader).await
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<String>> {
        operations::checkpoint(&self.reader, name).await
    }

    async fn save_checkpoint(&self, name: &str, state: Option<&str>) -> Result<()> {
        let (name, state) = (name.to_owned(), state.map(str::to_owned));
        self.writer
            .run(move |conn| operations::save_checkpoint(conn, &name, state.as_deref()))
            .await
    }

    async fn repository_usage(&self) -> Result<Vec<RepositoryUsage>> {
        operations::repository_usage(&self.reader).await
    }

    async fn append_event(&self, event: &NewEvent) -> Result<()> {
        let event = event.clone();
        let written = self
            .writer
            .run(move |conn| events::insert(conn, &event, now_millis()))
            .await;
        self.signalled(written)
    }

    async fn open_event_cursor(&self, endpoint: &str) -> Result<()> {
        let endpoint = endpoint.to_owned();
        self.writer
            .run(move |conn| events::open_cursor(conn, &endpoint))
            .await
    }

    async fn events_after_cursor(
        &self,
        endpoint: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>> {
        events::after_cursor(&self.reader, endpoint, after, limit).await
    }

    async fn pass_event(&self, endpoint: &str, seq: i64, dead: Option<&DeadLetter>) -> Result<()> {
        let (endpoint, dead) = (endpoint.to_owned(), dead.cloned());
        self.writer
            .run(move |conn| events::pass(conn, &endpoint, seq, dead.as_ref(), now_millis()))
            .await
    }

    async fn count_events_after_cursor(&self, endpoint: &str) -> Result<u64> {
        events::count_after_cursor(&self.reader, endpoint).await
    }

    async fn dead_events(&self, endpoint: &str, limit: u32) -> Result<Vec<DeadEvent>> {
        events::dead(&self.reader, endpoint, limit).await
    }

    async fn prune_events(&self, endpoints: &[String], before: i64) -> Result<u64> {
        let endpoints = endpoints.to_vec();
        self.writer
            .run(move |conn| events::prune(conn, &endpoints, before))
            .await
    }

    fn watch_events(&self) -> tokio::sync::watch::Receiver<u64> {
        self.events.subscribe()
    }
}

#[cfg(test)]
mod tests;
