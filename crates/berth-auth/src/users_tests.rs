//! Tests of `Users`: verification, the bcrypt-free cache path (counted through a test-only
//! hook), the dummy check for unknown users, and reloading a rewritten file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::*;

/// bcrypt's lowest cost keeps the tests fast; the code under test is the same.
fn entry(user: &str, password: &str) -> String {
    format!("{user}:{}\n", bcrypt::hash(password, 4).unwrap())
}

/// Replaces the file the way editors and `htpasswd` do: a new file renamed over the old one.
fn replace(path: &Path, contents: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn groups() -> Groups {
    let mut table = BTreeMap::new();
    table.insert("devs".to_owned(), vec!["alice".to_owned()]);
    Groups::new(&table)
}

/// Reloads checked on every use, cache as configured by default.
fn eager() -> UsersOptions {
    UsersOptions {
        reload_interval: Duration::ZERO,
        ..UsersOptions::default()
    }
}

fn setup(contents: &str, options: UsersOptions) -> (tempfile::TempDir, PathBuf, Users) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    std::fs::write(&path, contents).unwrap();
    let users = Users::open(&path, groups(), options).unwrap();
    (dir, path, users)
}

fn calls(users: &Users) -> usize {
    users.bcrypt_calls.load(Ordering::SeqCst)
}

#[test]
fn good_password_verifies_with_groups_from_the_policy() {
    let (_dir, _path, users) = setup(&entry("alice", "s3cret"), eager());
    let identity = users.verify("alice", "s3cret").unwrap();
    assert_eq!(
        identity,
        Identity::User {
            name: "alice".into(),
            groups: vec!["devs".into()],
        }
    );
    assert_eq!(users.len(), 1);
}

#[test]
fn wrong_password_fails() {
    let (_dir, _path, users) = setup(&entry("alice", "s3cret"), eager());
    assert_eq!(users.verify("alice", "s3cre"), None);
    assert_eq!(users.verify("alice", ""), None);
    assert_eq!(calls(&users), 2);
}

#[test]
fn unknown_user_fails_after_one_bcrypt_check_like_a_known_one() {
    let (_dir, _path, users) = setup(&entry("alice", "s3cret"), eager());
    assert_eq!(users.verify("mallory", "s3cret"), None);
    assert_eq!(calls(&users), 1, "the dummy hash is checked");
    assert_eq!(users.verify("", "s3cret"), None);
    assert_eq!(calls(&users), 2);
}

#[test]
fn second_verification_is_served_from_the_cache_without_bcrypt() {
    let (_dir, _path, users) = setup(&entry("alice", "s3cret"), eager());
    assert!(users.verify("alice", "s3cret").is_some());
    assert_eq!(calls(&users), 1);
    assert!(users.verify("alice", "s3cret").is_some());
    assert_eq!(calls(&users), 1, "cache hit");
    assert_eq!(users.verify("alice", "wrong"), None);
    assert_eq!(calls(&users), 2, "a different password is not a hit");
    assert_eq!(users.verify("alice", "wrong"), None);
    assert_eq!(calls(&users), 3, "failures are never cached");
}

#[test]
fn cached_pairs_expire_after_the_ttl() {
    let options = UsersOptions {
        cache_ttl: Duration::ZERO,
        ..eager()
    };
    let (_dir, _path, users) = setup(&entry("alice", "s3cret"), options);
    assert!(users.verify("alice", "s3cret").is_some());
    assert!(users.verify("alice", "s3cret").is_some());
    assert_eq!(calls(&users), 2);
}

#[test]
fn cache_keys_are_hashes_not_passwords() {
    let key = cache_key("alice", "s3cret");
    assert_ne!(key, cache_key("alice", "s3cres"));
    assert_ne!(key, cache_key("alic", "es3cret"));
    assert!(!key.windows(6).any(|w| w == b"s3cret"));
}

