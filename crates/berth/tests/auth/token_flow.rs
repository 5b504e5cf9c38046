//! The Docker token flow walked by hand with reqwest: challenge, realm, Bearer, and a
//! tampered token refused.

use crate::{AuthServer, BOB_PW};

/// Splits `Bearer realm="..",service="..",scope=".."` into its parameters.
fn challenge_params(header: &str) -> Vec<(String, String)> {
    let rest = header.strip_prefix("Bearer ").expect("a Bearer challenge");
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            value = chars.by_ref().take_while(|c| *c != '"').collect();
            if chars.peek() == Some(&',') {
                chars.next();
            }
        } else {
            value.extend(chars.by_ref().take_while(|c| *c != ','));
        }
        params.push((key.trim().to_owned(), value));
    }
    params
}

#[tokio::test]
async fn token_flow_challenge_realm_bearer_and_tampered_token() {
    let auth = AuthServer::start();
    let client = reqwest::Client::new();
    let tags = format!("{}/v2/team/app/tags/list", auth.url());

    // 1. Anonymous: 401 with a Bearer challenge naming realm, service and scope.
    let reply = client.get(&tags).send().await.unwrap();
    assert_eq!(reply.status(), 401);
    let header = reply
        .headers()
        .get("www-authenticate")
        .expect("a challenge")
        .to_str()
        .unwrap()
        .to_owned();
    let params = challenge_params(&header);
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} in {header}"))
    };
    let realm = get("realm");
    let service = get("service");
    let scope = get("scope");
    assert!(realm.ends_with("/berth/v1/token"), "{realm}");
    assert_eq!(service, "berth-e2e");
    assert_eq!(scope, "repository:team/app:pull");

    // 2. The realm with Basic credentials hands out a token.
    let reply = client
        .get(&realm)
        .query(&[("service", service.as_str()), ("scope", scope.as_str())])
        .basic_auth("bob", Some(BOB_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: serde_json::Value = reply.json().await.unwrap();
    let token = body["token"].as_str().expect("a token").to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    // A wrong password gets no token.
    let reply = client
        .get(&realm)
        .query(&[("service", service.as_str()), ("scope", scope.as_str())])
        .basic_auth("bob", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);

    // 3. The Bearer token opens the repository (empty, so 404 NAME_UNKNOWN, not 401).
    let manifest = format!("{}/v2/team/app/manifests/v1", auth.url());
    let reply = client
        .get(&manifest)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404, "{:?}", reply.text().await);
    let reply = client.get(&tags).bearer_auth(&token).send().await.unwrap();
    assert_ne!(reply.status(), 401);
    assert_ne!(reply.status(), 403);
    let v2 = format!("{}/v2/", auth.url());
    let reply = client.get(&v2).bearer_auth(&token).send().await.unwrap();
    assert_eq!(reply.status(), 200);

    // 4. A tampered token is refused: one byte of the payload changed, signature kept.
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload = parts[1].as_bytes().to_vec();
    let i = payload.len() / 2;
    payload[i] = if payload[i] == b'A' { b'B' } else { b'A' };
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        String::from_utf8(payload).unwrap(),
        parts[2]
    );
    let reply = client.get(&v2).bearer_auth(&tampered).send().await.unwrap();
    assert_eq!(reply.status(), 401);
    let reply = client
        .get(&manifest)
        .bearer_auth(&tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    assert!(reply.headers().contains_key("www-authenticate"));

    // The token does not stretch to pushing.
    let upload = format!("{}/v2/team/app/blobs/uploads/", auth.url());
    let reply = client
        .post(&upload)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(reply.status().as_u16(), 401 | 403),
        "{}",
        reply.status()
    );
}

#[tokio::test]
async fn a_user_name_cannot_forge_log_lines_and_logins_are_not_audited_as_writes() {
    use base64::Engine;
    let auth = AuthServer::start();
    let forged = "evil\nFORGED INFO berth_http::auth: authenticated write user=root\u{1b}[31m";
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{forged}:x"));
    let reply = reqwest::Client::new()
        .get(format!("{}/v2/team/app/tags/list", auth.url()))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    // A token request is a login, not an audited write.
    let grant = reqwest::Client::new()
        .post(format!("{}/berth/v1/token", auth.url()))
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", crate::ALICE_PW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), 200);
    let log = auth.server.log();
    assert!(log.contains("login failed"), "{log}");
    // The access log has its line for the login; the write audit has none.
    assert!(
        !log.lines()
            .any(|l| l.contains("authenticated write") && l.contains("path=/berth/v1/token")),
        "{log}"
    );
    assert!(
        !log.lines().any(|line| line.starts_with("FORGED")),
        "a forged line reached the log: {log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "a raw escape reached the log: {log}"
    );
}
