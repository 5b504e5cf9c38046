//! `berth config check FILE`: validates a config file with the parsing and the start-up checks
//! (`preflight`) `berth serve` makes, and prints the effective settings as a TOML config file
//! (`config_view`), secrets redacted, so that a file can be checked before a
//! restart and its effect shown without leaking credentials into terminals or CI logs.

use std::path::Path;

use anyhow::Context;

use crate::cli::ServeArgs;
use crate::config_view::{self, REDACTED};
use crate::preflight;
use crate::settings::Settings;

/// Key names whose string values are secrets, wherever they appear in the file.
const SECRET_KEYS: &[&str] = &[
    "password",
    "secret",
    "token",
    "private_key",
    "access_key",
    "credential",
];

/// Errors: the file cannot be read, or `berth serve` would refuse it before opening its
/// backends (the TLS files, htpasswd file and keys it names are read as serve reads them) (the message names the
/// problem; secrets in it are redacted too).
pub fn run(file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading config file {}", file.display()))?;
    let secrets = secrets_in(&text);
    let args = ServeArgs {
        config: Some(file.to_owned()),
        ..ServeArgs::default()
    };
    let settings = Settings::load(&args)
        .and_then(|settings| preflight::check(&settings).map(|_| settings))
        .map_err(|e| anyhow::anyhow!(redact(&format!("{e:#}"), &secrets)))
        .with_context(|| format!("{} is not a valid config file", file.display()))?;
    println!(
        "# {} is valid; the settings `berth serve` would run with:",
        file.display()
    );
    print!("{}", redact(&config_view::to_toml(&settings), &secrets));
    Ok(())
}

