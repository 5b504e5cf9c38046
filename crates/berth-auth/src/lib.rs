//! Identities, credentials, tokens and access policy for Berth; no HTTP types.

mod error;
mod identity;
mod scope;

pub use error::{AuthError, TokenRejection};
pub use identity::{Groups, Identity};
pub use scope::{Access, Action, Resource, Scope};
