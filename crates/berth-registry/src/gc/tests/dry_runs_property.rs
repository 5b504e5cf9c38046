//! Property: over random registries (images with shared and own layers, indexes over them,
//! referrer chains, referrers of subjects never pushed, tags, deletes of tags and manifests,
//! abandoned uploads, in two repositories) and random policies, a dry run reports exactly what
//! the real run that follows it deletes.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};

use super::*;

const REPOS: [&str; 2] = ["gc/app", "gc/other"];
/// Layers any image of either repository may share.
const SHARED_LAYERS: usize = 4;
const TAGS: usize = 4;
const CASES: u32 = 48;

/// One thing a client does, in order. Indexes pick among what the repository got so far.
#[derive(Debug, Clone)]
enum Step {
    Image {
        repo: usize,
        layers: Vec<usize>,
        own_layer: bool,
        tag: Option<usize>,
    },
    Index {
        repo: usize,
        children: Vec<Index>,
        tag: Option<usize>,
    },
    /// A referrer of an earlier manifest (a referrer too, maybe) or of a subject never pushed.
    Referrer {
        repo: usize,
        subject: Option<Index>,
        signature: bool,
        own_blob: bool,
    },
    StrayBlob {
        repo: usize,
    },
    DeleteTag {
        repo: usize,
        tag: usize,
    },
    DeleteManifest {
        repo: usize,
        which: Index,
    },
    AbandonedUpload {
        repo: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let repo = 0..REPOS.len();
    let tag = proptest::option::of(0..TAGS);
    prop_oneof![
        4 => (repo.clone(), proptest::collection::vec(0..SHARED_LAYERS, 0..3), any::<bool>(), tag.clone())
            .prop_map(|(repo, layers, own_layer, tag)| Step::Image { repo, layers, own_layer, tag }),
        2 => (repo.clone(), proptest::collection::vec(any::<Index>(), 1..3), tag)
            .prop_map(|(repo, children, tag)| Step::Index { repo, children, tag }),
        4 => (repo.clone(), proptest::option::weighted(0.85, any::<Index>()), any::<bool>(), any::<bool>())
            .prop_map(|(repo, subject, signature, own_blob)| Step::Referrer { repo, subject, signature, own_blob }),
        1 => repo.clone().prop_map(|repo| Step::StrayBlob { repo }),
        2 => (repo.clone(), 0..TAGS).prop_map(|(repo, tag)| Step::DeleteTag { repo, tag }),
        3 => (repo.clone(), any::<Index>()).prop_map(|(repo, which)| Step::DeleteManifest { repo, which }),
        1 => repo.prop_map(|repo| Step::AbandonedUpload { repo }),
    ]
}

/// The policy of a case: global untagged and orphan policies, and maybe one retention rule.
fn policy() -> impl Strategy<Value = GcOptions> {
    let untagged = prop_oneof![Just(Untagged::Keep), Just(Untagged::Delete)];
    // Delays that are either long past or far off for anything the case did, so that the few
    // milliseconds between the dry and the real run cannot tip an orphan over its delay.
    let orphans = prop_oneof![
        Just(OrphanedReferrers::Delete),
        Just(OrphanedReferrers::Keep),
        Just(OrphanedReferrers::After(Duration::from_millis(1))),
        Just(OrphanedReferrers::After(Duration::from_secs(3600))),
    ];
    let rule = proptest::option::of((
        proptest::option::of(0..3usize),
        proptest::option::of(0..3usize),
        prop_oneof![Just("*"), Just("gc/other")],
    ));
    (untagged, orphans, rule).prop_map(|(untagged, orphaned_referrers, rule)| GcOptions {
        retention: rule
            .map(
                |(keep_newest_tags, keep_newest_referrers, pattern)| RetentionRule {
                    keep_newest_tags,
                    keep_newest_referrers,
                    ..rule_for(pattern)
                },
            )
            .into_iter()
            .collect(),
        ..now(untagged, orphaned_referrers)
    })
}

/// Adds `artifactType` to a manifest body.
fn with_artifact_type(body: Bytes, artifact_type: &str) -> Bytes {
    let mut value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    value["artifactType"] = serde_json::json!(artifact_type);
    Bytes::from(serde_json::to_vec(&value).unwrap())
}

/// Plays `steps` against the fixture's registry.
async fn play(f: &Fixture, steps: &[Step]) {
    let repos: Vec<RepoName> = REPOS.iter().map(|r| r.parse().unwrap()).collect();
    push_blob(&f.registry, &repos[1], b"{}").await;
    let mut pushed: Vec<Vec<Digest>> = vec![Vec::new(); REPOS.len()];
    for (n, step) in steps.iter().enumerate() {
        match step {
            Step::Image {
                repo,
                layers,
                own_layer,
                tag,
            } => {
                let mut digests = Vec::new();
                for layer in layers {
                    let bytes = format!("shared layer {layer}");
                    digests.push(push_blob(&f.registry, &repos[*repo], bytes.as_bytes()).await);
                }
                if *own_layer {
                    let bytes = format!("own layer of step {n}");
                    digests.push(push_blob(&f.registry, &repos[*repo], bytes.as_bytes()).await);
                }
                let layers: Vec<&Digest> = digests.iter().collect();
                let body = manifest(&f.config, &layers, None, &format!("image {n}"));
                let reference = tag.map(|t| format!("t{t}")).unwrap_or_default();
                let digest = f.put_in(&repos[*repo], &reference, body).await;
                pushed[*repo].push(digest);
            }
            Step::Index {
                repo,
                children,
                tag,
            } => {
                let mut present = Vec::new();
                for d in &pushed[*repo] {
                    if f.exists_in(&repos[*repo], d).await {
                        present.push(d.clone());
                    }
                }
                if present.is_empty() {
                    continue;
                }
                let mut picked: Vec<&Digest> = children
                    .iter()
                    .map(|i| &present[i.index(present.len())])
                    .collect();
                picked.dedup();
                let reference = tag.map(|t| format!("t{t}")).unwrap_or_default();
                let digest = f.put_in(&repos[*repo], &reference, index(&picked)).await;
                pushed[*repo].push(digest);
            }
            Step::Referrer {
                repo,
                subject,
                signature,
                own_blob,
            } => {
                let subject = match subject {
                    Some(i) if !pushed[*repo].is_empty() => {
                        pushed[*repo][i.index(pushed[*repo].len())].clone()
                    }
                    _ => Digest::sha256_of(format!("never pushed {n}").as_bytes()),
                };
                let mut layers = Vec::new();
                if *own_blob {
                    let bytes = format!("blob of referrer {n}");
                    layers.push(push_blob(&f.registry, &repos[*repo], bytes.as_bytes()).await);
                }
                let layers: Vec<&Digest> = layers.iter().collect();
                let kind = if *signature { "signature" } else { "sbom" };
                let body = with_artifact_type(
                    manifest(&f.config, &layers, Some(&subject), &format!("referrer {n}")),
                    &format!("application/vnd.example.{kind}"),
                );
                let digest = f.put_in(&repos[*repo], "", body).await;
                pushed[*repo].push(digest);
            }
            Step::StrayBlob { repo } => {
                let bytes = format!("stray blob of step {n}");
                push_blob(&f.registry, &repos[*repo], bytes.as_bytes()).await;
            }
            Step::DeleteTag { repo, tag } => {
                let tag = Reference::Tag(format!("t{tag}").parse().unwrap());
                let _absent_is_fine = f.registry.delete_manifest(&repos[*repo], &tag, None).await;
            }
            Step::DeleteManifest { repo, which } => {
                if !pushed[*repo].is_empty() {
                    let digest = &pushed[*repo][which.index(pushed[*repo].len())];
                    let reference = Reference::Digest(digest.clone());
                    let _absent_is_fine = f
                        .registry
                        .delete_manifest(&repos[*repo], &reference, None)
                        .await;
                }
            }
            Step::AbandonedUpload { repo } => {
                f.registry.start_upload(&repos[*repo]).await.unwrap();
            }
        }
    }
}

#[test]
fn dry_runs_report_exactly_what_real_runs_delete_on_random_registries() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // How many cases deleted manifests, and freed blobs, so that the property is known to
    // have been checked on collections that did something.
    let (deleting, freeing) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let strategy = (proptest::collection::vec(step(), 1..16), policy());
    let result = TestRunner::new(config).run(&strategy, |(steps, options)| {
        let (dry, real) = runtime.block_on(async {
            let f = fixture().await;
            play(&f, &steps).await;
            f.dry_then_real(options).await
        });
        prop_assert!(dry.dry_run && !real.dry_run);
        prop_assert_eq!(comparable(&dry), comparable(&real));
        prop_assert_eq!(real.manifests.len(), real.manifests_deleted);
        prop_assert_eq!(real.tags.len(), real.tags_deleted);
        prop_assert_eq!(real.blobs.len(), real.blobs_deleted);
        if real.manifests_deleted > 0 {
            deleting.fetch_add(1, Ordering::Relaxed);
            if real.blobs_deleted > 0 {
                freeing.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let (deleting, freeing) = (deleting.into_inner(), freeing.into_inner());
    assert!(
        deleting >= CASES as usize / 4 && freeing >= CASES as usize / 8,
        "too few cases collected anything: {deleting} deleted manifests, {freeing} also blobs"
    );
}
