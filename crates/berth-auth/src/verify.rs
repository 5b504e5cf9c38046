//! Token verification against trusted issuers (auth-jwt.md, "Verifying the token").

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::scope::AccessEntry;
use crate::token::{unix_now_f64, REFRESH_USE};
use crate::{Access, AuthError, Identity, PublicKey, TokenRejection};

/// Longest token accepted, in bytes; longer ones are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: f64 = 30.0;

/// An issuer whose tokens this registry accepts: its `iss`, the `aud` it must address to us,
/// and its keys.
#[derive(Clone)]
pub struct TrustedIssuer {
    name: String,
    audience: String,
    keys: Vec<PublicKey>,
}

/// An external issuer as configured: PEM files (public keys or certificates) or a JWKS file.
///
/// ```toml
/// [[auth.token.trust]]
/// issuer = "auth.example.com"
/// audience = "registry.example.com"
/// keys = ["/etc/berth/issuer.pem"]   # or: jwks = "/etc/berth/issuer.jwks"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalIssuerConfig {
    pub issuer: String,
    pub audience: String,
    #[serde(default)]
    pub keys: Vec<PathBuf>,
    #[serde(default)]
    pub jwks: Option<PathBuf>,
}

/// Most verified tokens remembered by one [`TokenVerifier`]; the cache evicts beyond it.
const VERIFIED_CAPACITY: usize = 4096;

/// Checks bearer tokens of every trusted issuer.
///
/// A client sends the same token with every request until it expires, and an ES256 signature
/// check costs tens of microseconds, more than serving a cached manifest. So a token that
/// passed every check is remembered, keyed by SHA-256 of the token (the cache never holds the
/// token itself), with its claims and validity window: later requests with it only compare
/// times. The issuers and their keys never change for a verifier, so nothing else about a
/// remembered token can change; a token that left its window is checked in full again, and
/// refused for the reason it now fails.
pub struct TokenVerifier {
    issuers: Vec<TrustedIssuer>,
    verified: quick_cache::sync::Cache<[u8; 32], CachedToken>,
    #[cfg(test)]
    pub(crate) full_checks: std::sync::atomic::AtomicUsize,
}

/// A token that passed every check, and the window in which it stays valid.
#[derive(Clone)]
struct CachedToken {
    token: Arc<VerifiedToken>,
    exp: f64,
    nbf: Option<f64>,
}

impl CachedToken {
    /// The same time checks as `check_claims`, leeway included.
    fn valid_at(&self, now: f64) -> bool {
        now <= self.exp + LEEWAY_SECS && !self.nbf.is_some_and(|nbf| now + LEEWAY_SECS < nbf)
    }
}

/// What a valid access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The `sub` claim; `""` for an anonymous client.
    pub subject: String,
    /// The granted accesses, unknown actions and resource types dropped.
    pub access: Vec<Access>,
    /// The `iss` claim, one of the trusted issuers.
    pub issuer: String,
}

impl VerifiedToken {
    /// Whether the token grants `access`: the resource and the action must both match
    /// (auth-scope.md, "Resource Provider Use").
    pub fn allows(&self, access: &Access) -> bool {
        self.access.contains(access)
    }

    /// The identity the token speaks for. Its rights are the token's `access`, not the policy.
    pub fn identity(&self) -> Identity {
        match self.subject.as_str() {
            "" => Identity::Anonymous,
            name => Identity::user(name),
        }
    }
}

impl TrustedIssuer {
    /// An issuer named `name` whose tokens must name `audience` and verify with one of `keys`.
    ///
    /// Errors: [`AuthError::Config`] for empty names or no keys.
    pub fn new(
        name: String,
        audience: String,
        keys: Vec<PublicKey>,
    ) -> Result<TrustedIssuer, AuthError> {
        if name.is_empty() || audience.is_empty() || keys.is_empty() {
            return Err(AuthError::Config(format!(
                "trusted issuer {name:?} needs a name, an audience and at least one key"
            )));
        }
        Ok(TrustedIssuer {
            name,
            audience,
            keys,
        })
    }

