//! Configuration: defaults, then an optional TOML file, then environment variables and flags.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use keycard_server::Settings;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Database URL.
    pub database: String,
    /// Lifetime of a login session, in seconds.
    pub session_ttl_secs: u64,
    /// Largest request body, in bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may take, in seconds.
    pub request_timeout_secs: u64,
    /// `text` or `json` logs.
    pub log_format: String,
}

impl Default for Config {
    fn default() -> Self {
        let settings = Settings::default();
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            database: "sqlite://keycard.db".to_owned(),
            session_ttl_secs: settings.session_ttl.as_secs(),
            body_limit_bytes: settings.body_limit,
            request_timeout_secs: settings.request_timeout.as_secs(),
            log_format: "text".to_owned(),
        }
    }
}

impl Config {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn settings(&self) -> Settings {
        Settings {
            session_ttl: Duration::from_secs(self.session_ttl_secs),
            body_limit: self.body_limit_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            ..Settings::default()
        }
    }
}
