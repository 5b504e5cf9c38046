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

use crate::coordination::{LockGuard, LockName};
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

/// A connection holding the advisory lock `key`.
struct Held {
    conn: Option<PoolConnection<Postgres>>,
    key: i64,
}

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
        let hash = Sha256::new()
            .chain_update(b"berth:")
            .chain_update(self.schema.as_bytes())
            .chain_update(b":")
            .chain_update(name.key().as_bytes())
            .finalize();
        i64::from_be_bytes(hash[..8].try_into().expect("8 bytes"))
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
            key,
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
                key,
            })
        }))
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let key = self.key;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                        .bind(key)
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
