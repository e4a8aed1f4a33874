//! Talking to a running server: where it is and the credential to use (flags, the environment, or
//! a named profile in the client file), and requests that turn the server's errors into messages.
//!
//! The client file (`$KEYCARD_CLIENT_CONFIG`, else `~/.config/keycard/client.toml`) holds profiles:
//!
//! ```toml
//! [profiles.default]
//! server = "http://127.0.0.1:8080"
//! token = "kcs_..."
//! organization = "acme"   # optional: acts there with `Keycard-Organization`
//! ```
//!
//! `keycard login` writes it, readable by its owner only (mode 0600).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, ValueEnum};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a client command reaches the server.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The server's URL (`http://127.0.0.1:8080`); the profile's when absent.
    #[arg(long, env = "KEYCARD_SERVER", global = true)]
    pub server: Option<String>,
    /// An API key or a session token; the profile's when absent.
    #[arg(long, env = "KEYCARD_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// The profile of the client file to use.
    #[arg(
        long,
        env = "KEYCARD_PROFILE",
        global = true,
        default_value = "default"
    )]
    pub profile: String,
    /// The organization to act in (partners); the profile's when absent.
    #[arg(long, alias = "org", env = "KEYCARD_ORGANIZATION", global = true)]
    pub organization: Option<String>,
    /// `human` on a terminal, `json` for scripts.
    #[arg(long, value_enum, global = true, default_value_t = Output::Human)]
    pub output: Output,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
}

/// One profile of the client file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Profile {
    pub server: Option<String>,
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ClientFile {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// Where the client file is.
pub fn client_file_path() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("KEYCARD_CLIENT_CONFIG") {
        return Ok(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME").ok_or_else(|| anyhow!("HOME is not set"))?;
    Ok(PathBuf::from(home).join(".config/keycard/client.toml"))
}

impl ClientFile {
    pub fn read() -> anyhow::Result<Self> {
        let path = client_file_path()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("reading `{}`", path.display()))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(err) => Err(err).with_context(|| format!("reading `{}`", path.display())),
        }
    }

    /// Writes the file readable and writable by its owner only: it holds tokens.
    pub fn write(&self) -> anyhow::Result<PathBuf> {
        let path = client_file_path()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating `{}`", dir.display()))?;
        }
        let text = toml::to_string_pretty(self)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options
            .open(&path)
            .with_context(|| format!("writing `{}`", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        std::io::Write::write_all(&mut file, text.as_bytes())?;
        Ok(path)
    }
}

/// A connection resolved: the server, the token and the organization.
pub struct Client {
    http: reqwest::Client,
    server: String,
    token: String,
    organization: Option<String>,
    pub output: Output,
}

impl Client {
    /// Flags and the environment first, then the profile.
    pub fn connect(connection: &Connection) -> anyhow::Result<Self> {
        let file = ClientFile::read()?;
        let profile = file
            .profiles
            .get(&connection.profile)
            .cloned()
            .unwrap_or_default();
        let server = connection
            .server
            .clone()
            .or(profile.server)
            .ok_or_else(|| {
                anyhow!("no server: pass --server, set KEYCARD_SERVER or run `keycard login`")
            })?;
        let token =
            connection.token.clone().or(profile.token).ok_or_else(|| {
                anyhow!("no credential: set KEYCARD_TOKEN or run `keycard login`")
            })?;
        Self::new(
            &server,
            token,
            connection.organization.clone().or(profile.organization),
            connection.output,
        )
    }

    /// A client of `server` with `token`, acting in `organization` when given.
    pub fn new(
        server: &str,
        token: String,
        organization: Option<String>,
        output: Output,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .user_agent(concat!("keycard-cli/", env!("CARGO_PKG_VERSION")))
                .build()?,
            server: server.trim_end_matches('/').to_owned(),
            token,
            organization,
            output,
        })
    }

    /// The same server and credential, acting in the caller's own organization.
    pub fn without_organization(&self) -> Self {
        Self {
            http: self.http.clone(),
            server: self.server.clone(),
            token: self.token.clone(),
            organization: None,
            output: self.output,
        }
    }

    /// The organization it acts in, when one was named.
    pub fn organization(&self) -> Option<&str> {
        self.organization.as_deref()
    }

    /// Sends a request and answers the JSON body, or the server's error as a message.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.server))
            .bearer_auth(&self.token);
        if let Some(org) = &self.organization {
            request = request.header("keycard-organization", org);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("reaching {}", self.server))?;
        answer(response).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::POST, path, Some(body)).await
    }

    /// Every item of a paged list, following `next_cursor`.
    pub async fn all(&self, path: &str, query: &[(&str, &str)]) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut pairs: Vec<(&str, &str)> = query.to_vec();
            pairs.push(("limit", "500"));
            if let Some(cursor) = &cursor {
                pairs.push(("cursor", cursor));
            }
            let page = self
                .get(&format!("{path}?{}", serde_urlencoded::to_string(&pairs)?))
                .await?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
    }
}

/// The body of a successful answer; the server's message otherwise.
pub async fn answer(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().await?;
    let body: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    if status.is_success() {
        return Ok(body);
    }
    let message = body["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string());
    if status == StatusCode::UNAUTHORIZED {
        bail!("the server refused the credential ({status}): {message}; run `keycard login`");
    }
    bail!("the server answered {status}: {message}")
}

/// A path segment, percent-encoded.
pub fn segment(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
