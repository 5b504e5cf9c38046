//! The one error type of the auth layer, and the reasons a token is refused.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in `berth-auth`: configuration and key files at start-up,
/// client input (scopes, tokens) at request time.
///
/// `berth-http` maps it: [`AuthError::InvalidScope`] to 400, [`AuthError::InvalidToken`] to 401
/// with `error="invalid_token"`, everything else is a start-up or internal failure.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A scope string does not follow the grammar of auth-scope.md ("Resource Scope Grammar").
    #[error("invalid scope {scope:?}: {problem}")]
    InvalidScope { scope: String, problem: String },

    /// A token was refused; the reason is for logs, clients only learn that it is invalid.
    #[error("invalid token: {0}")]
    InvalidToken(TokenRejection),

    /// A line of an htpasswd file is not `user:hash`.
    #[error("{}:{line}: {problem}", path.display())]
    HtpasswdMalformed {
        path: PathBuf,
        line: usize,
        problem: String,
    },

    /// An htpasswd entry uses a hash Berth refuses: only bcrypt (`$2a$`, `$2b$`, `$2y$`) is kept.
    #[error(
        "{}:{line}: user {user:?} has a {kind} hash; only bcrypt is accepted \
         (create one with `htpasswd -B`)",
        path.display()
    )]
    HtpasswdUnsupportedHash {
        path: PathBuf,
        line: usize,
        user: String,
        kind: &'static str,
    },

    /// The policy, issuer or verifier configuration is inconsistent.
    #[error("invalid auth configuration: {0}")]
    Config(String),

    /// A key file (signing key, trusted public key or certificate, JWKS) is unusable.
    #[error("key file {}: {problem}", path.display())]
    Key { path: PathBuf, problem: String },

    /// Reading or writing a file failed. The cause is the error's source, not part of its
    /// message, so that a chain of causes names it once.
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Signing a token failed (the key was accepted when loaded, so this is internal).
    #[error("signing a token failed: {0}")]
    Signing(String),
}

impl AuthError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> AuthError {
        AuthError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn key(path: impl Into<PathBuf>, problem: impl Into<String>) -> AuthError {
        AuthError::Key {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

/// Why a bearer token was refused (auth-jwt.md, "Verifying the token"). Each check that can
/// fail has its own reason so that tests and logs can tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    /// Longer than [`crate::MAX_TOKEN_BYTES`].
    TooLarge,
    /// Not three base64url parts, or a header or payload that is not the expected JSON.
    Malformed,
    /// `alg: none`, an unknown algorithm, or a header with `crit` extensions.
    UnsupportedAlgorithm,
    /// An HMAC algorithm (`HS256`...): never accepted, public keys are not shared secrets.
    HmacAlgorithm,
    /// The algorithm does not belong to the key's type (`RS256` against an EC key, `ES384`
    /// against a P-256 key...).
    AlgorithmMismatch,
    /// The `kid` names no trusted key of the issuer, or is missing while the issuer has several.
    UnknownKey,
    /// The signature does not verify: tampered header, payload or signature, or another key.
    BadSignature,
    /// The `iss` claim names no trusted issuer.
    WrongIssuer,
    /// The `aud` claim does not name this registry.
    WrongAudience,
    /// A required claim (`exp`, `iss`, `aud`) is missing or has the wrong JSON type.
    MissingClaim,
    /// `exp` lies in the past, beyond the leeway.
    Expired,
    /// `nbf` lies in the future, beyond the leeway.
    NotYetValid,
    /// An `access` entry names a repository that is not a valid repository name.
    InvalidAccess,
    /// A refresh token was presented as an access token.
    RefreshTokenAsAccess,
    /// An access token (or a token of another issuer) was presented as a refresh token.
    NotARefreshToken,
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenRejection::TooLarge => "the token is too large",
            TokenRejection::Malformed => "the token is not a well-formed JWT",
            TokenRejection::UnsupportedAlgorithm => "the token's algorithm is not supported",
            TokenRejection::HmacAlgorithm => "HMAC-signed tokens are not accepted",
            TokenRejection::AlgorithmMismatch => "the token's algorithm does not fit its key",
            TokenRejection::UnknownKey => "the token's key is not trusted",
            TokenRejection::BadSignature => "the token's signature does not verify",
            TokenRejection::WrongIssuer => "the token's issuer is not trusted",
            TokenRejection::WrongAudience => "the token is meant for another service",
            TokenRejection::MissingClaim => "the token lacks a required claim",
            TokenRejection::Expired => "the token has expired",
            TokenRejection::NotYetValid => "the token is not valid yet",
            TokenRejection::InvalidAccess => "the token's access names an invalid repository",
            TokenRejection::RefreshTokenAsAccess => "a refresh token is not an access token",
            TokenRejection::NotARefreshToken => "the token is not a refresh token of this server",
        })
    }
}

impl From<TokenRejection> for AuthError {
    fn from(rejection: TokenRejection) -> AuthError {
        AuthError::InvalidToken(rejection)
    }
}
