//! One upload session ended from two nodes at once: a finish racing an append, a cancel or
//! another finish. Whichever wins, the loser gets one of the distribution API's answers for a
//! session that changed or went (never a storage error), and a blob acknowledged as stored
//! reads back whole.

use berth_oci::Digest;

use crate::test_backends::{current, Backend};
use crate::tests::{body, fixture, read_all, repo, Fixture};
use crate::{ChunkBounds, Registry, RegistryError};

const ROUNDS: usize = 4;

/// The registry of a second node: on the embedded deployment there is only one process.
async fn other_node(f: &Fixture) -> Registry {
    match current() {
        Backend::Embedded => f.registry.clone(),
        Backend::ScaleOut => f.reopen().await,
    }
}

/// A session with `bytes` appended, the digest of those bytes, and the session's id.
async fn staged(registry: &Registry, bytes: &[u8]) -> (berth_oci::UploadId, Digest) {
    let r = repo("race/app");
    let status = registry.start_upload(&r).await.unwrap();
    registry
        .append_chunk(&r, &status.id, ChunkBounds::default(), body(bytes))
        .await
        .unwrap();
    (status.id, Digest::sha256_of(bytes))
}

fn bytes_of(round: usize) -> Vec<u8> {
    (0..600_000).map(|i| (i * 7 + round) as u8).collect()
}

async fn a_finish_racing_an_append_answers_what_the_api_allows() {
    let f = fixture().await;
    let (a, b) = (f.registry.clone(), other_node(&f).await);
    let r = repo("race/app");
    for round in 0..ROUNDS {
        let bytes = bytes_of(round);
        let (id, digest) = staged(&a, &bytes).await;
        let finish = a.finish_upload(&r, &id, &digest, ChunkBounds::default(), None);
        let append = b.append_chunk(&r, &id, ChunkBounds::default(), body(b"one more chunk"));
        let (finished, appended) = tokio::join!(finish, append);
        match &finished {
            Ok(len) => {
                assert_eq!(*len, bytes.len() as u64);
                assert!(
                    matches!(appended, Err(RegistryError::UploadUnknown)),
                    "an append the finish did not see must fail: {appended:?}"
                );
                assert_eq!(read_all(&a, &r, &digest).await, bytes);
            }
            Err(RegistryError::UploadInvalid(_) | RegistryError::DigestMismatch { .. }) => {}
            Err(e) => panic!("round {round}: the finish failed with {e:?}"),
        }
        assert!(
            matches!(
                appended,
                Ok(_) | Err(RegistryError::UploadUnknown | RegistryError::ChunkOutOfOrder { .. })
            ),
            "round {round}: the append failed with {appended:?}"
        );
    }
}

async fn a_finish_racing_a_cancel_answers_what_the_api_allows() {
    let f = fixture().await;
    let (a, b) = (f.registry.clone(), other_node(&f).await);
    let r = repo("race/app");
    for round in 0..ROUNDS {
        let bytes = bytes_of(round);
        let (id, digest) = staged(&a, &bytes).await;
        let finish = a.finish_upload(&r, &id, &digest, ChunkBounds::default(), None);
        let cancel = b.cancel_upload(&r, &id);
        let (finished, cancelled) = tokio::join!(finish, cancel);
        match (&finished, &cancelled) {
            (Ok(_), Err(RegistryError::UploadUnknown)) => {
                assert_eq!(read_all(&a, &r, &digest).await, bytes);
            }
            (Err(RegistryError::UploadUnknown), Ok(())) => {}
            other => panic!("round {round}: exactly one must win, the other 404: {other:?}"),
        }
        assert!(matches!(
            a.upload_status(&r, &id).await,
            Err(RegistryError::UploadUnknown)
        ));
    }
}

async fn two_finishes_of_one_session_store_it_once() {
    let f = fixture().await;
    let (a, b) = (f.registry.clone(), other_node(&f).await);
    let r = repo("race/app");
    for round in 0..ROUNDS {
        let bytes = bytes_of(round);
        let (id, digest) = staged(&a, &bytes).await;
        let first = a.finish_upload(&r, &id, &digest, ChunkBounds::default(), None);
        let second = b.finish_upload(&r, &id, &digest, ChunkBounds::default(), None);
        let (first, second) = tokio::join!(first, second);
        match (&first, &second) {
            (Ok(_), Err(RegistryError::UploadUnknown))
            | (Err(RegistryError::UploadUnknown), Ok(_)) => {}
            other => panic!("round {round}: exactly one must win, the other 404: {other:?}"),
        }
        assert_eq!(read_all(&b, &r, &digest).await, bytes);
    }
}

crate::test_backends::on_both_backends!(
    a_finish_racing_an_append_answers_what_the_api_allows,
    a_finish_racing_a_cancel_answers_what_the_api_allows,
    two_finishes_of_one_session_store_it_once,
);
