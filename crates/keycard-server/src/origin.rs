//! Where a request came from as clients see the server: the scheme and base URL links and cookies
//! are built with. A configured public URL wins; otherwise `X-Forwarded-Proto` is believed only from
//! a configured trusted proxy, and the `Host` header names the server.

use std::net::IpAddr;

use axum::http::{HeaderMap, header};

use crate::state::Settings;

/// A validated `http(s)://host[:port][/path]` URL, without a trailing slash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(value: &str) -> Result<Self, keycard_core::Error> {
        let invalid = || {
            keycard_core::Error::invalid(
                "public url",
                format!("`{value}` is not an http or https URL without query or fragment"),
            )
        };
        let uri: axum::http::Uri = value.parse().map_err(|_| invalid())?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        if !scheme_ok || uri.host().is_none() || uri.query().is_some() || value.contains('#') {
            return Err(invalid());
        }
        Ok(Self(value.trim_end_matches('/').to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

/// Whether the client reached the server over HTTPS.
pub fn is_https(settings: &Settings, headers: &HeaderMap, peer: Option<IpAddr>) -> bool {
    match &settings.public_url {
        Some(url) => url.is_https(),
        None => {
            peer.is_some_and(|ip| settings.trusted_proxies.contains(&ip))
                && headers
                    .get("x-forwarded-proto")
                    .and_then(|value| value.to_str().ok())
                    .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
        }
    }
}

/// The base URL clients reach the server at.
pub fn base_url(settings: &Settings, headers: &HeaderMap, peer: Option<IpAddr>) -> String {
    if let Some(url) = &settings.public_url {
        return url.as_str().to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| host.parse::<axum::http::uri::Authority>().is_ok())
        .unwrap_or("localhost");
    let scheme = if is_https(settings, headers, peer) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}