    /// Loads the keys `config` names: either `keys` (PEM files) or `jwks`, not both.
    ///
    /// Errors: [`AuthError::Config`] for neither or both, key file errors otherwise.
    pub fn from_config(config: &ExternalIssuerConfig) -> Result<TrustedIssuer, AuthError> {
        let keys = match (&config.keys[..], &config.jwks) {
            ([], Some(jwks)) => PublicKey::load_jwks_file(jwks)?,
            (files, None) if !files.is_empty() => {
                let mut keys = Vec::new();
                for file in files {
                    keys.extend(PublicKey::load_pem_file(file)?);
                }
                keys
            }
            _ => {
                return Err(AuthError::Config(format!(
                    "trusted issuer {:?} needs either keys (PEM files) or jwks",
                    config.issuer
                )))
            }
        };
        TrustedIssuer::new(config.issuer.clone(), config.audience.clone(), keys)
    }

    /// The `iss` this issuer signs with.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl TokenVerifier {
    /// A verifier trusting `issuers`, typically this server's own
    /// ([`crate::TokenIssuer::trusted`]) and the configured external ones.
    ///
    /// Errors: [`AuthError::Config`] when two issuers share a name.
    pub fn new(issuers: Vec<TrustedIssuer>) -> Result<TokenVerifier, AuthError> {
        crate::ensure_crypto_provider();
        let mut names = HashSet::new();
        if let Some(twice) = issuers.iter().find(|i| !names.insert(i.name.as_str())) {
            return Err(AuthError::Config(format!(
                "trusted issuer {:?} is configured twice",
                twice.name
            )));
        }
        Ok(TokenVerifier {
            issuers,
            verified: quick_cache::sync::Cache::new(VERIFIED_CAPACITY),
            #[cfg(test)]
            full_checks: Default::default(),
        })
    }

    /// Verifies an access token: size, algorithm, key, signature, issuer, audience, times,
    /// kind and access entries, each refused with its own [`TokenRejection`].
    ///
    /// Errors: [`AuthError::InvalidToken`].
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        self.verify_at(token, unix_now_f64())
    }

    /// [`TokenVerifier::verify`] at `now` (seconds since the epoch): from the cache while the
    /// token is inside its validity window, else by every check.
    pub(crate) fn verify_at(&self, token: &str, now: f64) -> Result<VerifiedToken, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenRejection::TooLarge.into());
        }
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = self.verified.get(&key) {
            if hit.valid_at(now) {
                return Ok(VerifiedToken::clone(&hit.token));
            }
            self.verified.remove(&key);
        }
        #[cfg(test)]
        self.full_checks
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let verified = verify_claims(&self.issuers, token, now)?;
        let claims = verified.claims;
        if claims.token_use.as_deref() == Some(REFRESH_USE) {
            return Err(TokenRejection::RefreshTokenAsAccess.into());
        }
        let mut access = BTreeSet::new();
        for entry in &claims.access {
            let granted = entry
                .to_accesses()
                .map_err(|_| TokenRejection::InvalidAccess)?;
            access.extend(granted);
        }
        let token = VerifiedToken {
            subject: claims.sub.unwrap_or_default(),
            access: access.into_iter().collect(),
            issuer: verified.issuer,
        };
        if let Some(exp) = claims.exp {
            let cached = CachedToken {
                token: Arc::new(token.clone()),
                exp,
                nbf: claims.nbf,
            };
            self.verified.insert(key, cached);
        }
        Ok(token)
    }
}

/// The claims Berth reads, typed strictly: a claim of the wrong JSON type fails the whole
/// token (so `"exp": "never"` is refused, not ignored).
#[derive(Debug, Deserialize)]
pub(crate) struct ReceivedClaims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<Audience>,
    pub exp: Option<f64>,
    pub nbf: Option<f64>,
    #[serde(default)]
    pub access: Vec<AccessEntry>,
    pub token_use: Option<String>,
    /// A refresh token's stamp of the credential it was issued against.
    pub cred: Option<String>,
}

