//! Property tests of token verification: a token our issuer signed verifies with exactly the
//! subject and access it was issued for, and any one changed byte makes it refused. The fuzz
//! target `fuzz/fuzz_targets/jwt.rs` feeds the same verifier arbitrary tokens.

mod common;

use std::collections::BTreeSet;

use berth_auth::{Access, Action, AuthError};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn access() -> impl Strategy<Value = Access> {
    let repo = "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}";
    let action = proptest::sample::select(vec![Action::Pull, Action::Push, Action::Delete]);
    prop_oneof![
        4 => (repo, action.clone())
            .prop_map(|(name, action)| Access::repository(name.parse().unwrap(), action)),
        1 => Just(Access::catalog()),
        1 => action.prop_map(Access::admin),
    ]
}

/// One generated key for all cases: key generation is the slow part.
fn runner() -> TestRunner {
    TestRunner::new(Config::with_cases(64))
}

#[test]
fn issued_tokens_verify_with_exactly_their_claims() {
    let f = Fixture::new();
    let cases = (
        prop_oneof![Just(String::new()), "[a-z][a-z0-9._-]{0,15}"],
        proptest::collection::vec(access(), 0..6),
    );
    runner()
        .run(&cases, |(subject, granted)| {
            let token = f.issuer.issue(&subject, &granted).unwrap().token;
            let verified = f.verifier.verify(&token).unwrap();
            prop_assert_eq!(&verified.subject, &subject);
            prop_assert_eq!(verified.issuer.as_str(), ISSUER);
            let expected: BTreeSet<Access> = granted.iter().cloned().collect();
            let got: BTreeSet<Access> = verified.access.iter().cloned().collect();
            prop_assert_eq!(got, expected);
            for access in &granted {
                prop_assert!(verified.allows(access));
            }
            // Access tokens are not refresh tokens.
            prop_assert!(f.issuer.verify_refresh(&token).is_err());
            Ok(())
        })
        .unwrap();
}

#[test]
fn any_single_byte_change_is_refused() {
    let f = Fixture::new();
    let token = f.issuer.issue("alice", &[pull("team/app")]).unwrap().token;
    let refresh = f.issuer.issue_refresh("alice", "stamp").unwrap();
    assert!(f.verifier.verify(&token).is_ok());
    assert_eq!(f.issuer.verify_refresh(&refresh).unwrap().subject, "alice");
    let cases = (
        any::<bool>(),
        any::<proptest::sample::Index>(),
        proptest::char::range(' ', '~'),
    );
    runner()
        .run(&cases, |(use_refresh, index, replacement)| {
            let original = if use_refresh { &refresh } else { &token };
            let position = index.index(original.len());
            let mut bytes = original.clone().into_bytes();
            prop_assume!(bytes[position] != replacement as u8);
            bytes[position] = replacement as u8;
            let changed = String::from_utf8(bytes).unwrap();
            let refused =
                |result: Result<_, AuthError>| matches!(result, Err(AuthError::InvalidToken(_)));
            prop_assert!(
                refused(f.verifier.verify(&changed).map(|_| ())),
                "{}",
                changed
            );
            prop_assert!(
                refused(f.issuer.verify_refresh(&changed).map(|_| ())),
                "{}",
                changed
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_tokens_are_refused_without_panicking() {
    let f = Fixture::new();
    let part = "[A-Za-z0-9_-]{0,40}";
    let cases = prop_oneof![
        any::<String>(),
        (part, part, part).prop_map(|(h, p, s)| format!("{h}.{p}.{s}")),
    ];
    runner()
        .run(&cases, |token| {
            prop_assert!(f.verifier.verify(&token).is_err());
            prop_assert!(f.issuer.verify_refresh(&token).is_err());
            Ok(())
        })
        .unwrap();
}
