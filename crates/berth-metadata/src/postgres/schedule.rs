//! One schedule shared by every node: a scheduled task's turns are claimed in the database.

use sqlx::PgConnection;

use super::db_now;
use crate::error::Result;

/// Records a start of `name` now unless one was recorded less than `interval_ms` ago.
pub(super) async fn claim_scheduled_run(
    conn: &mut PgConnection,
    name: &str,
    interval_ms: i64,
) -> Result<bool> {
    let now = db_now(&mut *conn).await?;
    let last: Option<i64> =
        sqlx::query_scalar("SELECT started_at FROM scheduled_runs WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
    if last.is_some_and(|last| now.saturating_sub(last) < interval_ms) {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO scheduled_runs (name, started_at) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET started_at = EXCLUDED.started_at",
    )
    .bind(name)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}
