//! The `berth` command's library: command line, configuration, `serve`, `gc`, `migrate`,
//! `scrub`, `usage` and `config check`. The binary in
//! `main.rs` only dispatches; keeping the rest here lets fuzz targets and property tests reach
//! the configuration parser the way `berth serve` uses it.

pub mod backends;
pub mod cli;
pub mod config_check;
pub mod config_view;
pub mod credentials;
pub mod gc;
pub mod lock;
pub mod log_writer;
pub mod logging;
pub mod maintenance;
pub mod migrate;
pub mod pinned;
pub mod preflight;
pub mod prometheus;
pub mod serve;
pub mod settings;
pub mod shutdown;
pub mod tls;
