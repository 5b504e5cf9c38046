//! Happy paths: our own issuer end to end, its key file, and external issuers trusted through
//! PEM public keys, certificates and JWKS files.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use berth_auth::{
    Access, Action, AuthError, ExternalIssuerConfig, IssuerConfig, SigningKey, TokenIssuer,
    TokenVerifier, TrustedIssuer,
};
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn own_issuer_round_trip() {
    let f = Fixture::new();
    let asked = [
        push("team/app"),
        pull("team/app"),
        Access::catalog(),
        Access::admin(Action::Pull),
    ];
    let issued = f.issuer.issue("alice", &asked).unwrap();
    assert_eq!(issued.expires_in, Duration::from_secs(300));

    let parts: Vec<&str> = issued.token.split('.').collect();
    let header = decode(parts[0]);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], f.kid());
    let claims = decode(parts[1]);
    assert_eq!(
        (claims["iss"].as_str(), claims["aud"].as_str()),
        (Some(ISSUER), Some(SERVICE))
    );
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["nbf"].as_u64(), Some(iat));
    assert_eq!(claims["exp"].as_u64(), Some(iat + 300));
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 32));
    assert_eq!(
        claims["access"],
        json!([
            {"type": "repository", "name": "team/app", "actions": ["pull", "push"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]},
            {"type": "registry", "name": "admin", "actions": ["pull"]},
        ])
    );
    assert_eq!(
        issued
            .issued_at
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        iat
    );

    let verified = f.verifier.verify(&issued.token).unwrap();
    assert_eq!(
        (verified.subject.as_str(), verified.issuer.as_str()),
        ("alice", ISSUER)
    );
    for access in &asked {
        assert!(verified.allows(access), "{access}");
    }
    assert_eq!(verified.identity(), berth_auth::Identity::user("alice"));
    let anonymous = f.issuer.issue("", &[pull("public/x")]).unwrap();
    let verified = f.verifier.verify(&anonymous.token).unwrap();
    assert_eq!(verified.identity(), berth_auth::Identity::Anonymous);
}

#[test]
fn refresh_tokens_carry_only_their_subject() {
    let f = Fixture::new();
    let refresh = f.issuer.issue_refresh("alice", "stamp").unwrap();
    let claims = decode(refresh.split('.').nth(1).unwrap());
    assert_eq!(claims["token_use"], "refresh");
    assert_eq!(claims["access"], json!([]));
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 30 * 24 * 3600);
    assert_eq!(f.issuer.verify_refresh(&refresh).unwrap().subject, "alice");
    assert!(matches!(
        f.issuer.issue_refresh("", "stamp"),
        Err(AuthError::Config(_))
    ));
}

#[test]
fn issuer_configuration_is_checked() {
    let f = Fixture::new();
    let key = || SigningKey::load(&f.key_path).unwrap();
    let short = IssuerConfig {
        ttl: Duration::from_secs(59),
        ..IssuerConfig::new(ISSUER, SERVICE)
    };
    assert!(matches!(
        TokenIssuer::new(short, key()),
        Err(AuthError::Config(_))
    ));
    let inverted = IssuerConfig {
        refresh_ttl: Duration::from_secs(60),
        ..IssuerConfig::new(ISSUER, SERVICE)
    };
    assert!(matches!(
        TokenIssuer::new(inverted, key()),
        Err(AuthError::Config(_))
    ));
    assert!(TokenIssuer::new(IssuerConfig::new("", SERVICE), key()).is_err());
    let minute = IssuerConfig {
        ttl: Duration::from_secs(60),
        ..IssuerConfig::new(ISSUER, SERVICE)
    };
    let issuer = TokenIssuer::new(minute, key()).unwrap();
    assert_eq!(
        issuer.issue("a", &[]).unwrap().expires_in,
        Duration::from_secs(60)
    );
    let twice = TokenVerifier::new(vec![f.issuer.trusted(), f.issuer.trusted()]);
    assert!(matches!(twice, Err(AuthError::Config(_))));
}

#[test]
fn signing_key_is_generated_once_private_and_reused() {
    let f = Fixture::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&f.key_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pem = std::fs::read_to_string(&f.key_path).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let again = SigningKey::load_or_generate(&f.key_path).unwrap();
    assert_eq!(again.kid(), f.kid());
    assert_eq!(
        std::fs::read_to_string(&f.key_path).unwrap(),
        pem,
        "not replaced"
    );
    let leftovers = std::fs::read_dir(f.key_path.parent().unwrap())
        .unwrap()
        .count();
    assert_eq!(leftovers, 1, "no temporary file left behind");
    let kid = f.kid();
    assert_eq!(kid.len(), 59);
    assert!(kid.split(':').all(|group| group.len() == 4));
}

