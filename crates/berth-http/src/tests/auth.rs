//! Access control through the router: one table of every endpoint x role, the Docker token
//! flow walked raw, token scopes, the filtered catalog, mounts without pull on the source and
//! the login limiter.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use berth_auth::{
    AdminsConfig, IssuerConfig, LoginLimiter, LoginLimiterOptions, Policy, PolicyConfig,
    RuleConfig, SigningKey, TokenIssuer, TokenVerifier, Users, UsersOptions,
};

use super::*;
use crate::{Auth, AuthConfig};

const SERVICE: &str = "registry.test";
const REALM: &str = "https://registry.test/berth/v1/token";
const REPO: &str = "team/app";

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    /// May pull `team/app`.
    Reader,
    /// May do everything to `other/*`, nothing to `team/app`.
    OtherWriter,
    /// In the group that may do everything to `team/app`.
    Writer,
    Admin,
}

const ROLES: [Role; 5] = [
    Role::Anonymous,
    Role::Reader,
    Role::OtherWriter,
    Role::Writer,
    Role::Admin,
];

impl Role {
    fn user(self) -> Option<&'static str> {
        match self {
            Role::Anonymous => None,
            Role::Reader => Some("reader"),
            Role::OtherWriter => Some("other"),
            Role::Writer => Some("writer"),
            Role::Admin => Some("admin"),
        }
    }
}

fn password(user: &str) -> String {
    format!("secret of {user}")
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn rule(repositories: &str, users: &[&str], groups: &[&str], actions: &[&str]) -> RuleConfig {
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
    RuleConfig {
        repositories: repositories.into(),
        users: strings(users),
        groups: strings(groups),
        actions: strings(actions),
    }
}

/// The policy, an htpasswd file with bcrypt hashes at the lowest cost, and a generated key.
fn auth_in(dir: &Path) -> Auth {
    let config = PolicyConfig {
        groups: BTreeMap::from([("team".to_owned(), vec!["writer".to_owned()])]),
        rules: vec![
            rule(REPO, &["reader"], &[], &["pull"]),
            rule(REPO, &[], &["team"], &["*"]),
            rule("other/*", &["other"], &[], &["*"]),
        ],
        anonymous_pull: vec!["public/*".into()],
        admins: AdminsConfig {
            users: vec!["admin".into()],
            groups: Vec::new(),
        },
    };
    let policy = Policy::from_config(&config).unwrap();
    let mut htpasswd = String::new();
    for user in ROLES.iter().filter_map(|r| r.user()) {
        let hash = bcrypt::hash(password(user), 4).unwrap();
        htpasswd.push_str(&format!("{user}:{hash}\n"));
    }
    let file = dir.join("htpasswd");
    std::fs::write(&file, htpasswd).unwrap();
    let users = Users::open(&file, policy.groups().clone(), UsersOptions::default()).unwrap();
    let key = SigningKey::load_or_generate(&dir.join("token.key")).unwrap();
    let issuer = TokenIssuer::new(IssuerConfig::new("berth-test", SERVICE), key).unwrap();
    let verifier = TokenVerifier::new(vec![issuer.trusted()]).unwrap();
    Auth::enforced(AuthConfig {
        policy,
        users: Some(users),
        issuer: Some(issuer),
        verifier,
        limiter: LoginLimiter::new(LoginLimiterOptions::default()),
        service: SERVICE.into(),
        realm: REALM.into(),
    })
}

async fn secured_app() -> TestApp {
    TestApp::with_auth(auth_in).await
}

impl TestApp {
    /// Sends a request as `role` (Basic credentials, or none).
    async fn send_as(
        &self,
        role: Role,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let authorization = role.user().map(|user| basic(user, &password(user)));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(value) = &authorization {
            all.push(("authorization", value));
        }
        self.send(method, uri, &all, body).await
    }

    async fn get_as(&self, role: Role, uri: &str) -> Reply {
        self.send_as(role, Method::GET, uri, &[], Bytes::new())
            .await
    }

    /// Pushes a blob as the admin.
    async fn admin_blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::sha256_of(bytes);
        let uri = format!("/v2/{repo}/blobs/uploads/?digest={digest}");
        let reply = self
            .send_as(Role::Admin, Method::POST, &uri, &[], bytes.to_vec())
            .await;
        reply.assert_status(StatusCode::CREATED);
        digest
    }

    /// Pushes an image tagged `v1` as the admin; returns (manifest body, its digest, layer).
    async fn admin_image(&self, repo: &str) -> (Vec<u8>, Digest, Digest) {
        let config = self.admin_blob(repo, b"config").await;
        let layer = self.admin_blob(repo, b"layer").await;
        let body = image_manifest(&config, &[&layer]);
        let uri = format!("/v2/{repo}/manifests/v1");
        let headers = [("content-type", OCI_MANIFEST)];
        let reply = self
            .send_as(Role::Admin, Method::PUT, &uri, &headers, body.clone())
            .await;
        let digest = reply.assert_manifest_created(repo, &body);
        (body, digest, layer)
    }

    /// Opens an upload session as the admin and returns its `Location`.
    async fn admin_session(&self, repo: &str) -> String {
        let uri = format!("/v2/{repo}/blobs/uploads/");
        let reply = self
            .send_as(Role::Admin, Method::POST, &uri, &[], Bytes::new())
            .await;
        reply.assert_session_started(repo);
        reply.header("location").to_owned()
    }
}

