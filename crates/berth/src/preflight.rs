//! The checks `berth serve` makes before it opens anything: one function for both `serve` and
//! `berth config check`, so that a file the check accepts is a file `serve` starts with, and
//! a rule added here is enforced by both.

use std::net::SocketAddr;

use berth_auth::{IssuerConfig, Policy, SigningKey, TrustedIssuer, Users, UsersOptions};

use crate::settings::{AuthSettings, Settings, TlsFiles};
use crate::tls;

/// What the checks loaded, handed to `serve` so that nothing is read twice.
pub struct Preflight {
    /// The certificate and key as read (with the files' stamps taken just before).
    pub tls: Option<(TlsFiles, tls::Stamps, tls::Loaded)>,
    /// The parts of `[auth]`, loaded and checked.
    pub auth: Option<AuthParts>,
}

/// `[auth]` loaded: everything but a signing key that does not exist yet (generating one is
/// a side effect that only `serve` may have).
pub struct AuthParts {
    pub policy: Policy,
    pub users: Option<Users>,
    /// How this server issues tokens (its issuer name is the service's), checked.
    pub issuer: IssuerConfig,
    /// The signing key, when its file exists; `None` means `serve` generates it.
    pub signing_key: Option<SigningKey>,
    pub trusted_issuers: Vec<TrustedIssuer>,
}

/// Every check `berth serve` makes on its settings before it opens the data directory or a
/// backend: the TLS files can be served, an open registry is on loopback unless it says
/// `open_registry = true`, the policy, htpasswd file (bcrypt only), token lifetime, an
/// existing signing key and trusted issuers' keys load, the token service's realm is known,
/// and notification endpoints are well formed.
///
/// Errors: the first problem found, naming the setting or file.
pub fn check(settings: &Settings) -> anyhow::Result<Preflight> {
    let tls = settings
        .tls
        .clone()
        .map(|files| {
            let stamps = tls::Stamps::of(&files);
            tls::load(&files).map(|loaded| (files, stamps, loaded))
        })
        .transpose()?;
    check_exposure(settings)?;
    let auth = settings
        .auth
        .as_ref()
        .map(|auth| {
            // The address serve binds has this IP, so a realm derivable from one is from the
            // other; serve derives it again from the bound port.
            realm(auth, settings.tls.is_some(), settings.listen)?;
            auth_parts(auth, settings)
        })
        .transpose()?;
    settings.notifications.check()?;
    Ok(Preflight { tls, auth })
}

/// Refuses to serve everything to everyone on an address other than loopback, unless the
/// configuration says `open_registry = true`.
fn check_exposure(settings: &Settings) -> anyhow::Result<()> {
    if settings.auth.is_none() && !settings.open_registry && !settings.listen.ip().is_loopback() {
        anyhow::bail!(
            "refusing to serve {} without access control: configure [auth], listen on a \
             loopback address, or set open_registry = true in the config file \
             (BERTH_OPEN_REGISTRY=true)",
            settings.listen
        );
    }
    Ok(())
}

/// The token endpoint's URL in challenges: `auth.realm`, or derived from the address served.
///
/// Errors: no realm is configured and `address` is unspecified (`0.0.0.0`, `::`): clients
/// would follow a challenge naming it to a host of their own, and send it the user's password.
pub fn realm(auth: &AuthSettings, tls: bool, address: SocketAddr) -> anyhow::Result<String> {
    let scheme = if tls { "https" } else { "http" };
    match &auth.realm {
        Some(realm) => Ok(realm.clone()),
        None if address.ip().is_unspecified() => anyhow::bail!(
            "listen is {address}, which no client can reach the token service at: set \
             auth.realm to its URL as clients reach it, such as \
             \"https://registry.example.com{}\"",
            berth_http::endpoint::TOKEN_PATH
        ),
        None => Ok(format!(
            "{scheme}://{address}{}",
            berth_http::endpoint::TOKEN_PATH
        )),
    }
}

/// Where the signing key is: `auth.signing_key`, or `<data_dir>/auth/token.key`.
pub fn signing_key_path(auth: &AuthSettings, data_dir: &std::path::Path) -> std::path::PathBuf {
    auth.signing_key
        .clone()
        .unwrap_or_else(|| data_dir.join("auth").join("token.key"))
}

fn auth_parts(auth: &AuthSettings, settings: &Settings) -> anyhow::Result<AuthParts> {
    let policy = Policy::from_config(&auth.policy)?;
    let users = auth
        .htpasswd
        .as_ref()
        .map(|path| Users::open(path, policy.groups().clone(), UsersOptions::default()))
        .transpose()?;
    let service = auth.service.clone().unwrap_or_else(|| "berth".to_owned());
    let mut issuer = IssuerConfig::new(service.clone(), service.clone());
    if let Some(ttl) = &auth.token_ttl {
        issuer.ttl =
            berth_events::parse_duration(ttl).map_err(|e| anyhow::anyhow!("auth.token_ttl {e}"))?;
    }
    issuer
        .check()
        .map_err(|e| anyhow::anyhow!("auth.token_ttl: {e}"))?;
    let key_path = signing_key_path(auth, &settings.data_dir);
    let signing_key = key_path
        .exists()
        .then(|| SigningKey::load(&key_path))
        .transpose()?;
    let trusted_issuers = auth
        .trusted_issuers
        .iter()
        .map(TrustedIssuer::from_config)
        .collect::<Result<Vec<_>, _>>()?;
    // This server's own tokens are verified as issuer `service`: no trusted issuer may share
    // the name, nor two of them.
    let mut names = std::collections::HashSet::from([service.as_str()]);
    if let Some(twice) = trusted_issuers.iter().find(|i| !names.insert(i.name())) {
        anyhow::bail!(
            "auth.trusted_issuers: issuer {:?} is configured twice (this server issues its own \
             tokens as its service, {service:?})",
            twice.name()
        );
    }
    Ok(AuthParts {
        policy,
        users,
        issuer,
        signing_key,
        trusted_issuers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> AuthSettings {
        AuthSettings {
            htpasswd: None,
            policy: Default::default(),
            service: None,
            realm: None,
            signing_key: None,
            token_ttl: None,
            trusted_issuers: Vec::new(),
        }
    }

    #[test]
    fn an_open_registry_is_refused_beyond_loopback_unless_asked_for() {
        let mut settings = Settings::default();
        assert!(check_exposure(&settings).is_ok());
        settings.listen = "0.0.0.0:5000".parse().unwrap();
        let error = check_exposure(&settings).unwrap_err();
        assert!(error.to_string().contains("open_registry"), "{error}");
        settings.open_registry = true;
        assert!(check_exposure(&settings).is_ok());
        settings.open_registry = false;
        settings.auth = Some(auth());
        assert!(check_exposure(&settings).is_ok());
    }

    #[test]
    fn access_control_on_an_unspecified_address_needs_a_realm() {
        let mut auth = auth();
        for unspecified in ["0.0.0.0:5000", "[::]:5000"] {
            let error = realm(&auth, false, unspecified.parse().unwrap()).unwrap_err();
            assert!(error.to_string().contains("auth.realm"), "{error}");
        }
        assert_eq!(
            realm(&auth, true, "127.0.0.1:5000".parse().unwrap()).unwrap(),
            "https://127.0.0.1:5000/berth/v1/token"
        );
        auth.realm = Some("https://r.example/berth/v1/token".into());
        assert_eq!(
            realm(&auth, false, "0.0.0.0:5000".parse().unwrap()).unwrap(),
            "https://r.example/berth/v1/token"
        );
    }
}
