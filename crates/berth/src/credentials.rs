//! The credentials `berth gc` presents to a server with access control: a user from the
//! htpasswd file whom the policy makes an admin (`/berth/v1/*` is admin-only).
//!
//! The password never comes from the command line, where other users of the machine could
//! read it in the process list: it comes from `BERTH_PASSWORD` or, with `--password-stdin`,
//! from the first line of standard input (as `docker login --password-stdin` takes it).

use std::fmt;
use std::io::BufRead;

use anyhow::{bail, Context};

use crate::cli::GcArgs;

/// Where the password is taken from when it is not on standard input.
pub const PASSWORD_ENV: &str = "BERTH_PASSWORD";

/// A user name and password, sent as HTTP Basic credentials (RFC 7617).
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    password: String,
}

impl fmt::Debug for Credentials {
    /// The password is never printed, not even in a debug dump.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The credentials `args` name, if any. Errors: a password without a user name, a user
    /// name without a password, or standard input that cannot be read.
    pub fn from_args(args: &GcArgs) -> anyhow::Result<Option<Credentials>> {
        let from_env = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty());
        let password = if args.password_stdin {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            Some(line.trim_end_matches(['\r', '\n']).to_owned()).filter(|p| !p.is_empty())
        } else {
            from_env
        };
        match (&args.username, password) {
            (None, None) => Ok(None),
            (Some(username), Some(password)) => Ok(Some(Credentials {
                username: username.clone(),
                password,
            })),
            (Some(username), None) => bail!(
                "--username {username} needs a password: set {PASSWORD_ENV} or pass \
                 --password-stdin"
            ),
            (None, Some(_)) => bail!("a password was given without --username"),
        }
    }

    /// Adds the credentials to `request` as Basic authorization.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(&self.username, Some(&self.password))
    }
}