#[test]
fn rewritten_file_adds_and_removes_users() {
    let (_dir, path, users) = setup(&entry("alice", "a-pw"), eager());
    assert!(users.verify("alice", "a-pw").is_some());
    replace(&path, &entry("bob", "b-pw"));
    assert!(
        users.verify("bob", "b-pw").is_some(),
        "new user after reload"
    );
    assert_eq!(
        users.verify("alice", "a-pw"),
        None,
        "removed user, although her pair was cached"
    );
    assert_eq!(users.identity("alice"), None);
    assert!(users.identity("bob").is_some());
}

#[test]
fn rewritten_file_in_place_changes_a_password() {
    let (_dir, path, users) = setup(&entry("alice", "old"), eager());
    assert!(users.verify("alice", "old").is_some());
    std::fs::write(&path, format!("# rotated\n{}", entry("alice", "new"))).unwrap();
    assert_eq!(users.verify("alice", "old"), None);
    assert!(users.verify("alice", "new").is_some());
}

#[test]
fn invalid_rewrite_keeps_the_previous_table() {
    let (_dir, path, users) = setup(&entry("alice", "a-pw"), eager());
    replace(
        &path,
        &format!("{}mallory:$apr1$abc$def\n", entry("bob", "b-pw")),
    );
    assert!(users.verify("alice", "a-pw").is_some(), "old table kept");
    assert_eq!(users.verify("bob", "b-pw"), None, "invalid file not used");
    std::fs::remove_file(&path).unwrap();
    assert!(
        users.verify("alice", "a-pw").is_some(),
        "missing file: kept"
    );
    replace(&path, &entry("bob", "b-pw"));
    assert!(
        users.verify("bob", "b-pw").is_some(),
        "valid again: reloaded"
    );
    assert_eq!(users.verify("alice", "a-pw"), None);
}

#[test]
fn file_is_looked_at_no_more_often_than_the_interval() {
    let options = UsersOptions {
        reload_interval: Duration::from_secs(3600),
        ..UsersOptions::default()
    };
    let (_dir, path, users) = setup(&entry("alice", "a-pw"), options);
    replace(&path, &entry("bob", "b-pw"));
    assert!(users.verify("alice", "a-pw").is_some());
    assert_eq!(users.identity("bob"), None);
}

#[test]
fn open_refuses_an_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    std::fs::write(&path, "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n").unwrap();
    let error = Users::open(&path, Groups::default(), eager())
        .err()
        .unwrap();
    assert!(matches!(
        error,
        AuthError::HtpasswdUnsupportedHash { line: 1, .. }
    ));
    let missing = Users::open(dir.path().join("nope"), Groups::default(), eager());
    assert!(matches!(missing.err().unwrap(), AuthError::Io { .. }));
}

#[test]
fn dummy_hash_uses_the_files_typical_cost() {
    let text = [
        entry("a", "x"),
        entry("b", "y"),
        format!("c:{}\n", bcrypt::hash("z", 5).unwrap()),
    ]
    .concat();
    let file = UserFile::parse(Path::new("htpasswd"), text.as_bytes()).unwrap();
    assert_eq!(file.typical_cost(), 4);
    let table = Table::new(file, 0).unwrap();
    let parts: bcrypt::HashParts = table.dummy_hash.parse().unwrap();
    assert_eq!(parts.get_cost(), 4);
}

/// Refresh tokens are bound to this stamp: it must change with the password, and with a user
/// removed and added again with the same password (a new salt), and stay put otherwise.
#[test]
fn the_credential_stamp_changes_with_the_password_entry_only() {
    let (_dir, path, users) = setup(&entry("alice", "old"), eager());
    let first = users.credential_stamp("alice").expect("alice is listed");
    assert_eq!(first.len(), 22);
    assert_eq!(users.credential_stamp("alice"), Some(first.clone()));
    assert_eq!(users.credential_stamp("bob"), None);
    replace(&path, &entry("alice", "new"));
    let second = users.credential_stamp("alice").expect("alice is listed");
    assert_ne!(first, second);
    replace(&path, &entry("bob", "b-pw"));
    assert_eq!(users.credential_stamp("alice"), None);
    replace(&path, &entry("alice", "new"));
    let third = users.credential_stamp("alice").expect("alice is back");
    assert_ne!(
        third, second,
        "a new hash of the same password has a new salt"
    );
    assert!(!third.contains("new"));
}
