//! The htpasswd parser: bcrypt entries accepted, every other hash kind refused by name.

use std::path::Path;

use berth_auth::{AuthError, UserFile};
use proptest::prelude::*;

/// A real bcrypt hash of "s3cret" at cost 4, as `htpasswd -B -C 4` writes it.
fn hash(prefix: &str) -> String {
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    format!("{prefix}{}", &hash[4..])
}

fn parse(text: &str) -> Result<UserFile, AuthError> {
    UserFile::parse(Path::new("/etc/berth/htpasswd"), text.as_bytes())
}

#[test]
fn accepts_the_three_bcrypt_prefixes_comments_and_crlf() {
    let text = format!(
        "# users\n\nalice:{}\r\n  bob:{}  \ncarol:{}",
        hash("$2y$"),
        hash("$2b$"),
        hash("$2a$")
    );
    let file = parse(&text).unwrap();
    assert_eq!(file.len(), 3);
    for user in ["alice", "bob", "carol"] {
        let stored = file.hash_of(user).unwrap();
        assert!(bcrypt::verify("s3cret", stored).unwrap(), "{user}");
    }
    assert!(!file.contains("dave"));
}

#[test]
fn refuses_every_other_hash_kind_naming_file_line_and_user() {
    let cases = [
        ("$apr1$q8x2uYdp$6rLtB0pOMAA4Qb1T6e1Dj/", "MD5 ($apr1$)"),
        ("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "SHA-1 ({SHA})"),
        ("$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0", "MD5-crypt ($1$)"),
        ("$5$rounds=5000$salt$hash", "SHA-256-crypt ($5$)"),
        ("$6$salt$hash", "SHA-512-crypt ($6$)"),
        ("rl0nWXS4DVKhg", "DES crypt"),
        ("password", "plain-text"),
        ("", "plain-text"),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "Argon2"),
        ("$y$j9T$salt$hash", "unknown ($...$)"),
    ];
    for (stored, expected_kind) in cases {
        let text = format!("# header\nalice:{}\nbob:{stored}\n", hash("$2y$"));
        match parse(&text) {
            Err(error @ AuthError::HtpasswdUnsupportedHash { .. }) => {
                let message = error.to_string();
                let AuthError::HtpasswdUnsupportedHash {
                    path,
                    line,
                    user,
                    kind,
                } = error
                else {
                    unreachable!()
                };
                assert_eq!(path, Path::new("/etc/berth/htpasswd"));
                assert_eq!((line, user.as_str(), kind), (3, "bob", expected_kind));
                assert!(
                    message.starts_with("/etc/berth/htpasswd:3: user \"bob\""),
                    "{message}"
                );
                assert!(message.contains("only bcrypt is accepted"), "{message}");
                assert!(
                    !message.contains(stored) || stored.is_empty(),
                    "hash leaked"
                );
            }
            other => panic!("{stored:?}: {other:?}"),
        }
    }
}

#[test]
fn refuses_the_pre_2011_bcrypt_variant() {
    let error = parse(&format!("alice:{}\n", hash("$2x$"))).err().unwrap();
    assert!(error.to_string().contains("pre-2011 bcrypt"), "{error}");
}

#[test]
fn refuses_malformed_lines() {
    let good = hash("$2y$");
    let cases = [
        ("alice\n".to_owned(), 1, "expected user:hash"),
        (format!(":{good}\n"), 1, "user name is empty"),
        (format!("alice:{}\n", &good[..50]), 1, "damaged bcrypt hash"),
        (
            format!("alice:$2y$99{}\n", &good[6..]),
            1,
            "damaged bcrypt hash",
        ),
        (
            format!("alice:{good}\n\nalice:{good}\n"),
            3,
            "appears again (first on line 1)",
        ),
    ];
    for (text, expected_line, expected) in cases {
        match parse(&text) {
            Err(AuthError::HtpasswdMalformed { line, problem, .. }) => {
                assert_eq!(line, expected_line, "{text:?}");
                assert!(problem.contains(expected), "{problem}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    let not_utf8 = UserFile::parse(Path::new("f"), b"al\xffice:x\n");
    assert!(matches!(
        not_utf8,
        Err(AuthError::HtpasswdMalformed { line: 1, .. })
    ));
}

#[test]
fn load_reads_the_file_and_names_it_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    std::fs::write(&path, format!("alice:{}\n", hash("$2y$"))).unwrap();
    assert_eq!(UserFile::load(&path).unwrap().path(), path);
    let missing = UserFile::load(&dir.path().join("absent")).err().unwrap();
    assert!(missing.to_string().contains("absent"), "{missing}");
}

proptest! {
    #[test]
    fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = UserFile::parse(Path::new("fuzz"), &bytes);
    }

    #[test]
    fn parsing_never_panics_on_near_valid_lines(
        lines in proptest::collection::vec("[a-z:#{}$0-9A-Za-z./ \r]{0,70}", 0..8)
    ) {
        let _ = UserFile::parse(Path::new("fuzz"), lines.join("\n").as_bytes());
    }
}
