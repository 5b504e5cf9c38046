//! The ORAS Python SDK logging in (`oras_login.py`): `login()` stores the credentials, the SDK
//! follows Berth's challenge to the token service, and the policy holds for each user.

use crate::support::oras::{require_python_oras, run_python_script};
use crate::{AuthServer, ALICE_PW, BOB_PW};

#[tokio::test]
async fn the_oras_sdk_logs_in_through_the_token_service_and_the_policy_holds() {
    require_python_oras();
    let auth = AuthServer::start();
    let work = tempfile::tempdir().unwrap();
    let result = run_python_script(
        &auth.server,
        "auth/oras_login.py",
        &[
            &auth.server.host(),
            ALICE_PW,
            BOB_PW,
            work.path().to_str().unwrap(),
        ],
    );
    assert_eq!(result["login"]["Status"], "Login Succeeded", "{result}");
    for refusal in ["bob_refusal", "anonymous_refusal"] {
        let said = result[refusal].as_str().unwrap_or_default();
        assert!(
            ["401", "403", "nauthorized", "DENIED", "Forbidden"]
                .iter()
                .any(|word| said.contains(word)),
            "{refusal}: {said}"
        );
    }

    // What alice pushed is there, as the SDK said, to alice and to no one anonymous.
    let client = reqwest::Client::new();
    let team = result["team_digest"].as_str().expect("a digest");
    let manifest = format!("{}/v2/team/login/manifests/v1", auth.url());
    let reply = client
        .get(&manifest)
        .basic_auth("alice", Some(ALICE_PW))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["docker-content-digest"], team);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["layers"][0]["digest"], result["payload_sha256"]);
    assert_eq!(client.get(&manifest).send().await.unwrap().status(), 401);

    // Nothing bob tried was stored.
    let reply = client
        .get(format!("{}/v2/team/login/manifests/bob", auth.url()))
        .basic_auth("alice", Some(ALICE_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404);
    // The audit log names alice for her writes, and never a password.
    let log = auth.server.log();
    assert!(log.contains("alice"), "{log}");
    for password in [ALICE_PW, BOB_PW] {
        assert!(!log.contains(password), "a password reached the log");
    }
}
