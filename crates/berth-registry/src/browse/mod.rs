//! The browse API's domain (the web UI's JSON API): pages of repositories and tags with what
//! their manifests are (platforms, referrers by type, badges), a manifest's details with its
//! SBOMs, and what deleting a manifest would take with it. Every page reads what the page
//! holds: one metadata query for its rows, one for their referrer counts, and small config
//! reads remembered by digest.

mod badges;
mod content;
mod deletion;
mod details;
mod sbom;
mod summary;

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use berth_metadata::{ReferrerCount, TagCursor, TagOrder};
use berth_oci::{Digest, RepoName};
use serde::{Serialize, Serializer};

pub use badges::Badge;
pub(crate) use content::SharedFacts;
pub use deletion::{DeletionPreview, DeletionScope, DoomedReferrer, OrphanPolicy};
pub use details::{ChildManifest, LayerSummary, ManifestDetails};
pub use sbom::{SbomSummary, MAX_SBOM_BYTES};
pub use summary::Platform;

use crate::error::{RegistryError, Result};
pub use crate::listing::LISTING_BUDGET;
use crate::listing::{scan_filtered, Scanned};
use crate::Registry;

/// Unix milliseconds as an RFC 3339 UTC time with milliseconds (`2026-12-01T05:00:00.123Z`).
pub fn rfc3339_millis(millis: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0));
    humantime::format_rfc3339_millis(time).to_string()
}

/// A name (a repository) as its text.
fn serialize_name<S: Serializer>(name: &RepoName, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(name.as_str())
}

fn serialize_time<S: Serializer>(millis: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339_millis(*millis))
}

fn serialize_optional_time<S: Serializer>(
    millis: &Option<i64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match millis {
        Some(millis) => serialize_time(millis, serializer),
        None => serializer.serialize_none(),
    }
}

/// How many direct referrers of one artifact type a manifest has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferrerTypeCount {
    /// `null` for referrers with neither an `artifactType` nor a config.
    pub artifact_type: Option<String>,
    pub count: u64,
}

/// Referrer counts grouped by subject, as `count_referrers` answers them (ordered by subject).
fn counts_by_subject(counts: Vec<ReferrerCount>) -> BTreeMap<Digest, Vec<ReferrerTypeCount>> {
    let mut grouped: BTreeMap<Digest, Vec<ReferrerTypeCount>> = BTreeMap::new();
    for c in counts {
        grouped
            .entry(c.subject)
            .or_default()
            .push(ReferrerTypeCount {
                artifact_type: c.artifact_type,
                count: c.count,
            });
    }
    grouped
}

fn badges_of(counts: &[ReferrerTypeCount]) -> Vec<Badge> {
    Badge::of_all(counts.iter().filter_map(|c| c.artifact_type.as_deref()))
}

/// One tag and what its manifest is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagSummary {
    pub name: String,
    pub digest: Digest,
    pub media_type: String,
    /// See [`ManifestDetails::artifact_type`].
    pub artifact_type: Option<String>,
    /// Bytes of the manifest body.
    pub size: u64,
    /// When the tag last moved, RFC 3339.
    #[serde(rename = "pushedAt", serialize_with = "serialize_time")]
    pub tagged_at: i64,
    pub platforms: Vec<Platform>,
    /// Direct referrers of the tagged manifest by artifact type (an index's children's
    /// referrers are not counted).
    pub referrers: Vec<ReferrerTypeCount>,
    pub badges: Vec<Badge>,
}

/// The wire form of a tag page's cursor: `<tag time in ms>~<tag>` of the page's last tag.
/// Both parts are kept whatever the order, so that a cursor stays valid for any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPosition(pub TagCursor);

impl std::fmt::Display for TagPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}~{}", self.0.tagged_at, self.0.name)
    }
}

impl std::str::FromStr for TagPosition {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let invalid =
            || format!("{s:?} is not a cursor this registry gave; use the previous page's `next`");
        let (millis, name) = s.split_once('~').ok_or_else(invalid)?;
        let tagged_at = millis.parse().map_err(|_| invalid())?;
        name.parse::<berth_oci::Tag>().map_err(|_| invalid())?;
        Ok(TagPosition(TagCursor {
            name: name.to_owned(),
            tagged_at,
        }))
    }
}

/// One page of tags; `next` is the `last` of the following page, when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagsPage {
    #[serde(serialize_with = "serialize_name")]
    pub repository: RepoName,
    pub tags: Vec<TagSummary>,
    pub next: Option<String>,
}

/// The characters repository names are made of (distribution-spec "Pulling manifests").
fn is_name_character(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/')
}

