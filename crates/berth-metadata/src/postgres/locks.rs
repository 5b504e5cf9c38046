//! Advisory locks: the `LockName`s of every node sharing the database.
//!
//! A lock is a session-level advisory lock held by a connection from a pool of its own (so
//! that long-held locks, such as a collection's, never take connections from queries). The
//! key is 64 bits of SHA-256 over the schema and the lock's name, so registries in different
//! schemas of one database do not contend; two names sharing a key only serialise more. If
//! the holding connection breaks, the server releases the lock with the session, and a guard
//! dropped outside a runtime closes its connection, which releases it too.

use std::time::Duration;

use sha2::{Digest as _, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::Postgres;

use async_trait::async_trait;
use tracing::warn;

use crate::coordination::{HeldLock, LockGuard, LockName};
use crate::error::Result;

/// How long a lock waits for a connection of its pool: blob locks are held around one
/// commit, which for a large blob on object storage takes a while.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
pub(super) struct AdvisoryLocks {
    pool: PgPool,
    /// The schema the registry lives in, part of every key.
    schema: String,
}

/// A connection holding the advisory locks `keys` (the first taken first).
struct Held {
    conn: Option<PoolConnection<Postgres>>,
    keys: Vec<i64>,
    schema: String,
}

/// The advisory lock key of `name` for a registry in `schema`.
pub(crate) fn advisory_key(schema: &str, name: &LockName<'_>) -> i64 {
    let hash = Sha256::new()
        .chain_update(b"berth:")
        .chain_update(schema.as_bytes())
        .chain_update(b":")
        .chain_update(name.key().as_bytes())
        .finalize();
    i64::from_be_bytes(hash[..8].try_into().expect("8 bytes"))
}

/// `pg_locks` shows a 64-bit advisory key as two 32-bit halves (`classid` high, `objid` low)
/// with `objsubid` 1.
pub(crate) fn key_halves(key: i64) -> (i64, i64) {
    let key = key as u64;
    ((key >> 32) as i64, (key & 0xffff_ffff) as i64)
}

/// How long `still_held` waits for the server before answering `false`.
const STILL_HELD_TIMEOUT: Duration = Duration::from_secs(10);

impl AdvisoryLocks {
    /// A lock pool of at most `max_connections` over the same server as `queries`.
    pub(super) async fn new(
        queries: &PgPool,
        options: PgConnectOptions,
        max_connections: u32,
    ) -> Result<AdvisoryLocks> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(queries)
            .await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        Ok(AdvisoryLocks { pool, schema })
    }

    fn key(&self, name: &LockName<'_>) -> i64 {
        advisory_key(&self.schema, name)
    }

    pub(super) async fn lock(&self, name: &LockName<'_>) -> Result<LockGuard> {
        let key = self.key(name);
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut *conn)
            .await?;
        Ok(LockGuard::new(Held {
            conn: Some(conn),
            keys: vec![key],
            schema: self.schema.clone(),
        }))
    }

    pub(super) async fn try_lock(&self, name: &LockName<'_>) -> Result<Option<LockGuard>> {
        let key = self.key(name);
        let mut conn = self.pool.acquire().await?;
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        Ok(taken.then(|| {
            LockGuard::new(Held {
                conn: Some(conn),
                keys: vec![key],
                schema: self.schema.clone(),
            })
        }))
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl HeldLock for Held {
    /// Asks on the holding session itself: a lock is the session's, so a broken or
    /// terminated session answers with an error, and a new session of the same pooled
    /// connection could not hold it.
    async fn still_held(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let (high, low): (Vec<i64>, Vec<i64>) = self.keys.iter().map(|k| key_halves(*k)).unzip();
        let asked = sqlx::query_scalar::<_, i64>(
            "SELECT count(DISTINCT (classid, objid)) FROM pg_locks \
             WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND objsubid = 1 AND (classid::bigint, objid::bigint) IN \
             (SELECT * FROM unnest($1::bigint[], $2::bigint[]))",
        )
        .bind(&high)
        .bind(&low)
        .fetch_one(&mut **conn);
        match tokio::time::timeout(STILL_HELD_TIMEOUT, asked).await {
            Ok(Ok(held)) => {
                let distinct: std::collections::HashSet<_> = self.keys.iter().collect();
                held == distinct.len() as i64
            }
            Ok(Err(e)) => {
                warn!(error = %e, "cannot tell whether a lock is still held");
                false
            }
            Err(_) => {
                warn!("cannot tell in time whether a lock is still held");
                false
            }
        }
    }

    async fn also_lock(&mut self, name: &LockName<'_>) -> Result<()> {
        let key = advisory_key(&self.schema, name);
        let Some(conn) = self.conn.as_mut() else {
            return Err(crate::MetadataError::CommitFailed(
                "the lock's connection is gone".into(),
            ));
        };
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut **conn)
            .await?;
        self.keys.push(key);
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    // The connection serves this guard alone: every lock it holds is the
                    // guard's (a key taken twice is held twice, and released both times).
                    let unlocked = sqlx::query("SELECT pg_advisory_unlock_all()")
                        .execute(&mut *conn)
                        .await;
                    if unlocked.is_err() {
                        // Closing the session releases whatever it still holds.
                        drop(conn.detach());
                    }
                });
            }
            Err(_) => drop(conn.detach()),
        }
    }
}
