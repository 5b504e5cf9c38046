//! Two nodes over one bucket and one database: the test servers' settings (which must be set,
//! or the test panics saying how to start the servers), a fresh PostgreSQL schema, a fresh key
//! prefix in the bucket, and the config file both nodes read.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, PgConnection};

use crate::support::http::Registry;
use crate::support::TestServer;

const POSTGRES_URL: &str = "BERTH_TEST_POSTGRES_URL";
const S3_VARIABLES: [&str; 5] = [
    "BERTH_TEST_S3_ENDPOINT",
    "BERTH_TEST_S3_BUCKET",
    "BERTH_TEST_S3_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
];

/// The variable `name`; panics, naming it and the script that provides it, when unset.
fn required(name: &str, script: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: the scale-out tests run two Berth nodes on a real PostgreSQL and \
             a real S3 server (Garage). Run `bash scripts/services/{script}` and set the \
             variables it prints (postgres.sh prints the URL for {POSTGRES_URL}; garage.sh \
             writes {} to target/services/garage/env), or run `scripts/test.sh`, which does both",
            S3_VARIABLES.join(", ")
        ),
    }
}

/// A name no other test (of this run or another) uses: process, time and a counter.
fn unique(prefix: &str) -> String {
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

/// A schema of its own on the test server, dropped (with everything in it) when dropped.
struct Schema {
    server: String,
    name: String,
    /// The server's URL with the schema as `search_path`, as the nodes connect.
    url: String,
}

impl Schema {
    async fn create() -> Schema {
        let server = required(POSTGRES_URL, "postgres.sh");
        let name = unique("scale_out");
        let mut admin = PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {server} ({POSTGRES_URL}): {e}"));
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("creating schema {name}: {e}"));
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-c%20search_path%3D{name}");
        Schema { server, name, url }
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

/// Two running nodes, `a` and `b`, sharing a bucket prefix and a schema.
pub struct Cluster {
    // Fields drop in order: the nodes stop before their schema goes.
    pub a: TestServer,
    pub b: TestServer,
    config: String,
    schema: Schema,
}

impl Cluster {
    /// Starts node A, then node B, with the same config file and extra `berth serve` options.
    pub async fn start(args: &[&str]) -> Cluster {
        let s3: Vec<String> = S3_VARIABLES
            .iter()
            .map(|name| required(name, "garage.sh"))
            .collect();
        assert!(
            std::env::var_os("BERTH_METADATA_URL").is_none(),
            "BERTH_METADATA_URL is set: it would override the test's own schema for both nodes"
        );
        let schema = Schema::create().await;
        let prefix = format!("{}/", unique("scale-out"));
        let config = format!(
            "[storage]\nbackend = \"s3\"\nbucket = {bucket:?}\nendpoint = {endpoint:?}\n\
             region = {region:?}\npath_style = true\nprefix = {prefix:?}\n\n\
             [metadata]\nbackend = \"postgres\"\nurl = {url:?}\npool_size = 4\n",
            endpoint = s3[0],
            bucket = s3[1],
            region = s3[2],
            url = schema.url,
        );
        // One after the other: the first creates the schema's tables.
        let a = TestServer::start_with_config(&config, args);
        let b = TestServer::start_with_config(&config, args);
        Cluster {
            a,
            b,
            config,
            schema,
        }
    }

    pub fn registries(&self) -> (Registry, Registry) {
        (Registry::new(self.a.url()), Registry::new(self.b.url()))
    }

    /// The URL the nodes reach the metadata with (their schema).
    pub fn metadata_url(&self) -> &str {
        &self.schema.url
    }

    /// Both nodes' logs and the config they share, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "config:\n{}\nnode A log:\n{}\nnode B log:\n{}",
            self.config,
            self.a.log(),
            self.b.log()
        )
    }
}

/// `location` (an upload session's URL on one node) as the same path on `node`.
pub fn on_node(node: &Registry, location: &str) -> String {
    let path_start = location
        .find("/v2/")
        .unwrap_or_else(|| panic!("an upload location with /v2/: {location}"));
    node.url(&location[path_start..])
}
