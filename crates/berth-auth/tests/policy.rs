//! Policy decisions: one table of identities x accesses, groups, anonymous pull, grant().

use berth_auth::{Access, Action, AuthError, Decision, Identity, Policy, PolicyConfig};

const CONFIG: &str = r#"
anonymous_pull = ["public/*"]

[groups]
readers = ["rita"]
team-writers = ["walt"]
ops = ["olga"]

[[rules]]
repositories = "team/*"
groups = ["readers"]
actions = ["pull"]

[[rules]]
repositories = "other/tool"
users = ["oscar"]
actions = ["pull", "push", "delete"]

[[rules]]
repositories = "team/app"
groups = ["team-writers"]
actions = ["pull", "push"]

[admins]
users = ["ada"]
groups = ["ops"]
"#;

fn policy() -> Policy {
    let config: PolicyConfig = toml::from_str(CONFIG).unwrap();
    Policy::from_config(&config).unwrap()
}

fn repo(name: &str, action: Action) -> Access {
    Access::repository(name.parse().unwrap(), action)
}

#[test]
fn every_identity_against_every_access() {
    use Decision::{Allow as A, Forbidden as F, Unauthenticated as U};
    let accesses = [
        repo("team/app", Action::Pull),
        repo("team/app", Action::Push),
        repo("team/app", Action::Delete),
        Access::catalog(),
        Access::admin(Action::Pull),
        Access::admin(Action::Push),
    ];
    let table = [
        (Identity::Anonymous, [U, U, U, A, U, U]),
        (Identity::user("rita"), [A, F, F, A, F, F]),
        (Identity::user("oscar"), [F, F, F, A, F, F]),
        (Identity::user("walt"), [A, A, F, A, F, F]),
        (Identity::user("ada"), [A, A, A, A, A, A]),
        (Identity::user("olga"), [A, A, A, A, A, A]),
        (Identity::user("nobody"), [F, F, F, A, F, F]),
    ];
    let policy = policy();
    for (identity, expected) in table {
        for (access, want) in accesses.iter().zip(expected) {
            assert_eq!(
                policy.decide(&identity, access),
                want,
                "{identity:?} {access}"
            );
            assert_eq!(policy.allows(&identity, access), want == A);
        }
    }
}

#[test]
fn rules_apply_to_their_repositories_only() {
    let policy = policy();
    let oscar = Identity::user("oscar");
    assert!(policy.allows(&oscar, &repo("other/tool", Action::Delete)));
    assert!(!policy.allows(&oscar, &repo("other/tool2", Action::Pull)));
    assert!(!policy.allows(&oscar, &repo("other", Action::Pull)));
    let rita = Identity::user("rita");
    assert!(
        policy.allows(&rita, &repo("team/app/web", Action::Pull)),
        "* spans /"
    );
    assert!(!policy.allows(&rita, &repo("team", Action::Pull)));
    assert!(!policy.allows(&rita, &repo("teams/app", Action::Pull)));
}

#[test]
fn groups_count_from_the_policy_and_from_the_identity() {
    let policy = policy();
    let push = repo("team/app", Action::Push);
    assert!(
        policy.allows(&Identity::user("walt"), &push),
        "policy's own groups"
    );
    let carried = Identity::User {
        name: "newcomer".into(),
        groups: vec!["team-writers".into()],
    };
    assert!(
        policy.allows(&carried, &push),
        "groups carried by the identity"
    );
    assert_eq!(policy.groups().of("walt"), ["team-writers"]);
    assert!(policy.groups().of("stranger").is_empty());
}

#[test]
fn anonymous_pull_covers_its_patterns_for_everyone_and_pull_only() {
    let policy = policy();
    for identity in [Identity::Anonymous, Identity::user("nobody")] {
        assert!(policy.allows(&identity, &repo("public/base", Action::Pull)));
        assert!(policy.allows(&identity, &repo("public/a/b", Action::Pull)));
        assert!(!policy.allows(&identity, &repo("public/base", Action::Push)));
        assert!(!policy.allows(&identity, &repo("publicity/x", Action::Pull)));
    }
}

