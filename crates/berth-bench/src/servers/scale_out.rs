//! The deployments over shared services: Berth scale-out (two nodes on one S3 bucket and one
//! PostgreSQL schema) and distribution on its S3 driver against the same S3 service.
//!
//! They read the variables the scale-out service tests read (`scripts/test.sh` starts both
//! services and prints them): `BERTH_TEST_POSTGRES_URL`, `BERTH_TEST_S3_ENDPOINT`,
//! `BERTH_TEST_S3_BUCKET`, `BERTH_TEST_S3_REGION`, `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY`. Every server gets a fresh key prefix in the bucket and Berth a
//! fresh schema (created and dropped with `psql`), so runs never see each other's data.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use anyhow::{bail, Context};

use super::{berth_binary, free_port, spawn, wait_ready, Kind, Server, DISTRIBUTION_BINARY};

/// Berth nodes in the scale-out deployment.
const NODES: usize = 2;

/// Metadata connections per node.
const POOL_SIZE: u32 = 16;

/// Where the shared services are, from the environment.
struct Services {
    postgres: String,
    endpoint: String,
    bucket: String,
    region: String,
    access_key: String,
    secret_key: String,
}

const VARIABLES: [&str; 6] = [
    "BERTH_TEST_POSTGRES_URL",
    "BERTH_TEST_S3_ENDPOINT",
    "BERTH_TEST_S3_BUCKET",
    "BERTH_TEST_S3_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
];

impl Services {
    fn from_env() -> anyhow::Result<Services> {
        let value = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let missing: Vec<&str> = VARIABLES
            .iter()
            .copied()
            .filter(|name| value(name).is_none())
            .collect();
        if !missing.is_empty() {
            bail!(
                "the scale-out group needs a PostgreSQL server and an S3 service (Garage): set \
                 {} (missing: {}). scripts/services/postgres.sh and scripts/services/garage.sh \
                 start them and print the values",
                VARIABLES.join(", "),
                missing.join(", ")
            );
        }
        let get = |name: &str| value(name).expect("checked above");
        Ok(Services {
            postgres: get("BERTH_TEST_POSTGRES_URL"),
            endpoint: get("BERTH_TEST_S3_ENDPOINT"),
            bucket: get("BERTH_TEST_S3_BUCKET"),
            region: get("BERTH_TEST_S3_REGION"),
            access_key: get("AWS_ACCESS_KEY_ID"),
            secret_key: get("AWS_SECRET_ACCESS_KEY"),
        })
    }
}

/// Fails early, naming what is missing, when the shared services are not configured.
pub fn check_environment() -> anyhow::Result<()> {
    Services::from_env().map(|_| ())
}

/// A name unique to this run and server: `bench_<pid>_<millis>_<n>`.
fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!(
        "bench_{}_{millis}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn psql(url: &str, statement: &str) -> anyhow::Result<()> {
    let output = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", statement])
        .output()
        .context("running psql (install postgresql-client)")?;
    if !output.status.success() {
        bail!(
            "psql {statement:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The PostgreSQL schema of one Berth scale-out deployment, dropped with the server. (The
/// objects under the run's key prefix stay in the bucket.)
pub struct SharedStores {
    postgres: String,
    schema: String,
}

impl Drop for SharedStores {
    fn drop(&mut self) {
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        if let Err(e) = psql(&self.postgres, &drop) {
            eprintln!("warning: could not drop schema {}: {e:#}", self.schema);
        }
    }
}

pub(super) async fn launch(kind: Kind, berth_options: &[&str]) -> anyhow::Result<Server> {
    let services = Services::from_env()?;
    let dir = tempfile::tempdir()?;
    let unique = unique_name();
    match kind {
        Kind::BerthScaleOut => {
            psql(&services.postgres, &format!("CREATE SCHEMA {unique}"))?;
            let shared = SharedStores {
                postgres: services.postgres.clone(),
                schema: unique.clone(),
            };
            let separator = if services.postgres.contains('?') {
                '&'
            } else {
                '?'
            };
            let config = dir.path().join("berth.toml");
            std::fs::write(
                &config,
                format!(
                    "[storage]\nbackend = \"s3\"\nbucket = {:?}\nendpoint = {:?}\nregion = {:?}\n\
                     path_style = true\nprefix = \"berth-bench/{unique}/\"\n\n\
                     [metadata]\nbackend = \"postgres\"\n\
                     url = \"{}{separator}options=-c%20search_path%3D{unique}\"\n\
                     pool_size = {POOL_SIZE}\n",
                    services.bucket, services.endpoint, services.region, services.postgres
                ),
            )?;
            // One after the other: the first creates the schema's tables, and the start-up
            // figure is the slower of the two.
            let mut nodes = Vec::new();
            let mut children = Vec::new();
            let mut startup = std::time::Duration::ZERO;
            for node in 0..NODES {
                let port = free_port()?;
                let base = format!("http://127.0.0.1:{port}");
                let mut command = Command::new(berth_binary());
                command
                    .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                    .args(["--log", "warn", "--data-dir"])
                    .arg(dir.path().join(format!("node{node}")))
                    .arg("--config")
                    .arg(&config)
                    .args(berth_options);
                let started = Instant::now();
                children.push(spawn(command, kind, None)?);
                wait_ready(&base, kind, false, started).await?;
                startup = startup.max(started.elapsed());
                nodes.push(base);
            }
            Ok(Server {
                kind,
                base: nodes[0].clone(),
                nodes,
                startup,
                children,
                _dir: dir,
                _shared: Some(shared),
            })
        }
        Kind::DistributionS3 => {
            let port = free_port()?;
            let config = dir.path().join("config.yml");
            std::fs::write(&config, distribution_s3_config(&services, &unique, port))?;
            let mut command = Command::new(DISTRIBUTION_BINARY);
            // The AWS SDK in 2.8 refuses to start when AWS_CA_BUNDLE names a bundle (its
            // transport cannot take one); the endpoint is plain HTTP, so none is needed.
            command
                .arg("serve")
                .arg(&config)
                .env_remove("AWS_CA_BUNDLE");
            let base = format!("http://127.0.0.1:{port}");
            let started = Instant::now();
            let child = spawn(command, kind, None)?;
            wait_ready(&base, kind, false, started).await?;
            Ok(Server {
                kind,
                nodes: vec![base.clone()],
                base,
                startup: started.elapsed(),
                children: vec![child],
                _dir: dir,
                _shared: None,
            })
        }
        Kind::Berth | Kind::BerthObserved | Kind::BerthObservedBatched | Kind::Distribution => {
            bail!("{kind:?} is not a scale-out deployment")
        }
    }
}

/// distribution 2.8's S3 driver (`s3-aws`) on the S3 service, under `/dist-bench/<unique>`.
/// A `regionendpoint` makes 2.8 address the bucket path-style and skip its AWS region check
/// (it has no `forcepathstyle` option). Redirects are off, so that distribution serves blob
/// bytes itself as Berth does, rather than sending clients to a pre-signed S3 URL; upload
/// purging is off, as it would walk the bucket at start-up.
fn distribution_s3_config(services: &Services, unique: &str, port: u16) -> String {
    format!(
        "version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  s3:
    accesskey: {access}
    secretkey: {secret}
    region: {region}
    regionendpoint: {endpoint}
    bucket: {bucket}
    rootdirectory: /dist-bench/{unique}
    secure: false
    v4auth: true
  delete:
    enabled: true
  redirect:
    disable: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
",
        access = services.access_key,
        secret = services.secret_key,
        region = services.region,
        endpoint = services.endpoint,
        bucket = services.bucket,
    )
}