/// One repository the caller may see, with what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryRow {
    #[serde(serialize_with = "serialize_name")]
    pub name: RepoName,
    pub tags: u64,
    pub manifests: u64,
    /// Bytes of the repository's blobs (its own and those it shares) and manifest bodies,
    /// the usage report's `size`.
    pub size_bytes: u64,
    /// The latest manifest push or tag move, RFC 3339; `null` when there was none.
    #[serde(serialize_with = "serialize_optional_time")]
    pub last_push: Option<i64>,
}

/// One page of repositories; `next` is the `last` of the following page, when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoriesPage {
    pub repositories: Vec<RepositoryRow>,
    pub next: Option<String>,
}

impl Registry {
    /// A page of `repo`'s tags in `order` after `after`, at most `limit` (the caller bounds
    /// it), with each manifest's platforms, referrer counts and badges: one query for the
    /// tags and their manifests, one for the referrer counts of the whole page, and the image
    /// configs not read before. `NameUnknown` for a repository that does not exist.
    pub async fn browse_tags(
        &self,
        repo: &RepoName,
        order: TagOrder,
        after: Option<&TagPosition>,
        limit: u32,
    ) -> Result<TagsPage> {
        if !self.meta.repository_exists(repo).await? {
            return Err(RegistryError::NameUnknown(repo.clone()));
        }
        let mut rows = self
            .meta
            .list_tagged_manifests(repo, order, after.map(|p| &p.0), limit.saturating_add(1))
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = more.then(|| rows.last()).flatten().map(|last| {
            TagPosition(TagCursor {
                name: last.tag.clone(),
                tagged_at: last.tagged_at,
            })
            .to_string()
        });
        let mut subjects: Vec<Digest> = rows.iter().map(|r| r.digest.clone()).collect();
        subjects.sort();
        subjects.dedup();
        let counts = counts_by_subject(self.meta.count_referrers(repo, &subjects).await?);
        let parsed: Vec<_> = rows
            .iter()
            .map(|r| summary::parse(&r.body, &r.media_type))
            .collect();
        let platforms = self.platforms_of_page(repo, &parsed).await;
        let tags = rows
            .into_iter()
            .zip(parsed)
            .zip(platforms)
            .map(|((row, parsed), platforms)| {
                let referrers = counts.get(&row.digest).cloned().unwrap_or_default();
                TagSummary {
                    badges: badges_of(&referrers),
                    artifact_type: parsed.as_ref().and_then(summary::artifact_type),
                    name: row.tag,
                    digest: row.digest,
                    media_type: row.media_type,
                    size: row.size,
                    tagged_at: row.tagged_at,
                    platforms,
                    referrers,
                }
            })
            .collect();
        Ok(TagsPage {
            repository: repo.clone(),
            tags,
            next,
        })
    }

    /// A page of the repositories holding a manifest whose name contains `contains`
    /// (case-insensitive) and for which `keep` holds (the caller's right to pull), in name
    /// order after `last`, at most `limit` (at least 1), each with its summary. Names `keep`
    /// refuses are skipped without being summarised; at most `budget` matching names are
    /// examined ([`LISTING_BUDGET`] but in tests), so a page may hold fewer than `limit`
    /// repositories, or none, and still have a `next`: the name it stopped at.
    pub async fn browse_repositories(
        &self,
        contains: &str,
        last: Option<&str>,
        limit: u32,
        keep: &(dyn Fn(&RepoName) -> bool + Send + Sync),
        budget: u32,
    ) -> Result<RepositoriesPage> {
        let contains = contains.to_lowercase();
        let limit = limit.max(1);
        if !contains.chars().all(is_name_character) {
            // No repository name holds such a character: nothing to search for.
            return Ok(RepositoriesPage {
                repositories: Vec::new(),
                next: None,
            });
        }
        // Names only, read in batches; the summaries are read for the page's rows alone.
        let (meta, contains) = (&self.meta, contains.as_str());
        let Scanned { kept, next } =
            scan_filtered(last, limit, budget, keep, |after, batch| async move {
                Ok(meta
                    .search_repositories(contains, after.as_deref(), batch)
                    .await?)
            })
            .await?;
        let summaries = self.meta.repository_summaries(&kept).await?;
        Ok(RepositoriesPage {
            repositories: summaries
                .into_iter()
                .map(|s| RepositoryRow {
                    name: s.repo,
                    tags: s.tags,
                    manifests: s.manifests,
                    size_bytes: s.blob_bytes + s.manifest_bytes,
                    last_push: s.last_push,
                })
                .collect(),
            next,
        })
    }
}
