//! Access policy: which identity may do which action on which resource; default deny.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{Access, Action, AuthError, Groups, Identity, Resource};

/// The policy as written in the configuration file.
///
/// ```toml
/// anonymous_pull = ["public/*"]
///
/// [groups]
/// developers = ["alice", "bob"]
///
/// [[rules]]
/// repositories = "team/*"
/// groups = ["developers"]
/// actions = ["pull", "push"]
///
/// [admins]
/// users = ["root"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Group name -> member user names.
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    /// Grants; an access is allowed when any rule grants it.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Repository globs anyone, logged in or not, may pull.
    #[serde(default)]
    pub anonymous_pull: Vec<String>,
    /// Users and groups that may do everything, the catalog and administration included.
    #[serde(default)]
    pub admins: AdminsConfig,
}

/// One grant: `actions` on the repositories matching `repositories`, to `users` and `groups`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// A glob over repository names, matched as `glob::Pattern::matches` does, so `*` also
    /// matches `/` (`team/*` covers `team/app/web`), as in retention rules.
    pub repositories: String,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// `pull`, `push`, `delete`, or `*` for all three.
    pub actions: Vec<String>,
}

/// The administrators.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminsConfig {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// The answer to one access check, shaped for the HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Denied to an anonymous client: logging in may help (401 with a challenge).
    Unauthenticated,
    /// Denied to an authenticated user (403 `DENIED`).
    Forbidden,
}

/// The compiled policy. Decisions are pure functions of the identity and the access.
#[derive(Debug, Clone)]
pub struct Policy {
    groups: Groups,
    rules: Vec<Rule>,
    anonymous_pull: Vec<glob::Pattern>,
    admin_users: BTreeSet<String>,
    admin_groups: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct Rule {
    repositories: glob::Pattern,
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
    actions: BTreeSet<Action>,
}

impl Policy {
    /// Compiles `config`.
    ///
    /// Errors: [`AuthError::Config`] for an invalid glob, an unknown action, a rule without
    /// actions or without users and groups, and a group that `groups` does not define.
    pub fn from_config(config: &PolicyConfig) -> Result<Policy, AuthError> {
        let known_group = |group: &String, place: &str| {
            if config.groups.contains_key(group) {
                Ok(group.clone())
            } else {
                Err(AuthError::Config(format!(
                    "{place} names the group {group:?}, which [groups] does not define"
                )))
            }
        };
        let mut rules = Vec::with_capacity(config.rules.len());
        for (index, rule) in config.rules.iter().enumerate() {
            let place = format!("rule {} ({:?})", index + 1, rule.repositories);
            if rule.users.is_empty() && rule.groups.is_empty() {
                return Err(AuthError::Config(format!(
                    "{place} names no users or groups"
                )));
            }
            rules.push(Rule {
                repositories: pattern(&rule.repositories, &place)?,
                users: rule.users.iter().cloned().collect(),
                groups: rule
                    .groups
                    .iter()
                    .map(|g| known_group(g, &place))
                    .collect::<Result<_, _>>()?,
                actions: actions(&rule.actions, &place)?,
            });
        }
        Ok(Policy {
            groups: Groups::new(&config.groups),
            rules,
            anonymous_pull: config
                .anonymous_pull
                .iter()
                .map(|p| pattern(p, "anonymous_pull"))
                .collect::<Result<_, _>>()?,
            admin_users: config.admins.users.iter().cloned().collect(),
            admin_groups: config
                .admins
                .groups
                .iter()
                .map(|g| known_group(g, "admins"))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The group membership this policy defines, for [`crate::Users`].
    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// Whether `identity` may perform `access`, and if not, whether logging in could help.
    ///
    /// - Admins may do everything.
    /// - Repositories: pull when the name matches `anonymous_pull` (for everyone), otherwise
    ///   whatever a rule naming the user or one of their groups grants.
    /// - Catalog: listed by any authenticated user and, when `anonymous_pull` is not empty,
    ///   by anonymous clients (the HTTP layer filters entries by pull access).
    /// - Admin endpoints: admins only.
    pub fn decide(&self, identity: &Identity, access: &Access) -> Decision {
        let allowed = match identity {
            Identity::Anonymous => match &access.resource {
                Resource::Repository(repo) => {
                    access.action == Action::Pull && self.public(repo.as_str())
                }
                Resource::Catalog => {
                    access.action == Action::Pull && !self.anonymous_pull.is_empty()
                }
                Resource::Admin => false,
            },
            Identity::User { name, groups } => {
                let member_of =
                    |group: &String| groups.contains(group) || self.groups.of(name).contains(group);
                let admin =
                    self.admin_users.contains(name) || self.admin_groups.iter().any(member_of);
                admin
                    || match &access.resource {
                        Resource::Repository(repo) => {
                            (access.action == Action::Pull && self.public(repo.as_str()))
                                || self.rules.iter().any(|rule| {
                                    rule.actions.contains(&access.action)
                                        && rule.repositories.matches(repo.as_str())
                                        && (rule.users.contains(name)
                                            || rule.groups.iter().any(member_of))
                                })
                        }
                        Resource::Catalog => access.action == Action::Pull,
                        Resource::Admin => false,
                    }
            }
        };
        match (allowed, identity) {
            (true, _) => Decision::Allow,
            (false, Identity::Anonymous) => Decision::Unauthenticated,
            (false, Identity::User { .. }) => Decision::Forbidden,
        }
    }

    /// Whether `identity` may perform `access`.
    pub fn allows(&self, identity: &Identity, access: &Access) -> bool {
        self.decide(identity, access) == Decision::Allow
    }

    /// The part of `requested` that `identity` may have, in the order asked: what a token is
    /// issued for (auth-token.md, "Requesting a Token": the intersection, never an error).
    pub fn grant(&self, identity: &Identity, requested: &[Access]) -> Vec<Access> {
        requested
            .iter()
            .filter(|access| self.allows(identity, access))
            .cloned()
            .collect()
    }

    fn public(&self, repo: &str) -> bool {
        self.anonymous_pull.iter().any(|p| p.matches(repo))
    }
}

fn pattern(text: &str, place: &str) -> Result<glob::Pattern, AuthError> {
    glob::Pattern::new(text)
        .map_err(|e| AuthError::Config(format!("{place}: invalid pattern {text:?}: {e}")))
}

fn actions(names: &[String], place: &str) -> Result<BTreeSet<Action>, AuthError> {
    if names.is_empty() {
        return Err(AuthError::Config(format!("{place} grants no actions")));
    }
    let mut actions = BTreeSet::new();
    for name in names {
        match (name.as_str(), Action::from_wire(name)) {
            ("*", _) => actions.extend(Action::ALL),
            (_, Some(action)) => {
                actions.insert(action);
            }
            (_, None) => {
                return Err(AuthError::Config(format!(
                    "{place}: unknown action {name:?}; use pull, push, delete or *"
                )))
            }
        }
    }
    Ok(actions)
}
