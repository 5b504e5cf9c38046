//! Our token signing key: an ECDSA P-256 key in a PKCS#8 PEM file, generated on first use.

use std::io::Write;
use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, EncodingKey};
use rcgen::PublicKeyData;

use crate::{AuthError, PublicKey};

/// The algorithm of the tokens this server issues.
pub const SIGNING_ALGORITHM: Algorithm = Algorithm::ES256;

/// The ECDSA P-256 private key this server signs tokens with, and its public half.
pub struct SigningKey {
    pub(crate) encoding: EncodingKey,
    public: PublicKey,
    public_pem: String,
}

impl SigningKey {
    /// Loads a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) ECDSA P-256 key.
    ///
    /// Errors: [`AuthError::Io`] when unreadable, [`AuthError::Key`] for any other PEM label
    /// (convert SEC1 keys with `openssl pkcs8 -topk8 -nocrypt`) or another key type.
    pub fn load(path: &Path) -> Result<SigningKey, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|e| AuthError::io(path, e))?;
        warn_if_exposed(path);
        let block = pem::parse(&text).map_err(|e| AuthError::key(path, format!("not PEM: {e}")))?;
        if block.tag() != "PRIVATE KEY" {
            return Err(AuthError::key(
                path,
                format!(
                    "expected a PKCS#8 \"PRIVATE KEY\", found {:?} (convert it with \
                     `openssl pkcs8 -topk8 -nocrypt`)",
                    block.tag()
                ),
            ));
        }
        let pair =
            rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&text, &rcgen::PKCS_ECDSA_P256_SHA256)
                .map_err(|_| AuthError::key(path, "not an ECDSA P-256 private key"))?;
        let public = PublicKey::from_spki_der(&pair.subject_public_key_info())
            .map_err(|problem| AuthError::key(path, problem))?;
        Ok(SigningKey {
            encoding: EncodingKey::from_ec_der(pair.serialized_der()),
            public,
            public_pem: pair.public_key_pem(),
        })
    }

    /// Loads the key at `path`, first generating one there (PKCS#8 PEM, mode 0600, parent
    /// directories created) when no file exists. Two processes racing to create it end up
    /// with the same key: the file is linked into place only if still absent.
    pub fn load_or_generate(path: &Path) -> Result<SigningKey, AuthError> {
        if !path.exists() {
            generate(path)?;
        }
        SigningKey::load(path)
    }

    /// The key id tokens carry in their `kid` header (see [`PublicKey::kid`]).
    pub fn kid(&self) -> &str {
        self.public.kid()
    }

    /// The public half, for the verifier.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The public half as a `PUBLIC KEY` PEM, for other registries that trust this issuer.
    pub fn public_key_pem(&self) -> &str {
        &self.public_pem
    }
}

/// Writes a new P-256 key to `path` with mode 0600, never replacing an existing file.
fn generate(path: &Path) -> Result<(), AuthError> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| AuthError::key(path, format!("cannot generate a key: {e}")))?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).map_err(|e| AuthError::io(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", uuid::Uuid::new_v4()));
    let tmp = PathBuf::from(tmp);
    let written =
        write_private(&tmp, pair.serialize_pem().as_bytes()).and_then(
            |()| match std::fs::hard_link(&tmp, path) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
                _ => Ok(()),
            },
        );
    let _ = std::fs::remove_file(&tmp);
    written.map_err(|e| AuthError::io(path, e))?;
    if let Some(dir) = dir {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    tracing::info!(path = %path.display(), "token signing key generated");
    Ok(())
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

fn warn_if_exposed(path: &Path) {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"),
                "token signing key is readable by other users; chmod 600 it");
        }
    }
}
