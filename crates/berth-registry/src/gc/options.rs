//! The collection policy: what happens to untagged manifests and orphaned referrers, the
//! grace period, retention rules, and whether a run only reports.

use std::time::Duration;

use berth_oci::RepoName;

use super::RetentionRule;

/// What happens to manifests no tag reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Untagged {
    /// Kept (the default): only orphaned referrers are collected.
    #[default]
    Keep,
    /// Collected after the grace period unless an index or a subject keeps them alive.
    Delete,
}

/// What happens to a referrer whose subject is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrphanedReferrers {
    /// Collected with its own referrers (the default): a signature lives as long as its subject.
    #[default]
    Delete,
    /// Kept, for audit.
    Keep,
    /// Kept for this long after the subject was deleted, then collected.
    After(Duration),
}

impl std::str::FromStr for Untagged {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "keep" => Ok(Untagged::Keep),
            "delete" => Ok(Untagged::Delete),
            other => Err(format!(
                "untagged must be \"keep\" or \"delete\", not {other:?}"
            )),
        }
    }
}

impl std::str::FromStr for OrphanedReferrers {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "delete" => Ok(OrphanedReferrers::Delete),
            "keep" => Ok(OrphanedReferrers::Keep),
            other => humantime::parse_duration(other)
                .map(OrphanedReferrers::After)
                .map_err(|_| {
                    format!(
                        "orphaned_referrers must be \"delete\", \"keep\" or a delay such as \"7d\", not {other:?}"
                    )
                }),
        }
    }
}

/// How a collection behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcOptions {
    /// Report what would be deleted without deleting anything.
    pub dry_run: bool,
    /// Nothing pushed, linked or uploaded more recently than this is collected.
    pub grace: Duration,
    /// The policy for repositories no retention rule gives one.
    pub untagged: Untagged,
    /// The policy for repositories no retention rule gives one.
    pub orphaned_referrers: OrphanedReferrers,
    /// Tag and referrer retention, and policy overrides, per repository pattern.
    pub retention: Vec<RetentionRule>,
}

impl GcOptions {
    /// The rules whose pattern matches `repo`, in the order they were given.
    pub(super) fn rules_for(&self, repo: &RepoName) -> Vec<&RetentionRule> {
        self.retention
            .iter()
            .filter(|r| r.repositories.matches(repo.as_str()))
            .collect()
    }

    /// The untagged policy for `repo`: the first matching rule's that sets one, else the
    /// global one.
    pub fn untagged_for(&self, repo: &RepoName) -> Untagged {
        self.rules_for(repo)
            .iter()
            .find_map(|r| r.untagged)
            .unwrap_or(self.untagged)
    }

    /// The orphaned referrers policy for `repo`: the first matching rule's that sets one,
    /// else the global one.
    pub fn orphaned_referrers_for(&self, repo: &RepoName) -> OrphanedReferrers {
        self.rules_for(repo)
            .iter()
            .find_map(|r| r.orphaned_referrers)
            .unwrap_or(self.orphaned_referrers)
    }
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            dry_run: false,
            grace: Duration::from_secs(3600),
            untagged: Untagged::default(),
            orphaned_referrers: OrphanedReferrers::default(),
            retention: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_rule_that_sets_a_policy_wins_over_the_global_one() {
        let rule = |pattern: &str, orphans: Option<OrphanedReferrers>, untagged| RetentionRule {
            orphaned_referrers: orphans,
            untagged,
            ..RetentionRule::for_repositories(glob::Pattern::new(pattern).unwrap())
        };
        let options = GcOptions {
            retention: vec![
                rule("team/*", None, Some(Untagged::Delete)),
                rule("team/*", Some(OrphanedReferrers::Keep), None),
                rule("team/app", Some(OrphanedReferrers::Delete), None),
            ],
            ..GcOptions::default()
        };
        let repo = |name: &str| name.parse::<RepoName>().unwrap();
        assert_eq!(
            options.orphaned_referrers_for(&repo("team/app")),
            OrphanedReferrers::Keep
        );
        assert_eq!(options.untagged_for(&repo("team/app")), Untagged::Delete);
        assert_eq!(
            options.orphaned_referrers_for(&repo("other/app")),
            OrphanedReferrers::Delete
        );
        assert_eq!(options.untagged_for(&repo("other/app")), Untagged::Keep);
    }
}