#[test]
fn without_anonymous_pull_anonymous_clients_get_nothing() {
    let config: PolicyConfig = toml::from_str(&CONFIG.replace(r#"["public/*"]"#, "[]")).unwrap();
    let policy = Policy::from_config(&config).unwrap();
    assert_eq!(
        policy.decide(&Identity::Anonymous, &Access::catalog()),
        Decision::Unauthenticated
    );
    assert!(policy.allows(&Identity::user("nobody"), &Access::catalog()));
    let empty = Policy::from_config(&PolicyConfig::default()).unwrap();
    assert!(
        !empty.allows(&Identity::user("x"), &repo("a", Action::Pull)),
        "default deny"
    );
}

#[test]
fn grant_is_the_intersection_in_the_order_asked() {
    let policy = policy();
    let asked = [
        repo("team/app", Action::Pull),
        repo("team/app", Action::Push),
        repo("team/app", Action::Delete),
        repo("other/tool", Action::Pull),
        Access::catalog(),
    ];
    let walt = policy.grant(&Identity::user("walt"), &asked);
    assert_eq!(walt, [asked[0].clone(), asked[1].clone(), asked[4].clone()]);
    let anonymous = policy.grant(&Identity::Anonymous, &asked);
    assert_eq!(anonymous, [Access::catalog()]);
    assert_eq!(policy.grant(&Identity::user("ada"), &asked), asked);
    assert!(policy.grant(&Identity::user("rita"), &[]).is_empty());
}

#[test]
fn star_grants_every_action() {
    let config: PolicyConfig = toml::from_str(
        r#"[[rules]]
           repositories = "*"
           users = ["u"]
           actions = ["*"]"#,
    )
    .unwrap();
    let policy = Policy::from_config(&config).unwrap();
    for action in Action::ALL {
        assert!(policy.allows(&Identity::user("u"), &repo("any/thing", action)));
    }
    assert!(!policy.allows(&Identity::user("u"), &Access::admin(Action::Pull)));
}

#[test]
fn configuration_mistakes_are_refused() {
    let cases = [
        ("unknown = 1", "unknown field"),
        (
            "[[rules]]\nrepositories = \"a\"\nusers = [\"u\"]\nactions = [\"pull\"]\nextra = 1",
            "unknown field",
        ),
        ("[admins]\nuser = [\"u\"]", "unknown field"),
    ];
    for (text, expected) in cases {
        let error = toml::from_str::<PolicyConfig>(text).err().unwrap();
        assert!(error.to_string().contains(expected), "{text}: {error}");
    }
    let invalid = [
        (
            "[[rules]]\nrepositories = \"a\"\nusers = [\"u\"]\nactions = [\"write\"]",
            "unknown action \"write\"",
        ),
        (
            "[[rules]]\nrepositories = \"a\"\nusers = [\"u\"]\nactions = []",
            "grants no actions",
        ),
        (
            "[[rules]]\nrepositories = \"a\"\nactions = [\"pull\"]",
            "names no users or groups",
        ),
        (
            "[[rules]]\nrepositories = \"a[\"\nusers = [\"u\"]\nactions = [\"pull\"]",
            "invalid pattern",
        ),
        (
            "[[rules]]\nrepositories = \"a\"\ngroups = [\"ghosts\"]\nactions = [\"pull\"]",
            "\"ghosts\"",
        ),
        (
            "[admins]\ngroups = [\"ghosts\"]",
            "admins names the group \"ghosts\"",
        ),
        (
            "anonymous_pull = [\"[\"]",
            "anonymous_pull: invalid pattern",
        ),
    ];
    for (text, expected) in invalid {
        let config: PolicyConfig = toml::from_str(text).unwrap();
        match Policy::from_config(&config) {
            Err(AuthError::Config(message)) => assert!(message.contains(expected), "{message}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}
