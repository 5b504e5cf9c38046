//! Locks and the clock: what every backend's `lock`, `try_lock` and `now_millis` promise.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_oci::Digest;

use crate::{LockName, MetadataStore};

pub async fn locks_exclude_holders_of_the_same_name_only(store: &dyn MetadataStore) {
    let (a, b) = (Digest::sha256_of(b"lock a"), Digest::sha256_of(b"lock b"));
    let held = store.lock(&LockName::Blob(&a)).await.unwrap();
    assert!(
        store.try_lock(&LockName::Blob(&a)).await.unwrap().is_none(),
        "a held blob lock is not free"
    );
    let other = store.try_lock(&LockName::Blob(&b)).await.unwrap();
    // Process locks are striped by the digest's first byte; these two differ in it.
    assert_ne!(a.hex()[..2], b.hex()[..2]);
    assert!(other.is_some(), "another digest's lock is free");
    let collection = store.try_lock(&LockName::Collection).await.unwrap();
    assert!(
        collection.is_some(),
        "the collection lock is apart from blob locks"
    );
    assert!(store
        .try_lock(&LockName::Collection)
        .await
        .unwrap()
        .is_none());
    drop(held);
    // A waiting `lock` gets the lock once the holder lets it go (shared stores release it on
    // the runtime, a moment after the drop).
    let again = tokio::time::timeout(Duration::from_secs(10), store.lock(&LockName::Blob(&a)))
        .await
        .expect("the released lock is taken again")
        .unwrap();
    drop((again, other, collection));
}

pub async fn the_clock_is_the_epoch_in_milliseconds(store: &dyn MetadataStore) {
    let local = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let store_now = store.now_millis().await.unwrap();
    // The test's server runs on this machine: both clocks agree within a few seconds.
    assert!(
        (store_now - local).abs() < 5_000,
        "store clock {store_now} vs local {local}"
    );
    let later = store.now_millis().await.unwrap();
    assert!(later >= store_now);
}
