//! Access vocabulary: actions, resources, and the Docker scope grammar (auth-scope.md).

use std::fmt;

use berth_oci::RepoName;
use serde::{Deserialize, Serialize};

use crate::AuthError;

/// What a client wants to do to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Read: manifests, blobs, tags, referrers; for the catalog, listing it.
    Pull,
    /// Write: uploads, manifest and tag pushes, mounts into the repository.
    Push,
    /// Delete manifests, tags and blobs.
    Delete,
}

impl Action {
    /// Every action, in canonical order.
    pub const ALL: [Action; 3] = [Action::Pull, Action::Push, Action::Delete];

    /// The wire name: `pull`, `push` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }

    /// The action a wire name stands for; `None` for `*` and unknown names.
    pub fn from_wire(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an access is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// `repository:<name>` (also `repository(<class>):<name>`; the class is ignored).
    Repository(RepoName),
    /// `registry:catalog`: the repository listing, `/v2/_catalog`.
    Catalog,
    /// `registry:admin`: Berth's administration endpoints (`/berth/v1/...`).
    Admin,
}

impl Resource {
    /// The scope's resource type: `repository` or `registry`.
    pub fn resource_type(&self) -> &'static str {
        match self {
            Resource::Repository(_) => "repository",
            Resource::Catalog | Resource::Admin => "registry",
        }
    }

    /// The scope's resource name: the repository name, `catalog` or `admin`.
    pub fn name(&self) -> &str {
        match self {
            Resource::Repository(name) => name.as_str(),
            Resource::Catalog => "catalog",
            Resource::Admin => "admin",
        }
    }

    /// The actions that mean something on this resource, which `*` stands for: the catalog
    /// can only be listed (`registry:catalog:*` is pull).
    pub fn actions(&self) -> &'static [Action] {
        match self {
            Resource::Catalog => &[Action::Pull],
            Resource::Repository(_) | Resource::Admin => &Action::ALL,
        }
    }
}

/// One action on one resource: the unit of every authorization decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Access {
    pub resource: Resource,
    pub action: Action,
}

impl Access {
    /// `action` on the repository `name`.
    pub fn repository(name: RepoName, action: Action) -> Access {
        Access {
            resource: Resource::Repository(name),
            action,
        }
    }

    /// Listing the catalog (`registry:catalog:*`).
    pub fn catalog() -> Access {
        Access {
            resource: Resource::Catalog,
            action: Action::Pull,
        }
    }

    /// `action` on the administration endpoints (pull to read, push to run operations).
    pub fn admin(action: Action) -> Access {
        Access {
            resource: Resource::Admin,
            action,
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_group(f, &self.resource, &[self.action])
    }
}

/// A set of accesses, sorted and without duplicates, as requested through `scope` parameters or
/// granted in a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope(Vec<Access>);

impl Scope {
    /// Parses `resourcescope [' ' resourcescope]*` (auth-scope.md, "Resource Scope Grammar").
    ///
    /// Repository names must be valid [`RepoName`]s, so globs, `..`, upper case and
    /// `host:port/` prefixes are refused. `*` stands for every action of the resource, unknown
    /// actions and actions that mean nothing on the resource are dropped, and unknown resource
    /// types (and `registry` names other than `catalog` and `admin`) are ignored, as the spec
    /// lets a resource provider do.
    ///
    /// Errors: [`AuthError::InvalidScope`] naming the first bad resource scope.
    pub fn parse(scope: &str) -> Result<Scope, AuthError> {
        let mut accesses = Vec::new();
        for item in scope.split(' ').filter(|item| !item.is_empty()) {
            let parsed = parse_resource_scope(item).map_err(|problem| AuthError::InvalidScope {
                scope: item.to_owned(),
                problem,
            })?;
            accesses.extend(parsed);
        }
        Ok(Scope::from_accesses(accesses))
    }

    /// The scope holding exactly `accesses`.
    pub fn from_accesses(accesses: impl IntoIterator<Item = Access>) -> Scope {
        let mut accesses: Vec<Access> = accesses.into_iter().collect();
        accesses.sort();
        accesses.dedup();
        Scope(accesses)
    }

    /// The accesses, sorted by resource then action.
    pub fn accesses(&self) -> &[Access] {
        &self.0
    }

    /// The accesses, sorted by resource then action.
    pub fn into_accesses(self) -> Vec<Access> {
        self.0
    }

    /// Whether the scope asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Canonical form: one `type:name:actions` per resource, separated by spaces.
impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (resource, actions)) in group(&self.0).into_iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write_group(f, resource, &actions)?;
        }
        Ok(())
    }
}

