//! auth-jwt.md's example key and token against the verifier, at the example's own time.

use super::*;

const SPEC_KID: &str = "PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6";
const SPEC_X: &str = "m7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q";
const SPEC_Y: &str = "dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc";
const SPEC_D: &str = "R7OnbfMaD5J2jl7GeE8ESo7CnHSBm_1N2k9IXYFrKJA";

/// The issuer of auth-jwt.md's example, trusting the example key through a JWKS.
fn spec_issuer() -> [TrustedIssuer; 1] {
    let jwks = format!(
        r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"{SPEC_KID}","x":"{SPEC_X}","y":"{SPEC_Y}"}}]}}"#
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.jwks");
    std::fs::write(&path, jwks).unwrap();
    crate::ensure_crypto_provider();
    let keys = PublicKey::load_jwks_file(&path).unwrap();
    let issuer = TrustedIssuer::new("auth.docker.com".into(), "registry.docker.com".into(), keys);
    [issuer.unwrap()]
}

/// The example's published signature does not verify with the example key (an
/// independent ECDSA implementation agrees), so the example token must be refused.
#[test]
fn refuses_the_spec_example_token_whose_signature_is_wrong() {
    let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiIsImtpZCI6IlBZWU86VEVXVTpWN0pIOjI2SlY6QVFUWjpMSkMzOlNYVko6WEdIQTozNEYyOjJMQVE6WlJNSzpaN1E2In0.eyJpc3MiOiJhdXRoLmRvY2tlci5jb20iLCJzdWIiOiJqbGhhd24iLCJhdWQiOiJyZWdpc3RyeS5kb2NrZXIuY29tIiwiZXhwIjoxNDE1Mzg3MzE1LCJuYmYiOjE0MTUzODcwMTUsImlhdCI6MTQxNTM4NzAxNSwianRpIjoidFlKQ08xYzZjbnl5N2tBbjBjN3JLUGdiVjFIMWJGd3MiLCJhY2Nlc3MiOlt7InR5cGUiOiJyZXBvc2l0b3J5IiwibmFtZSI6InNhbWFsYmEvbXktYXBwIiwiYWN0aW9ucyI6WyJwdXNoIl19XX0.QhflHPfbd6eVF4lM9bwYpFZIV0PfikbyXuLx959ykRTBpe3CYnzs6YBK8FToVb5R47920PVLrh8zuLzdCr9t3w";
    let result = verify_claims(&spec_issuer(), token, 1_415_387_100.0);
    assert_eq!(result.err(), Some(TokenRejection::BadSignature));
}

/// The example's claim set, signed with the example's private key, verifies inside its
/// validity (with the leeway) and is refused outside it.
#[test]
fn verifies_the_spec_example_claims_signed_with_the_spec_key() {
    let token = spec_token();
    let issuers = spec_issuer();
    let verified = verify_claims(&issuers, &token, 1_415_387_100.0).unwrap();
    assert_eq!(verified.claims.sub.as_deref(), Some("jlhawn"));
    assert_eq!(verified.claims.access.len(), 1);
    assert!(verify_claims(&issuers, &token, 1_415_387_315.0 + 29.0).is_ok());
    assert_eq!(
        verify_claims(&issuers, &token, 1_415_387_315.0 + 31.0).err(),
        Some(TokenRejection::Expired)
    );
    assert_eq!(
        verify_claims(&issuers, &token, 1_415_387_015.0 - 31.0).err(),
        Some(TokenRejection::NotYetValid)
    );
}

/// The example's claim set, signed with the example's private key.
fn spec_token() -> String {
    let b64 = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap();
    let pkcs8 = [
        hex("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420"),
        b64(SPEC_D),
        hex("a144034200"),
        vec![4],
        b64(SPEC_X),
        b64(SPEC_Y),
    ]
    .concat();
    let key = jsonwebtoken::EncodingKey::from_ec_der(&pkcs8);
    let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
    header.kid = Some(SPEC_KID.into());
    let claims = serde_json::json!({
        "iss": "auth.docker.com", "sub": "jlhawn", "aud": "registry.docker.com",
        "exp": 1_415_387_315, "nbf": 1_415_387_015, "iat": 1_415_387_015,
        "jti": "tYJCO1c6cnyy7kAn0c7rKPgbV1H1bFws",
        "access": [{"type": "repository", "name": "samalba/my-app", "actions": ["push", "pull"]}]
    });
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// A verified token is checked in full once, then served from the cache inside its validity
/// window; outside it the full checks run again and refuse it for the right reason.
#[test]
fn remembers_a_verified_token_until_it_leaves_its_window() {
    let token = spec_token();
    let verifier = TokenVerifier::new(spec_issuer().to_vec()).unwrap();
    let checks = || {
        verifier
            .full_checks
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let first = verifier.verify_at(&token, 1_415_387_100.0).unwrap();
    assert_eq!(first.subject, "jlhawn");
    assert_eq!(first.access.len(), 2);
    let again = verifier.verify_at(&token, 1_415_387_200.0).unwrap();
    assert_eq!(again, first);
    assert_eq!(checks(), 1);
    assert!(matches!(
        verifier.verify_at(&token, 1_415_387_315.0 + 31.0),
        Err(AuthError::InvalidToken(TokenRejection::Expired))
    ));
    assert!(matches!(
        verifier.verify_at(&token, 1_415_387_015.0 - 31.0),
        Err(AuthError::InvalidToken(TokenRejection::NotYetValid))
    ));
    assert_eq!(checks(), 3);
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert!(verifier.verify_at(&forged, 1_415_387_100.0).is_err());
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
