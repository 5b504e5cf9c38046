//! The one authorization layer: credentials -> identity (or a verified token) -> a decision
//! for every access the endpoint needs, before any handler or repository lookup runs.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use base64::Engine;
use berth_auth::{
    Access, Action, Decision, Identity, LoginLimiter, Policy, Scope, TokenIssuer, TokenVerifier,
    Users, VerifiedToken,
};
use berth_oci::RepoName;
use http::request::Parts;
use http::{header, HeaderMap};

use crate::endpoint::Endpoint;
use crate::error::{ApiError, AuthFailure};
use crate::query::Query;

/// What an enforcing server needs to authenticate and authorize requests.
pub struct AuthConfig {
    /// Who may do what; default deny.
    pub policy: Policy,
    /// The htpasswd users, for Basic credentials; `None` accepts tokens only.
    pub users: Option<Users>,
    /// Signs tokens at `/berth/v1/token`; `None` when only external issuers are trusted.
    pub issuer: Option<TokenIssuer>,
    /// Checks bearer tokens (this server's own and trusted external issuers).
    pub verifier: TokenVerifier,
    /// Slows password guessing, keyed by client address and user.
    pub limiter: LoginLimiter,
    /// The `service` of challenges and tokens (the tokens' audience).
    pub service: String,
    /// The token endpoint's absolute URL, the `realm` of challenges.
    pub realm: String,
}

/// The authorization of a server: open (everything allowed, as without auth) or enforced.
#[derive(Clone)]
pub struct Auth(Option<Arc<AuthConfig>>);

impl Auth {
    /// No authentication: every request is allowed.
    pub fn open() -> Auth {
        Auth(None)
    }

    /// Enforces `config` on every request.
    pub fn enforced(config: AuthConfig) -> Auth {
        Auth(Some(Arc::new(config)))
    }

    pub(crate) fn config(&self) -> Option<&Arc<AuthConfig>> {
        self.0.as_ref()
    }
}

/// Whose rights a request carries, once its credentials are checked.
#[derive(Clone)]
pub(crate) enum Caller {
    /// No auth configured.
    Open,
    /// Anonymous or a password-authenticated user, judged by the policy.
    Identity(Arc<AuthConfig>, Identity),
    /// A bearer token: its rights are exactly its `access`, but for what listings show (see
    /// [`Caller::may_pull`]).
    Token(Arc<AuthConfig>, VerifiedToken),
}

impl Caller {
    pub(crate) fn decide(&self, access: &Access) -> Decision {
        match self {
            Caller::Open => Decision::Allow,
            Caller::Identity(config, identity) => config.policy.decide(identity, access),
            Caller::Token(_, token) if token.allows(access) => Decision::Allow,
            Caller::Token(..) => Decision::Unauthenticated,
        }
    }

    /// Who the caller is, for the access log: the authenticated subject, else `anonymous`.
    pub(crate) fn subject(&self) -> String {
        let subject = match self {
            Caller::Open => "",
            Caller::Identity(_, identity) => identity.subject(),
            Caller::Token(_, token) => token.subject.as_str(),
        };
        if subject.is_empty() {
            "anonymous".to_owned()
        } else {
            subject.to_owned()
        }
    }

    /// The authenticated user's name (a token's subject): `None` without auth and for
    /// anonymous callers.
    pub(crate) fn user(&self) -> Option<&str> {
        let name = match self {
            Caller::Open => return None,
            Caller::Identity(_, identity) => identity.subject(),
            Caller::Token(_, token) => token.subject.as_str(),
        };
        (!name.is_empty()).then_some(name)
    }

    pub(crate) fn allows(&self, access: &Access) -> bool {
        self.decide(access) == Decision::Allow
    }

    /// Whether the caller may pull `repo`: what the listings (`/v2/_catalog`,
    /// `/berth/v1/repositories`) show.
    ///
    /// A token this server issued that grants the catalog lists what the policy lets its
    /// subject pull, as Harbor lists a user's projects: a token names the repositories a
    /// client asked for, which for a listing is none in particular, and the issuer already
    /// judged the subject by the same policy. The listing never shows more than the subject
    /// may pull, and a change to the policy shows at once. Tokens of other issuers, whose
    /// subjects the policy may not know, list by their scopes alone.
    pub(crate) fn may_pull(&self, repo: &str) -> bool {
        let Ok(name) = repo.parse::<RepoName>() else {
            return matches!(self, Caller::Open);
        };
        let pull = Access::repository(name, Action::Pull);
        match self {
            Caller::Token(config, token) if lists_by_policy(config, token) => {
                config.policy.allows(&token.identity(), &pull)
            }
            _ => self.allows(&pull),
        }
    }
}

