//! Trusted public keys, read from PEM files (keys or certificates) and JWKS files, with their
//! key ids.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, EllipticCurveKeyParameters, EllipticCurveKeyType, Jwk,
    JwkSet, OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse, RSAKeyParameters, RSAKeyType,
    ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use sha2::{Digest, Sha256};
use spki::der::asn1::ObjectIdentifier;
use spki::der::{Decode, Encode};

use crate::AuthError;

/// A public key trusted to verify tokens, with the algorithms its type allows and the key ids
/// it is known by.
#[derive(Clone)]
pub struct PublicKey {
    pub(crate) decoding: DecodingKey,
    pub(crate) algorithms: Vec<Algorithm>,
    kids: Vec<String>,
}

impl PublicKey {
    /// The key's main id. For keys from PEM files (our own key too) it is distribution's
    /// (libtrust) form: the SHA-256 of the DER SubjectPublicKeyInfo, cut to 240 bits, base32,
    /// in twelve groups of four separated by `:` (the shape of the `kid` in auth-jwt.md's
    /// example). For a JWKS key it is its `kid`, or its RFC 7638 thumbprint without one.
    pub fn kid(&self) -> &str {
        &self.kids[0]
    }

    /// Every id this key answers to: the libtrust id and the RFC 7638 JWK thumbprint for keys
    /// from PEM files, the `kid` (or the thumbprint) for keys from a JWKS.
    pub fn kids(&self) -> &[String] {
        &self.kids
    }

    /// Every key in a PEM file: `PUBLIC KEY`, `RSA PUBLIC KEY` and `CERTIFICATE` blocks (a
    /// certificate bundle gives one key per certificate; certificates are not validated, the
    /// file is trusted as configured). EC P-256/P-384, RSA and Ed25519 keys are accepted.
    ///
    /// Errors: [`AuthError::Key`] for a file without keys, other PEM blocks, other key types.
    pub fn load_pem_file(path: &Path) -> Result<Vec<PublicKey>, AuthError> {
        let bytes = std::fs::read(path).map_err(|e| AuthError::io(path, e))?;
        let blocks =
            pem::parse_many(&bytes).map_err(|e| AuthError::key(path, format!("not PEM: {e}")))?;
        if blocks.is_empty() {
            return Err(AuthError::key(path, "no PEM block found"));
        }
        blocks
            .iter()
            .map(|block| {
                let spki = match block.tag() {
                    "PUBLIC KEY" => Ok(block.contents().to_vec()),
                    "RSA PUBLIC KEY" => rsa_spki(block.contents()),
                    "CERTIFICATE" => x509_cert::Certificate::from_der(block.contents())
                        .map_err(|e| format!("invalid certificate: {e}"))
                        .and_then(|cert| {
                            let info = cert.tbs_certificate.subject_public_key_info;
                            info.to_der().map_err(|e| e.to_string())
                        }),
                    other => Err(format!(
                        "unexpected PEM block {other:?}; expected PUBLIC KEY or CERTIFICATE"
                    )),
                };
                spki.and_then(|der| PublicKey::from_spki_der(&der))
                    .map_err(|problem| AuthError::key(path, problem))
            })
            .collect()
    }

    /// Every signing key of a JWKS file (RFC 7517 `{"keys": [...]}`); keys marked
    /// `"use": "enc"` are skipped. A key's `alg`, when given, narrows what it verifies.
    ///
    /// Errors: [`AuthError::Key`] for invalid JSON, symmetric (`oct`) keys, unsupported curves
    /// and an `alg` that does not fit the key.
    pub fn load_jwks_file(path: &Path) -> Result<Vec<PublicKey>, AuthError> {
        let bytes = std::fs::read(path).map_err(|e| AuthError::io(path, e))?;
        let set: JwkSet = serde_json::from_slice(&bytes)
            .map_err(|e| AuthError::key(path, format!("not a JWKS: {e}")))?;
        let signing = set
            .keys
            .iter()
            .filter(|jwk| jwk.common.public_key_use != Some(PublicKeyUse::Encryption));
        signing
            .map(|jwk| PublicKey::from_jwk(jwk).map_err(|problem| AuthError::key(path, problem)))
            .collect()
    }

