//! Driving the `oci-client` crate against the test server: clients over plain HTTP, pushes
//! and pulls that fail with the server log, and byte-exact pull checks.

use std::fmt::Display;

use oci_client::client::{AsLayerDescriptor, ClientConfig, ClientProtocol};
use oci_client::manifest::ImageIndexEntry;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use reqwest::header::HeaderValue;

use crate::content::sha256;
use crate::support::TestServer;

/// The test server speaks plain HTTP; everything else is the client's default.
fn http_config() -> ClientConfig {
    ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    }
}

/// A client that pushes blobs monolithically or in chunks.
pub fn oci_client(monolithic: bool) -> Client {
    Client::new(ClientConfig {
        use_monolithic_push: monolithic,
        ..http_config()
    })
}

/// A client that picks a platform out of an image index with `resolver`.
pub fn resolving_client(
    resolver: impl Fn(&[ImageIndexEntry]) -> Option<String> + Send + Sync + 'static,
) -> Client {
    Client::new(ClientConfig {
        platform_resolver: Some(Box::new(resolver)),
        ..http_config()
    })
}

/// Unwrapping a client call; a failure panics with the server log, which says why berth
/// refused.
pub trait OrServerLog<T> {
    fn or_log(self, server: &TestServer, what: &str) -> T;
}

impl<T, E: Display> OrServerLog<T> for Result<T, E> {
    fn or_log(self, server: &TestServer, what: &str) -> T {
        self.unwrap_or_else(|e| panic!("{what} failed: {e}\nserver log:\n{}", server.log()))
    }
}

/// Pushes `manifest` raw, as `media_type`, to `reference`; returns the manifest URL.
pub async fn push_manifest(
    client: &Client,
    server: &TestServer,
    reference: &Reference,
    manifest: &[u8],
    media_type: &'static str,
    what: &str,
) -> String {
    client
        .push_manifest_raw(
            reference,
            manifest.to_vec(),
            HeaderValue::from_static(media_type),
        )
        .await
        .or_log(server, what)
}

/// Pulls `reference`'s manifest raw, accepting `media_type`, and checks that it is `expected`
/// byte for byte under `expected`'s digest.
pub async fn assert_pulls_manifest(
    client: &Client,
    reference: &Reference,
    media_type: &str,
    expected: &[u8],
    what: &str,
) {
    let (raw, digest) = client
        .pull_manifest_raw(reference, &RegistryAuth::Anonymous, &[media_type])
        .await
        .unwrap_or_else(|e| panic!("pull {what}: {e}"));
    assert!(raw == expected, "{what} is not byte-exact");
    assert_eq!(digest, sha256(expected), "{what}");
}

/// Pulls one blob through the client, which verifies its digest on the way.
pub async fn pull_blob(
    client: &Client,
    reference: &Reference,
    layer: impl AsLayerDescriptor,
) -> Vec<u8> {
    let mut out = Vec::new();
    client
        .pull_blob(reference, layer, &mut out)
        .await
        .expect("pull_blob");
    out
}

/// `items` in order: `Client::pull` downloads layers concurrently and returns them in
/// completion order, so comparisons sort both sides.
pub fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}
