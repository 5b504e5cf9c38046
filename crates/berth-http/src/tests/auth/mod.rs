//! Access control through the router: one table of every endpoint x role here, the token
//! service in `token`, the policy's finer points (catalog, mounts, login limiter) in `policy`.

mod browse;
mod policy;
mod token;

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use berth_auth::{
    AdminsConfig, IssuerConfig, LoginLimiter, LoginLimiterOptions, Policy, PolicyConfig,
    RuleConfig, SigningKey, TokenIssuer, TokenVerifier, TrustedIssuer, Users, UsersOptions,
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
pub(super) fn auth_in(dir: &Path) -> Auth {
    auth_trusting(dir, Vec::new())
}

/// [`auth_in`], also trusting the tokens of `others` (external issuers).
pub(super) fn auth_trusting(dir: &Path, others: Vec<TrustedIssuer>) -> Auth {
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
    // Looked at on every request, so that a test may change a password and see it at once.
    let options = UsersOptions {
        reload_interval: std::time::Duration::ZERO,
        ..UsersOptions::default()
    };
    let users = Users::open(&file, policy.groups().clone(), options).unwrap();
    let key = SigningKey::load_or_generate(&dir.join("token.key")).unwrap();
    let issuer = TokenIssuer::new(IssuerConfig::new("berth-test", SERVICE), key).unwrap();
    let trusted = std::iter::once(issuer.trusted()).chain(others).collect();
    let verifier = TokenVerifier::new(trusted).unwrap();
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
        (Method::POST, "/berth/v1/scrub".into(), vec![], ADMIN, ""),
        (Method::GET, "/berth/v1/usage".into(), vec![], ADMIN, ""),
        (
            Method::GET,
            format!("/berth/v1/token?service={SERVICE}&scope=repository:{REPO}:pull"),
            vec![],
            OPEN,
            "",
        ),
        (Method::GET, "/berth/v1/session".into(), vec![], OPEN, ""),
        // Listed like the catalog: anonymous callers too, since some repositories are public.
        (
            Method::GET,
            "/berth/v1/repositories".into(),
            vec![],
            OPEN,
            "",
        ),
        (
            Method::GET,
            format!("/berth/v1/tags?repository={REPO}"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::GET,
            format!("/berth/v1/manifest?repository={REPO}&reference=v1"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::GET,
            format!("/berth/v1/deletion-preview?repository={REPO}&reference=v1"),
            vec![],
            PULL,
            "pull",
        ),
        (
            Method::GET,
            "/berth/v1/openapi.json".into(),
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
    assert_eq!(kinds.len(), 23, "{kinds:?}");
}
