//! Request signing: receivers check that a notification comes from the registry that shares
//! their endpoint's secret and that its body was not altered.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the signature: `sha256=` then the lowercase hex HMAC-SHA256 (RFC 2104)
/// of the exact request body bytes, keyed with the endpoint's secret (the scheme GitHub's
/// `X-Hub-Signature-256` uses, which webhook receivers commonly verify).
pub const SIGNATURE_HEADER: &str = "x-berth-signature";

/// The value of [`SIGNATURE_HEADER`] for `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_rfc_4231_test_case_2() {
        // RFC 4231 section 4.3: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
