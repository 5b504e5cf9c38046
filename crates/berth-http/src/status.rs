//! What the server says about itself at `GET /berth/v1/status`, so that a client acting on a
//! data directory (`berth gc`) can check that it talks to the server that owns it.

use serde::{Deserialize, Serialize};

/// The body of `GET /berth/v1/status`, as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// The data directory the server owns, as an absolute canonical path; none when its
    /// storage is not a local directory.
    pub data_dir: Option<String>,
    /// The server's process id.
    pub pid: u32,
    /// The server's version (`berth --version`).
    pub version: String,
}
