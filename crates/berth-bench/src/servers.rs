//! The two servers under test: Berth (release build) and CNCF distribution (Debian's
//! `docker-registry`), each on a free loopback port over its own temporary directory.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::process::ProcessStats;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Berth,
    Distribution,
}

pub struct Server {
    pub kind: Kind,
    pub base: String,
    pub startup: Duration,
    child: Child,
    _dir: tempfile::TempDir,
}

const DISTRIBUTION_BINARY: &str = "/usr/bin/docker-registry";

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn berth_binary() -> PathBuf {
    workspace_root().join("target/release/berth")
}

/// Builds Berth in release mode and installs distribution and wrk from Debian when missing.
pub async fn prepare() -> anyhow::Result<()> {
    eprintln!("building berth (release)");
    let status = Command::new("cargo")
        .args(["build", "--release", "-p", "berth"])
        .current_dir(workspace_root())
        .status()?;
    if !status.success() {
        bail!("cargo build --release -p berth failed");
    }
    let mut missing = Vec::new();
    if !std::path::Path::new(DISTRIBUTION_BINARY).exists() {
        missing.push("docker-registry");
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        missing.push("wrk");
    }
    if !missing.is_empty() {
        eprintln!("installing {missing:?} from Debian");
        Command::new("apt-get").arg("update").status()?;
        let status = Command::new("apt-get")
            .args(["install", "-y"])
            .args(&missing)
            .status()?;
        if !status.success() {
            bail!("apt-get install {missing:?} failed");
        }
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Server {
    /// Starts a server and measures the time until `/v2/` first answers 200.
    pub async fn start(kind: Kind) -> anyhow::Result<Server> {
        Server::start_with(kind, &[]).await
    }

    /// Starts a server with extra `berth serve` options (ignored for distribution).
    pub async fn start_with(kind: Kind, berth_options: &[&str]) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let mut command = match kind {
            Kind::Berth => {
                let mut c = Command::new(berth_binary());
                c.args([
                    "serve",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--log",
                    "warn",
                    "--data-dir",
                ])
                .arg(dir.path().join("data"))
                .args(berth_options);
                c
            }
            Kind::Distribution => {
                let config = dir.path().join("config.yml");
                std::fs::write(&config, distribution_config(&dir.path().join("data"), port))?;
                let mut c = Command::new(DISTRIBUTION_BINARY);
                c.arg("serve").arg(config);
                c
            }
        };
        let client = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {kind:?}"))?;
        loop {
            if let Ok(r) = client.get(format!("{base}/v2/")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("{kind:?} did not answer /v2/ within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let startup = started.elapsed();
        Ok(Server {
            kind,
            base,
            startup,
            child,
            _dir: dir,
        })
    }

    pub fn process(&self) -> ProcessStats {
        ProcessStats {
            pid: self.child.id(),
        }
    }
}

impl Server {
    /// Stops distribution and runs its offline `garbage-collect --delete-untagged` on the same
    /// storage, returning how long the collection took.
    pub fn distribution_offline_gc(&mut self) -> anyhow::Result<Duration> {
        anyhow::ensure!(
            self.kind == Kind::Distribution,
            "only distribution collects offline"
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
        let started = Instant::now();
        let status = Command::new(DISTRIBUTION_BINARY)
            .args(["garbage-collect", "--delete-untagged"])
            .arg(self._dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "registry garbage-collect failed");
        Ok(started.elapsed())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Filesystem storage with deletes enabled, as the Debian package ships it, without auth.
fn distribution_config(root: &std::path::Path, port: u16) -> String {
    format!(
        "version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
",
        root.display()
    )
}