/// `aud` is one string or an array of strings (RFC 7519 section 4.1.3).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn names(&self, service: &str) -> bool {
        match self {
            Audience::One(one) => one == service,
            Audience::Many(many) => many.iter().any(|a| a == service),
        }
    }
}

pub(crate) struct Verified {
    pub claims: ReceivedClaims,
    pub issuer: String,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct PeekIssuer {
    iss: Option<String>,
}

/// Every check but the token's kind, at time `now` (seconds since the epoch).
///
/// The key is chosen by the unverified `iss` and `kid`, then the signature is verified with
/// it and only that key's algorithms; embedded keys (`jwk`, `x5c`, `jku`) are never used.
pub(crate) fn verify_claims(
    issuers: &[TrustedIssuer],
    token: &str,
    now: f64,
) -> Result<Verified, TokenRejection> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenRejection::TooLarge);
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, _signature] = parts[..] else {
        return Err(TokenRejection::Malformed);
    };
    let header: RawHeader = decode_part(header)?;
    let alg = check_algorithm(&header)?;
    let issuer_name = decode_part::<PeekIssuer>(payload)?
        .iss
        .ok_or(TokenRejection::MissingClaim)?;
    let issuer = issuers
        .iter()
        .find(|i| i.name == issuer_name)
        .ok_or(TokenRejection::WrongIssuer)?;
    let key = match (&header.kid, &issuer.keys[..]) {
        (Some(kid), keys) => keys.iter().find(|k| k.kids().contains(kid)),
        (None, [only]) => Some(only),
        (None, _) => None,
    }
    .ok_or(TokenRejection::UnknownKey)?;
    if !key.algorithms.contains(&alg) {
        return Err(TokenRejection::AlgorithmMismatch);
    }
    let mut validation = Validation::new(alg);
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<ReceivedClaims>(token, &key.decoding, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                TokenRejection::Malformed
            }
            ErrorKind::InvalidToken => TokenRejection::Malformed,
            _ => TokenRejection::BadSignature,
        })?
        .claims;
    check_claims(&claims, issuer, now)?;
    Ok(Verified {
        claims,
        issuer: issuer.name.clone(),
    })
}

/// The header's algorithm, if it is one Berth verifies at all.
fn check_algorithm(header: &RawHeader) -> Result<Algorithm, TokenRejection> {
    if header.crit.is_some() {
        return Err(TokenRejection::UnsupportedAlgorithm);
    }
    let alg = header
        .alg
        .parse::<Algorithm>()
        .map_err(|_| TokenRejection::UnsupportedAlgorithm)?;
    if alg.family() == AlgorithmFamily::Hmac {
        return Err(TokenRejection::HmacAlgorithm);
    }
    Ok(alg)
}

fn check_claims(
    claims: &ReceivedClaims,
    issuer: &TrustedIssuer,
    now: f64,
) -> Result<(), TokenRejection> {
    if claims.iss.as_deref() != Some(issuer.name.as_str()) {
        return Err(TokenRejection::WrongIssuer);
    }
    let audience = claims.aud.as_ref().ok_or(TokenRejection::MissingClaim)?;
    if !audience.names(&issuer.audience) {
        return Err(TokenRejection::WrongAudience);
    }
    let exp = claims.exp.ok_or(TokenRejection::MissingClaim)?;
    if now > exp + LEEWAY_SECS {
        return Err(TokenRejection::Expired);
    }
    if claims.nbf.is_some_and(|nbf| now + LEEWAY_SECS < nbf) {
        return Err(TokenRejection::NotYetValid);
    }
    Ok(())
}

fn decode_part<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, TokenRejection> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenRejection::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenRejection::Malformed)
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