/// One entry of a token's `access` claim (auth-jwt.md, "Claim Set").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessEntry {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl AccessEntry {
    /// The claim entries for `accesses`, one per resource.
    pub fn from_accesses(accesses: &[Access]) -> Vec<AccessEntry> {
        let mut sorted = accesses.to_vec();
        sorted.sort();
        sorted.dedup();
        group(&sorted)
            .into_iter()
            .map(|(resource, actions)| AccessEntry {
                resource_type: resource.resource_type().to_owned(),
                name: resource.name().to_owned(),
                actions: wire_actions(resource, &actions),
            })
            .collect()
    }

    /// The accesses this entry grants, with the same rules as [`Scope::parse`]; the error says
    /// why the repository name is invalid.
    pub fn to_accesses(&self) -> Result<Vec<Access>, String> {
        accesses_of(
            &self.resource_type,
            &self.name,
            self.actions.iter().map(String::as_str),
        )
    }
}

/// Consecutive accesses of one resource, with their actions.
fn group(sorted: &[Access]) -> Vec<(&Resource, Vec<Action>)> {
    let mut groups: Vec<(&Resource, Vec<Action>)> = Vec::new();
    for access in sorted {
        match groups.last_mut() {
            Some((resource, actions)) if *resource == &access.resource => {
                actions.push(access.action)
            }
            _ => groups.push((&access.resource, vec![access.action])),
        }
    }
    groups
}

/// `*` for a registry resource given every action it has (what clients send for the catalog),
/// otherwise the action names in canonical order.
fn wire_actions(resource: &Resource, actions: &[Action]) -> Vec<String> {
    if resource.resource_type() == "registry" && actions == resource.actions() {
        return vec!["*".to_owned()];
    }
    actions.iter().map(|a| a.as_str().to_owned()).collect()
}

fn write_group(f: &mut fmt::Formatter<'_>, resource: &Resource, actions: &[Action]) -> fmt::Result {
    let actions = wire_actions(resource, actions).join(",");
    write!(
        f,
        "{}:{}:{actions}",
        resource.resource_type(),
        resource.name()
    )
}

/// `resourcetype ":" resourcename ":" action [ ',' action ]*`; the name may itself hold a
/// `:` (a port), so the type ends at the first colon and the actions start after the last.
fn parse_resource_scope(item: &str) -> Result<Vec<Access>, String> {
    let (resource_type, rest) = item
        .split_once(':')
        .ok_or("expected <type>:<name>:<actions>")?;
    let (name, actions) = rest
        .rsplit_once(':')
        .ok_or("expected <type>:<name>:<actions>")?;
    if !is_resource_type(resource_type) {
        return Err(format!(
            "resource type {resource_type:?} is not [a-z0-9]+ with an optional (class)"
        ));
    }
    let actions: Vec<&str> = actions.split(',').collect();
    if let Some(bad) = actions
        .iter()
        .find(|a| **a != "*" && !a.bytes().all(|b| b.is_ascii_lowercase()))
    {
        return Err(format!("action {bad:?} is neither [a-z]* nor *"));
    }
    accesses_of(resource_type, name, actions.into_iter())
}

/// `resourcetypevalue [ '(' resourcetypevalue ')' ]` with `resourcetypevalue := [a-z0-9]+`.
fn is_resource_type(text: &str) -> bool {
    let value =
        |v: &str| !v.is_empty() && v.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9'));
    match text.split_once('(') {
        None => value(text),
        Some((base, class)) => value(base) && class.strip_suffix(')').is_some_and(value),
    }
}

/// The accesses named by one resource scope or claim entry (see [`Scope::parse`]).
fn accesses_of<'a>(
    resource_type: &str,
    name: &str,
    actions: impl Iterator<Item = &'a str>,
) -> Result<Vec<Access>, String> {
    let base_type = resource_type.split('(').next().unwrap_or_default();
    let resource = match (base_type, name) {
        ("repository", name) => {
            Resource::Repository(name.parse::<RepoName>().map_err(|e| e.to_string())?)
        }
        ("registry", "catalog") => Resource::Catalog,
        ("registry", "admin") => Resource::Admin,
        _ => return Ok(Vec::new()),
    };
    let applicable = resource.actions();
    let mut granted: Vec<Action> = Vec::new();
    for action in actions {
        match action {
            "*" => granted.extend_from_slice(applicable),
            name => granted.extend(Action::from_wire(name).filter(|a| applicable.contains(a))),
        }
    }
    granted.sort();
    granted.dedup();
    Ok(granted
        .into_iter()
        .map(|action| Access {
            resource: resource.clone(),
            action,
        })
        .collect())
}
