//! What each of the concurrent clients pushes, decided before any of them starts, how it
//! pushes it, and what every tag may resolve to once they all have.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Barrier;

use crate::support::http::*;

pub const TASKS: usize = 32;
const SHARED_REPO: &str = "conc/shared";

/// How a blob travels.
#[derive(Debug, Clone, Copy)]
pub enum Method {
    Monolithic,
    /// PATCHes of this many bytes.
    Chunked(usize),
}

/// How a manifest is addressed.
#[derive(Debug, Clone)]
pub enum Target {
    Tag(String),
    /// By digest, with these `?tag=` values.
    Digest(Vec<String>),
}

/// Everything one client pushes.
#[derive(Debug, Clone)]
pub struct Plan {
    pub repo: String,
    /// Blobs in push order, each with its method.
    pub blobs: Vec<(Bytes, Method)>,
    pub manifest: Bytes,
    pub target: Target,
}

impl Plan {
    fn tags(&self) -> Vec<String> {
        match &self.target {
            Target::Tag(t) => vec![t.clone()],
            Target::Digest(tags) => tags.clone(),
        }
    }
}

fn repo_of(i: usize) -> String {
    if i.is_multiple_of(2) {
        SHARED_REPO.to_owned()
    } else {
        format!("conc/r{}", (i / 2) % 4)
    }
}

pub fn plans(shared_layer: &Bytes, shared_config: &Bytes) -> Vec<Plan> {
    (0..TASKS)
        .map(|i| {
            let repo = repo_of(i);
            let own_layer = pseudo_random(1000 + i as u64, 64 * 1024 + i * 45_000);
            let own_config = Bytes::from(format!(
                "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"task\":{i}}}"
            ));
            let shared_method = match i % 3 {
                0 => Method::Monolithic,
                1 => Method::Chunked(256 * 1024 + i * 4096),
                _ => Method::Chunked(shared_layer.len()),
            };
            let own_method = if i.is_multiple_of(2) {
                Method::Chunked(100_000 + i * 1000)
            } else {
                Method::Monolithic
            };
            let task = i.to_string();
            let (config, layers, annotations, target): (
                Bytes,
                Vec<Bytes>,
                Vec<(&str, &str)>,
                Target,
            ) = match i % 4 {
                // The same manifest to the same tag (of each repository).
                0 => (
                    shared_config.clone(),
                    vec![shared_layer.clone()],
                    vec![],
                    Target::Tag("same".into()),
                ),
                // Different manifests to different tags.
                1 => (
                    own_config,
                    vec![shared_layer.clone(), own_layer.clone()],
                    vec![("task", task.as_str())],
                    Target::Tag(format!("t{i}")),
                ),
                // Different manifests racing for one tag.
                2 => (
                    own_config,
                    vec![own_layer.clone(), shared_layer.clone()],
                    vec![("task", task.as_str())],
                    Target::Tag("race".into()),
                ),
                // By digest with `?tag=`: an own tag and one raced by the others doing the same.
                _ => (
                    own_config,
                    vec![shared_layer.clone(), own_layer.clone()],
                    vec![("task", task.as_str()), ("by", "digest")],
                    Target::Digest(vec![format!("d{i}"), "multi".into()]),
                ),
            };
            let manifest = image_manifest(&config, &layers, &annotations);
            let mut blobs = vec![
                (shared_layer.clone(), shared_method),
                (config, Method::Monolithic),
            ];
            if layers.len() > 1 {
                blobs.push((own_layer, own_method));
            }
            Plan {
                repo,
                blobs,
                manifest,
                target,
            }
        })
        .collect()
}

/// Pushes the plan once `barrier` opens, asserting every answer.
pub async fn run_plan(reg: Registry, plan: Plan, barrier: Arc<Barrier>) {
    barrier.wait().await;
    for (blob, method) in &plan.blobs {
        match method {
            Method::Monolithic => reg.push_blob(&plan.repo, blob).await,
            Method::Chunked(chunk) => reg.push_blob_chunked(&plan.repo, blob, *chunk).await,
        };
    }
    match &plan.target {
        Target::Tag(tag) => {
            reg.push_manifest(&plan.repo, tag, &plan.manifest).await;
        }
        Target::Digest(tags) => {
            let digest = digest_of(&plan.manifest);
            let query: Vec<String> = tags.iter().map(|t| format!("tag={t}")).collect();
            // The query rides along with the reference into the request path.
            let reference = format!("{digest}?{}", query.join("&"));
            let response = reg
                .put_manifest(&plan.repo, &reference, OCI_MANIFEST, plan.manifest.clone())
                .await
                .expect("manifest PUT");
            let what = format!("PUT {} by digest with {query:?}", plan.repo);
            assert_created(response, &digest, &what).await;
        }
    }
}

/// What each (repository, tag) may resolve to: digest → manifest bytes.
pub type Expected = BTreeMap<(String, String), BTreeMap<String, Bytes>>;

pub fn expected_tags(plans: &[Plan]) -> Expected {
    let mut expected: Expected = BTreeMap::new();
    for plan in plans {
        for tag in plan.tags() {
            expected
                .entry((plan.repo.clone(), tag))
                .or_default()
                .insert(digest_of(&plan.manifest), plan.manifest.clone());
        }
    }
    expected
}