#[test]
fn signing_key_must_be_a_pkcs8_p256_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    let p384 = key_pair(&rcgen::PKCS_ECDSA_P384_SHA384);
    std::fs::write(&path, p384.serialize_pem()).unwrap();
    let error = SigningKey::load(&path).err().unwrap();
    assert!(
        error.to_string().contains("not an ECDSA P-256 private key"),
        "{error}"
    );
    let sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
    std::fs::write(&path, sec1).unwrap();
    let error = SigningKey::load(&path).err().unwrap();
    assert!(
        error.to_string().contains("openssl pkcs8 -topk8 -nocrypt"),
        "{error}"
    );
    std::fs::write(&path, "garbage").unwrap();
    assert!(matches!(
        SigningKey::load(&path),
        Err(AuthError::Key { .. })
    ));
    assert!(matches!(
        SigningKey::load(&dir.path().join("absent.pem")),
        Err(AuthError::Io { .. })
    ));
}

/// An external issuer "ext.test" whose tokens address our service.
fn external(
    keys: Vec<std::path::PathBuf>,
    jwks: Option<std::path::PathBuf>,
) -> ExternalIssuerConfig {
    ExternalIssuerConfig {
        issuer: "ext.test".into(),
        audience: SERVICE.into(),
        keys,
        jwks,
    }
}

fn external_claims() -> Value {
    let mut claims = claims("ext/app");
    claims["iss"] = json!("ext.test");
    claims
}

#[test]
fn external_issuer_with_an_rsa_pem_key() {
    let dir = tempfile::tempdir().unwrap();
    let rsa = key_pair(&rcgen::PKCS_RSA_SHA256);
    let path = dir.path().join("ext.pem");
    std::fs::write(&path, rsa.public_key_pem()).unwrap();
    let trusted = TrustedIssuer::from_config(&external(vec![path.clone()], None)).unwrap();
    let f = Fixture::with_trusted(vec![trusted]);
    let key = EncodingKey::from_rsa_der(&rsa_pkcs1(&rsa));
    let public = berth_auth::PublicKey::load_pem_file(&path)
        .unwrap()
        .remove(0);
    for alg in [Algorithm::RS256, Algorithm::RS512, Algorithm::PS256] {
        for kid in [
            None,
            Some(public.kids()[0].as_str()),
            Some(public.kids()[1].as_str()),
        ] {
            let token = sign(alg, kid, &external_claims(), &key);
            let verified = f.verifier.verify(&token).unwrap();
            assert_eq!(verified.issuer, "ext.test");
            assert!(verified.allows(&pull("ext/app")), "{alg:?} {kid:?}");
        }
    }
    let ours = claims("ext/app");
    let token = sign(Algorithm::RS256, None, &ours, &key);
    assert!(
        f.verifier.verify(&token).is_err(),
        "not trusted for our own issuer"
    );
}

#[test]
fn external_issuer_with_a_certificate_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let p384 = key_pair(&rcgen::PKCS_ECDSA_P384_SHA384);
    let p256 = key_pair(&rcgen::PKCS_ECDSA_P256_SHA256);
    let cert = |pair: &rcgen::KeyPair| {
        let params = rcgen::CertificateParams::new(vec!["ext.test".to_owned()]).unwrap();
        params.self_signed(pair).unwrap().pem()
    };
    let path = dir.path().join("bundle.pem");
    std::fs::write(&path, cert(&p384) + &cert(&p256)).unwrap();
    let keys = berth_auth::PublicKey::load_pem_file(&path).unwrap();
    assert_eq!(keys.len(), 2);
    let f = Fixture::with_trusted(vec![TrustedIssuer::from_config(&external(
        vec![path],
        None,
    ))
    .unwrap()]);
    let es384 = EncodingKey::from_ec_der(p384.serialized_der());
    let token = sign(
        Algorithm::ES384,
        Some(keys[0].kid()),
        &external_claims(),
        &es384,
    );
    assert!(f.verifier.verify(&token).unwrap().allows(&pull("ext/app")));
    let es256 = EncodingKey::from_ec_der(p256.serialized_der());
    let token = sign(
        Algorithm::ES256,
        Some(keys[1].kid()),
        &external_claims(),
        &es256,
    );
    assert!(f.verifier.verify(&token).is_ok());
    for kid in [None, Some("PYYO:TEWU")] {
        let token = sign(Algorithm::ES256, kid, &external_claims(), &es256);
        match f.verifier.verify(&token) {
            Err(AuthError::InvalidToken(berth_auth::TokenRejection::UnknownKey)) => {}
            other => panic!("{kid:?}: several keys need a known kid: {other:?}"),
        }
    }
}

