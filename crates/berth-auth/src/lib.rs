//! Identities, credentials, tokens and access policy for Berth; no HTTP types.

mod error;
mod htpasswd;
mod identity;
mod policy;
mod scope;
mod users;

pub use error::{AuthError, TokenRejection};
pub use htpasswd::UserFile;
pub use identity::{Groups, Identity};
pub use policy::{AdminsConfig, Decision, Policy, PolicyConfig, RuleConfig};
pub use scope::{Access, Action, Resource, Scope};
pub use users::{Users, UsersOptions};
