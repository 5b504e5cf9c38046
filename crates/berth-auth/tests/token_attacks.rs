//! Every way a forged, stale or misused token must be refused, each with its own reason.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use berth_auth::{AuthError, TokenRejection, TrustedIssuer, MAX_TOKEN_BYTES};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

fn rejection(fixture: &Fixture, token: &str) -> TokenRejection {
    match fixture.verifier.verify(token) {
        Err(AuthError::InvalidToken(reason)) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[test]
fn baseline_forged_with_our_key_is_accepted() {
    let f = Fixture::new();
    let verified = f.verifier.verify(&f.forge(&claims("team/app"))).unwrap();
    assert_eq!(verified.subject, "alice");
    assert!(verified.allows(&pull("team/app")));
}

#[test]
fn expired_tokens_are_refused_beyond_the_leeway() {
    let f = Fixture::new();
    let stale = with(claims("a"), "exp", json!(now() - 3600));
    assert_eq!(rejection(&f, &f.forge(&stale)), TokenRejection::Expired);
    let just = with(claims("a"), "exp", json!(now() - 10));
    assert!(
        f.verifier.verify(&f.forge(&just)).is_ok(),
        "within 30 s of leeway"
    );
}

#[test]
fn tokens_not_yet_valid_are_refused_beyond_the_leeway() {
    let f = Fixture::new();
    let early = with(claims("a"), "nbf", json!(now() + 3600));
    assert_eq!(rejection(&f, &f.forge(&early)), TokenRejection::NotYetValid);
    let skewed = with(claims("a"), "nbf", json!(now() + 10));
    assert!(
        f.verifier.verify(&f.forge(&skewed)).is_ok(),
        "within 30 s of leeway"
    );
}

#[test]
fn wrong_or_missing_issuer_is_refused() {
    let f = Fixture::new();
    let other = with(claims("a"), "iss", json!("evil.example"));
    assert_eq!(rejection(&f, &f.forge(&other)), TokenRejection::WrongIssuer);
    let none = without(claims("a"), "iss");
    assert_eq!(rejection(&f, &f.forge(&none)), TokenRejection::MissingClaim);
}

#[test]
fn wrong_or_missing_audience_is_refused() {
    let f = Fixture::new();
    let other = with(claims("a"), "aud", json!("other-registry"));
    assert_eq!(
        rejection(&f, &f.forge(&other)),
        TokenRejection::WrongAudience
    );
    let list = with(claims("a"), "aud", json!(["x", "y"]));
    assert_eq!(
        rejection(&f, &f.forge(&list)),
        TokenRejection::WrongAudience
    );
    let none = without(claims("a"), "aud");
    assert_eq!(rejection(&f, &f.forge(&none)), TokenRejection::MissingClaim);
    let ours = with(claims("a"), "aud", json!(["x", SERVICE]));
    assert!(
        f.verifier.verify(&f.forge(&ours)).is_ok(),
        "an array naming us"
    );
}

#[test]
fn missing_or_mistyped_expiry_is_refused() {
    let f = Fixture::new();
    let none = without(claims("a"), "exp");
    assert_eq!(rejection(&f, &f.forge(&none)), TokenRejection::MissingClaim);
    let text = with(claims("a"), "exp", json!("never"));
    assert_eq!(rejection(&f, &f.forge(&text)), TokenRejection::Malformed);
    let text_nbf = with(claims("a"), "nbf", json!("99999999999"));
    assert_eq!(
        rejection(&f, &f.forge(&text_nbf)),
        TokenRejection::Malformed
    );
}

#[test]
fn a_token_signed_by_another_key_is_refused() {
    let f = Fixture::new();
    let stranger = key_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    let key = EncodingKey::from_ec_der(stranger.serialized_der());
    let same_kid = sign(Algorithm::ES256, Some(f.kid()), &claims("a"), &key);
    assert_eq!(rejection(&f, &same_kid), TokenRejection::BadSignature);
    let no_kid = sign(Algorithm::ES256, None, &claims("a"), &key);
    assert_eq!(rejection(&f, &no_kid), TokenRejection::BadSignature);
    let other_kid = sign(Algorithm::ES256, Some("ABCD:EFGH"), &claims("a"), &key);
    assert_eq!(rejection(&f, &other_kid), TokenRejection::UnknownKey);
}

#[test]
fn alg_none_is_refused() {
    let f = Fixture::new();
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": f.kid()});
        let token = raw(&header, &claims("a"), b"");
        assert_eq!(
            rejection(&f, &token),
            TokenRejection::UnsupportedAlgorithm,
            "{alg}"
        );
        let unsigned = token.trim_end_matches('.').to_owned();
        assert_eq!(rejection(&f, &unsigned), TokenRejection::Malformed);
    }
}

#[test]
fn hmac_signed_with_the_public_key_is_refused() {
    let f = Fixture::new();
    let public_pem = f.issuer.signing_key().public_key_pem().as_bytes().to_vec();
    let public_der = pem::parse(&public_pem).unwrap().into_contents();
    for secret in [public_pem, public_der] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let key = EncodingKey::from_secret(&secret);
            let token = sign(alg, Some(f.kid()), &claims("a"), &key);
            assert_eq!(
                rejection(&f, &token),
                TokenRejection::HmacAlgorithm,
                "{alg:?}"
            );
        }
    }
}

