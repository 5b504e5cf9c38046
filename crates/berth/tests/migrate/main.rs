//! `berth migrate` end to end: a registry built by a real `berth serve` on the embedded default
//! (images, a multi-platform index, referrer chains through `subject`, an ORAS artifact, tags,
//! a blob no manifest uses yet) is migrated into Garage (S3) and PostgreSQL, and a `berth
//! serve` on the target answers every request of the fixture exactly as the source did: the
//! catalog, tag lists, manifests by tag and digest, blobs, and the referrers listings. Also
//! after a run killed with SIGKILL midway is run again, and never with a corrupt source blob.
//!
//! Needs the shared services: `BERTH_TEST_POSTGRES_URL` (`bash scripts/services/postgres.sh`)
//! and the Garage variables of `target/services/garage/env`. Without them the tests fail,
//! saying what to start; they never skip.

#[path = "../support/mod.rs"]
mod support;

mod fixture;
mod target;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use support::http::Registry;
use support::TestServer;

use fixture::Fixture;
use target::Target;

/// `berth migrate` from `source` into `target`, to its end: exit status, stdout, stderr.
fn migrate(source: &std::path::Path, target: &Target) -> (bool, String, String) {
    let output = target
        .migrate_command(source)
        .output()
        .expect("berth migrate runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The number `summary` gives before `what` (e.g. "manifests"), from the summary line.
fn count(summary: &str, what: &str) -> u64 {
    let words: Vec<&str> = summary.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.trim_end_matches([',', ';']) == what)
        .unwrap_or_else(|| panic!("no {what:?} in {summary:?}"));
    words[at - 1]
        .trim_start_matches('(')
        .parse()
        .unwrap_or_else(|_| panic!("no count before {what:?} in {summary:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migrated_registry_serves_everything_the_source_did() {
    let target = Target::new().await;
    let mut source = TestServer::start();
    let fixture = Fixture::push(&Registry::new(source.url()), 6).await;

    // While the source's server runs, migrate refuses and names it.
    let (ok, _, stderr) = migrate(&source.data_dir(), &target);
    assert!(!ok, "migrate ran while a server owned the directory");
    assert!(
        stderr.contains("refusing to migrate") && stderr.contains("`berth serve` (pid"),
        "{stderr}"
    );

    // The snapshot is taken from the source's own server, before it stops.
    let before = fixture.snapshot(&Registry::new(source.url())).await;
    let _stopped = source.terminate();
    let (ok, stdout, stderr) = migrate(&source.data_dir(), &target);
    assert!(ok, "migrate failed:\n{stderr}");
    assert_eq!(
        count(&stdout, "repositories:"),
        fixture.repositories() as u64
    );
    assert_eq!(count(&stdout, "manifests"), fixture.manifests() as u64);
    assert_eq!(count(&stdout, "tags"), fixture.tags() as u64);
    assert_eq!(count(&stdout, "already"), 0, "{stdout}");

    let served = target.serve();
    let after = fixture.snapshot(&Registry::new(served.url())).await;
    fixture::assert_same(&before, &after);
    drop(served);

    // A second run over a finished migration copies nothing and changes nothing.
    let (ok, stdout, stderr) = migrate(&source.data_dir(), &target);
    assert!(ok, "the second migrate failed:\n{stderr}");
    assert_eq!(count(&stdout, "blobs"), 0, "{stdout}");
    let served = target.serve();
    fixture::assert_same(
        &before,
        &fixture.snapshot(&Registry::new(served.url())).await,
    );
    target.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_killed_midway_is_finished_by_running_it_again() {
    let target = Target::new().await;
    let mut source = TestServer::start();
    let fixture = Fixture::push(&Registry::new(source.url()), 40).await;
    let before = fixture.snapshot(&Registry::new(source.url())).await;
    let _stopped = source.terminate();

    // Killed with SIGKILL once it has copied some blobs but, with dozens to go, not all.
    let mut child = target
        .migrate_command(&source.data_dir())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("berth migrate starts");
    let stderr = child.stderr.take().expect("stderr piped");
    let mut copied = 0;
    let mut lines = BufReader::new(stderr).lines();
    while copied < 8 {
        let line = lines
            .next()
            .expect("migrate ended before copying 8 blobs")
            .expect("stderr line");
        if line.contains(": copied ") {
            copied += 1;
        }
    }
    assert!(
        child.try_wait().expect("status").is_none(),
        "migrate ended before it could be killed"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("killed migrate reaped");

    let (ok, stdout, stderr) = migrate(&source.data_dir(), &target);
    assert!(ok, "the restarted migrate failed:\n{stderr}");
    assert!(
        count(&stdout, "already") >= 8,
        "the restart copied again what the killed run had: {stdout}"
    );
    assert_eq!(count(&stdout, "manifests"), fixture.manifests() as u64);
    let served = target.serve();
    fixture::assert_same(
        &before,
        &fixture.snapshot(&Registry::new(served.url())).await,
    );
    target.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_source_blob_fails_the_migration_naming_it_and_is_not_copied() {
    let target = Target::new().await;
    let mut source = TestServer::start();
    let registry = Registry::new(source.url());
    let fixture = Fixture::push(&registry, 2).await;
    let _stopped = source.terminate();
    let victim = fixture.corrupt_one_layer(&source.data_dir());

    let (ok, _, stderr) = migrate(&source.data_dir(), &target);
    assert!(!ok, "migrate copied a corrupt blob:\n{stderr}");
    assert!(
        stderr.contains("the source is corrupt") && stderr.contains(&victim.digest),
        "the failure does not name the corrupt blob {}:\n{stderr}",
        victim.digest
    );
    let served = target.serve();
    let registry = Registry::new(served.url());
    registry
        .assert_blob_absent(&victim.repo, &victim.digest, "corrupt blob after migrate")
        .await;
    registry
        .assert_manifest_absent(&victim.repo, &victim.manifest, "its manifest")
        .await;
    target.drop_schema().await;
}
