//! The Docker scope grammar (auth-scope.md): parsing, refusals, canonical form, round trips.

use berth_auth::{Access, Action, AuthError, Resource, Scope};
use proptest::prelude::*;

fn repo(name: &str, action: Action) -> Access {
    Access::repository(name.parse().unwrap(), action)
}

#[test]
fn parses_repository_and_catalog_scopes() {
    let scope = Scope::parse("repository:samalba/my-app:pull,push registry:catalog:*").unwrap();
    assert_eq!(
        scope.accesses(),
        [
            repo("samalba/my-app", Action::Pull),
            repo("samalba/my-app", Action::Push),
            Access::catalog(),
        ]
    );
    assert_eq!(
        scope.to_string(),
        "repository:samalba/my-app:pull,push registry:catalog:*"
    );
}

#[test]
fn star_means_every_action_of_the_resource() {
    let scope = Scope::parse("repository:a/b:*").unwrap();
    assert_eq!(scope.accesses().len(), 3);
    assert_eq!(scope.to_string(), "repository:a/b:pull,push,delete");
    let admin = Scope::parse("registry:admin:*").unwrap();
    assert_eq!(admin.accesses().len(), 3);
    assert_eq!(admin.to_string(), "registry:admin:*");
    assert_eq!(
        Scope::parse("registry:catalog:push").unwrap(),
        Scope::default()
    );
}

#[test]
fn drops_unknown_actions_and_ignores_unknown_resources() {
    let scope = Scope::parse("repository:a:pull,frob,,push repository(plugin):b:pull").unwrap();
    assert_eq!(
        scope.accesses(),
        [
            repo("a", Action::Pull),
            repo("a", Action::Push),
            repo("b", Action::Pull)
        ]
    );
    let ignored = Scope::parse("namespace:a:pull registry:other:* oci(x):y:pull").unwrap();
    assert!(ignored.is_empty());
    assert!(Scope::parse("").unwrap().is_empty());
    assert!(
        Scope::parse("  repository:a:pull  ")
            .unwrap()
            .accesses()
            .len()
            == 1
    );
}

#[test]
fn merges_duplicates_into_one_sorted_set() {
    let scope = Scope::parse("repository:b:push repository:a:pull repository:b:pull,push").unwrap();
    assert_eq!(
        scope.to_string(),
        "repository:a:pull repository:b:pull,push"
    );
}

#[test]
fn refuses_names_that_are_not_repository_names() {
    let bad = [
        "repository:team/*:pull",
        "repository:a/../b:pull",
        "repository:..:pull",
        "repository:Team/App:pull",
        "repository:localhost:5000/app:pull",
        "repository::pull",
        "repository:a//b:pull",
        "repository:a?:pull",
    ];
    for scope in bad {
        match Scope::parse(scope) {
            Err(AuthError::InvalidScope { scope: item, .. }) => assert_eq!(item, scope),
            other => panic!("{scope}: {other:?}"),
        }
    }
}

#[test]
fn refuses_what_breaks_the_grammar() {
    for scope in [
        "repository",
        "repository:a",
        "Repository:a:pull",
        "repo(:a:pull",
        "repo()x:a:pull",
        "repository:a:PULL",
        "repository:a:pull;push",
        "repository:a:pull repository:b",
    ] {
        assert!(Scope::parse(scope).is_err(), "{scope}");
    }
}

#[test]
fn resources_name_themselves_as_the_grammar_does() {
    let name = Resource::Repository("x/y".parse().unwrap());
    assert_eq!((name.resource_type(), name.name()), ("repository", "x/y"));
    assert_eq!(Resource::Catalog.resource_type(), "registry");
    assert_eq!(Resource::Catalog.actions(), [Action::Pull]);
    assert_eq!(repo("x", Action::Delete).to_string(), "repository:x:delete");
    assert_eq!(Action::from_wire("*"), None);
}

fn access_strategy() -> impl Strategy<Value = Access> {
    let name = "[a-z0-9]{1,4}((\\.|_|__|-{1,2})[a-z0-9]{1,3}){0,2}(/[a-z0-9]{1,4}){0,2}";
    let action = prop_oneof![Just(Action::Pull), Just(Action::Push), Just(Action::Delete)];
    prop_oneof![
        (name, action.clone()).prop_map(|(n, a)| repo(&n, a)),
        Just(Access::catalog()),
        action.prop_map(Access::admin),
    ]
}

proptest! {
    #[test]
    fn parsing_never_panics(text in "\\PC{0,200}") {
        let _ = Scope::parse(&text);
    }

    #[test]
    fn parsing_never_panics_on_near_scopes(text in "[a-z():/*,. _-]{0,80}") {
        let _ = Scope::parse(&text);
    }

    #[test]
    fn valid_scopes_round_trip(accesses in proptest::collection::vec(access_strategy(), 0..8)) {
        let scope = Scope::from_accesses(accesses);
        let text = scope.to_string();
        prop_assert_eq!(Scope::parse(&text).unwrap(), scope.clone());
        for access in scope.accesses() {
            let single = Scope::parse(&access.to_string()).unwrap().into_accesses();
            prop_assert_eq!(single, vec![access.clone()]);
        }
    }
}
