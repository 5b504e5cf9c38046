//! A scale-out target for one test: a fresh PostgreSQL schema and a fresh key prefix in the
//! Garage bucket, named in a config file that both `berth migrate` and `berth serve` read.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection};

use crate::support::TestServer;

const POSTGRES_URL: &str = "BERTH_TEST_POSTGRES_URL";
const SETUP: &str = "the migrate tests need the shared services: set BERTH_TEST_POSTGRES_URL to \
                     the URL `bash scripts/services/postgres.sh` prints, and export the Garage \
                     variables of target/services/garage/env (`set -a; . \
                     target/services/garage/env; set +a` after `scripts/services/garage.sh`)";

fn var(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{name} is not set: {SETUP}"),
    }
}

pub struct Target {
    dir: tempfile::TempDir,
    server_url: String,
    schema: String,
}

impl Target {
    /// Creates the schema and writes the config file; panics, saying what to start, when the
    /// services are not configured or not reachable.
    pub async fn new() -> Target {
        let server_url = var(POSTGRES_URL);
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            var(name);
        }
        let unique = format!(
            "{}_{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let schema = format!("migrate_{unique}");
        let mut admin = PgConnection::connect(&server_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {server_url} ({POSTGRES_URL}): {e}"));
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut admin)
            .await
            .expect("CREATE SCHEMA");
        let separator = if server_url.contains('?') { '&' } else { '?' };
        let url = format!("{server_url}{separator}options=-c%20search_path%3D{schema}");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = format!(
            "data_dir = {data_dir:?}\n\
             [storage]\n\
             backend = \"s3\"\n\
             bucket = {bucket:?}\n\
             endpoint = {endpoint:?}\n\
             region = {region:?}\n\
             path_style = true\n\
             prefix = \"migrate-{unique}/\"\n\
             [metadata]\n\
             backend = \"postgres\"\n\
             url = {url:?}\n\
             pool_size = 4\n",
            data_dir = dir.path().join("target-data"),
            bucket = var("BERTH_TEST_S3_BUCKET"),
            endpoint = var("BERTH_TEST_S3_ENDPOINT"),
            region = var("BERTH_TEST_S3_REGION"),
        );
        std::fs::write(dir.path().join("target.toml"), config).expect("writing the config");
        Target {
            dir,
            server_url,
            schema,
        }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("target.toml")
    }

    /// `berth migrate --from-data-dir <source> --config <target>`, not started.
    pub fn migrate_command(&self, source: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
        command
            .arg("migrate")
            .arg("--from-data-dir")
            .arg(source)
            .arg("--config")
            .arg(self.config())
            .env_remove("BERTH_METADATA_URL")
            .env("BERTH_LOG", "warn");
        command
    }

    /// A `berth serve` on the target.
    pub fn serve(&self) -> TestServer {
        let config = self.config();
        TestServer::start_with(&["--config", config.to_str().expect("UTF-8 path")])
    }

    /// Drops the schema (the bucket's keys stay under their unique prefix).
    pub async fn drop_schema(&self) {
        let mut admin = PgConnection::connect(&self.server_url)
            .await
            .expect("connecting to drop the schema");
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&mut admin)
            .await
            .expect("DROP SCHEMA");
    }
}
