//! Access control end to end on the real `berth` binary: a config file with an `[auth]`
//! table, an htpasswd file of bcrypt hashes, and the clients that log in to it (skopeo,
//! oci-client, the ORAS Python SDK, raw HTTP walking the Docker token flow, and `berth gc`).
//!
//! This file holds the fixture; the modules hold the themes.

#[path = "../support/mod.rs"]
mod support;

// The hand-built OCI layout of the skopeo client tests; only part of it is used here.
#[allow(dead_code)]
#[path = "../clients/content.rs"]
mod content;
mod gc_login;
#[allow(dead_code)]
#[path = "../clients/layout.rs"]
mod layout;
mod oci_client_login;
mod oras_login;
#[allow(dead_code)]
#[path = "../interop/relay.rs"]
mod relay;
mod skopeo_login;
mod token_flow;

use support::TestServer;

pub const ALICE_PW: &str = "alice-secret";
pub const BOB_PW: &str = "bob-secret";
pub const ROOT_PW: &str = "root-secret";

/// A server with access control: `alice` may push, pull and delete `team/*`, `bob` may pull
/// `team/*`, anyone may pull `public/*`, `root` is the admin. The config and htpasswd files live in `dir`.
pub struct AuthServer {
    pub server: TestServer,
    _dir: tempfile::TempDir,
}

impl AuthServer {
    pub fn start() -> AuthServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        AuthServer::start_on(port, None)
    }

    /// Starts on `port`, with the challenges' `realm` set to `realm` when given.
    pub fn start_on(port: u16, realm: Option<&str>) -> AuthServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let alice = bcrypt::hash(ALICE_PW, 4).expect("bcrypt");
        let bob = bcrypt::hash(BOB_PW, 4).expect("bcrypt");
        let root = bcrypt::hash(ROOT_PW, 4).expect("bcrypt");
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(
            &htpasswd,
            format!("alice:{alice}\nbob:{bob}\nroot:{root}\n"),
        )
        .expect("htpasswd");
        let config = dir.path().join("berth.toml");
        std::fs::write(
            &config,
            format!(
                r#"[auth]
htpasswd = "{}"
service = "berth-e2e"
{}

[auth.policy]
anonymous_pull = ["public/*"]
admins = {{ users = ["root"] }}

[[auth.policy.rules]]
repositories = "team/*"
users = ["alice"]
actions = ["pull", "push", "delete"]

[[auth.policy.rules]]
repositories = "team/*"
users = ["bob"]
actions = ["pull"]

[[auth.policy.rules]]
repositories = "public/*"
users = ["alice"]
actions = ["pull", "push"]
"#,
                htpasswd.display(),
                realm
                    .map(|r| format!("realm = \"{r}\""))
                    .unwrap_or_default()
            ),
        )
        .expect("config");
        let server =
            TestServer::start_on(port, &["--config", config.to_str().expect("utf-8 path")]);
        AuthServer { server, _dir: dir }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }
}
