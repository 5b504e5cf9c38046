//! PostgreSQL backend: one database shared by several Berth nodes (the scale-out deployment).
//!
//! Every write runs in a SERIALIZABLE transaction that is retried on serialization failure
//! (see `transaction` for why that rather than row locks); reads are single statements on the
//! pool. All SQL of this backend stays in this module; names and digests compare in byte order
//! (`COLLATE "C"`) whatever the database's locale.

mod ancestry;
mod browse;
mod collection;
mod events;
mod forecast;
pub(crate) mod locks;
mod operations;
mod reads;
mod schedule;
mod stats;
pub(crate) mod transaction;
mod writes;

use std::str::FromStr;

use async_trait::async_trait;
use berth_oci::{Digest, RepoName, Tag, UploadId};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use self::transaction::serializable;
use crate::coordination::{LockGuard, LockName};
use crate::error::{MetadataError, Result};
use crate::events::{DeadEvent, DeadLetter, EventSignal, NewEvent, StoredEvent};
use crate::model::{
    ManifestGraph, NewManifest, Precondition, Referrer, ReferrerCursor, ReferrerOrder,
    StoredManifest, UploadRecord,
};
use crate::operations::{QuarantinedBlob, RepositoryUsage};
use crate::store::MetadataStore;

/// Metadata in a PostgreSQL database that several Berth nodes may share.
#[derive(Debug, Clone)]
pub struct PostgresMetadataStore {
    pool: PgPool,
    /// Connections that hold advisory locks, apart so that held locks never starve queries.
    locks: locks::AdvisoryLocks,
    /// Changed after every write of this process that may have recorded events.
    events: EventSignal,
}

impl PostgresMetadataStore {
    /// Connects to `url` with a pool of at most `max_connections` and brings the schema up to
    /// date. Nodes starting together are safe: the migrator holds an advisory lock while it
    /// runs. The schema is the first of the connection's `search_path` (a URL may set it with
    /// `options=-c search_path=...`).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| MetadataError::Database(e.into()))?;
        let locks = locks::AdvisoryLocks::new(&pool, options, max_connections).await?;
        Ok(PostgresMetadataStore {
            pool,
            locks,
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

    /// Closes the pools' connections (waiting for those in use to come back).
    pub async fn close(&self) {
        self.pool.close().await;
        self.locks.close().await;
    }
}

/// The database's clock in milliseconds since the Unix epoch: one clock for every node, so
/// that ages do not depend on which node recorded or judges them.
pub(crate) async fn db_now<'e>(executor: impl sqlx::PgExecutor<'e>) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8")
            .fetch_one(executor)
            .await?,
    )
}

pub(crate) fn parse_column<T: FromStr>(text: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e: T::Err| MetadataError::Corrupt(format!("{text:?}: {e}")))
}

#[async_trait]
impl MetadataStore for PostgresMetadataStore {
    async fn lock(&self, name: &LockName<'_>) -> Result<LockGuard> {
        self.locks.lock(name).await
    }

    async fn try_lock(&self, name: &LockName<'_>) -> Result<Option<LockGuard>> {
        self.locks.try_lock(name).await
    }

    async fn now_millis(&self) -> Result<i64> {
        db_now(&self.pool).await
    }

    async fn check_ready(&self) -> Result<()> {
        stats::check_ready(&self.pool).await
    }

    async fn content_stats(&self) -> Result<crate::ContentStats> {
        stats::content_stats(&self.pool).await
    }

    fn shared(&self) -> bool {
        true
    }

    async fn claim_scheduled_run(&self, name: &str, interval_ms: i64) -> Result<bool> {
        serializable!(self.pool, |conn| schedule::claim_scheduled_run(
            conn,
            name,
            interval_ms
        ))
    }

