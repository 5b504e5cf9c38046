//! One owner per data directory: a direct collection and a second server refuse a live
//! directory, naming who holds it; `kill -9` of the owner frees the directory at once.

use std::fs::OpenOptions;
use std::io::Write;

use crate::commands::{deleted_image, gc, last_collection, serve_expecting_refusal, served_dir};
use crate::support::http::{digest_of, Registry};
use crate::support::TestServer;

#[tokio::test]
async fn a_direct_collection_on_a_live_directory_refuses_naming_its_owner() {
    let server = TestServer::start_with(&["--gc-interval", "0s", "--gc-grace", "0s"]);
    let image = deleted_image(&server, 1).await;
    let dir = served_dir(&server);
    // An address where nothing answers: the server cannot be asked, and the directory is live.
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap();
    let run = gc(&dir, &["--listen", &nowhere.to_string()]);
    run.assert_refused("refusing to collect directly");
    run.assert_refused(&format!(
        "{} is in use by `berth serve` (pid {}) listening on {}",
        dir.display(),
        server.pid().unwrap(),
        server.host()
    ));
    assert_eq!(last_collection(&server).await.0, 404);
    Registry::new(server.url())
        .assert_blob("gc/app", &image.layers[0], "garbage nobody collected")
        .await;
}

#[tokio::test]
async fn a_directory_held_by_a_direct_collection_refuses_collections_and_servers() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().canonicalize().unwrap();
    // What a `berth gc` collecting directly holds: the lock, naming it, without an address.
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("berth.lock"))
        .unwrap();
    fs4::FileExt::try_lock(&lock).unwrap();
    let pid = std::process::id();
    (&lock)
        .write_all(format!("{{\"pid\":{pid},\"command\":\"gc\",\"listen\":null}}").as_bytes())
        .unwrap();
    let holder = format!("{} is in use by `berth gc` (pid {pid})", dir.display());
    let run = gc(&dir, &[]);
    run.assert_refused(&holder);
    run.assert_refused("which does not serve HTTP");
    serve_expecting_refusal(&dir).assert_refused(&format!("refusing to serve: {holder}"));
    drop(lock);
    let run = gc(&dir, &[]);
    assert_eq!(run.report()["dry_run"], false);
    assert!(
        run.stderr
            .contains(&format!("collected directly on {}", dir.display())),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_second_server_on_the_same_directory_refuses() {
    let server = TestServer::start_with(&["--gc-interval", "0s"]);
    let dir = served_dir(&server);
    let run = serve_expecting_refusal(&server.data_dir());
    run.assert_refused(&format!(
        "refusing to serve: {} is in use by `berth serve` (pid {}) listening on {}",
        dir.display(),
        server.pid().unwrap(),
        server.host()
    ));
    let registry = Registry::new(server.url());
    let status = registry.get_json("/berth/v1/status", "first server").await;
    assert_eq!(status["data_dir"], dir.to_str().unwrap());
    assert_eq!(status["pid"], server.pid().unwrap());
}

#[tokio::test]
async fn killing_the_server_frees_its_directory_at_once() {
    let mut server = TestServer::start_with(&["--gc-interval", "0s"]);
    let image = deleted_image(&server, 2).await;
    let dir = served_dir(&server);
    let pid = server.pid().unwrap();
    server.kill();
    let stale = std::fs::read_to_string(dir.join("berth.lock")).unwrap();
    assert!(
        stale.contains(&format!("\"pid\":{pid}")),
        "kill -9 leaves the owner's name behind, but not the lock: {stale}"
    );
    let run = gc(&dir, &["--gc-grace", "0s"]);
    let report = run.report();
    assert!(
        run.stderr
            .contains(&format!("collected directly on {}", dir.display())),
        "{}",
        run.stderr
    );
    let mut blobs: Vec<String> = image.blobs().iter().map(|b| digest_of(b)).collect();
    blobs.sort();
    assert_eq!(report["blobs"], serde_json::json!(blobs));
    server.restart();
    let run = gc(&dir, &["--dry-run"]);
    assert_eq!(run.report()["blobs_deleted"], 0);
    assert!(
        run.stderr.contains(&format!(
            "collected through the server at {}",
            server.host()
        )),
        "a restarted server owns the directory again: {}",
        run.stderr
    );
}
