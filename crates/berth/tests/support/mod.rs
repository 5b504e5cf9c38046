//! Harness for end-to-end tests: the real `berth` binary on a free loopback port
//! (`TestServer`). The client side lives in the submodules, all re-exported by `http`.
// Every test target includes this harness and uses only part of it.
#![allow(dead_code)]

pub mod disk;
pub mod http;
pub mod image;
pub mod oras;
pub mod raw;
pub mod registry;
pub mod replies;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `berth serve` over its own data directory; killed when dropped.
pub struct TestServer {
    child: Option<Child>,
    extra_args: Vec<String>,
    data: tempfile::TempDir,
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl TestServer {
    /// Starts a server on a new, empty data directory.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// Starts a server with extra `berth serve` options, on a free port of loopback.
    pub fn start_with(args: &[&str]) -> TestServer {
        let data = tempfile::tempdir().expect("temp dir");
        let mut server = TestServer {
            child: None,
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            data,
            port: free_port(),
        };
        server.spawn_on_a_free_port();
        server
    }

    /// Starts a server on `port` of loopback with extra `berth serve` options.
    pub fn start_on(port: u16, args: &[&str]) -> TestServer {
        let data = tempfile::tempdir().expect("temp dir");
        let mut server = TestServer {
            child: None,
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            data,
            port,
        };
        server.spawn();
        server
    }

    /// Starts a server with the config file `config` (TOML, written next to its data
    /// directory and passed with `--config`) and extra `berth serve` options.
    pub fn start_with_config(config: &str, args: &[&str]) -> TestServer {
        let data = tempfile::tempdir().expect("temp dir");
        let file = data.path().join("berth.toml");
        std::fs::write(&file, config).expect("config file written");
        let mut extra_args = vec!["--config".to_owned(), file.to_string_lossy().into_owned()];
        extra_args.extend(args.iter().map(|a| a.to_string()));
        let mut server = TestServer {
            child: None,
            extra_args,
            data,
            port: free_port(),
        };
        server.spawn_on_a_free_port();
        server
    }

    /// Spawns the server, on another free port while the one found free was taken first (by
    /// another test's server: tests run in parallel, and a port is free only until bound).
    fn spawn_on_a_free_port(&mut self) {
        for _ in 0..5 {
            if self.try_spawn() {
                return;
            }
            self.port = free_port();
        }
        panic!("berth found no free port; log:\n{}", self.log());
    }

    fn spawn(&mut self) {
        assert!(
            self.try_spawn(),
            "berth could not listen on port {}; log:\n{}",
            self.port,
            self.log()
        );
    }

    /// Spawns the server and waits until it listens; false when it exited first (its port
    /// was taken).
    fn try_spawn(&mut self) -> bool {
        let log = std::fs::File::create(self.data.path().join("server.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(&self.extra_args)
            .env("BERTH_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("berth starts");
        self.child = Some(child);
        self.wait_ready()
    }

    /// Waits until this server listens: its own log says it bound the port (a connection
    /// alone could reach another test's server on it). False when it exited instead.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let child = self.child.as_mut().expect("spawned");
            if child.try_wait().expect("waiting for berth").is_some() {
                self.child = None;
                return false;
            }
            if self.log().contains("berth listening")
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("berth did not start; log:\n{}", self.log());
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>`, as image references name registries.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data.path().join("data")
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
    }

    /// Kills the server with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM, as a service manager stopping it would, and waits (bounded) for the
    /// process to exit; returns how it exited.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM could not be sent");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("waiting for berth") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("berth did not stop on SIGTERM; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same data directory and port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn path(&self) -> &Path {
        self.data.path()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}