/// Whether `token` came from this server's own issuer and grants the catalog.
fn lists_by_policy(config: &AuthConfig, token: &VerifiedToken) -> bool {
    config
        .issuer
        .as_ref()
        .is_some_and(|issuer| issuer.issuer() == token.issuer)
        && token.allows(&Access::catalog())
}

/// One structured line per authenticated write (who, what, from where), when access control is
/// on: pushes, deletes, uploads and collections. Never the credentials themselves.
pub(crate) struct WriteAudit {
    who: String,
    method: http::Method,
    path: String,
    client: IpAddr,
}

impl WriteAudit {
    /// The audit of a request, when it writes and access control is on.
    pub(crate) fn of(caller: &Caller, parts: &Parts) -> Option<WriteAudit> {
        // A token request is a login, not a write, whatever its method: the login limiter
        // and its log lines cover it.
        let writes = !matches!(
            parts.method,
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
        ) && parts.uri.path() != crate::endpoint::TOKEN_PATH;
        let who = match caller {
            Caller::Open => return None,
            Caller::Identity(_, identity) => identity.subject().to_owned(),
            Caller::Token(_, token) => token.subject.clone(),
        };
        writes.then(|| WriteAudit {
            who: if who.is_empty() {
                "anonymous".to_owned()
            } else {
                who
            },
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            client: client_address(parts),
        })
    }

    pub(crate) fn log(&self, status: http::StatusCode) {
        // User names come from the client (Basic) or another issuer (a token's `sub`): logged
        // quoted and escaped, so no name can end the line and forge another.
        tracing::info!(
            user = ?self.who,
            method = %self.method,
            path = %self.path,
            client = %self.client,
            status = status.as_u16(),
            "authenticated write"
        );
    }
}

/// What authorization decided for a request that may proceed.
pub(crate) struct Authorized {
    pub caller: Caller,
    /// Whether a cross-mount may read its source; otherwise it becomes a plain upload.
    pub mount_allowed: bool,
}