/// Asserts a 401 with the token challenge, naming `scope` when given.
fn assert_challenge(reply: &Reply, scope: Option<&str>) {
    reply.assert_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    let challenge = reply.header("www-authenticate");
    let expected = format!("Bearer realm=\"{REALM}\",service=\"{SERVICE}\"");
    assert!(challenge.starts_with(&expected), "{challenge}");
    if let Some(scope) = scope {
        assert!(
            challenge.contains(&format!("scope=\"{scope}\"")),
            "{challenge}"
        );
    }
}

/// The expected outcome per role, in the order of `ROLES`: `2` for 2xx, `1` for 401, `3`
/// for 403.
const OPEN: &str = "22222";
const LOGGED_IN: &str = "12222";
const PULL: &str = "12322";
const WRITE: &str = "13322";
const ADMIN: &str = "13332";

#[tokio::test]
async fn every_endpoint_answers_every_role_as_the_policy_says() {
    let app = secured_app().await;
    let (manifest, digest, layer) = app.admin_image(REPO).await;
    app.send_as(Role::Admin, Method::POST, "/berth/v1/gc", &[], Bytes::new())
        .await
        .assert_status(StatusCode::OK);
    let new_blob = b"a new blob";
    let new_digest = Digest::sha256_of(new_blob);
    // (method, path, body, expected); `{upload}` is a fresh upload session's location.
    let rows: Vec<(Method, String, Vec<u8>, &str, &str)> = vec![
        (Method::GET, "/v2/".into(), vec![], LOGGED_IN, ""),
        (Method::GET, "/v2/_catalog".into(), vec![], OPEN, ""),
        (
            Method::GET,
            format!("/v2/{REPO}/tags/list"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::GET,
            format!("/v2/{REPO}/manifests/v1"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::HEAD,
            format!("/v2/{REPO}/manifests/v1"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::PUT,
            format!("/v2/{REPO}/manifests/v2"),
            manifest.clone(),
            WRITE,
            "push",
        ),
        (
            Method::DELETE,
            format!("/v2/{REPO}/manifests/{digest}"),
            vec![],
            WRITE,
            "delete",
        ),
        (
            Method::GET,
            format!("/v2/{REPO}/blobs/{layer}"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::HEAD,
            format!("/v2/{REPO}/blobs/{layer}"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::DELETE,
            format!("/v2/{REPO}/blobs/{layer}"),
            vec![],
            WRITE,
            "delete",
        ),
        (
            Method::POST,
            format!("/v2/{REPO}/blobs/uploads/"),
            vec![],
            WRITE,
            "push",
        ),
        (Method::GET, "{upload}".into(), vec![], WRITE, "push"),
        (
            Method::PATCH,
            "{upload}".into(),
            new_blob.to_vec(),
            WRITE,
            "push",
        ),
        (
            Method::PUT,
            format!("{{upload}}?digest={new_digest}"),
            new_blob.to_vec(),
            WRITE,
            "push",
        ),
        (Method::DELETE, "{upload}".into(), vec![], WRITE, "push"),
        (
            Method::GET,
            format!("/v2/{REPO}/referrers/{digest}"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::GET,
            format!("/v2/{REPO}/_oras/artifacts/referrers?digest={digest}"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::GET,
            format!("/oras/artifacts/v1/{REPO}/manifests/{digest}/referrers"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::GET,
            format!("/v2/{REPO}/_berth/referrers-graph/{digest}"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::GET,
            "/v2/_oci/ext/discover".into(),
            vec![],
            OPEN,
            "",
        ),
        (
            Method::GET,
            format!("/v2/{REPO}/_oci/ext/discover"),
            vec![],
            OPEN,
            "",
        ),
        (
            Method::GET,
            crate::endpoint::GRAPH_DOC_PATH.into(),
            vec![],
            OPEN,
            "",
        ),
        (Method::GET, "/berth/v1/gc".into(), vec![], ADMIN, ""),
        (
            Method::POST,
            "/berth/v1/gc?dry_run=true".into(),
            vec![],
            ADMIN,
            "",
        ),
        (Method::GET, "/berth/v1/status".into(), vec![], ADMIN, ""),
        (
            Method::GET,
            format!("/berth/v1/token?service={SERVICE}&scope=repository:{REPO}:pull"),
            vec![],
            OPEN,
            "",
        ),
    ];
    let mut kinds = std::collections::BTreeSet::new();
    for (method, path, body, expected, action) in &rows {
        for (role, want) in ROLES.iter().zip(expected.chars()) {
            // Every request finds the same state: the image, and a fresh session.
            app.admin_image(REPO).await;
            let uri = path.replace("{upload}", &app.admin_session(REPO).await);
            let endpoint = crate::endpoint::Endpoint::parse(uri.split('?').next().unwrap());
            kinds.insert(
                format!("{:?}", endpoint.unwrap())
                    .split([' ', '{'])
                    .next()
                    .unwrap()
                    .to_owned(),
            );
            let headers: &[(&str, &str)] = if *method == Method::PUT && path.contains("manifests") {
                &[("content-type", OCI_MANIFEST)]
            } else {
                &[]
            };
            let reply = app
                .send_as(*role, method.clone(), &uri, headers, body.clone())
                .await;
            let context = format!("{method} {uri} as {role:?}: {reply:?}");
            match want {
                '2' => assert!(reply.status.is_success(), "{context}"),
                '1' => {
                    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{context}");
                    let scope = (!action.is_empty()).then(|| format!("repository:{REPO}:{action}"));
                    assert_challenge(&reply, scope.as_deref());
                }
                '3' => reply.assert_error(StatusCode::FORBIDDEN, "DENIED"),
                _ => unreachable!(),
            }
        }
    }
    // Every kind of endpoint is in the table.
    assert_eq!(kinds.len(), 15, "{kinds:?}");
}

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
    assert_challenge(&push, Some(&format!("repository:{REPO}:push")));
    assert!(push
        .header("www-authenticate")
        .contains("error=\"insufficient_scope\""));

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
    assert_eq!(push.status, StatusCode::UNAUTHORIZED, "{push:?}");

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
}

#[tokio::test]
async fn the_catalog_lists_only_what_the_caller_may_pull_and_pages_correctly() {
    let app = secured_app().await;
    for repo in [
        "aaa/hidden",
        "other/repo",
        "public/x",
        "team/app",
        "zzz/hidden",
    ] {
        app.admin_image(repo).await;
    }
    let names = |reply: &Reply| reply.json()["repositories"].clone();
    let all = app.get_as(Role::Admin, "/v2/_catalog").await;
    assert_eq!(
        names(&all),
        json!([
            "aaa/hidden",
            "other/repo",
            "public/x",
            "team/app",
            "zzz/hidden"
        ])
    );
    let anonymous = app.get("/v2/_catalog").await;
    assert_eq!(names(&anonymous), json!(["public/x"]));
    let reader = app.get_as(Role::Reader, "/v2/_catalog").await;
    assert_eq!(names(&reader), json!(["public/x", "team/app"]));

    let first = app.get_as(Role::Reader, "/v2/_catalog?n=1").await;
    assert_eq!(names(&first), json!(["public/x"]));
    let next = next_link(&first).unwrap();
    let second = app.get_as(Role::Reader, &next).await;
    assert_eq!(names(&second), json!(["team/app"]));
    assert_eq!(next_link(&second), None, "{second:?}");
}

#[tokio::test]
async fn a_mount_from_a_repository_the_caller_may_not_pull_is_an_upload() {
    let app = secured_app().await;
    let digest = app.admin_blob("other/repo", b"secret layer").await;
    let mount = format!("/v2/{REPO}/blobs/uploads/?mount={digest}&from=other/repo");
    let reply = app
        .send_as(Role::Writer, Method::POST, &mount, &[], Bytes::new())
        .await;
    reply.assert_session_started(REPO);
    let without_from = format!("/v2/{REPO}/blobs/uploads/?mount={digest}");
    let reply = app
        .send_as(Role::Writer, Method::POST, &without_from, &[], Bytes::new())
        .await;
    reply.assert_session_started(REPO);
    let blob = format!("/v2/{REPO}/blobs/{digest}");
    assert_eq!(
        app.get_as(Role::Writer, &blob).await.status,
        StatusCode::NOT_FOUND
    );
    // The admin may pull the source: the same request mounts.
    let reply = app
        .send_as(Role::Admin, Method::POST, &mount, &[], Bytes::new())
        .await;
    reply.assert_status(StatusCode::CREATED);
}

#[tokio::test]
async fn repeated_wrong_passwords_are_paused_with_retry_after() {
    let app = secured_app().await;
    let wrong = basic("reader", "wrong");
    let uri = format!("/v2/{REPO}/tags/list");
    for _ in 0..5 {
        let reply = app
            .send(
                Method::GET,
                &uri,
                &[("authorization", &wrong)],
                Bytes::new(),
            )
            .await;
        assert_challenge(&reply, None);
    }
    let right = basic("reader", &password("reader"));
    let reply = app
        .send(
            Method::GET,
            &uri,
            &[("authorization", &right)],
            Bytes::new(),
        )
        .await;
    reply.assert_error(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS");
    assert!(reply.header("retry-after").parse::<u64>().unwrap() >= 1);
    // Another user from the same client is not paused.
    let writer = app.get_as(Role::Writer, &uri).await;
    assert_ne!(writer.status, StatusCode::TOO_MANY_REQUESTS);
}
