//! The token service: Docker's flow walked raw, the OAuth2 grants, and what a token request
//! may not ask for.

use super::*;

/// The value of `name="..."` in a challenge.
fn param<'a>(challenge: &'a str, name: &str) -> &'a str {
    let start = challenge.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let rest = &challenge[start..];
    &rest[..rest.find('"').unwrap()]
}

#[tokio::test]
async fn the_docker_token_flow_walked_raw() {
    let app = secured_app().await;
    app.admin_image(REPO).await;
    let uri = format!("/v2/{REPO}/manifests/v1");
    let first = app.get(&uri).await;
    assert_challenge(&first, Some(&format!("repository:{REPO}:pull")));
    let challenge = first.header("www-authenticate");
    assert_eq!(param(challenge, "realm"), REALM);
    let token_path = REALM.strip_prefix("https://registry.test").unwrap();
    let token_uri = format!(
        "{token_path}?service={}&scope={}",
        param(challenge, "service"),
        param(challenge, "scope")
    );
    let token_reply = app.get_as(Role::Reader, &token_uri).await;
    token_reply.assert_status(StatusCode::OK);
    let body = token_reply.json();
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(body["access_token"], body["token"]);
    assert!(body["expires_in"].as_u64().unwrap() >= 60);
    assert!(body["issued_at"].is_string());
    assert!(body.get("refresh_token").is_none());
    let bearer = format!("Bearer {token}");
    let retry = app
        .send(
            Method::GET,
            &uri,
            &[("authorization", &bearer)],
            Bytes::new(),
        )
        .await;
    retry.assert_status(StatusCode::OK);

    // The pull token does not push.
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", OCI_MANIFEST),
    ];
    let push = app
        .send(
            Method::PUT,
            &format!("/v2/{REPO}/manifests/v2"),
            &headers,
            b"{}".to_vec(),
        )
        .await;
    // A token lacking a scope: 403 (RFC 6750 3.1) with the challenge naming the scope to ask for,
    // which keeps what the token had on the repository.
    push.assert_error(StatusCode::FORBIDDEN, "DENIED");
    let challenge = push.header("www-authenticate");
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");
    assert_eq!(
        param(challenge, "scope"),
        format!("repository:{REPO}:pull,push")
    );
    assert_eq!(param(challenge, "error"), "insufficient_scope");

    // A push scope asked by the reader is granted only its pull part.
    let both = format!("/berth/v1/token?service={SERVICE}&scope=repository:{REPO}:pull,push");
    let token = app.get_as(Role::Reader, &both).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let headers = [("authorization", format!("Bearer {token}"))];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let push = app
        .send(
            Method::POST,
            &format!("/v2/{REPO}/blobs/uploads/"),
            &headers,
            Bytes::new(),
        )
        .await;
    assert_eq!(push.status, StatusCode::FORBIDDEN, "{push:?}");

    // So is an anonymous token: the challenge says which scope to log in for.
    let anonymous = app
        .send(Method::GET, &token_uri, &[], Bytes::new())
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = format!("Bearer {anonymous}");
    let anonymous = app
        .send(
            Method::GET,
            &uri,
            &[("authorization", &bearer)],
            Bytes::new(),
        )
        .await;
    anonymous.assert_error(StatusCode::FORBIDDEN, "DENIED");
    let challenge = anonymous.header("www-authenticate");
    assert_eq!(param(challenge, "scope"), format!("repository:{REPO}:pull"));
    assert_eq!(param(challenge, "error"), "insufficient_scope");

    // A forged token is refused as invalid.
    let forged = app
        .send(
            Method::GET,
            &uri,
            &[("authorization", "Bearer a.b.c")],
            Bytes::new(),
        )
        .await;
    assert_challenge(&forged, None);
    assert!(forged
        .header("www-authenticate")
        .contains("error=\"invalid_token\""));
}

#[tokio::test]
async fn oauth_password_and_refresh_grants() {
    let app = secured_app().await;
    app.admin_image(REPO).await;
    let form = format!(
        "grant_type=password&username=writer&password={}&service={SERVICE}\
         &scope=repository:{REPO}:pull,push&access_type=offline",
        password("writer").replace(' ', "+")
    );
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    let reply = app
        .send(Method::POST, "/berth/v1/token", &headers, form)
        .await;
    reply.assert_status(StatusCode::OK);
    let refresh = reply.json()["refresh_token"].as_str().unwrap().to_owned();
    let form = format!(
        "grant_type=refresh_token&refresh_token={refresh}&service={SERVICE}\
         &scope=repository:{REPO}:push"
    );
    let reply = app
        .send(Method::POST, "/berth/v1/token", &headers, form)
        .await;
    reply.assert_status(StatusCode::OK);
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let start = app
        .send(
            Method::POST,
            &format!("/v2/{REPO}/blobs/uploads/"),
            &[("authorization", &bearer)],
            Bytes::new(),
        )
        .await;
    start.assert_session_started(REPO);

    let wrong = "grant_type=password&username=writer&password=wrong";
    let reply = app
        .send(Method::POST, "/berth/v1/token", &headers, wrong)
        .await;
    assert_challenge(&reply, None);

    // A new password revokes the refresh tokens issued before it.
    let file = app._dir.path().join("htpasswd");
    let entries = std::fs::read_to_string(&file).unwrap();
    let rotated: String = entries
        .lines()
        .map(|line| match line.strip_prefix("writer:") {
            Some(_) => format!("writer:{}\n", bcrypt::hash("rotated", 4).unwrap()),
            None => format!("{line}\n"),
        })
        .collect();
    std::fs::write(&file, rotated).unwrap();
    let form = format!("grant_type=refresh_token&refresh_token={refresh}&service={SERVICE}");
    let reply = app
        .send(Method::POST, "/berth/v1/token", &headers, form)
        .await;
    reply.assert_error(StatusCode::FORBIDDEN, "DENIED");
}

#[tokio::test]
async fn a_token_for_another_service_is_refused_and_a_missing_service_means_this_one() {
    let app = secured_app().await;
    app.admin_image(REPO).await;
    let scope = format!("scope=repository:{REPO}:pull");
    let other = app
        .get_as(
            Role::Reader,
            &format!("/berth/v1/token?service=elsewhere.test&{scope}"),
        )
        .await;
    other.assert_status(StatusCode::BAD_REQUEST);
    let message = other.json()["errors"][0]["message"].to_string();
    assert!(message.contains(SERVICE), "{other:?}");

    let form = format!(
        "grant_type=password&username=reader&password={}&service=elsewhere.test&{scope}",
        password("reader").replace(' ', "+")
    );
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    app.send(Method::POST, "/berth/v1/token", &headers, form)
        .await
        .assert_status(StatusCode::BAD_REQUEST);

    // Without `service` the token is this registry's, and it is accepted here.
    let reply = app
        .get_as(Role::Reader, &format!("/berth/v1/token?{scope}"))
        .await;
    reply.assert_status(StatusCode::OK);
    let token = reply.json()["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    app.send(
        Method::GET,
        &format!("/v2/{REPO}/tags/list"),
        &[("authorization", &bearer)],
        Bytes::new(),
    )
    .await
    .assert_status(StatusCode::OK);
}
