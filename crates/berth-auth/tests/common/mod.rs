//! Shared fixtures of the token tests: our issuer on a generated key, and helpers to forge
//! tokens with any key, header and claims.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use berth_auth::{
    Access, Action, IssuerConfig, SigningKey, TokenIssuer, TokenVerifier, TrustedIssuer,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

pub const ISSUER: &str = "berth.test";
pub const SERVICE: &str = "registry.test";

/// Our issuer with a freshly generated key, and a verifier trusting it (plus `extra`).
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub key_path: PathBuf,
    pub issuer: TokenIssuer,
    pub verifier: TokenVerifier,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_trusted(Vec::new())
    }

    pub fn with_trusted(extra: Vec<TrustedIssuer>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("keys/token.pem");
        let key = SigningKey::load_or_generate(&key_path).unwrap();
        let issuer = TokenIssuer::new(IssuerConfig::new(ISSUER, SERVICE), key).unwrap();
        let mut trusted = vec![issuer.trusted()];
        trusted.extend(extra);
        let verifier = TokenVerifier::new(trusted).unwrap();
        Fixture {
            dir,
            key_path,
            issuer,
            verifier,
        }
    }

    /// Our private key, for forging tokens that carry a valid signature.
    pub fn own_key(&self) -> EncodingKey {
        EncodingKey::from_ec_der(&private_der(&self.key_path))
    }

    /// A token signed by our key with our `kid`, for `claims`.
    pub fn forge(&self, claims: &Value) -> String {
        sign(
            Algorithm::ES256,
            Some(self.issuer.signing_key().kid()),
            claims,
            &self.own_key(),
        )
    }

    pub fn kid(&self) -> &str {
        self.issuer.signing_key().kid()
    }
}

/// The DER inside the first PEM block of `path`.
pub fn private_der(path: &Path) -> Vec<u8> {
    pem::parse(std::fs::read(path).unwrap())
        .unwrap()
        .into_contents()
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Valid claims of our issuer granting pull on `repo`; tests change one thing at a time.
pub fn claims(repo: &str) -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "sub": "alice", "aud": SERVICE,
        "exp": now + 300, "nbf": now, "iat": now, "jti": "test",
        "access": [{"type": "repository", "name": repo, "actions": ["pull"]}],
    })
}

pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// A token assembled by hand: any header, any payload, any signature bytes.
pub fn raw(header: &Value, payload: &Value, signature: &[u8]) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!(
        "{}.{}.{}",
        part(header),
        part(payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

pub fn pull(repo: &str) -> Access {
    Access::repository(repo.parse().unwrap(), Action::Pull)
}

pub fn push(repo: &str) -> Access {
    Access::repository(repo.parse().unwrap(), Action::Push)
}

/// A new key pair of `alg` with its PKCS#8 DER.
pub fn key_pair(alg: &'static rcgen::SignatureAlgorithm) -> rcgen::KeyPair {
    rcgen::KeyPair::generate_for(alg).unwrap()
}

/// PKCS#1 `RSAPrivateKey` inside an RSA PKCS#8 document (what aws-lc signs RS256 with).
pub fn rsa_pkcs1(pair: &rcgen::KeyPair) -> Vec<u8> {
    let info = pkcs8::PrivateKeyInfo::try_from(pair.serialized_der()).unwrap();
    info.private_key.to_vec()
}
