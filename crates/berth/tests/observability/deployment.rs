//! The two deployments a test runs Berth on: the embedded default, and PostgreSQL + S3 in a
//! fresh schema and a fresh bucket prefix (both removed or abandoned afterwards).

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, PgConnection};

use crate::support::TestServer;

pub const POSTGRES_URL: &str = "BERTH_TEST_POSTGRES_URL";
const S3_VARIABLES: [&str; 5] = [
    "BERTH_TEST_S3_ENDPOINT",
    "BERTH_TEST_S3_BUCKET",
    "BERTH_TEST_S3_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
];

/// The variable `name`; panics, naming it and the script that provides it, when unset.
pub fn required(name: &str, script: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: this test needs a real server. Run `bash \
             scripts/services/{script}` and set the variables it prints (postgres.sh prints \
             {POSTGRES_URL}; garage.sh writes the S3 ones to target/services/garage/env)"
        ),
    }
}

/// A name no other test (of this run or another) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_nanos();
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A schema of its own on the test server, dropped with everything in it when dropped.
pub struct Schema {
    server: String,
    name: String,
}

impl Schema {
    pub async fn create() -> Schema {
        let server = required(POSTGRES_URL, "postgres.sh");
        let name = unique("observability");
        let mut admin = PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {server} ({POSTGRES_URL}): {e}"));
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("creating schema {name}: {e}"));
        Schema { server, name }
    }

    /// `server` (a URL of the same database, such as one through a proxy) with this schema as
    /// its `search_path`.
    pub fn url_on(&self, server: &str) -> String {
        let separator = if server.contains('?') { '&' } else { '?' };
        format!(
            "{server}{separator}options=-c%20search_path%3D{}",
            self.name
        )
    }

    pub fn url(&self) -> String {
        self.url_on(&self.server)
    }

    /// The test server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Dropped inside the test's runtime, which cannot block on a future: a thread of its own.
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server).await?;
                sqlx::query(&format!("DROP SCHEMA {name} CASCADE"))
                    .execute(&mut admin)
                    .await
                    .map(drop)
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop schema {}: {e}", self.name);
        }
    }
}

/// Which deployment a server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// SQLite and the filesystem in the data directory.
    Embedded,
    /// PostgreSQL (a fresh schema) and S3 (a fresh prefix of the Garage bucket).
    ScaleOut,
}

/// A server on one deployment; the schema (if any) outlives the server.
pub struct Deployed {
    pub server: TestServer,
    pub config: String,
    _schema: Option<Schema>,
}

impl Deployment {
    /// The `[storage]` and `[metadata]` tables of a scale-out deployment on a fresh schema.
    pub async fn scale_out_tables() -> (String, Schema) {
        let s3: Vec<String> = S3_VARIABLES
            .iter()
            .map(|name| required(name, "garage.sh"))
            .collect();
        let schema = Schema::create().await;
        let prefix = format!("{}/", unique("observability"));
        let tables = format!(
            "[storage]\nbackend = \"s3\"\nbucket = {bucket:?}\nendpoint = {endpoint:?}\n\
             region = {region:?}\npath_style = true\nprefix = {prefix:?}\n\n\
             [metadata]\nbackend = \"postgres\"\nurl = {url:?}\npool_size = 4\n",
            endpoint = s3[0],
            bucket = s3[1],
            region = s3[2],
            url = schema.url(),
        );
        (tables, schema)
    }

    /// Starts `berth serve` on this deployment with `config` (TOML top-level keys, put before
    /// the deployment's tables) and `args`.
    pub async fn start(self, config: &str, args: &[&str]) -> Deployed {
        let (tables, schema) = match self {
            Deployment::Embedded => (String::new(), None),
            Deployment::ScaleOut => {
                let (tables, schema) = Deployment::scale_out_tables().await;
                (tables, Some(schema))
            }
        };
        let config = format!("{config}\n{tables}");
        Deployed {
            server: TestServer::start_with_config(&config, args),
            config,
            _schema: schema,
        }
    }

    /// The `backend` label of the metadata metrics.
    pub fn metadata_backend(self) -> &'static str {
        match self {
            Deployment::Embedded => "sqlite",
            Deployment::ScaleOut => "postgres",
        }
    }
}
