//! The event outbox of the SQLite backend. Events are inserted by the writer thread inside the
//! batch transaction of the change they report; seqs are given in that one writer's order, so
//! seq order is commit order and the reader pool sees every event up to the last commit.

use rusqlite::{params, Connection};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use crate::error::Result;
use crate::events::{new_event_id, DeadEvent, DeadLetter, NewEvent, StoredEvent};

/// Records `event` at `now` (Unix ms) in the writer's transaction.
pub fn insert(conn: &Connection, event: &NewEvent, now: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (id, type, repository, subject, time, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        new_event_id(),
        event.kind,
        event.repository,
        event.subject,
        now,
        event.data_text()
    ])?;
    Ok(())
}

pub fn insert_all(conn: &Connection, events: &[NewEvent], now: i64) -> Result<()> {
    events.iter().try_for_each(|event| insert(conn, event, now))
}

pub fn open_cursor(conn: &Connection, endpoint: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO event_cursors (endpoint, seq)
         SELECT ?1, COALESCE(MAX(seq), 0) FROM events",
    )?
    .execute(params![endpoint])?;
    Ok(())
}

pub fn pass(
    conn: &Connection,
    endpoint: &str,
    seq: i64,
    dead: Option<&DeadLetter>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO event_cursors (endpoint, seq) VALUES (?1, ?2)
         ON CONFLICT (endpoint) DO UPDATE SET seq = max(seq, excluded.seq)",
    )?
    .execute(params![endpoint, seq])?;
    if let Some(dead) = dead {
        conn.prepare_cached(
            "INSERT OR REPLACE INTO event_dead_letters
               (endpoint, seq, attempts, last_error, dead_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![endpoint, seq, dead.attempts, dead.last_error, now])?;
    }
    Ok(())
}

pub fn prune(conn: &Connection, endpoints: &[String], before: i64) -> Result<u64> {
    let names = serde_json::to_string(endpoints).expect("strings serialise");
    conn.prepare_cached("DELETE FROM event_dead_letters WHERE dead_at < ?1")?
        .execute(params![before])?;
    // An endpoint without a cursor has passed nothing.
    let deleted = conn
        .prepare_cached(
            "DELETE FROM events WHERE time < ?1
               AND NOT EXISTS (SELECT 1 FROM json_each(?2) j WHERE NOT EXISTS
                 (SELECT 1 FROM event_cursors c WHERE c.endpoint = j.value AND c.seq >= events.seq))
               AND NOT EXISTS (SELECT 1 FROM event_dead_letters d WHERE d.seq = events.seq)",
        )?
        .execute(params![before, names])?;
    Ok(deleted as u64)
}

const EVENT_COLUMNS: &str = "e.seq, e.id, e.type, e.repository, e.subject, e.time, e.data";

fn stored(row: &SqliteRow) -> StoredEvent {
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

/// The events after the cursor of `endpoint`, or after the event `after` when that is later.
pub async fn after_cursor(
    pool: &SqlitePool,
    endpoint: &str,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<StoredEvent>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events e
         WHERE e.seq > max(COALESCE((SELECT seq FROM event_cursors WHERE endpoint = ?1), 0), ?3)
         ORDER BY e.seq LIMIT ?2"
    );
    let rows = sqlx::query(&sql)
        .bind(endpoint)
        .bind(limit)
        .bind(after.unwrap_or(0))
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(stored).collect())
}

pub async fn count_after_cursor(pool: &SqlitePool, endpoint: &str) -> Result<u64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events
         WHERE seq > COALESCE((SELECT seq FROM event_cursors WHERE endpoint = ?1), 0)",
    )
    .bind(endpoint)
    .fetch_one(pool)
    .await?;
    Ok(count as u64)
}

pub async fn dead(pool: &SqlitePool, endpoint: &str, limit: u32) -> Result<Vec<DeadEvent>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS}, d.attempts, d.last_error, d.dead_at
         FROM event_dead_letters d JOIN events e ON e.seq = d.seq
         WHERE d.endpoint = ?1 ORDER BY d.seq LIMIT ?2"
    );
    let rows = sqlx::query(&sql)
        .bind(endpoint)
        .bind(limit)
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