/// The client's address, when the server recorded it, else `0.0.0.0`.
pub(crate) fn client_address(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

/// `WWW-Authenticate: Bearer realm=..,service=..[,scope=..][,error=..]`.
pub(crate) fn challenge(config: &AuthConfig, accesses: &[Access], error: Option<&str>) -> String {
    let mut value = format!(
        "Bearer realm=\"{}\",service=\"{}\"",
        config.realm, config.service
    );
    let scope = Scope::from_accesses(accesses.iter().cloned());
    if !scope.is_empty() {
        value.push_str(&format!(",scope=\"{scope}\""));
    }
    if let Some(error) = error {
        value.push_str(&format!(",error=\"{error}\""));
    }
    value
}

/// What a token lacking `needed` should be exchanged for: `needed` and what the token already
/// grants on the same repositories. Clients that hold one token at a time (the ORAS Python
/// SDK) ask for exactly the challenge's scope; naming only `needed` would have them trade a
/// pull token for a push token and back on every other request of a push.
fn widened(needed: &[Access], token: &VerifiedToken) -> Vec<Access> {
    let kept = token
        .access
        .iter()
        .filter(|held| needed.iter().any(|n| n.resource == held.resource));
    needed.iter().chain(kept).cloned().collect()
}

/// The credentials of an `Authorization` header.
enum Credentials {
    None,
    Basic { user: String, password: String },
    Bearer(String),
    Unreadable,
}

fn credentials(headers: &HeaderMap) -> Credentials {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Credentials::None;
    };
    let Ok(text) = value.to_str() else {
        return Credentials::Unreadable;
    };
    let (scheme, rest) = text.trim().split_once(' ').unwrap_or((text, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        match decoded.as_deref().and_then(|d| d.split_once(':')) {
            Some((user, password)) => Credentials::Basic {
                user: user.to_owned(),
                password: password.to_owned(),
            },
            None => Credentials::Unreadable,
        }
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Credentials::Bearer(rest.to_owned())
    } else {
        Credentials::Unreadable
    }
}

/// Checks Basic credentials through the login limiter; `Ok(None)` when none were sent.
///
/// Errors: too many failures (429), wrong credentials or no user file (401 with `challenge`).
pub(crate) async fn basic_identity(
    config: &Arc<AuthConfig>,
    parts: &Parts,
    challenge: &str,
) -> Result<Option<Identity>, AuthFailure> {
    match credentials(&parts.headers) {
        Credentials::None => Ok(None),
        Credentials::Basic { user, password } => {
            let client = client_address(parts);
            login(config, client, user, password, challenge)
                .await
                .map(Some)
        }
        Credentials::Bearer(_) | Credentials::Unreadable => Err(AuthFailure::Unauthenticated {
            challenge: challenge.to_owned(),
        }),
    }
}

/// Verifies `password` for `user`: from the cache of recent verifications, else off the async
/// threads (bcrypt is slow on purpose).
pub(crate) async fn login(
    config: &Arc<AuthConfig>,
    client: IpAddr,
    user: String,
    password: String,
    challenge: &str,
) -> Result<Identity, AuthFailure> {
    let refused = || AuthFailure::Unauthenticated {
        challenge: challenge.to_owned(),
    };
    let Some(users) = config.users.as_ref() else {
        return Err(refused());
    };
    if let Err(blocked) = config.limiter.check(client, &user) {
        tracing::warn!(%client, user = ?user, "login refused: too many failures");
        return Err(AuthFailure::TooManyAttempts {
            retry_after: blocked.retry_after,
        });
    }
    // A client sends the same credentials with every request: once verified they are answered
    // here, without a trip to a blocking thread.
    if let Some(identity) = users.verify_cached(&user, &password) {
        return Ok(identity);
    }
    let shared = Arc::clone(config);
    let name = user.clone();
    let verified = tokio::task::spawn_blocking(move || {
        shared
            .users
            .as_ref()
            .and_then(|users| users.verify(&name, &password))
    })
    .await
    .unwrap_or(None);
    match verified {
        Some(identity) => Ok(identity),
        None => {
            config.limiter.record_failure(client, &user);
            tracing::info!(%client, user = ?user, "login failed");
            Err(refused())
        }
    }
}

/// Authorizes a request before its handler runs. A path that names no endpoint is let through
/// for the handler to refuse.
pub(crate) async fn authorize(auth: &Auth, parts: &Parts) -> Result<Authorized, ApiError> {
    let Some(config) = auth.config() else {
        return Ok(Authorized {
            caller: Caller::Open,
            mount_allowed: true,
        });
    };
    let endpoint = Endpoint::parse(parts.uri.path()).ok();
    let query = Query::parse(parts.uri.query());
    let needed = endpoint
        .as_ref()
        .map(|e| e.accesses(&parts.method, &query))
        .unwrap_or_default();
    let source = endpoint
        .as_ref()
        .and_then(|e| e.mount_source(&parts.method, &query));
    let ask = challenge(config, &needed, None);
    let caller = match credentials(&parts.headers) {
        Credentials::Bearer(token) => match config.verifier.verify(&token) {
            Ok(verified) => Caller::Token(Arc::clone(config), verified),
            Err(e) => {
                if let berth_auth::AuthError::InvalidToken(reason) = &e {
                    tracing::info!(%reason, "bearer token refused");
                }
                return Err(AuthFailure::Unauthenticated {
                    challenge: challenge(config, &needed, Some("invalid_token")),
                }
                .into());
            }
        },
        _ => {
            let identity = basic_identity(config, parts, &ask)
                .await?
                .unwrap_or(Identity::Anonymous);
            Caller::Identity(Arc::clone(config), identity)
        }
    };
    // `/v2/` needs no access, but an anonymous client is told how to log in, as Distribution
    // does: `docker login` sends credentials only after this challenge, and would otherwise
    // report success without checking them.
    let anonymous = matches!(&caller, Caller::Identity(_, Identity::Anonymous));
    if anonymous && endpoint == Some(Endpoint::ApiVersion) {
        return Err(AuthFailure::Unauthenticated { challenge: ask }.into());
    }
    for access in &needed {
        match caller.decide(access) {
            Decision::Allow => {}
            Decision::Unauthenticated if matches!(caller, Caller::Token(..)) => {
                let Caller::Token(_, token) = &caller else {
                    unreachable!()
                };
                return Err(AuthFailure::InsufficientScope {
                    challenge: challenge(
                        config,
                        &widened(&needed, token),
                        Some("insufficient_scope"),
                    ),
                }
                .into());
            }
            Decision::Unauthenticated => {
                return Err(AuthFailure::Unauthenticated { challenge: ask }.into())
            }
            Decision::Forbidden => return Err(AuthFailure::Denied.into()),
        }
    }
    // A mount without a readable `from` would search every repository: never under auth.
    let mount_asked = matches!(endpoint, Some(Endpoint::Uploads { .. }))
        && parts.method == http::Method::POST
        && query.get("mount").is_some();
    let mount_allowed = match source {
        Some(source) => caller.allows(&source),
        None => !mount_asked,
    };
    Ok(Authorized {
        caller,
        mount_allowed,
    })
}
