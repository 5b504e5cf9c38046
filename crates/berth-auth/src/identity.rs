//! Who a request acts for (nobody in particular, or a named user) and which groups users are in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// The subject of a request, established by a password, a token or nothing at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// No credentials were presented.
    Anonymous,
    /// A user who proved who they are.
    User {
        /// The user name, as in the htpasswd file or a token's `sub` claim.
        name: String,
        /// Groups the user belongs to, from the policy's `groups` (never from the htpasswd
        /// file). The policy also resolves membership itself, so an identity built with no
        /// groups is judged the same way.
        groups: Vec<String>,
    },
}

impl Identity {
    /// A user with no groups attached (the policy still knows their groups).
    pub fn user(name: impl Into<String>) -> Identity {
        Identity::User {
            name: name.into(),
            groups: Vec::new(),
        }
    }

    /// The user name, or `None` when anonymous.
    pub fn name(&self) -> Option<&str> {
        match self {
            Identity::Anonymous => None,
            Identity::User { name, .. } => Some(name),
        }
    }

    /// Whether no credentials were presented.
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Identity::Anonymous)
    }

    /// The JWT `sub` for this identity: the user name, or `""` for an anonymous client
    /// (auth-jwt.md, "Claim Set").
    pub fn subject(&self) -> &str {
        self.name().unwrap_or("")
    }
}

/// Group membership, from the policy's `groups` table (group name -> user names), indexed by
/// user. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    by_user: Arc<HashMap<String, Vec<String>>>,
}

impl Groups {
    /// Indexes `groups` (group name -> members).
    pub fn new(groups: &BTreeMap<String, Vec<String>>) -> Groups {
        let mut by_user: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (group, members) in groups {
            for member in members {
                by_user
                    .entry(member.clone())
                    .or_default()
                    .insert(group.clone());
            }
        }
        let by_user = by_user
            .into_iter()
            .map(|(user, groups)| (user, groups.into_iter().collect()))
            .collect();
        Groups {
            by_user: Arc::new(by_user),
        }
    }

    /// The groups `user` belongs to, sorted; empty for users in no group.
    pub fn of(&self, user: &str) -> &[String] {
        self.by_user.get(user).map_or(&[], Vec::as_slice)
    }

    /// `user` as an identity carrying their groups.
    pub fn identity(&self, user: &str) -> Identity {
        Identity::User {
            name: user.to_owned(),
            groups: self.of(user).to_vec(),
        }
    }
}
