//! Token issuance: short-lived ES256 access tokens (auth-jwt.md) and long-lived refresh tokens.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::scope::AccessEntry;
use crate::verify::{verify_claims, TrustedIssuer};
use crate::{Access, AuthError, SigningKey, TokenRejection, SIGNING_ALGORITHM};

/// Default lifetime of an access token: 5 minutes.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);
/// Shortest access token lifetime: clients assume at least 60 s (auth-token.md, `expires_in`).
pub const MIN_TOKEN_TTL: Duration = Duration::from_secs(60);
/// Default lifetime of a refresh token: 30 days.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The `token_use` claim value marking refresh tokens; access tokens carry no `token_use`.
pub(crate) const REFRESH_USE: &str = "refresh";

/// How this server issues tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    /// The `iss` claim, typically the token endpoint's host name.
    pub issuer: String,
    /// The `aud` claim: the `service` this registry names in its challenges.
    pub service: String,
    /// Access token lifetime; at least [`MIN_TOKEN_TTL`].
    pub ttl: Duration,
    /// Refresh token lifetime; at least `ttl`.
    pub refresh_ttl: Duration,
}

impl IssuerConfig {
    /// `issuer` and `service` with the default lifetimes.
    pub fn new(issuer: impl Into<String>, service: impl Into<String>) -> IssuerConfig {
        IssuerConfig {
            issuer: issuer.into(),
            service: service.into(),
            ttl: DEFAULT_TOKEN_TTL,
            refresh_ttl: DEFAULT_REFRESH_TTL,
        }
    }

    /// Checks what [`TokenIssuer::new`] needs of the configuration, without a key.
    ///
    /// Errors: [`AuthError::Config`] for an empty issuer or service, a `ttl` under 60 s, or a
    /// `refresh_ttl` shorter than `ttl`.
    pub fn check(&self) -> Result<(), AuthError> {
        if self.issuer.is_empty() || self.service.is_empty() {
            return Err(AuthError::Config(
                "the token issuer and service must not be empty".into(),
            ));
        }
        if self.ttl < MIN_TOKEN_TTL {
            return Err(AuthError::Config(format!(
                "token lifetime {:?} is under the minimum of 60s",
                self.ttl
            )));
        }
        if self.refresh_ttl < self.ttl {
            return Err(AuthError::Config(
                "the refresh token lifetime must be at least the access token lifetime".into(),
            ));
        }
        Ok(())
    }
}

/// A signed access token and the figures the token endpoint answers with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// How long it stays valid from `issued_at` (the `expires_in` field, in whole seconds).
    pub expires_in: Duration,
    /// When it was issued (the `issued_at` field, RFC 3339 on the wire), whole seconds.
    pub issued_at: SystemTime,
}

/// Signs tokens for this registry with its [`SigningKey`].
pub struct TokenIssuer {
    config: IssuerConfig,
    key: SigningKey,
    trusted: TrustedIssuer,
}

/// The claim set of tokens this server issues (auth-jwt.md, "Claim Set").
#[derive(Serialize, Deserialize)]
struct IssuedClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
    access: Vec<AccessEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_use: Option<&'a str>,
    /// Refresh tokens only: [`crate::Users::credential_stamp`] when issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    cred: Option<&'a str>,
}

/// What a valid refresh token says: who it was issued to, and the stamp of the credential they
/// had then, which must still be theirs for the token to be honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    pub subject: String,
    /// `None` for a token issued without one (by no user file); such a token is honoured only
    /// where no user file is kept.
    pub credential: Option<String>,
}

impl TokenIssuer {
    /// An issuer signing with `key`.
    ///
    /// Errors: [`AuthError::Config`] for an empty issuer or service, a `ttl` under 60 s, or a
    /// `refresh_ttl` shorter than `ttl`.
    pub fn new(config: IssuerConfig, key: SigningKey) -> Result<TokenIssuer, AuthError> {
        crate::ensure_crypto_provider();
        config.check()?;
        let trusted = TrustedIssuer::new(
            config.issuer.clone(),
            config.service.clone(),
            vec![key.public_key().clone()],
        )?;
        Ok(TokenIssuer {
            config,
            key,
            trusted,
        })
    }

    /// An access token for `subject` (`""` for an anonymous client) granting `access`, which
    /// the caller has already narrowed with [`crate::Policy::grant`].
    ///
    /// Errors: [`AuthError::Signing`] if signing fails.
    pub fn issue(&self, subject: &str, access: &[Access]) -> Result<IssuedToken, AuthError> {
        let now = unix_now();
        let ttl = self.config.ttl.as_secs();
        let token = self.sign(IssuedClaims {
            iss: &self.config.issuer,
            sub: subject,
            aud: &self.config.service,
            exp: now + ttl,
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            access: AccessEntry::from_accesses(access),
            token_use: None,
            cred: None,
        })?;
        Ok(IssuedToken {
            token,
            expires_in: Duration::from_secs(ttl),
            issued_at: UNIX_EPOCH + Duration::from_secs(now),
        })
    }

    /// A refresh token for `subject`, bound to `credential` (the stamp of their password, see
    /// [`crate::Users::credential_stamp`]) so that changing the password revokes it.
    ///
    /// Errors: [`AuthError::Config`] for an anonymous subject; signing failures.
    pub fn issue_refresh(&self, subject: &str, credential: &str) -> Result<String, AuthError> {
        if subject.is_empty() {
            return Err(AuthError::Config(
                "refresh tokens are for users, not anonymous clients".into(),
            ));
        }
        let now = unix_now();
        self.sign(IssuedClaims {
            iss: &self.config.issuer,
            sub: subject,
            aud: &self.config.service,
            exp: now + self.config.refresh_ttl.as_secs(),
            nbf: now,
            iat: now,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            access: Vec::new(),
            token_use: Some(REFRESH_USE),
            cred: Some(credential),
        })
    }

    /// The grant of a refresh token this issuer signed, after the same checks as access
    /// tokens (signature, issuer, audience, times). The caller must still check that the user
    /// exists with the same credential ([`crate::Users::credential_stamp`]) and apply the
    /// policy to what it asks for.
    ///
    /// Errors: [`AuthError::InvalidToken`]; an access token, or a token of another issuer,
    /// gives [`TokenRejection::NotARefreshToken`] or [`TokenRejection::WrongIssuer`].
    pub fn verify_refresh(&self, token: &str) -> Result<RefreshGrant, AuthError> {
        let verified = verify_claims(std::slice::from_ref(&self.trusted), token, unix_now_f64())?;
        let claims = verified.claims;
        match (claims.token_use.as_deref(), claims.sub) {
            (Some(REFRESH_USE), Some(subject)) if !subject.is_empty() => Ok(RefreshGrant {
                subject,
                credential: claims.cred,
            }),
            _ => Err(TokenRejection::NotARefreshToken.into()),
        }
    }

    /// This issuer as the verifier trusts it: its name, its service as audience, its key.
    pub fn trusted(&self) -> TrustedIssuer {
        self.trusted.clone()
    }

    /// The `iss` of issued tokens.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The `aud` of issued tokens.
    pub fn service(&self) -> &str {
        &self.config.service
    }

    /// The signing key (for its `kid` and public PEM).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    fn sign(&self, claims: IssuedClaims<'_>) -> Result<String, AuthError> {
        let mut header = Header::new(SIGNING_ALGORITHM);
        header.kid = Some(self.key.kid().to_owned());
        let key: &EncodingKey = &self.key.encoding;
        jsonwebtoken::encode(&header, &claims, key).map_err(|e| AuthError::Signing(e.to_string()))
    }
}

/// Seconds since the epoch now.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn unix_now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
