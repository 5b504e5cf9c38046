//! `/livez` and `/readyz`: readiness follows the stores. PostgreSQL is reached through a TCP
//! proxy the test runs, so that stopping the proxy makes the real server unreachable for
//! Berth alone; the filesystem store is made unusable by moving its directory away.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::deployment::{required, Schema, POSTGRES_URL};
use crate::support::http::Registry;
use crate::support::TestServer;

/// Forwards every connection on `address` to `target` until stopped; stopping closes the
/// listener and every forwarded connection.
struct Proxy {
    connections: JoinSet<()>,
}

impl Proxy {
    async fn start(address: SocketAddr, target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(address).await.expect("the proxy binds");
        let mut connections = JoinSet::new();
        connections.spawn(async move {
            let mut forwarded = JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                forwarded.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Proxy { connections }
    }

    /// Closes the listener and every connection (dropping the accept task drops them all).
    async fn stop(mut self) {
        self.connections.shutdown().await;
    }
}

/// `host:port` of a `postgres://user@host:port/db` URL.
fn postgres_address(url: &str) -> SocketAddr {
    let after_at = url.rsplit_once('@').map_or(url, |(_, rest)| rest);
    let host_port = after_at.split('/').next().expect("a host");
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port.parse().expect("the test URL names host:port")
}

/// `GET /readyz`: status and JSON body.
async fn readyz(registry: &Registry) -> (StatusCode, Value) {
    let response = registry
        .http
        .get(registry.url("/readyz"))
        .send()
        .await
        .expect("GET /readyz");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

/// Asks `/readyz` until it answers `status` (bounded): a restored store is found again on
/// the next use of its pool, which may take a request or two.
async fn readyz_until(registry: &Registry, status: StatusCode, server: &TestServer) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (answered, body) = readyz(registry).await;
        if answered == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {answered} ({body}), not {status}; log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_live(registry: &Registry) {
    let response = registry
        .http
        .get(registry.url("/livez"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

// The proxy runs on the test's runtime while the harness blocks its thread starting Berth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_while_postgres_is_unreachable_and_recovers() {
    let schema = Schema::create().await;
    let target = postgres_address(&required(POSTGRES_URL, "postgres.sh"));
    let proxy_address: SocketAddr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let proxy = Proxy::start(proxy_address, target).await;
    let proxied = schema
        .server()
        .replace(&target.to_string(), &proxy_address.to_string())
        .replace(
            &format!("localhost:{}", target.port()),
            &proxy_address.to_string(),
        );
    assert_ne!(proxied, schema.server(), "the URL goes through the proxy");
    let config = format!(
        "[metadata]\nbackend = \"postgres\"\nurl = {:?}\npool_size = 2\n",
        schema.url_on(&proxied)
    );
    let server = TestServer::start_with_config(&config, &[]);
    let registry = Registry::new(server.url());
    let (status, body) = readyz(&registry).await;
    assert_eq!(status, StatusCode::OK, "{body}; log:\n{}", server.log());
    assert_eq!(body["metadata"], "ok");
    assert_eq!(body["blobs"], "ok");

    proxy.stop().await;
    let body = readyz_until(&registry, StatusCode::SERVICE_UNAVAILABLE, &server).await;
    assert_eq!(body["status"], "not ready");
    assert_eq!(body["metadata"], "unavailable");
    assert_eq!(body["blobs"], "ok");
    assert_live(&registry).await;
    assert!(server.log().contains("not ready"), "the cause is logged");

    let proxy = Proxy::start(proxy_address, target).await;
    let body = readyz_until(&registry, StatusCode::OK, &server).await;
    assert_eq!(body["status"], "ready");
    drop(server);
    proxy.stop().await;
}

#[tokio::test]
async fn readyz_fails_while_the_blob_directory_is_gone_and_recovers() {
    let server = TestServer::start();
    let registry = Registry::new(server.url());
    assert_live(&registry).await;
    let (status, body) = readyz(&registry).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    let blobs = server.data_dir().join("blobs");
    let away = server.data_dir().join("blobs-away");
    std::fs::rename(&blobs, &away).unwrap();
    let (status, body) = readyz(&registry).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["blobs"], "unavailable");
    assert_eq!(body["metadata"], "ok");
    assert_live(&registry).await;
    std::fs::rename(&away, &blobs).unwrap();
    let (status, body) = readyz(&registry).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
