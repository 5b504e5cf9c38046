//! Running `berth` as a user would, and the content the ownership tests collect.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::http::{client, Image, Registry};
use crate::support::TestServer;

/// What a finished `berth` command printed, and whether it succeeded.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON report of a `berth gc --json` that must have succeeded.
    pub fn report(&self) -> Value {
        assert!(self.success, "berth gc failed: {}", self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }

    /// The command failed and said `expected` on stderr.
    pub fn assert_refused(&self, expected: &str) {
        assert!(!self.success, "expected a refusal: {self:?}");
        assert!(
            self.stderr.contains(expected),
            "expected {expected:?} in: {}",
            self.stderr
        );
    }
}

/// `berth` with `args`, from a scratch directory (so that no default `./berth-data` is used)
/// and without `BERTH_*` settings from the environment.
fn berth(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command.args(args).current_dir(std::env::temp_dir());
    for (name, _) in std::env::vars() {
        if name.starts_with("BERTH_") {
            command.env_remove(name);
        }
    }
    command.env("BERTH_LOG", "warn");
    command
}

fn finished(command: &mut Command) -> Run {
    let output = command.output().expect("berth runs");
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `berth gc --json --data-dir DIR` with `extra` options.
pub fn gc(data_dir: &Path, extra: &[&str]) -> Run {
    finished(
        berth(&["gc", "--json", "--data-dir"])
            .arg(data_dir)
            .args(extra),
    )
}

/// `berth serve` on `data_dir` and a free port, which must exit (refusing) within 20 s.
pub fn serve_expecting_refusal(data_dir: &Path) -> Run {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut child: Child = berth(&["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("berth serve starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "a second `berth serve` on {} kept running",
                data_dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The server's data directory, as it names it.
pub fn served_dir(server: &TestServer) -> PathBuf {
    server.data_dir().canonicalize().unwrap()
}

/// Pushes an image to `gc/app` and deletes its manifest by digest: its config and layer are
/// garbage once past the grace period.
pub async fn deleted_image(server: &TestServer, seed: u64) -> Image {
    let registry = Registry::new(server.url());
    let image = Image::new("gc/app", "doomed", seed, &[1024]);
    registry.push_image(&image).await;
    let response = client()
        .delete(registry.url(&format!("/v2/gc/app/manifests/{}", image.digest)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    // Past a zero grace period, counted in milliseconds.
    tokio::time::sleep(Duration::from_millis(5)).await;
    image
}

/// The status of `GET /berth/v1/gc`: 404 until a real collection ran on the server.
pub async fn last_collection(server: &TestServer) -> (u16, Value) {
    let response = client()
        .get(format!("{}/berth/v1/gc", server.url()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
