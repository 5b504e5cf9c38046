//! `berth scrub` and `berth usage` end to end on the embedded deployment: damage made on disk
//! (a flipped byte, a deleted file) is found and traced to its tags, a repair stops serving
//! it, and pushing the right bytes again brings the blob back; first through the server that
//! owns the data directory, then directly on the directory.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::http::{digest_of, Image, Registry};
use support::TestServer;

/// Where the embedded blob store keeps a blob's bytes.
fn blob_file(data_dir: &Path, data: &[u8]) -> PathBuf {
    let digest = digest_of(data);
    let hex = digest.strip_prefix("sha256:").unwrap();
    data_dir
        .join("blobs/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
}

fn berth(command: &str, data_dir: &Path, listen: Option<&str>, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args([command, "--data-dir"]).arg(data_dir).args(extra);
    if let Some(listen) = listen {
        cmd.args(["--listen", listen]);
    }
    cmd.env_remove("BERTH_CONFIG").output().expect("berth runs")
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn digests(findings: &Value) -> Vec<String> {
    let mut found: Vec<String> = findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["digest"].as_str().unwrap().to_owned())
        .collect();
    found.sort();
    found
}

fn tags_affected(report: &Value) -> Vec<String> {
    let mut tags: Vec<String> = report["affected"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| {
            let repo = a["repository"].as_str().unwrap().to_owned();
            a["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |t| format!("{repo}:{}", t.as_str().unwrap()))
        })
        .collect();
    tags.sort();
    tags
}

#[tokio::test]
async fn scrub_finds_damage_on_disk_repairs_it_and_a_push_brings_it_back() {
    let mut server = TestServer::start();
    let registry = Registry::new(server.url());
    let flipped = Image::new("scrub/a", "v1", 1, &[4096, 512]);
    let lost = Image::new("scrub/b", "v2", 2, &[2048]);
    let healthy = Image::new("scrub/c", "v3", 3, &[1024]);
    for image in [&flipped, &lost, &healthy] {
        registry.push_image(image).await;
    }
    let data_dir = server.data_dir().canonicalize().unwrap();
    let listen = server.host();

    let clean = berth("scrub", &data_dir, Some(&listen), &["--json"]);
    assert!(clean.status.success(), "{clean:?}");
    assert_eq!(json_of(&clean)["blobs"], serde_json::json!([]));

    let flipped_layer = &flipped.layers[0];
    let mut bytes = std::fs::read(blob_file(&data_dir, flipped_layer)).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(blob_file(&data_dir, flipped_layer), &bytes).unwrap();
    let lost_layer = &lost.layers[0];
    std::fs::remove_file(blob_file(&data_dir, lost_layer)).unwrap();
    let damaged = vec![digest_of(flipped_layer), digest_of(lost_layer)];
    let mut damaged_sorted = damaged.clone();
    damaged_sorted.sort();

    let found = berth("scrub", &data_dir, Some(&listen), &["--json"]);
    assert_eq!(
        found.status.code(),
        Some(1),
        "damage not contained yet exits 1"
    );
    let report = json_of(&found);
    assert_eq!(digests(&report["blobs"]), damaged_sorted);
    assert_eq!(tags_affected(&report), ["scrub/a:v1", "scrub/b:v2"]);
    let text = berth("scrub", &data_dir, Some(&listen), &[]);
    let printed = String::from_utf8_lossy(&text.stdout);
    assert!(printed.contains("missing from the blob store"), "{printed}");
    // Readable lines, no JSON; the images' manifests only lean on the damaged layers.
    assert!(!printed.contains("{\""), "{printed}");
    assert!(
        printed.contains("[not quarantined: run with --repair]"),
        "{printed}"
    );
    assert!(printed.contains("affected manifest scrub/a@"), "{printed}");
    assert!(
        !printed.lines().any(|l| l.starts_with("damaged manifest")),
        "{printed}"
    );
    assert!(printed.contains("0 damaged manifests"), "{printed}");
    assert!(
        printed.contains("tags [v1]") && printed.contains("tags [v2]"),
        "{printed}"
    );
    // Reporting alone changes nothing.
    let (status, _) = registry.get_blob("scrub/a", &damaged[0]).await.unwrap();
    assert_eq!(status, 200);

    let repaired = berth("scrub", &data_dir, Some(&listen), &["--json", "--repair"]);
    assert_eq!(repaired.status.code(), Some(2), "contained damage exits 2");
    let report = json_of(&repaired);
    for finding in report["blobs"].as_array().unwrap() {
        assert_eq!(finding["quarantined"], true, "{finding}");
    }
    // The next scrub knows the quarantined blobs: awaiting a re-push, not news.
    let again = berth("scrub", &data_dir, Some(&listen), &[]);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    let printed = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        printed
            .matches("[quarantined by an earlier scrub: push it again]")
            .count(),
        2,
        "{printed}"
    );
    assert!(
        printed.contains("(2 quarantined earlier, awaiting a re-push)"),
        "{printed}"
    );
    registry
        .assert_blob_absent("scrub/a", &damaged[0], "corrupt, quarantined")
        .await;
    registry
        .assert_blob_absent("scrub/b", &damaged[1], "missing, quarantined")
        .await;
    registry.assert_image(&healthy, "untouched").await;

    registry.push_blob("scrub/a", flipped_layer).await;
    registry.assert_image(&flipped, "pushed again").await;

    let usage = berth("usage", &data_dir, Some(&listen), &["--json"]);
    assert!(usage.status.success(), "{usage:?}");
    let rows = json_of(&usage)["repositories"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 3, "{rows}");
    assert_eq!(rows[2]["repository"], "scrub/c");
    let size: u64 =
        healthy.blobs().iter().map(|b| b.len() as u64).sum::<u64>() + healthy.manifest.len() as u64;
    assert_eq!(rows[2]["size"], size);
    assert_eq!(rows[2]["own_bytes"], rows[2]["blob_bytes"]);

    // Without a server, both run directly on the data directory.
    server.terminate();
    let direct = berth("scrub", &data_dir, None, &["--json"]);
    let report = json_of(&direct);
    assert_eq!(digests(&report["blobs"]), [digest_of(lost_layer)]);
    assert_eq!(tags_affected(&report), ["scrub/b:v2"]);
    let table = berth("usage", &data_dir, None, &[]);
    assert!(table.status.success(), "{table:?}");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("REPOSITORY"), "{table}");
    assert!(table.contains("scrub/c"), "{table}");
}