#[test]
fn an_algorithm_that_does_not_fit_the_key_is_refused() {
    let f = Fixture::new();
    let p384 = key_pair(&rcgen::PKCS_ECDSA_P384_SHA384);
    let es384 = sign(
        Algorithm::ES384,
        Some(f.kid()),
        &claims("a"),
        &EncodingKey::from_ec_der(p384.serialized_der()),
    );
    assert_eq!(rejection(&f, &es384), TokenRejection::AlgorithmMismatch);
    let rsa = key_pair(&rcgen::PKCS_RSA_SHA256);
    let rs256 = sign(
        Algorithm::RS256,
        Some(f.kid()),
        &claims("a"),
        &EncodingKey::from_rsa_der(&rsa_pkcs1(&rsa)),
    );
    assert_eq!(rejection(&f, &rs256), TokenRejection::AlgorithmMismatch);
    let header = json!({"alg": "ES256K", "kid": f.kid()});
    let unknown = raw(&header, &claims("a"), b"sig");
    assert_eq!(
        rejection(&f, &unknown),
        TokenRejection::UnsupportedAlgorithm
    );
}

#[test]
fn tampering_with_any_part_is_refused() {
    let f = Fixture::new();
    let token = f.issuer.issue("alice", &[pull("team/app")]).unwrap().token;
    let parts: Vec<&str> = token.split('.').collect();

    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["access"][0]["actions"] = json!(["pull", "push"]);
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert_eq!(rejection(&f, &tampered), TokenRejection::BadSignature);

    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[10] ^= 1;
    let bad_sig = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(&signature)
    );
    assert_eq!(rejection(&f, &bad_sig), TokenRejection::BadSignature);

    let mut header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    header["typ"] = json!("at+jwt");
    let new_header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    let bad_header = format!("{new_header}.{}.{}", parts[1], parts[2]);
    assert_eq!(rejection(&f, &bad_header), TokenRejection::BadSignature);

    assert!(
        f.verifier.verify(&token).is_ok(),
        "the original still verifies"
    );
}

#[test]
fn oversized_tokens_are_refused_before_parsing() {
    let f = Fixture::new();
    assert_eq!(
        rejection(&f, &"a".repeat(MAX_TOKEN_BYTES + 1)),
        TokenRejection::TooLarge
    );
    let entries: Vec<Value> = (0..200)
        .map(|i| json!({"type": "repository", "name": format!("team/repository-{i}"), "actions": ["pull"]}))
        .collect();
    let big = f.forge(&with(claims("a"), "access", json!(entries)));
    assert!(big.len() > MAX_TOKEN_BYTES);
    assert_eq!(rejection(&f, &big), TokenRejection::TooLarge);
}

