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
    /// The URL clients reach the server at, when it is behind a proxy or a load balancer.
    pub public_url: Option<String>,
    /// Reverse proxies whose `X-Forwarded-Proto` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The decision log: `stderr` or a file's path; off when absent.
    pub decision_log: Option<String>,
    /// The share of decisions the log keeps, 0 to 1.
    pub decision_log_sample: f64,
    /// The log keeps only denials.
    pub decision_log_only_denied: bool,
    /// The hosts webhooks may reach; none by default.
    pub webhook_allow_hosts: Vec<String>,
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
            public_url: None,
            trusted_proxies: Vec::new(),
            decision_log: None,
            decision_log_sample: 1.0,
            decision_log_only_denied: false,
            webhook_allow_hosts: Vec::new(),
        }
    }
}

impl Config {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn settings(&self) -> anyhow::Result<Settings> {
        Ok(Settings {
            session_ttl: Duration::from_secs(self.session_ttl_secs),
            body_limit: self.body_limit_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            public_url: self
                .public_url
                .as_deref()
                .map(keycard_server::PublicUrl::parse)
                .transpose()?,
            trusted_proxies: self.trusted_proxies.clone(),
            decision_log: self.decision_log.as_deref().map(|target| {
                keycard_server::decision_log::DecisionLogSettings {
                    target: keycard_server::decision_log::LogTarget::parse(target),
                    sample: self.decision_log_sample,
                    only_denied: self.decision_log_only_denied,
                }
            }),
            webhook_allow_hosts: self.webhook_allow_hosts.clone(),
            ..Settings::default()
        })
    }
}
