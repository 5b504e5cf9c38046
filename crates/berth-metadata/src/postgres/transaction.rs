//! Serializable write transactions with retry.
//!
//! Why SERIALIZABLE rather than row locks: the conditions the writes test are mostly about
//! rows that do *not* exist (a tag absent for `If-None-Match: *`, no tag or index pointing at a
//! manifest the collector deletes, no link left to a blob it forgets, a blob link missing for a
//! manifest's layer). `SELECT ... FOR UPDATE` cannot lock a row that is not there, and advisory
//! locks would have to be taken on the right keys by every method, forever. PostgreSQL's
//! serializable snapshot isolation tracks those reads too (predicate locks on the index ranges
//! read) and aborts one of any two transactions that could not have run one after the other,
//! across every connection and every Berth node sharing the database. Each write is thus as if
//! it ran alone, like the SQLite backend's single writer, and a precondition or reachability
//! re-check is valid at commit.
//!
//! The price is a serialization failure (SQLSTATE 40001, or a deadlock, 40P01) when writes
//! really race; the whole transaction is then run again from the start, after a short jittered
//! backoff. PostgreSQL guarantees a retried transaction does not fail again against the same
//! committed partner, so contention resolves; `MAX_ATTEMPTS` only bounds pathological cases.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{MetadataError, Result};

/// Most runs of one write before its serialization failure is returned.
pub(super) const MAX_ATTEMPTS: u32 = 100;

/// Whether the error is a serialization failure or a deadlock: running again may succeed.
pub(super) fn is_retryable(error: &MetadataError) -> bool {
    match error {
        MetadataError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40001" | "40P01"))
        }
        _ => false,
    }
}

/// Waits before attempt `attempt` (1-based), growing up to 50 ms with jitter, so that writers
/// that collided do not collide again in lockstep.
pub(super) async fn backoff(attempt: u32) {
    let ceiling_us = (500u64 << attempt.min(7)).min(50_000);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or_default();
    let jitter = nanos.wrapping_mul(6364136223846793005) >> 33;
    tokio::time::sleep(Duration::from_micros(
        ceiling_us / 2 + jitter % (ceiling_us / 2 + 1),
    ))
    .await;
}

/// Commits; a failure other than a serialization failure (to retry) is `CommitFailed`.
pub(super) async fn commit(tx: sqlx::Transaction<'_, sqlx::Postgres>) -> Result<()> {
    let started = std::time::Instant::now();
    let committed = tx.commit().await;
    crate::stats::batch_committed("postgres", started.elapsed());
    committed.map_err(|e| {
        let error = MetadataError::from(e);
        if is_retryable(&error) {
            error
        } else {
            MetadataError::CommitFailed(error.to_string())
        }
    })
}

/// Runs `$body` (an expression using `$conn: &mut PgConnection`, evaluating to a future of
/// `Result<T>`) in a SERIALIZABLE transaction on `$pool`, committing when it succeeds and
/// rolling back when it fails, and running the whole transaction again on serialization
/// failures. A macro rather than a function taking a closure: the body borrows the caller's
/// arguments, which a higher-ranked closure returning a boxed future cannot.
macro_rules! serializable {
    ($pool:expr, |$conn:ident| $body:expr) => {{
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome: $crate::error::Result<_> = async {
                let mut tx = $pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                    .execute(&mut *tx)
                    .await?;
                let result = {
                    let $conn: &mut sqlx::PgConnection = &mut *tx;
                    $body.await
                };
                match result {
                    Ok(value) => {
                        $crate::postgres::transaction::commit(tx).await?;
                        Ok(value)
                    }
                    Err(error) => {
                        // Dropping the transaction rolls it back too; an explicit rollback
                        // returns the connection clean at once.
                        let _ = tx.rollback().await;
                        Err(error)
                    }
                }
            }
            .await;
            match outcome {
                Err(error)
                    if $crate::postgres::transaction::is_retryable(&error)
                        && attempt < $crate::postgres::transaction::MAX_ATTEMPTS =>
                {
                    tracing::debug!(attempt, %error, "serialization failure; retrying");
                    $crate::postgres::transaction::backoff(attempt).await;
                }
                other => break other,
            }
        }
    }};
}

pub(super) use serializable;