    /// The key in a DER SubjectPublicKeyInfo.
    pub(crate) fn from_spki_der(der: &[u8]) -> Result<PublicKey, String> {
        const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
        const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
        const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
        const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
        const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

        let info = spki::SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| format!("invalid public key: {e}"))?;
        let key = info
            .subject_public_key
            .as_bytes()
            .ok_or("the public key is not a whole number of bytes")?;
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let (decoding, jwk) = match info.algorithm.oid {
            RSA => {
                let rsa = pkcs1::RsaPublicKey::from_der(key)
                    .map_err(|e| format!("invalid RSA public key: {e}"))?;
                let params = AlgorithmParameters::RSA(RSAKeyParameters {
                    key_type: RSAKeyType::RSA,
                    n: b64(rsa.modulus.as_bytes()),
                    e: b64(rsa.public_exponent.as_bytes()),
                });
                (DecodingKey::from_rsa_der(key), params)
            }
            EC => {
                let curve_oid = info
                    .algorithm
                    .parameters
                    .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
                let (curve, size) = match curve_oid {
                    Some(P256) => (EllipticCurve::P256, 32),
                    Some(P384) => (EllipticCurve::P384, 48),
                    _ => return Err("unsupported EC curve; use P-256 or P-384".into()),
                };
                if key.len() != 1 + 2 * size || key[0] != 4 {
                    return Err("the EC point is not an uncompressed point of its curve".into());
                }
                let params = AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve,
                    x: b64(&key[1..=size]),
                    y: b64(&key[1 + size..]),
                });
                (DecodingKey::from_ec_der(key), params)
            }
            ED25519 => {
                let params = AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: b64(key),
                });
                (DecodingKey::from_ed_der(key), params)
            }
            other => return Err(format!("unsupported key algorithm {other}")),
        };
        let algorithms = algorithms_of(&jwk)?;
        let thumbprint = thumbprint(jwk);
        Ok(PublicKey {
            decoding,
            algorithms,
            kids: vec![libtrust_kid(der), thumbprint],
        })
    }

    fn from_jwk(jwk: &Jwk) -> Result<PublicKey, String> {
        let mut algorithms = algorithms_of(&jwk.algorithm)?;
        if let Some(alg) = jwk.common.key_algorithm {
            let named = alg.to_string().parse::<Algorithm>().ok();
            match named.filter(|a| algorithms.contains(a)) {
                Some(named) => algorithms = vec![named],
                None => return Err(format!("the key's alg {alg} does not fit its key type")),
            }
        }
        let decoding = DecodingKey::from_jwk(jwk).map_err(|e| format!("invalid key: {e}"))?;
        let kid = match &jwk.common.key_id {
            Some(kid) => kid.clone(),
            None => thumbprint(jwk.algorithm.clone()),
        };
        Ok(PublicKey {
            decoding,
            algorithms,
            kids: vec![kid],
        })
    }
}

/// The algorithms a key of this type and curve can verify, after checking the coordinates'
/// sizes. Symmetric keys never verify.
fn algorithms_of(params: &AlgorithmParameters) -> Result<Vec<Algorithm>, String> {
    use Algorithm::*;
    let check_len = |value: &str, len: usize| match URL_SAFE_NO_PAD.decode(value) {
        Ok(bytes) if bytes.len() == len => Ok(()),
        _ => Err(format!("a key coordinate is not {len} base64url bytes")),
    };
    match params {
        AlgorithmParameters::RSA(_) => Ok(vec![RS256, RS384, RS512, PS256, PS384, PS512]),
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => {
                check_len(&ec.x, 32)?;
                check_len(&ec.y, 32)?;
                Ok(vec![ES256])
            }
            EllipticCurve::P384 => {
                check_len(&ec.x, 48)?;
                check_len(&ec.y, 48)?;
                Ok(vec![ES384])
            }
            EllipticCurve::P521 | EllipticCurve::Ed25519 => {
                Err("unsupported EC curve; use P-256 or P-384".into())
            }
        },
        AlgorithmParameters::OctetKeyPair(okp) => match okp.curve {
            EllipticCurve::Ed25519 => {
                check_len(&okp.x, 32)?;
                Ok(vec![EdDSA])
            }
            _ => Err("unsupported OKP curve; use Ed25519".into()),
        },
        AlgorithmParameters::OctetKey(_) => Err("symmetric (oct) keys are not accepted".into()),
    }
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url), the key id distribution 3 derives.
fn thumbprint(params: AlgorithmParameters) -> String {
    crate::ensure_crypto_provider();
    let jwk = Jwk {
        common: Default::default(),
        algorithm: params,
    };
    jwk.thumbprint(ThumbprintHash::SHA256)
}

/// SHA-256 of the SPKI DER, first 240 bits, base32 (RFC 4648), `:` every four characters.
fn libtrust_kid(spki_der: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(spki_der);
    let mut encoded = String::with_capacity(59);
    for chunk in digest[..30].chunks(5) {
        let bits = chunk.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        for i in (0..8).rev() {
            if encoded.len() % 5 == 4 {
                encoded.push(':');
            }
            encoded.push(char::from(ALPHABET[(bits >> (i * 5)) as usize & 31]));
        }
    }
    encoded
}

/// Wraps a PKCS#1 `RSA PUBLIC KEY` into a SubjectPublicKeyInfo.
fn rsa_spki(pkcs1_der: &[u8]) -> Result<Vec<u8>, String> {
    let info = spki::SubjectPublicKeyInfoRef {
        algorithm: spki::AlgorithmIdentifier {
            oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
            parameters: Some(spki::der::asn1::AnyRef::NULL),
        },
        subject_public_key: spki::der::asn1::BitStringRef::from_bytes(pkcs1_der)
            .map_err(|e| e.to_string())?,
    };
    info.to_der().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key of auth-jwt.md's example, whose `kid` the document gives.
    #[test]
    fn libtrust_kid_matches_the_spec_example() {
        let point = [
            &[4u8][..],
            &URL_SAFE_NO_PAD
                .decode("m7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q")
                .unwrap(),
            &URL_SAFE_NO_PAD
                .decode("dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc")
                .unwrap(),
        ]
        .concat();
        let prefix = hex_decode("3059301306072a8648ce3d020106082a8648ce3d030107034200");
        let spki = [prefix, point].concat();
        let key = PublicKey::from_spki_der(&spki).unwrap();
        assert_eq!(
            key.kid(),
            "PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6"
        );
        assert_eq!(key.algorithms, vec![Algorithm::ES256]);
    }

    fn hex_decode(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }
}
