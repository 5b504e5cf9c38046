//! `oci-client` logging in: Basic credentials for alice (push and pull), bob following the
//! Bearer challenge to the token service, and an anonymous pull of `public/*`.

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{IMAGE_CONFIG_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::json;

use crate::relay::Relay;
use crate::{AuthServer, ALICE_PW, BOB_PW};

fn oci_client() -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..Default::default()
    })
}

fn alice() -> RegistryAuth {
    RegistryAuth::Basic("alice".into(), ALICE_PW.into())
}

fn bob() -> RegistryAuth {
    RegistryAuth::Basic("bob".into(), BOB_PW.into())
}

fn layer(seed: u8) -> Vec<u8> {
    (0..4096u32).map(|i| (i as u8).wrapping_mul(seed)).collect()
}

fn config(repo: &str) -> Config {
    let bytes = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux", "config": {"Labels": {"repo": repo}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .expect("config JSON");
    Config::new(bytes, IMAGE_CONFIG_MEDIA_TYPE.into(), None)
}

async fn push(
    client: &Client,
    reference: &Reference,
    data: &[u8],
    auth: &RegistryAuth,
) -> Result<(), String> {
    client
        .push(
            reference,
            &[ImageLayer::new(
                data.to_vec(),
                IMAGE_LAYER_MEDIA_TYPE.into(),
                None,
            )],
            config(reference.repository()),
            auth,
            None,
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn pull_layer(
    client: &Client,
    reference: &Reference,
    auth: &RegistryAuth,
) -> Result<Vec<u8>, String> {
    let image = client
        .pull(reference, auth, vec![IMAGE_LAYER_MEDIA_TYPE])
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(image.layers.len(), 1);
    Ok(image.layers[0].data.to_vec())
}

/// An error that says access was refused, not that something went missing: oci-client words a
/// 401 itself and passes on the message of a 403 (a token without the scope).
fn is_refusal(error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    [
        "401",
        "403",
        "unauthorized",
        "not authorized",
        "denied",
        "forbidden",
        "does not grant the access",
    ]
    .iter()
    .any(|w| e.contains(w))
}

#[tokio::test]
async fn oci_client_logs_in_with_basic_and_bearer_and_pulls_public_anonymously() {
    let auth = AuthServer::start();
    let registry = auth.server.host();
    let team = Reference::with_tag(registry.clone(), "team/app".into(), "v1".into());
    let data = layer(7);

    // alice pushes and pulls with Basic credentials.
    push(&oci_client(), &team, &data, &alice())
        .await
        .expect("alice pushes team/app:v1");
    let pulled = pull_layer(&oci_client(), &team, &alice())
        .await
        .expect("alice pulls team/app:v1");
    assert_eq!(pulled, data);

    // bob pulls: a fresh client follows the challenge to /berth/v1/token for a Bearer token.
    let pulled = pull_layer(&oci_client(), &team, &bob())
        .await
        .expect("bob pulls team/app:v1");
    assert_eq!(pulled, data);
    assert_bob_pulls_with_a_bearer_token(&data, &team).await;

    // bob may not push, and anonymous may not pull team/*.
    let other = Reference::with_tag(registry.clone(), "team/app".into(), "bob".into());
    let refused = push(&oci_client(), &other, &layer(9), &bob())
        .await
        .expect_err("bob may not push");
    assert!(is_refusal(&refused), "{refused}");
    pull_layer(&oci_client(), &other, &alice())
        .await
        .expect_err("bob's refused push left no tag");
    let refused = pull_layer(&oci_client(), &team, &RegistryAuth::Anonymous)
        .await
        .expect_err("anonymous may not pull team/*");
    assert!(is_refusal(&refused), "{refused}");

    // alice pushes to public/*, which anyone may pull.
    let public = Reference::with_tag(registry, "public/tool".into(), "v1".into());
    let data = layer(13);
    push(&oci_client(), &public, &data, &alice())
        .await
        .expect("alice pushes public/tool:v1");
    let pulled = pull_layer(&oci_client(), &public, &RegistryAuth::Anonymous)
        .await
        .expect("anonymous pulls public/tool:v1");
    assert_eq!(pulled, data);
}

/// bob's pull seen through a recording relay that is also the challenges' realm: oci-client
/// asks `/berth/v1/token` before it fetches the manifest and blobs.
async fn assert_bob_pulls_with_a_bearer_token(data: &[u8], team: &Reference) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port");
    let relay = Relay::start(format!("127.0.0.1:{port}")).await;
    let realm = format!("http://{}/berth/v1/token", relay.host);
    let auth = AuthServer::start_on(port, Some(&realm));
    let direct = Reference::with_tag(auth.server.host(), "team/app".into(), "v1".into());
    push(&oci_client(), &direct, data, &alice())
        .await
        .expect("alice pushes team/app:v1");
    let via_relay = Reference::with_tag(relay.host.clone(), "team/app".into(), "v1".into());
    let pulled = pull_layer(&oci_client(), &via_relay, &bob())
        .await
        .expect("bob pulls team/app:v1 through the relay");
    assert_eq!(pulled, data);
    let requests = relay.requests();
    let token = requests
        .iter()
        .position(|r| r.starts_with("GET /berth/v1/token?"))
        .unwrap_or_else(|| panic!("no token request in {requests:?}"));
    let manifest = requests
        .iter()
        .position(|r| r.starts_with(&format!("GET /v2/{}/manifests/", team.repository())))
        .unwrap_or_else(|| panic!("no manifest request in {requests:?}"));
    assert!(token < manifest, "{requests:?}");
}
