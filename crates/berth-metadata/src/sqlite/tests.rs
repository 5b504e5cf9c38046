//! The SQLite backend's own tests: the shared suite, batching, reopening and upgrades.

use super::*;

#[tokio::test]
async fn sqlite_store_passes_the_shared_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteMetadataStore::open(&dir.path().join("meta.db"))
        .await
        .unwrap();
    crate::suite::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_in_a_batch_leaves_the_others_committed() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        SqliteMetadataStore::open(&dir.path().join("meta.db"))
            .await
            .unwrap(),
    );
    let repo: RepoName = "batch".parse().unwrap();
    let present = Digest::sha256_of(b"present");
    store.link_blob(&repo, &present, 7).await.unwrap();
    let writes = (0..64).map(|i| {
        let (store, repo) = (store.clone(), repo.clone());
        let blob = if i % 2 == 0 {
            present.clone()
        } else {
            Digest::sha256_of(format!("absent {i}").as_bytes())
        };
        tokio::spawn(async move {
            let body = format!("{{\"n\":{i}}}");
            let manifest = NewManifest {
                digest: Digest::sha256_of(body.as_bytes()),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                body: bytes::Bytes::from(body),
                artifact_type: None,
                subject: None,
                annotations_json: None,
                blobs: vec![blob],
                children: vec![],
                subject_must_exist: false,
                created_at: None,
            };
            let tag: Tag = format!("t{i}").parse().unwrap();
            (i, store.put_manifest(&repo, &manifest, &[tag], None).await)
        })
    });
    for write in futures::future::join_all(writes).await {
        let (i, result) = write.unwrap();
        assert_eq!(result.is_ok(), i % 2 == 0, "write {i}: {result:?}");
    }
    let tags = store.list_tags(&repo, None, 100).await.unwrap();
    assert_eq!(tags.len(), 32);
    assert!(tags.iter().all(|t| t[1..].parse::<u32>().unwrap() % 2 == 0));
}

#[tokio::test]
async fn reopening_keeps_committed_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let repo: RepoName = "a/b".parse().unwrap();
    let digest = Digest::sha256_of(b"x");
    {
        let store = SqliteMetadataStore::open(&path).await.unwrap();
        store.link_blob(&repo, &digest, 1).await.unwrap();
    }
    let store = SqliteMetadataStore::open(&path).await.unwrap();
    assert_eq!(
        store.linked_blob_size(&repo, &digest).await.unwrap(),
        Some(1)
    );
}

/// A database written before migrations 0003 and 0004 gains reference counts and orphan
/// times that match its content.
#[tokio::test]
async fn upgrading_backfills_reference_counts_and_orphan_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let upgraded_from = now_millis() - 1_000;
    let repo: RepoName = "old/app".parse().unwrap();
    let layer = Digest::sha256_of(b"layer");
    let (first, second) = (Digest::sha256_of(b"first"), Digest::sha256_of(b"second"));
    let (signature, gone) = (Digest::sha256_of(b"sig"), Digest::sha256_of(b"deleted"));
    {
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
        let mut before = sqlx::migrate!("./migrations/sqlite");
        before.migrations = before
            .migrations
            .iter()
            .filter(|m| m.version < 3)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        before.run(&mut conn).await.unwrap();
        let (r, l) = (repo.as_str(), layer.as_str());
        let statements = [
            format!("INSERT INTO repositories VALUES ('{r}', 0)"),
            format!("INSERT INTO blobs VALUES ('{l}', 5, 0)"),
            format!("INSERT INTO repository_blobs VALUES ('{r}', '{l}', 0)"),
            format!("INSERT INTO manifests VALUES ('{r}', '{first}', 'm', 1, x'00', NULL, NULL, NULL, 0)"),
            format!("INSERT INTO manifests VALUES ('{r}', '{second}', 'm', 1, x'00', NULL, NULL, NULL, 0)"),
            format!("INSERT INTO manifests VALUES ('{r}', '{signature}', 'm', 1, x'00', NULL, '{gone}', NULL, 0)"),
            format!("INSERT INTO manifest_blobs VALUES ('{r}', '{first}', '{l}')"),
            format!("INSERT INTO manifest_blobs VALUES ('{r}', '{second}', '{l}')"),
            format!("INSERT INTO referrers VALUES ('{r}', '{gone}', '{signature}', 'm', 1, NULL, NULL)"),
        ];
        for statement in statements {
            sqlx::query(&statement).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
    }
    let store = SqliteMetadataStore::open(&path).await.unwrap();
    let graph = store.manifest_graph(&repo).await.unwrap();
    let orphaned_at = graph
        .manifests
        .iter()
        .find(|m| m.digest == signature)
        .and_then(|m| m.subject_deleted_at);
    assert!(
        orphaned_at.is_some_and(|at| at >= upgraded_from),
        "an orphan's delay starts at the upgrade: {orphaned_at:?}"
    );
    let unreferenced = || async { store.unreferenced_links(i64::MAX).await.unwrap() };
    assert!(unreferenced().await.is_empty());
    assert!(store.delete_manifest(&repo, &first, None).await.unwrap());
    assert!(
        unreferenced().await.is_empty(),
        "the second manifest still counts"
    );
    assert!(store.delete_manifest(&repo, &second, None).await.unwrap());
    assert_eq!(unreferenced().await, vec![(repo, layer)]);
}

/// Referrer rows written before migration 0005 take their ORAS creation time from their
/// stored annotations; rows without a valid one stay undated.
#[tokio::test]
async fn upgrading_dates_referrers_from_their_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let repo: RepoName = "old/signed".parse().unwrap();
    let subject = Digest::sha256_of(b"subject");
    let (dated, offset, undated, invalid) = (
        Digest::sha256_of(b"dated"),
        Digest::sha256_of(b"offset"),
        Digest::sha256_of(b"undated"),
        Digest::sha256_of(b"invalid"),
    );
    {
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
        let mut before = sqlx::migrate!("./migrations/sqlite");
        before.migrations = before
            .migrations
            .iter()
            .filter(|m| m.version < 5)
            .cloned()
            .collect::<Vec<_>>()
            .into();
        before.run(&mut conn).await.unwrap();
        let created = |t: &str| format!(r#"'{{"io.cncf.oras.artifact.created":"{t}"}}'"#);
        for (digest, annotations) in [
            (&dated, created("2021-09-14T12:00:00Z")),
            (&offset, created("2021-09-14T14:00:00.250+02:00")),
            (&undated, "NULL".to_owned()),
            (&invalid, created("last tuesday")),
        ] {
            sqlx::query(&format!(
                "INSERT INTO referrers VALUES ('{repo}', '{subject}', '{digest}', 'm', 1, NULL, {annotations}, NULL)"
            ))
            .execute(&mut conn)
            .await
            .unwrap();
        }
        conn.close().await.unwrap();
    }
    let store = SqliteMetadataStore::open(&path).await.unwrap();
    let listed = store
        .list_referrers(&repo, &subject, &[], ReferrerOrder::NewestFirst, None, 10)
        .await
        .unwrap();
    let at = 1_631_620_800_000;
    let mut undated_pair = [undated.clone(), invalid.clone()];
    undated_pair.sort();
    assert_eq!(
        listed
            .iter()
            .map(|r| (r.digest.clone(), r.created_at))
            .collect::<Vec<_>>(),
        vec![
            (offset, Some(at + 250)),
            (dated, Some(at)),
            (undated_pair[0].clone(), None),
            (undated_pair[1].clone(), None),
        ]
    );
}
