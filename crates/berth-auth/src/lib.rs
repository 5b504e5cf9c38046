//! Identities, credentials, tokens and access policy for Berth; no HTTP types.
//!
//! - [`Users`] checks passwords against a bcrypt htpasswd file ([`UserFile`]).
//! - [`Policy`] decides whether an [`Identity`] may perform an [`Access`].
//! - [`TokenIssuer`] signs Docker registry tokens (auth-jwt.md); [`TokenVerifier`] checks
//!   them for this server and for trusted external issuers.
//! - [`Scope`] parses the Docker scope grammar (auth-scope.md).
//! - [`LoginLimiter`] slows password guessing.

mod error;
mod htpasswd;
mod identity;
mod keys;
mod limiter;
mod policy;
mod scope;
mod signing_key;
mod token;
mod users;
mod verify;

pub use error::{AuthError, TokenRejection};
pub use htpasswd::UserFile;
pub use identity::{Groups, Identity};
pub use keys::PublicKey;
pub use limiter::{LoginBlocked, LoginLimiter, LoginLimiterOptions};
pub use policy::{AdminsConfig, Decision, Policy, PolicyConfig, RuleConfig};
pub use scope::{Access, Action, Resource, Scope};
pub use signing_key::{SigningKey, SIGNING_ALGORITHM};
pub use token::{
    IssuedToken, IssuerConfig, RefreshGrant, TokenIssuer, DEFAULT_REFRESH_TTL, DEFAULT_TOKEN_TTL,
    MIN_TOKEN_TTL,
};
pub use users::{Users, UsersOptions};
pub use verify::{
    ExternalIssuerConfig, TokenVerifier, TrustedIssuer, VerifiedToken, LEEWAY_SECS, MAX_TOKEN_BYTES,
};

/// Selects `jsonwebtoken`'s aws-lc-rs backend for the process, unless one is already chosen,
/// so that no feature unification elsewhere in the build leaves it undecided.
pub(crate) fn ensure_crypto_provider() {
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
    );
}
