//! The token endpoint, `/berth/v1/token`: Docker's token protocol (auth-token.md, GET with
//! optional Basic credentials) and its OAuth2 form (auth-oauth.md, POST with a password or a
//! refresh token). Tokens grant the part of the asked scope the policy allows, never an error.

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_auth::{Access, Identity, Scope};
use http::request::Parts;
use serde_json::json;

use crate::auth::{challenge, client_address, login, AuthConfig, Caller};
use crate::error::{ApiError, AuthFailure, RequestError};
use crate::query::Query;

/// The most a token request's form may hold.
const FORM_LIMIT: usize = 64 * 1024;

/// `GET`: a token for the caller (anonymous, or the Basic user the auth layer checked).
pub async fn get(caller: &Caller, query: &Query) -> Result<Response, ApiError> {
    let (config, identity) = match caller {
        Caller::Open => return Err(AuthFailure::NoTokenService.into()),
        Caller::Identity(config, identity) => (config, identity.clone()),
        // A token does not buy another token; only passwords and refresh tokens do.
        Caller::Token(..) => return Err(AuthFailure::Denied.into()),
    };
    check_service(config, query)?;
    let offline = query.parsed::<bool>("offline_token")?.unwrap_or(false);
    answer(config, &identity, &scopes(query)?, offline, None)
}

/// `POST`: `grant_type=password` (`username`, `password`) or `grant_type=refresh_token`
/// (`refresh_token`), with `scope` and `service`; `access_type=offline` asks for a refresh
/// token with a password grant.
pub async fn post(caller: &Caller, parts: &Parts, body: Body) -> Result<Response, ApiError> {
    let config = match caller {
        Caller::Open => return Err(AuthFailure::NoTokenService.into()),
        Caller::Identity(config, _) => config,
        Caller::Token(..) => return Err(AuthFailure::Denied.into()),
    };
    let bytes =
        axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| RequestError::QueryInvalid {
                name: "body",
                reason: format!("the form must be at most {FORM_LIMIT} bytes"),
            })?;
    let form = Query::parse(std::str::from_utf8(&bytes).ok());
    check_service(config, &form)?;
    let requested = scopes(&form)?;
    let missing = |name: &'static str| RequestError::QueryInvalid {
        name,
        reason: "required for this grant_type".into(),
    };
    match form.get("grant_type") {
        Some("password") => {
            let user = form.get("username").ok_or_else(|| missing("username"))?;
            let password = form.get("password").ok_or_else(|| missing("password"))?;
            let identity = login(
                config,
                client_address(parts),
                user.to_owned(),
                password.to_owned(),
                &challenge(config, &[], None),
            )
            .await?;
            let offline = form.get("access_type") == Some("offline");
            answer(config, &identity, &requested, offline, None)
        }
        Some("refresh_token") => {
            let refresh = form
                .get("refresh_token")
                .ok_or_else(|| missing("refresh_token"))?;
            let issuer = config.issuer.as_ref().ok_or(AuthFailure::NoTokenService)?;
            let grant = issuer.verify_refresh(refresh).map_err(AuthFailure::from)?;
            let identity = match &config.users {
                // A user removed from the file since, or whose password changed, loses their
                // refresh tokens.
                Some(users) => {
                    let current = users.credential_stamp(&grant.subject);
                    if current.is_none() || current != grant.credential {
                        return Err(AuthFailure::Denied.into());
                    }
                    users.identity(&grant.subject).ok_or(AuthFailure::Denied)?
                }
                None => Identity::user(grant.subject),
            };
            answer(config, &identity, &requested, false, Some(refresh))
        }
        _ => Err(RequestError::QueryInvalid {
            name: "grant_type",
            reason: "use password or refresh_token".into(),
        }
        .into()),
    }
}

/// A token names its service as its audience, so one asked for another service could only be
/// refused where it is used; the request is refused here instead, where the mistake is plain.
/// Clients that leave `service` out get this registry's.
fn check_service(config: &AuthConfig, query: &Query) -> Result<(), ApiError> {
    match query.get("service") {
        Some(service) if service != config.service => Err(RequestError::QueryInvalid {
            name: "service",
            reason: format!(
                "this token service issues tokens for {:?} only",
                config.service
            ),
        }
        .into()),
        _ => Ok(()),
    }
}

/// Every `scope` parameter, each a space-separated list of resource scopes.
fn scopes(query: &Query) -> Result<Vec<Access>, ApiError> {
    let mut accesses = Vec::new();
    for scope in query.all("scope") {
        accesses.extend(
            Scope::parse(scope)
                .map_err(AuthFailure::from)?
                .into_accesses(),
        );
    }
    Ok(Scope::from_accesses(accesses).into_accesses())
}

fn answer(
    config: &Arc<AuthConfig>,
    identity: &Identity,
    requested: &[Access],
    offline: bool,
    refresh: Option<&str>,
) -> Result<Response, ApiError> {
    let issuer = config.issuer.as_ref().ok_or(AuthFailure::NoTokenService)?;
    let granted = config.policy.grant(identity, requested);
    let issued = issuer
        .issue(identity.subject(), &granted)
        .map_err(AuthFailure::from)?;
    let mut body = json!({
        "token": issued.token,
        "access_token": issued.token,
        "expires_in": issued.expires_in.as_secs(),
        "issued_at": humantime::format_rfc3339_seconds(issued.issued_at).to_string(),
    });
    let refresh_token = match (refresh, offline, identity.is_anonymous()) {
        (Some(refresh), _, _) => Some(refresh.to_owned()),
        (None, true, false) => {
            let credential = config
                .users
                .as_ref()
                .and_then(|users| users.credential_stamp(identity.subject()))
                .ok_or(AuthFailure::Denied)?;
            Some(
                issuer
                    .issue_refresh(identity.subject(), &credential)
                    .map_err(AuthFailure::from)?,
            )
        }
        _ => None,
    };
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}
