//! Fresh schemas on the test PostgreSQL server, so that tests run in parallel on one database
//! and each starts empty.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, PgConnection};

/// The variable naming the test server (`bash scripts/services/postgres.sh` prints its URL).
pub const URL_VARIABLE: &str = "BERTH_TEST_POSTGRES_URL";

/// The test server's URL; panics, saying how to start one, when `BERTH_TEST_POSTGRES_URL` is
/// not set.
pub fn server_url() -> String {
    std::env::var(URL_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{URL_VARIABLE} is not set: the PostgreSQL backend is tested against a real server. \
             Run `./scripts/test.sh`, or start one with `bash scripts/services/postgres.sh` and \
             set {URL_VARIABLE} to the URL it prints"
        )
    })
}

/// A schema made fresh for one test: its name, and the server URL that selects it (through
/// `search_path`) for every connection a store opens with it.
pub struct FreshSchema {
    pub name: String,
    pub url: String,
    server: String,
}

impl FreshSchema {
    /// Creates a schema named after `prefix`, the process and a counter.
    pub async fn create(prefix: &str) -> FreshSchema {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let server = server_url();
        let name = format!(
            "{prefix}_{}_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after the epoch")
                .as_millis(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = connect(&server).await;
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .expect("schema created");
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-c%20search_path%3D{name}");
        FreshSchema { name, url, server }
    }

    /// Drops the schema and everything in it.
    pub async fn drop_all(self) {
        let mut admin = connect(&self.server).await;
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&mut admin)
            .await
            .expect("schema dropped");
    }
}

async fn connect(server: &str) -> PgConnection {
    PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {server} ({URL_VARIABLE}): {e}"))
}

/// Ends the server sessions holding lock `name` of the registry in `schema`, as a network
/// failure or an administrator would, and returns how many it ended; the holder's guard does
/// not notice until it next uses its connection.
pub async fn terminate_lock_holders(schema: &str, name: &crate::LockName<'_>) -> usize {
    let (high, low) =
        crate::postgres::locks::key_halves(crate::postgres::locks::advisory_key(schema, name));
    let mut admin = connect(&server_url()).await;
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted AND objsubid = 1 \
         AND classid::bigint = $1 AND objid::bigint = $2",
    )
    .bind(high)
    .bind(low)
    .fetch_all(&mut admin)
    .await
    .expect("lock holders terminated");
    ended.into_iter().filter(|ended| *ended).count()
}
