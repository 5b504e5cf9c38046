//! The servers under test: Berth (release build) and CNCF distribution (Debian's
//! `docker-registry`), each on a free loopback port over its own temporary directory, and
//! their deployments over a shared S3 bucket (and, for Berth, PostgreSQL) in `scale_out`.

mod scale_out;

pub use scale_out::check_environment as check_scale_out_environment;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::process::ProcessStats;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Berth embedded: files and SQLite under its data directory.
    Berth,
    /// distribution on its filesystem driver.
    Distribution,
    /// Two Berth nodes sharing an S3 bucket and a PostgreSQL schema.
    BerthScaleOut,
    /// distribution on its S3 driver, against the same S3 service.
    DistributionS3,
    /// Berth embedded with everything an operator watches turned on (`observed_config`),
    /// where `Berth` has metrics and the access log off.
    BerthObserved,
    /// `BerthObserved` with its webhook endpoint sending batches (`batch_size`, `batch_wait`)
    /// instead of one request per event.
    BerthObservedBatched,
}

/// The configuration of `Kind::BerthObserved`, written to its config file: Prometheus
/// metrics, the JSON access log of every request (written to a file, as a log collector
/// would read it), and one webhook endpoint, signed, for every event type, at the bench's own
/// receiver (`receiver::Receiver`).
fn observed_config(webhook: std::net::SocketAddr, batched: bool) -> String {
    let batches = if batched {
        "batch_size = 100\nbatch_wait = \"100ms\"\n"
    } else {
        ""
    };
    let path = Kind::webhook_path(batched);
    format!(
        "metrics = true\nlog = \"info\"\nlog_format = \"json\"\n\n\
         [[notifications.endpoints]]\nname = \"bench\"\nurl = \"http://{webhook}{path}\"\n\
         secret = \"bench-webhook-secret\"\n{batches}"
    )
}

/// The webhook receiver of `Kind::BerthObserved`, started with the first such server.
static RECEIVER: std::sync::OnceLock<crate::receiver::Receiver> = std::sync::OnceLock::new();

/// The webhook receiver, started on first use.
pub fn webhook_receiver() -> anyhow::Result<&'static crate::receiver::Receiver> {
    if let Some(receiver) = RECEIVER.get() {
        return Ok(receiver);
    }
    let receiver = crate::receiver::Receiver::start()?;
    Ok(RECEIVER.get_or_init(|| receiver))
}

/// The webhook receiver if an observed server started it.
pub fn started_receiver() -> Option<&'static crate::receiver::Receiver> {
    RECEIVER.get()
}

/// The configuration of `Kind::Berth`: metrics off; with `--log warn` no access line is
/// written either.
const UNOBSERVED_CONFIG: &str = "metrics = false\n";

impl Kind {
    /// Every kind, in the order of the table's columns.
    pub const ALL: [Kind; 6] = [
        Kind::Berth,
        Kind::BerthObserved,
        Kind::BerthObservedBatched,
        Kind::BerthScaleOut,
        Kind::Distribution,
        Kind::DistributionS3,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Berth => "Berth",
            Kind::Distribution => "distribution",
            Kind::BerthScaleOut => "Berth scale-out",
            Kind::DistributionS3 => "distribution S3",
            Kind::BerthObserved => "Berth observed",
            Kind::BerthObservedBatched => "Berth observed, batched",
        }
    }

    /// Where the bench's receiver takes the notifications of an observed kind.
    pub fn webhook_path(batched: bool) -> &'static str {
        if batched {
            "/batched"
        } else {
            "/single"
        }
    }

    pub fn is_berth(self) -> bool {
        matches!(
            self,
            Kind::Berth | Kind::BerthScaleOut | Kind::BerthObserved | Kind::BerthObservedBatched
        )
    }
}

pub struct Server {
    pub kind: Kind,
    /// The first node's base URL (the only node but for Berth scale-out).
    pub base: String,
    /// Every node's base URL.
    pub nodes: Vec<String>,
    pub startup: Duration,
    children: Vec<Child>,
    _dir: tempfile::TempDir,
    _shared: Option<scale_out::SharedStores>,
}

/// What a server under access control is given: its users and, for Berth, its `[auth]` table.
struct AuthFiles {
    htpasswd: String,
    berth_auth: String,
}

const DISTRIBUTION_BINARY: &str = "/usr/bin/docker-registry";

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The copy of Berth's release build that the servers run (see `prepare`).
static BERTH_BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

fn berth_binary() -> PathBuf {
    BERTH_BINARY
        .get()
        .expect("prepare() copies the binary first")
        .clone()
}