#[test]
fn external_issuer_with_a_jwks_file() {
    let dir = tempfile::tempdir().unwrap();
    let ed = key_pair(&rcgen::PKCS_ED25519);
    let rsa = key_pair(&rcgen::PKCS_RSA_SHA256);
    let rsa_der = pkcs1::RsaPublicKey::try_from(rsa.public_key_raw()).unwrap();
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let jwks = json!({"keys": [
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": b64(ed.public_key_raw())},
        {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
         "n": b64(rsa_der.modulus.as_bytes()), "e": b64(rsa_der.public_exponent.as_bytes())},
        {"kty": "EC", "crv": "P-256", "kid": "enc-1", "use": "enc",
         "x": b64(&[1; 32]), "y": b64(&[2; 32])},
    ]});
    let path = dir.path().join("ext.jwks");
    std::fs::write(&path, jwks.to_string()).unwrap();
    let trusted = TrustedIssuer::from_config(&external(vec![], Some(path))).unwrap();
    let f = Fixture::with_trusted(vec![trusted]);

    let ed_key = EncodingKey::from_ed_der(ed.serialized_der());
    let token = sign(Algorithm::EdDSA, Some("ed-1"), &external_claims(), &ed_key);
    assert!(f.verifier.verify(&token).unwrap().allows(&pull("ext/app")));
    let rsa_key = EncodingKey::from_rsa_der(&rsa_pkcs1(&rsa));
    let token = sign(
        Algorithm::RS256,
        Some("rsa-1"),
        &external_claims(),
        &rsa_key,
    );
    assert!(f.verifier.verify(&token).is_ok());
    let token = sign(
        Algorithm::PS256,
        Some("rsa-1"),
        &external_claims(),
        &rsa_key,
    );
    assert!(
        f.verifier.verify(&token).is_err(),
        "the JWK's alg narrows it to RS256"
    );
    let token = sign(Algorithm::EdDSA, Some("rsa-1"), &external_claims(), &ed_key);
    assert!(
        f.verifier.verify(&token).is_err(),
        "kid of another key type"
    );
    let token = sign(
        Algorithm::ES256,
        Some("enc-1"),
        &external_claims(),
        &f.own_key(),
    );
    assert!(
        f.verifier.verify(&token).is_err(),
        "encryption keys are skipped"
    );
}

#[test]
fn external_issuer_configuration_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let pem = write(
        "k.pem",
        &key_pair(&rcgen::PKCS_ECDSA_P256_SHA256).public_key_pem(),
    );
    let oct = write("oct.jwks", r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#);
    let hs = write(
        "hs.jwks",
        &format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","alg":"HS256","x":"{0}","y":"{0}"}}]}}"#,
            URL_SAFE_NO_PAD.encode([7u8; 32])
        ),
    );
    let p521 = write(
        "p521.jwks",
        r#"{"keys":[{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}]}"#,
    );
    let private = write(
        "private.pem",
        &key_pair(&rcgen::PKCS_ECDSA_P256_SHA256).serialize_pem(),
    );
    let empty = write("empty.pem", "nothing here");
    let cases = [
        (external(vec![], None), "either keys"),
        (
            external(vec![pem.clone()], Some(oct.clone())),
            "either keys",
        ),
        (
            external(vec![], Some(oct)),
            "symmetric (oct) keys are not accepted",
        ),
        (external(vec![], Some(hs)), "does not fit its key type"),
        (external(vec![], Some(p521)), "unsupported EC curve"),
        (
            external(vec![private], None),
            "unexpected PEM block \"PRIVATE KEY\"",
        ),
        (external(vec![empty], None), "PEM"),
    ];
    for (config, expected) in cases {
        let error = TrustedIssuer::from_config(&config).err().unwrap();
        assert!(error.to_string().contains(expected), "{expected}: {error}");
    }
    let toml_config: ExternalIssuerConfig = toml::from_str(&format!(
        "issuer = \"ext.test\"\naudience = \"{SERVICE}\"\nkeys = [{:?}]",
        pem.display().to_string()
    ))
    .unwrap();
    assert!(TrustedIssuer::from_config(&toml_config).is_ok());
    assert!(
        toml::from_str::<ExternalIssuerConfig>("issuer = \"a\"\naudience = \"b\"\nkey = []")
            .is_err()
    );
}
