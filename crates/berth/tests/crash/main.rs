//! `kill -9` of the real binary while many uploads and manifest pushes are in flight, at a few
//! different moments, then a restart on the same data directory and a consistency check:
//! blobs are either unknown or byte-exact, acknowledged pushes survived, manifests that resolve
//! have all their blobs, interrupted chunked uploads resume or are cleanly unknown, every
//! committed file hashes to its name, and the server keeps working.
//!
//! This file holds the test; the clients, their record and the checks are in the modules.

#[path = "../support/mod.rs"]
mod support;

mod attempts;
mod checks;
mod clients;
mod resume;

use std::sync::Arc;
use std::time::Duration;

use attempts::{BlobAttempt, Log, ManifestAttempt};
use checks::check_after_restart;
use resume::{fresh_image, fresh_push, resume_interrupted};
use support::http::*;
use support::TestServer;

/// When each round's kill happens, after the clients start.
const KILL_AFTER: [Duration; 3] = [
    Duration::from_millis(150),
    Duration::from_millis(600),
    Duration::from_millis(1100),
];

/// What the server log of the current process must not show after a crash and restart.
fn assert_recovery_log_clean(log: &str) {
    assert_log_clean(log);
    assert!(
        !log.contains("missing from storage"),
        "metadata links a blob whose file is gone:\n{log}"
    );
}

/// Seed of the fresh image pushed after round `round`'s restart.
fn fresh_seed(round: usize) -> u64 {
    9000 + round as u64 * 10
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_uploads_and_pushes_leaves_a_consistent_registry() {
    let mut server = TestServer::start();
    let reg = Registry::new(server.url());
    let blobs: Log<BlobAttempt> = Arc::default();
    let images: Log<ManifestAttempt> = Arc::default();
    let mut summary = Vec::new();

    for (round, kill_after) in KILL_AFTER.into_iter().enumerate() {
        let tasks = clients::spawn_round(&reg, round, &blobs, &images);
        tokio::time::sleep(kill_after).await;
        server.kill();
        let mut failures = Vec::new();
        for task in tasks {
            if let Err(e) = task.await {
                failures.push(e.to_string());
            }
        }
        assert!(
            failures.is_empty(),
            "round {round}: clients saw wrong answers before the kill: {failures:#?}"
        );
        let in_flight = {
            let blobs = blobs.lock().unwrap();
            let images = images.lock().unwrap();
            let of_round = blobs.iter().filter(|a| a.round == round);
            (
                of_round.clone().filter(|a| a.completed).count(),
                of_round.filter(|a| !a.completed).count(),
                images.iter().filter(|a| a.completed).count(),
                images.len(),
            )
        };

        server.restart();
        let when = format!("after kill {round} ({kill_after:?})");
        let (committed, walked) = check_after_restart(&reg, &server, &blobs, &images, &when).await;
        let (resumed, cancelled, unknown) = resume_interrupted(&reg, &server, &blobs, round).await;
        fresh_push(&reg, &format!("round{round}"), fresh_seed(round)).await;
        assert_committed_blobs_valid(&server.data_dir());
        assert_recovery_log_clean(&server.log());
        summary.push(format!(
            "round {round}: blobs acknowledged {} / interrupted {}, images acknowledged {} of {} (cumulative), \
             {committed} committed files, {walked} tags walked, interrupted chunked uploads resumed {resumed}, cancelled {cancelled}, unknown {unknown}",
            in_flight.0, in_flight.1, in_flight.2, in_flight.3,
        ));
    }

    // One more crash with nothing in flight: everything acknowledged, resumed or freshly pushed
    // is still there.
    server.restart();
    let when = "after the final restart";
    check_after_restart(&reg, &server, &blobs, &images, when).await;
    for round in 0..KILL_AFTER.len() {
        let image = fresh_image(&format!("round{round}"), fresh_seed(round));
        reg.assert_image(&image, when).await;
    }
    fresh_push(&reg, "final", 9999).await;
    assert_recovery_log_clean(&server.log());

    // The first kill comes before any paced upload can finish (each takes at least 160 ms of
    // sleeps), so uploads were interrupted there.
    let blobs = blobs.lock().unwrap();
    assert!(
        blobs.iter().any(|a| a.round == 0 && !a.completed),
        "no upload was in flight at the first kill: {summary:#?}"
    );
    eprintln!("{}", summary.join("\n"));
}