/// Every secret the config text holds: values of secret-named keys, and passwords in URLs
/// (`scheme://user:password@host`, `password=` parameters).
fn secrets_in(text: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    if let Ok(value) = text.parse::<toml::Table>() {
        collect(&toml::Value::Table(value), false, &mut secrets);
    }
    secrets.retain(|s| !s.is_empty());
    // Printed settings escape quotes and backslashes (TOML and Rust's debug form alike), so a
    // secret holding them appears escaped: redact that form too.
    let escaped: Vec<String> = secrets
        .iter()
        .map(|s| format!("{s:?}").trim_matches('"').to_owned())
        .filter(|e| !secrets.contains(e))
        .collect();
    secrets.extend(escaped);
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

fn collect(value: &toml::Value, secret: bool, out: &mut Vec<String>) {
    match value {
        toml::Value::String(text) => {
            if secret {
                out.push(text.clone());
            }
            out.extend(url_passwords(text));
        }
        toml::Value::Array(items) => items.iter().for_each(|v| collect(v, secret, out)),
        toml::Value::Table(table) => {
            for (key, v) in table {
                let key = key.to_ascii_lowercase();
                // `token_ttl` is a lifetime and `secret_env` names a variable: neither is secret,
                // and an error naming them must be readable.
                let named = SECRET_KEYS.iter().any(|s| key.contains(s))
                    && !key.ends_with("_ttl")
                    && !key.ends_with("_env");
                collect(v, secret || named, out);
            }
        }
        _ => {}
    }
}

/// Passwords inside a URL or connection string. Of an `http(s)` URL (a webhook's, where
/// receivers commonly take a token), the whole user information and query string too, as the
/// logs hide them.
fn url_passwords(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some((scheme, rest)) = text.split_once("://") {
        let web = matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https");
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if let Some((userinfo, _)) = authority.rsplit_once('@') {
            match userinfo.split_once(':') {
                Some((_, password)) => found.push(password.to_owned()),
                None if web => found.push(userinfo.to_owned()),
                None => {}
            }
        }
        if let (true, Some((_, query))) = (web, rest.split_once('?')) {
            let query = query.split('#').next().unwrap_or_default();
            found.push(query.to_owned());
        }
    }
    // What a lenient parse takes for user information and query from forms the split above
    // misses (`http:/user:pw@host`, `http:///user:pw@host`, `http:\\user:pw@host`): the
    // webhook client reads them as the WHATWG URL parser does. Both as written in the URL
    // (percent-encoded) and decoded, since the file may hold either.
    if let Ok(url) = reqwest::Url::parse(text.trim()) {
        if matches!(url.scheme(), "http" | "https") {
            for part in [Some(url.username()), url.password(), url.query()]
                .into_iter()
                .flatten()
                .filter(|p| !p.is_empty())
            {
                found.push(part.to_owned());
                let decoded = percent_encoding::percent_decode_str(part).decode_utf8_lossy();
                found.push(decoded.into_owned());
            }
        }
    }
    for part in text.split(['?', '&', ' ', ';']) {
        if let Some(password) = part.strip_prefix("password=") {
            found.push(password.to_owned());
        }
    }
    found
}

/// `text` with every standalone occurrence of each secret replaced by [`REDACTED`]: one not
/// run together with letters or digits on a side where the secret itself begins or ends with
/// one. A secret is printed as a whole value (`"…"`) or as a part of a URL (`:pw@`, `?q`),
/// never inside a word; replacing it inside words as well garbled every message that
/// happened to contain a short secret's letters (and so told what they were).
fn redact(text: &str, secrets: &[String]) -> String {
    secrets.iter().fold(text.to_owned(), |text, secret| {
        let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        let (opens_word, closes_word) = (word(secret.chars().next()), word(secret.chars().last()));
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (at, _) in text.match_indices(secret.as_str()) {
            let end = at + secret.len();
            if at < copied {
                continue;
            }
            let joined_before = opens_word && word(text[..at].chars().next_back());
            let joined_after = closes_word && word(text[end..].chars().next());
            if !joined_before && !joined_after {
                out.push_str(&text[copied..at]);
                out.push_str(REDACTED);
                copied = end;
            }
        }
        out.push_str(&text[copied..]);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_by_key_and_in_urls() {
        let text = r#"
            [metadata]
            backend = "postgres"
            url = "postgres://berth:p%40ss@db.internal:5432/berth?sslmode=require"
            [auth]
            token_ttl = "5m"
            [[webhooks]]
            url = "https://hooks.example/x?password=qs-secret&a=1"
            secret = "hmac-key"
            [[webhooks]]
            secret_env = "BERTH_HOOK_SECRET"
        "#;
        let secrets = secrets_in(text);
        assert!(secrets.contains(&"p%40ss".to_owned()));
        assert!(secrets.contains(&"qs-secret".to_owned()));
        assert!(secrets.contains(&"hmac-key".to_owned()));
        assert!(!secrets.contains(&"5m".to_owned()));
        assert!(!secrets.contains(&"BERTH_HOOK_SECRET".to_owned()));
        assert_eq!(
            redact("postgres://berth:p%40ss@db hmac-key", &secrets),
            "postgres://berth:<redacted>@db <redacted>"
        );
    }

    #[test]
    fn webhook_tokens_in_user_information_or_query_are_redacted() {
        let secrets = secrets_in(
            r#"[[notifications.endpoints]]
            url = "https://ghp_TOKEN@hooks.example/x?code=QSECRET&sig=Z#f"
            [metadata]
            url = "postgres://postgres@db/berth?sslmode=require""#,
        );
        assert!(secrets.contains(&"ghp_TOKEN".to_owned()), "{secrets:?}");
        assert!(
            secrets.contains(&"code=QSECRET&sig=Z".to_owned()),
            "{secrets:?}"
        );
        // A PostgreSQL user name and its options are not secrets.
        assert!(!secrets
            .iter()
            .any(|s| s.contains("postgres") || s.contains("sslmode")));
        assert_eq!(
            redact(
                "https://ghp_TOKEN@hooks.example/x?code=QSECRET&sig=Z#f",
                &secrets
            ),
            "https://<redacted>@hooks.example/x?<redacted>#f"
        );
    }

    #[test]
    fn a_short_secret_is_redacted_where_it_stands_alone_not_inside_words() {
        let secrets = vec!["a".to_owned(), "end".to_owned(), "p!".to_owned()];
        assert_eq!(
            redact(
                r#"notifications: endpoint "x" secret "a" and "end" (http://u:a@h/?end) p!p!"#,
                &secrets
            ),
            r#"notifications: endpoint "x" secret "<redacted>" and "<redacted>" (http://u:<redacted>@h/?<redacted>) <redacted><redacted>"#
        );
    }

    #[test]
    fn credentials_in_leniently_written_webhook_urls_are_redacted() {
        for url in [
            "http:/hookuser:LENIENTPW@127.0.0.1:18601/in?token=LENIENTQS",
            "http:///hookuser:LENIENTPW@h/?token=LENIENTQS",
            "http:\\\\hookuser:LENIENTPW@h/?token=LENIENTQS",
            "http:hookuser:LENIENTPW@h/?token=LENIENTQS",
            "HTTPS://hookuser:LEN%20IENTPW@h/?token=LENIENTQS",
        ] {
            let secrets = url_passwords(url);
            let shown = redact(url, &secrets);
            for secret in ["LENIENTPW", "LEN%20IENTPW", "LENIENTQS", "hookuser"] {
                assert!(!shown.contains(secret), "{url} shown as {shown}");
            }
        }
    }

    #[test]
    fn secrets_holding_quotes_or_backslashes_are_redacted_as_printed() {
        let secrets = secrets_in(
            r#"[auth]
            token_secret = 'a"b\c'"#,
        );
        let printed = format!("{:?}", "a\"b\\c");
        assert_eq!(redact(&printed, &secrets), "\"<redacted>\"");
    }
}
