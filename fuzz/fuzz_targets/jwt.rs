//! Bearer tokens through `TokenVerifier::verify` (and `TokenIssuer::verify_refresh`), for a
//! verifier trusting one issuer with a key generated at start. Inputs are arbitrary strings,
//! the issuer's own tokens with bytes changed, and their parts spliced with arbitrary ones.
//! Nothing may panic, and nothing but a token the issuer signed may verify.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use berth_auth::{
    Access, Action, IssuerConfig, SigningKey, TokenIssuer, TokenVerifier, VerifiedToken,
};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    _dir: tempfile::TempDir,
    issuer: TokenIssuer,
    verifier: TokenVerifier,
    access: String,
    refresh: String,
    expected: VerifiedToken,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let key = SigningKey::load_or_generate(&dir.path().join("token.key")).expect("key");
        let config = IssuerConfig {
            ttl: Duration::from_secs(7 * 86_400),
            refresh_ttl: Duration::from_secs(7 * 86_400),
            ..IssuerConfig::new("berth.fuzz", "registry.fuzz")
        };
        let issuer = TokenIssuer::new(config, key).expect("issuer");
        let verifier = TokenVerifier::new(vec![issuer.trusted()]).expect("verifier");
        let repo = "team/app".parse().expect("name");
        let granted = [Access::repository(repo, Action::Pull)];
        let access = issuer.issue("alice", &granted).expect("token").token;
        let refresh = issuer.issue_refresh("alice").expect("refresh token");
        let expected = verifier.verify(&access).expect("own token verifies");
        Fixture {
            _dir: dir,
            issuer,
            verifier,
            access,
            refresh,
            expected,
        }
    })
}

#[derive(Debug, Arbitrary)]
enum Input {
    /// Any text at all.
    Raw(String),
    /// The issuer's access (or refresh) token with bytes replaced: `(position, byte)`.
    Mutated {
        refresh: bool,
        changes: Vec<(u16, u8)>,
    },
    /// One of the token's three parts (0, 1, 2) replaced with arbitrary text.
    Spliced {
        refresh: bool,
        part: u8,
        text: String,
    },
}

fuzz_target!(|input: Input| {
    let f = fixture();
    let own = |refresh: bool| if refresh { &f.refresh } else { &f.access };
    let token = match input {
        Input::Raw(text) => text,
        Input::Mutated { refresh, changes } => {
            let mut bytes = own(refresh).clone().into_bytes();
            for (position, byte) in changes {
                let len = bytes.len();
                bytes[usize::from(position) % len] = byte;
            }
            match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(_) => return,
            }
        }
        Input::Spliced {
            refresh,
            part,
            text,
        } => {
            let mut parts: Vec<&str> = own(refresh).split('.').collect();
            parts[usize::from(part) % 3] = &text;
            parts.join(".")
        }
    };
    if let Ok(verified) = f.verifier.verify(&token) {
        assert_eq!(token, f.access, "a token the issuer did not sign verified");
        assert_eq!(verified, f.expected);
    }
    if let Ok(subject) = f.issuer.verify_refresh(&token) {
        assert_eq!(
            token, f.refresh,
            "a refresh token the issuer did not sign verified"
        );
        assert_eq!(subject, "alice");
    }
});