    async fn repository_exists(&self, repo: &RepoName) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM repositories WHERE name = $1")
            .bind(repo.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn list_repositories(&self, after: Option<&str>, limit: u32) -> Result<Vec<RepoName>> {
        // Two statements, so that a generic plan still reads one range of the primary key.
        let query = match after {
            None => sqlx::query_scalar(
                r#"SELECT name FROM repositories r
                   WHERE EXISTS (SELECT 1 FROM manifests m WHERE m.repo = r.name)
                   ORDER BY name COLLATE "C" LIMIT $1"#,
            ),
            Some(_) => sqlx::query_scalar(
                r#"SELECT name FROM repositories r WHERE name > $2
                     AND EXISTS (SELECT 1 FROM manifests m WHERE m.repo = r.name)
                   ORDER BY name COLLATE "C" LIMIT $1"#,
            ),
        };
        let mut query = query.bind(i64::from(limit));
        if let Some(after) = after {
            query = query.bind(after);
        }
        let names: Vec<String> = query.fetch_all(&self.pool).await?;
        names.iter().map(|n| parse_column(n)).collect()
    }

    async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        let size: Option<i64> = sqlx::query_scalar("SELECT size FROM blobs WHERE digest = $1")
            .bind(digest.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(size.map(|s| s as u64))
    }

    async fn linked_blob_size(&self, repo: &RepoName, digest: &Digest) -> Result<Option<u64>> {
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT b.size FROM repository_blobs l JOIN blobs b ON b.digest = l.digest
             WHERE l.repo = $1 AND l.digest = $2
               AND NOT EXISTS (SELECT 1 FROM quarantined_blobs q WHERE q.digest = l.digest)",
        )
        .bind(repo.as_str())
        .bind(digest.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(size.map(|s| s as u64))
    }

    async fn link_blob(&self, repo: &RepoName, digest: &Digest, size: u64) -> Result<()> {
        serializable!(self.pool, |conn| writes::link_blob(
            conn, repo, digest, size
        ))
    }

    async fn unlink_blob(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        serializable!(self.pool, |conn| writes::unlink_blob(conn, repo, digest))
    }

    async fn repositories_with_blob(&self, digest: &Digest) -> Result<Vec<RepoName>> {
        let names: Vec<String> = sqlx::query_scalar(
            r#"SELECT repo FROM repository_blobs WHERE digest = $1 ORDER BY repo COLLATE "C""#,
        )
        .bind(digest.as_str())
        .fetch_all(&self.pool)
        .await?;
        names.iter().map(|n| parse_column(n)).collect()
    }

    async fn put_manifest(
        &self,
        repo: &RepoName,
        manifest: &NewManifest,
        tags: &[Tag],
        precondition: Option<&Precondition>,
    ) -> Result<()> {
        let written = serializable!(self.pool, |conn| writes::put_manifest(
            conn,
            repo,
            manifest,
            tags,
            precondition
        ));
        self.signalled(written)
    }

    async fn manifest_by_digest(
        &self,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<StoredManifest>> {
        reads::by_digest(&self.pool, repo, digest).await
    }

    async fn manifest_by_tag(&self, repo: &RepoName, tag: &Tag) -> Result<Option<StoredManifest>> {
        reads::by_tag(&self.pool, repo, tag).await
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
        let listing = reads::ReferrersListing {
            repo,
            subject,
            artifact_types,
            after,
            limit,
        };
        match order {
            ReferrerOrder::Digest => listing.by_digest(&self.pool).await,
            ReferrerOrder::NewestFirst => listing.newest_first(&self.pool).await,
        }
    }

    async fn list_tags(
        &self,
        repo: &RepoName,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        reads::list_tags(&self.pool, repo, after, limit).await
    }

    async fn delete_tag(
        &self,
        repo: &RepoName,
        tag: &Tag,
        precondition: Option<&Precondition>,
    ) -> Result<bool> {
        let written = serializable!(self.pool, |conn| writes::delete_tag(
            conn,
            repo,
            tag,
            precondition
        ));
        self.signalled(written)
    }

    async fn delete_manifest(
        &self,
        repo: &RepoName,
        digest: &Digest,
        precondition: Option<&Precondition>,
    ) -> Result<bool> {
        let written = serializable!(self.pool, |conn| writes::delete_manifest_if(
            conn,
            repo,
            digest,
            precondition
        ));
        self.signalled(written)
    }

    async fn create_upload(&self, upload: &UploadRecord) -> Result<()> {
        serializable!(self.pool, |conn| writes::create_upload(conn, upload))
    }

    async fn upload(&self, id: &UploadId) -> Result<Option<UploadRecord>> {
        reads::upload(&self.pool, id).await
    }

    async fn delete_upload(&self, id: &UploadId) -> Result<bool> {
        serializable!(self.pool, |conn| writes::delete_upload(conn, id))
    }

    async fn complete_upload(&self, id: &UploadId, digest: &Digest, size: u64) -> Result<bool> {
        serializable!(self.pool, |conn| writes::complete_upload(
            conn, id, digest, size
        ))
    }

    async fn uploads_created_before(&self, before: i64) -> Result<Vec<UploadRecord>> {
        reads::uploads_created_before(&self.pool, before).await
    }

    async fn manifest_graph(&self, repo: &RepoName) -> Result<ManifestGraph> {
        collection::manifest_graph(&self.pool, repo).await
    }

    async fn ancestry_graph(
        &self,
        repo: &RepoName,
        seeds: &[Digest],
        removed_tag: Option<&str>,
    ) -> Result<ManifestGraph> {
        ancestry::ancestry_graph(&self.pool, repo, seeds, removed_tag).await
    }

    async fn delete_unreachable_manifest(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let written = serializable!(self.pool, |conn| writes::delete_unreachable_manifest(
            conn, repo, digest
        ));
        self.signalled(written)
    }

    async fn unreferenced_links(&self, before: i64) -> Result<Vec<(RepoName, Digest)>> {
        collection::unreferenced_links(&self.pool, before).await
    }

    async fn unlink_unreferenced(
        &self,
        repo: &RepoName,
        digest: &Digest,
        before: i64,
    ) -> Result<bool> {
        serializable!(self.pool, |conn| writes::unlink_unreferenced(
            conn, repo, digest, before
        ))
    }

    async fn unlinked_blobs(&self, before: i64) -> Result<Vec<(Digest, u64)>> {
        collection::unlinked_blobs(&self.pool, before).await
    }

    async fn links_unreferenced_without(
        &self,
        repo: &RepoName,
        manifests: &[Digest],
        before: i64,
    ) -> Result<Vec<Digest>> {
        forecast::links_unreferenced_without(&self.pool, repo, manifests, before).await
    }

    async fn blobs_unlinked_without(
        &self,
        links: &[(RepoName, Digest)],
        before: i64,
    ) -> Result<Vec<(Digest, u64)>> {
        forecast::blobs_unlinked_without(&self.pool, links, before).await
    }

    async fn forget_unlinked_blob(&self, digest: &Digest) -> Result<bool> {
        serializable!(self.pool, |conn| writes::forget_unlinked_blob(conn, digest))
    }

    async fn delete_tag_if_unchanged(
        &self,
        repo: &RepoName,
        tag: &str,
        digest: &Digest,
        updated_at: i64,
    ) -> Result<bool> {
        let written = serializable!(self.pool, |conn| writes::delete_tag_if_unchanged(
            conn, repo, tag, digest, updated_at
        ));
        self.signalled(written)
    }

    async fn delete_superseded_referrer(&self, repo: &RepoName, digest: &Digest) -> Result<bool> {
        let written = serializable!(self.pool, |conn| writes::delete_superseded_referrer(
            conn, repo, digest
        ));
        self.signalled(written)
    }

    async fn append_event(&self, event: &NewEvent) -> Result<()> {
        let written = serializable!(self.pool, |conn| async {
            let now = db_now(&mut *conn).await?;
            events::insert_all(conn, std::slice::from_ref(event), now).await
        });
        self.signalled(written)
    }

    async fn open_event_cursor(&self, endpoint: &str) -> Result<()> {
        events::open_cursor(&self.pool, endpoint).await
    }

    async fn events_after_cursor(
        &self,
        endpoint: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>> {
        events::after_cursor(&self.pool, endpoint, after, limit).await
    }

    async fn pass_event(&self, endpoint: &str, seq: i64, dead: Option<&DeadLetter>) -> Result<()> {
        events::pass(&self.pool, endpoint, seq, dead).await
    }

    async fn count_events_after_cursor(&self, endpoint: &str) -> Result<u64> {
        events::count_after_cursor(&self.pool, endpoint).await
    }

    async fn dead_events(&self, endpoint: &str, limit: u32) -> Result<Vec<DeadEvent>> {
        events::dead(&self.pool, endpoint, limit).await
    }

    async fn prune_events(&self, endpoints: &[String], before: i64) -> Result<u64> {
        events::prune(&self.pool, endpoints, before).await
    }

    fn watch_events(&self) -> tokio::sync::watch::Receiver<u64> {
        self.events.subscribe()
    }

    async fn blobs_after(&self, after: Option<&Digest>, limit: u32) -> Result<Vec<(Digest, u64)>> {
        operations::blobs_after(&self.pool, after, limit).await
    }

    async fn quarantine_blob(&self, digest: &Digest, reason: &str) -> Result<()> {
        serializable!(self.pool, |conn| operations::quarantine_blob(
            conn, digest, reason
        ))
    }

    async fn quarantined_blobs(&self) -> Result<Vec<QuarantinedBlob>> {
        operations::quarantined_blobs(&self.pool).await
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<String>> {
        operations::checkpoint(&self.pool, name).await
    }

    async fn save_checkpoint(&self, name: &str, state: Option<&str>) -> Result<()> {
        serializable!(self.pool, |conn| operations::save_checkpoint(
            conn, name, state
        ))
    }

    async fn repository_usage(&self) -> Result<Vec<RepositoryUsage>> {
        operations::repository_usage(&self.pool).await
    }
}

#[cfg(test)]
mod tests;
