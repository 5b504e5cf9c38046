//! Two nodes on one PostgreSQL database and one S3 bucket: events pushed through either node
//! reach the endpoint once each, in order, delivered by whichever node holds its lock, and
//! still after that node is killed.

use std::collections::BTreeSet;

use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::receiver::Receiver;
use crate::support::http::{Image, Registry};
use crate::support::TestServer;
use crate::{endpoint, wait_passed};

const S3_VARIABLES: [&str; 5] = [
    "BERTH_TEST_S3_ENDPOINT",
    "BERTH_TEST_S3_BUCKET",
    "BERTH_TEST_S3_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
];

fn required(name: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
        panic!(
            "{name} is not set: this test runs Berth on a real PostgreSQL (BERTH_TEST_POSTGRES_URL) \
             and a real S3 server ({}, from target/services/garage/env); run scripts/test.sh",
            S3_VARIABLES.join(", ")
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_postgres_and_s3_deliver_each_event_once_in_order() {
    let server = required("BERTH_TEST_POSTGRES_URL");
    let s3: Vec<String> = S3_VARIABLES.iter().map(|n| required(n)).collect();
    let unique = format!(
        "events_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let mut admin = PgConnection::connect(&server).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {unique}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}options=-c%20search_path%3D{unique}");
    let receiver = Receiver::start().await;
    let config = format!(
        "[storage]\nbackend = \"s3\"\nbucket = {bucket:?}\nendpoint = {endpoint:?}\n\
         region = {region:?}\npath_style = true\nprefix = \"{unique}/\"\n\n\
         [metadata]\nbackend = \"postgres\"\nurl = {url:?}\npool_size = 4\n\n{hook}",
        endpoint = s3[0],
        bucket = s3[1],
        region = s3[2],
        hook = endpoint(
            "hook",
            &receiver.url("/hook"),
            "events = [\"dev.berth.tag.moved\"]\nbackoff = \"50ms\""
        ) + &endpoint(
            "batched",
            &receiver.url("/batched"),
            "events = [\"dev.berth.tag.moved\"]\nbackoff = \"50ms\"\nbatch_size = 3"
        ),
    );
    let mut a = TestServer::start_with_config(&config, &[]);
    let b = TestServer::start_with_config(&config, &[]);
    let (on_a, on_b) = (Registry::new(a.url()), Registry::new(b.url()));
    let mut expected = Vec::new();
    for round in 0..4u64 {
        for (node, repo) in [(&on_a, "pg/a"), (&on_b, "pg/b")] {
            let tag = format!("t{round}");
            node.push_image(&Image::new(
                repo,
                &tag,
                round * 2 + repo.len() as u64,
                &[64],
            ))
            .await;
            expected.push((repo.to_owned(), tag));
        }
    }
    wait_passed(&on_b, "hook").await;
    wait_passed(&on_b, "batched").await;
    // One node went down: the other takes the endpoint's lock over and goes on.
    a.kill();
    on_b.push_image(&Image::new("pg/a", "after", 99, &[64]))
        .await;
    expected.push(("pg/a".to_owned(), "after".to_owned()));
    receiver
        .wait_for("/hook", "the event pushed after the kill", |r| {
            r.iter().any(|r| r.json()["data"]["tag"] == "after")
        })
        .await;
    receiver
        .wait_for("/batched", "the event pushed after the kill", |r| {
            r.iter()
                .any(|r| (r.json().as_array().unwrap().iter()).any(|e| e["data"]["tag"] == "after"))
        })
        .await;
    let single = receiver.delivered("/hook");
    // A batch is an array of the events it carries, in order.
    let batched: Vec<Value> = receiver
        .delivered("/batched")
        .iter()
        .flat_map(|batch| batch.as_array().unwrap().clone())
        .collect();
    for (path, delivered) in [("/hook", single), ("/batched", batched)] {
        let got: Vec<(String, String)> = delivered
            .iter()
            .map(|e| {
                (
                    e["data"]["repository"].as_str().unwrap().to_owned(),
                    e["data"]["tag"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let ids: BTreeSet<&str> = delivered
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids.len(),
            delivered.len(),
            "{path}: each event delivered once"
        );
        assert_eq!(got, expected, "{path}: in commit order");
    }
    drop((a, b));
    sqlx::query(&format!("DROP SCHEMA {unique} CASCADE"))
        .execute(&mut admin)
        .await
        .unwrap();
}
