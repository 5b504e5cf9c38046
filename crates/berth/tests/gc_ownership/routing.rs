//! Which registry `berth gc` acts on: the server that owns the data directory, found through
//! its lock file, with the policy flags `berth gc` was given; never a server that serves
//! another directory; directly on a directory no server owns.

use std::path::Path;

use crate::commands::{deleted_image, gc, last_collection, served_dir};
use crate::support::http::{digest_of, Image, Registry};
use crate::support::TestServer;

fn said(run: &crate::commands::Run, expected: &str) {
    assert!(
        run.stderr.contains(expected),
        "expected {expected:?} in: {}",
        run.stderr
    );
}

fn through(server: &TestServer, dir: &Path) -> String {
    format!(
        "collected through the server at {}, which serves {}",
        server.host(),
        dir.display()
    )
}

#[tokio::test]
async fn gc_through_the_server_applies_the_flags_it_was_given() {
    // The server keeps its default policy: an hour of grace, untagged manifests kept.
    let server = TestServer::start_with(&["--gc-interval", "0s"]);
    let image = deleted_image(&server, 3).await;
    let registry = Registry::new(server.url());
    let untagged = Image::new("gc/app", "untagged", 4, &[512]);
    registry.push_image(&untagged).await;
    let response = crate::support::http::client()
        .delete(registry.url("/v2/gc/app/manifests/untagged"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let dir = served_dir(&server);

    // No --listen: the address comes from the directory's lock file.
    let run = gc(&dir, &[]);
    said(&run, &through(&server, &dir));
    assert_eq!(
        run.report()["blobs_deleted"],
        0,
        "the server's hour of grace"
    );

    let run = gc(
        &dir,
        &["--gc-grace", "0s", "--gc-untagged", "delete", "--dry-run"],
    );
    said(&run, &through(&server, &dir));
    let dry = run.report();
    assert_eq!(
        dry["manifests"],
        serde_json::json!([{"repository": "gc/app", "digest": untagged.digest}])
    );

    let run = gc(&dir, &["--gc-grace", "0s"]);
    said(&run, &through(&server, &dir));
    let report = run.report();
    let mut blobs: Vec<String> = image.blobs().iter().map(|b| digest_of(b)).collect();
    blobs.sort();
    assert_eq!(
        report["blobs"],
        serde_json::json!(blobs),
        "the deleted image's blobs; the untagged image stays by the server's policy"
    );
    assert_eq!(report["manifests_deleted"], 0);
    let (status, last) = last_collection(&server).await;
    assert_eq!((status, last), (200, report), "the server ran it");
    registry
        .assert_manifest(
            "gc/app",
            &untagged.digest,
            &untagged.manifest,
            "kept untagged",
        )
        .await;

    let run = gc(&dir, &["--gc-untagged", "sometimes"]);
    run.assert_refused("untagged must be \"keep\" or \"delete\"");
}

#[tokio::test]
async fn gc_refuses_a_server_that_serves_another_directory() {
    let owner = TestServer::start_with(&["--gc-interval", "0s", "--gc-grace", "0s"]);
    let other = TestServer::start_with(&["--gc-interval", "0s", "--gc-grace", "0s"]);
    let image = deleted_image(&owner, 5).await;
    let (dir, elsewhere) = (served_dir(&owner), served_dir(&other));
    let run = gc(&dir, &["--listen", &other.host()]);
    run.assert_refused(&format!(
        "the server at {} serves {}, not {}; refusing to collect through it",
        other.host(),
        elsewhere.display(),
        dir.display()
    ));
    assert_eq!(last_collection(&other).await.0, 404, "nothing ran there");
    assert_eq!(last_collection(&owner).await.0, 404, "nor here");
    Registry::new(owner.url())
        .assert_blob("gc/app", &image.layers[0], "garbage nobody collected")
        .await;
}

#[tokio::test]
async fn gc_on_a_directory_no_server_owns_runs_directly_whatever_answers_at_the_default_address() {
    // A server on the default address, unless something listens there already.
    let default_address = std::net::TcpListener::bind("127.0.0.1:5000").map(drop);
    let on_default = default_address
        .is_ok()
        .then(|| TestServer::start_on(5000, &["--gc-interval", "0s", "--gc-grace", "0s"]));
    let mut stopped = TestServer::start_with(&["--gc-interval", "0s"]);
    let image = deleted_image(&stopped, 6).await;
    let dir = served_dir(&stopped);
    stopped.kill();

    let run = gc(&dir, &["--gc-grace", "0s"]);
    said(
        &run,
        &format!(
            "collected directly on {} (no server owns it)",
            dir.display()
        ),
    );
    let mut blobs: Vec<String> = image.blobs().iter().map(|b| digest_of(b)).collect();
    blobs.sort();
    assert_eq!(run.report()["blobs"], serde_json::json!(blobs));
    if let Some(server) = on_default {
        assert_eq!(
            last_collection(&server).await.0,
            404,
            "the server on the default address collected nothing"
        );
    }
}
