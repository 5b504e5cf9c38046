//! The event outbox of the PostgreSQL backend (see the migration `0004_events.sql` for why
//! events are read in (transaction id, seq) order below the oldest running transaction).

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use super::db_now;
use crate::error::Result;
use crate::events::{new_event_id, DeadEvent, DeadLetter, NewEvent, StoredEvent};

/// Records `events` at `now` (Unix ms) in the caller's transaction.
pub(super) async fn insert_all(
    conn: &mut PgConnection,
    events: &[NewEvent],
    now: i64,
) -> Result<()> {
    for event in events {
        sqlx::query(
            "INSERT INTO events (id, type, repository, subject, time, data)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new_event_id())
        .bind(&event.kind)
        .bind(&event.repository)
        .bind(&event.subject)
        .bind(now)
        .bind(event.data_text())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The oldest transaction that may still commit: every event of an older one is final.
const HORIZON: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

pub(super) async fn open_cursor(pool: &PgPool, endpoint: &str) -> Result<()> {
    let sql = format!(
        "INSERT INTO event_cursors (endpoint, tx, seq)
         SELECT $1, COALESCE(MAX(tx), 0), COALESCE(MAX(seq), 0) FROM
           (SELECT tx, seq FROM events WHERE tx < {HORIZON} ORDER BY tx DESC, seq DESC LIMIT 1) last
         ON CONFLICT (endpoint) DO NOTHING"
    );
    sqlx::query(&sql).bind(endpoint).execute(pool).await?;
    Ok(())
}

pub(super) async fn pass(
    pool: &PgPool,
    endpoint: &str,
    seq: i64,
    dead: Option<&DeadLetter>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    let now = db_now(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO event_cursors (endpoint, tx, seq)
         SELECT $1, tx, seq FROM events WHERE seq = $2
         ON CONFLICT (endpoint) DO UPDATE SET tx = excluded.tx, seq = excluded.seq
           WHERE (event_cursors.tx, event_cursors.seq) < (excluded.tx, excluded.seq)",
    )
    .bind(endpoint)
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    if let Some(dead) = dead {
        sqlx::query(
            "INSERT INTO event_dead_letters (endpoint, seq, attempts, last_error, dead_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (endpoint, seq) DO UPDATE SET attempts = excluded.attempts,
               last_error = excluded.last_error, dead_at = excluded.dead_at",
        )
        .bind(endpoint)
        .bind(seq)
        .bind(i64::from(dead.attempts))
        .bind(&dead.last_error)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn prune(pool: &PgPool, endpoints: &[String], before: i64) -> Result<u64> {
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM event_dead_letters WHERE dead_at < $1")
        .bind(before)
        .execute(&mut *tx)
        .await?;
    // An endpoint without a cursor has passed nothing.
    let deleted = sqlx::query(
        "DELETE FROM events e WHERE e.time < $1
           AND NOT EXISTS (SELECT 1 FROM unnest($2::text[]) AS j(name) WHERE NOT EXISTS
             (SELECT 1 FROM event_cursors c
              WHERE c.endpoint = j.name AND (c.tx, c.seq) >= (e.tx, e.seq)))
           AND NOT EXISTS (SELECT 1 FROM event_dead_letters d WHERE d.seq = e.seq)",
    )
    .bind(before)
    .bind(endpoints)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(deleted)
}

const EVENT_COLUMNS: &str = "e.seq, e.id, e.type, e.repository, e.subject, e.time, e.data";

/// The events after the cursor of `$1` (from the start without one).
const AFTER_CURSOR: &str = "FROM events e
     LEFT JOIN event_cursors c ON c.endpoint = $1
     WHERE (e.tx, e.seq) > (COALESCE(c.tx, 0), COALESCE(c.seq, 0))";

fn stored(row: &PgRow) -> StoredEvent {
    StoredEvent {
        seq: row.get(0),
        id: row.get(1),
        kind: row.get(2),
        repository: row.get(3),
        subject: row.get(4),
        time: row.get(5),
        data: row.get(6),
    }
}

/// The events after the cursor of `endpoint`, or after the event `after` when that is later
/// (it is after the cursor, so not pruned: its position is still in the outbox). Were it gone
/// (another node's configuration pruning what this endpoint never passed), nothing is
/// returned, and the dispatcher saves its cursor and reads on from it.
pub(super) async fn after_cursor(
    pool: &PgPool,
    endpoint: &str,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<StoredEvent>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} {AFTER_CURSOR} AND e.tx < {HORIZON}
           AND ($3::bigint IS NULL
                OR (e.tx, e.seq) > (SELECT a.tx, a.seq FROM events a WHERE a.seq = $3))
         ORDER BY e.tx, e.seq LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(endpoint)
        .bind(i64::from(limit))
        .bind(after)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(stored).collect())
}

pub(super) async fn count_after_cursor(pool: &PgPool, endpoint: &str) -> Result<u64> {
    let sql = format!("SELECT COUNT(*) {AFTER_CURSOR}");
    let count: i64 = sqlx::query_scalar(&sql)
        .bind(endpoint)
        .fetch_one(pool)
        .await?;
    Ok(count as u64)
}

pub(super) async fn dead(pool: &PgPool, endpoint: &str, limit: u32) -> Result<Vec<DeadEvent>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS}, d.attempts, d.last_error, d.dead_at
         FROM event_dead_letters d JOIN events e ON e.seq = d.seq
         WHERE d.endpoint = $1 ORDER BY e.tx, e.seq LIMIT $2"
    );
    let rows = sqlx::query(&sql)
        .bind(endpoint)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .map(|row| DeadEvent {
            event: stored(row),
            attempts: row.get::<i64, _>(7) as u32,
            last_error: row.get(8),
            dead_at: row.get(9),
        })
        .collect())
}