/// Builds Berth in release mode (under `CARGO_TARGET_DIR` when that is set) and copies the
/// binary into a directory of this run's own, so that a build from another checkout sharing
/// the target directory cannot swap it mid-run; installs distribution and wrk from Debian when
/// missing. The returned directory holds the copy and must live as long as the servers.
pub async fn prepare() -> anyhow::Result<tempfile::TempDir> {
    eprintln!("building berth (release)");
    let status = Command::new("cargo")
        .args(["build", "--release", "-p", "berth"])
        .current_dir(workspace_root())
        .status()?;
    if !status.success() {
        bail!("cargo build --release -p berth failed");
    }
    let built = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
        .join("release/berth");
    let copy = tempfile::tempdir()?;
    std::fs::copy(&built, copy.path().join("berth"))
        .with_context(|| format!("copying {}", built.display()))?;
    let _ = BERTH_BINARY.set(copy.path().join("berth"));
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
    Ok(copy)
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
        Server::launch(kind, berth_options, None).await
    }

    /// Starts a server with access control over the bcrypt htpasswd lines `htpasswd`: Berth
    /// with an `[auth]` table of `htpasswd = FILE` followed by `berth_auth` (TOML, the rest of
    /// the table and its sub-tables), distribution with its `htpasswd` auth over the same file.
    pub async fn start_with_auth(
        kind: Kind,
        htpasswd: &str,
        berth_auth: &str,
    ) -> anyhow::Result<Server> {
        let auth = AuthFiles {
            htpasswd: htpasswd.to_owned(),
            berth_auth: berth_auth.to_owned(),
        };
        Server::launch(kind, &[], Some(auth)).await
    }

    async fn launch(
        kind: Kind,
        berth_options: &[&str],
        auth: Option<AuthFiles>,
    ) -> anyhow::Result<Server> {
        if matches!(kind, Kind::BerthScaleOut | Kind::DistributionS3) {
            anyhow::ensure!(auth.is_none(), "{kind:?} runs without access control");
            return scale_out::launch(kind, berth_options).await;
        }
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let htpasswd = dir.path().join("htpasswd");
        if let Some(auth) = &auth {
            std::fs::write(&htpasswd, &auth.htpasswd)?;
        }
        let mut log = None;
        let command = match kind {
            Kind::Berth | Kind::BerthObserved | Kind::BerthObservedBatched => {
                let (level, mut config) = match kind {
                    Kind::BerthObserved | Kind::BerthObservedBatched => {
                        log = Some(dir.path().join("berth.log"));
                        let webhook = webhook_receiver()?.address;
                        let batched = kind == Kind::BerthObservedBatched;
                        ("info", observed_config(webhook, batched))
                    }
                    _ => ("warn", UNOBSERVED_CONFIG.to_owned()),
                };
                let mut c = Command::new(berth_binary());
                c.args([
                    "serve",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                    "--log",
                    level,
                    "--data-dir",
                ])
                .arg(dir.path().join("data"))
                .args(berth_options);
                if let Some(auth) = &auth {
                    config.push_str(&format!(
                        "\n[auth]\nhtpasswd = {htpasswd:?}\n{}",
                        auth.berth_auth
                    ));
                }
                let file = dir.path().join("berth.toml");
                std::fs::write(&file, config)?;
                c.arg("--config").arg(file);
                c
            }
            Kind::BerthScaleOut | Kind::DistributionS3 => unreachable!("launched above"),
            Kind::Distribution => {
                let config = dir.path().join("config.yml");
                let auth = auth.is_some().then_some(htpasswd.as_path());
                std::fs::write(
                    &config,
                    distribution_config(&dir.path().join("data"), port, auth),
                )?;
                let mut c = Command::new(DISTRIBUTION_BINARY);
                c.arg("serve").arg(config);
                c
            }
        };
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let child = spawn(command, kind, log.as_deref())?;
        wait_ready(&base, kind, auth.is_some(), started).await?;
        let startup = started.elapsed();
        Ok(Server {
            kind,
            nodes: vec![base.clone()],
            base,
            startup,
            children: vec![child],
            _dir: dir,
            _shared: None,
        })
    }

    /// The server's own temporary directory, which holds its data directory.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The server's processes (both nodes of a scale-out deployment).
    pub fn process(&self) -> ProcessStats {
        ProcessStats {
            pids: self.children.iter().map(Child::id).collect(),
        }
    }
}

/// Starts `command` with its output discarded, or its stderr (the log) written to `log`; when
/// `log` is none and `BERTH_BENCH_SERVER_LOGS` names a directory, appended to `<kind>.log`
/// there (for a run that failed on a server error).
fn spawn(mut command: Command, kind: Kind, log: Option<&std::path::Path>) -> anyhow::Result<Child> {
    let logs = std::env::var_os("BERTH_BENCH_SERVER_LOGS")
        .map(|dir| std::path::Path::new(&dir).join(format!("{kind:?}.log")));
    let stderr = match (log, logs) {
        (Some(path), _) => Stdio::from(std::fs::File::create(path)?),
        (None, Some(path)) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            Stdio::from(file)
        }
        (None, None) => Stdio::null(),
    };
    command
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {kind:?}"))
}

/// Waits until `base` answers `/v2/`; under access control an anonymous `/v2/` is answered
/// 401 with a challenge, and that answer is the server being up.
async fn wait_ready(base: &str, kind: Kind, auth: bool, started: Instant) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let ready = |status: reqwest::StatusCode| {
        status.is_success() || (auth && status == reqwest::StatusCode::UNAUTHORIZED)
    };
    loop {
        if let Ok(r) = client.get(format!("{base}/v2/")).send().await {
            if ready(r.status()) {
                return Ok(());
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("{kind:?} did not answer /v2/ within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
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
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
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
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Filesystem storage with deletes enabled, as the Debian package ships it, without auth or,
/// given an htpasswd file, with its Basic auth (which requires credentials on every request).
fn distribution_config(
    root: &std::path::Path,
    port: u16,
    htpasswd: Option<&std::path::Path>,
) -> String {
    let auth = htpasswd.map_or(String::new(), |path| {
        format!(
            "auth:
  htpasswd:
    realm: berth-bench
    path: {}
",
            path.display()
        )
    });
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
{auth}",
        root.display()
    )
}
