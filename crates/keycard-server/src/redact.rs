//! What the logs may show of a request: its URI with every credential carried in the query string
//! replaced, so that a session token sent as `?token=` (as IAP clients do) never reaches a log.
//! Headers are not logged at all.

use axum::http::{Request, Uri};

/// Query parameters whose values are credentials.
const SECRET_PARAMETERS: &[&str] = &[
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "password",
    "secret",
    "client_secret",
    "api_key",
    "apikey",
    "key",
    "code",
];

const REDACTED: &str = "[redacted]";

/// The URI as logs show it.
pub fn uri(uri: &Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.to_string();
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            let decoded = percent_decoded_lowercase(name);
            if SECRET_PARAMETERS.contains(&decoded.as_str()) {
                format!("{name}={REDACTED}")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{}?{}", uri.path(), redacted.join("&"))
}

/// A parameter name as the server reads it (`%74oken` is `token`), lowercased.
fn percent_decoded_lowercase(name: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(name)
        .ok()
        .and_then(|pairs| pairs.into_iter().next())
        .map_or_else(|| name.to_owned(), |(decoded, _)| decoded)
        .to_ascii_lowercase()
}

/// The span every request is logged in: method, redacted URI and HTTP version.
pub fn request_span<B>(request: &Request<B>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        uri = %uri(request.uri()),
        version = ?request.version(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_query_are_redacted() {
        let cases = [
            ("/whoami?token=kcs_abc", "/whoami?token=[redacted]"),
            (
                "/x?a=1&TOKEN=kcs_abc&b=2&%74oken=kcs_def",
                "/x?a=1&TOKEN=[redacted]&b=2&%74oken=[redacted]",
            ),
            ("/x?password&key=", "/x?password=[redacted]&key=[redacted]"),
            ("/v1/roles?limit=5", "/v1/roles?limit=5"),
            ("/v1/roles", "/v1/roles"),
        ];
        for (given, logged) in cases {
            let parsed: Uri = given.parse().unwrap();
            assert_eq!(uri(&parsed), logged, "{given}");
        }
    }
}