#[test]
fn malformed_tokens_are_refused() {
    let f = Fixture::new();
    for token in ["", "a", "a.b", "a.b.c.d", "!!.??.##", "e30.e30.e30"] {
        assert_eq!(rejection(&f, token), TokenRejection::Malformed, "{token:?}");
    }
    let crit = raw(
        &json!({"alg": "ES256", "kid": f.kid(), "crit": ["exp"]}),
        &claims("a"),
        b"",
    );
    assert_eq!(rejection(&f, &crit), TokenRejection::UnsupportedAlgorithm);
}

#[test]
fn a_token_for_one_repository_does_not_reach_another() {
    let f = Fixture::new();
    let token = f.issuer.issue("alice", &[pull("team/a")]).unwrap().token;
    let verified = f.verifier.verify(&token).unwrap();
    assert_eq!(verified.access, [pull("team/a")]);
    assert!(verified.allows(&pull("team/a")));
    assert!(!verified.allows(&pull("team/b")));
    assert!(!verified.allows(&pull("team/a/b")));
}

#[test]
fn a_pull_token_does_not_allow_push() {
    let f = Fixture::new();
    let token = f.issuer.issue("alice", &[pull("team/a")]).unwrap().token;
    let verified = f.verifier.verify(&token).unwrap();
    assert!(!verified.allows(&push("team/a")));
    assert!(!verified.allows(&berth_auth::Access::catalog()));
}

#[test]
fn access_naming_a_glob_or_a_traversal_is_refused() {
    let f = Fixture::new();
    for name in ["team/*", "*", "a/../b", "..", "Team/App", "a//b", ""] {
        let token = f.forge(&claims(name));
        assert_eq!(
            rejection(&f, &token),
            TokenRejection::InvalidAccess,
            "{name:?}"
        );
    }
}

#[test]
fn unknown_actions_and_resource_types_are_dropped() {
    let f = Fixture::new();
    let access = json!([
        {"type": "repository", "name": "a", "actions": ["pull", "frobnicate", "*push"]},
        {"type": "namespace", "name": "anything/*", "actions": ["pull"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    ]);
    let verified = f
        .verifier
        .verify(&f.forge(&with(claims("a"), "access", access)))
        .unwrap();
    assert_eq!(verified.access, [pull("a"), berth_auth::Access::catalog()]);
}

#[test]
fn refresh_and_access_tokens_are_not_interchangeable() {
    let f = Fixture::new();
    let refresh = f.issuer.issue_refresh("alice", "stamp").unwrap();
    assert_eq!(
        rejection(&f, &refresh),
        TokenRejection::RefreshTokenAsAccess
    );
    let access = f.issuer.issue("alice", &[pull("a")]).unwrap().token;
    match f.issuer.verify_refresh(&access) {
        Err(AuthError::InvalidToken(TokenRejection::NotARefreshToken)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(f.issuer.verify_refresh(&refresh).unwrap().subject, "alice");
}

#[test]
fn refresh_tokens_of_another_issuer_are_refused() {
    let other = Fixture::new();
    let f = Fixture::with_trusted(vec![TrustedIssuer::new(
        "other.test".into(),
        SERVICE.into(),
        vec![other.issuer.signing_key().public_key().clone()],
    )
    .unwrap()]);
    let mut forged = claims("a");
    forged["iss"] = json!("other.test");
    forged["token_use"] = json!("refresh");
    let token = other.forge(&forged);
    match f.issuer.verify_refresh(&token) {
        Err(AuthError::InvalidToken(TokenRejection::WrongIssuer)) => {}
        result => panic!("{result:?}"),
    }
    assert_eq!(rejection(&f, &token), TokenRejection::RefreshTokenAsAccess);
}

#[test]
fn a_key_is_only_trusted_for_its_own_issuer() {
    let other = Fixture::new();
    let f = Fixture::with_trusted(vec![TrustedIssuer::new(
        "other.test".into(),
        SERVICE.into(),
        vec![other.issuer.signing_key().public_key().clone()],
    )
    .unwrap()]);
    let impersonation = other.forge(&claims("a"));
    assert_eq!(rejection(&f, &impersonation), TokenRejection::UnknownKey);
    let mut own = claims("a");
    own["iss"] = json!("other.test");
    assert!(f.verifier.verify(&other.forge(&own)).is_ok());
}
