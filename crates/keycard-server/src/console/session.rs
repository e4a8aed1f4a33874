//! Signing in and out, and the organization a partner acts in.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, html};
use serde::Deserialize;

use super::{Console, ConsoleError, Fields, ORGANIZATION_COOKIE, SESSION_COOKIE, head};
use crate::auth::ClientIp;
use crate::state::AppState;

/// `/console/`: the first screen the caller may use.
pub async fn home(console: Console) -> Redirect {
    if console.caller.admin {
        Redirect::to("/console/accounts")
    } else {
        Redirect::to("/console/me")
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct SignInNotice {
    expired: Option<String>,
    signed_out: Option<String>,
}

/// The sign-in form, with a note when a session just expired or ended.
pub async fn sign_in_page(Query(notice): Query<SignInNotice>) -> Response {
    sign_in_form(StatusCode::OK, notice_text(&notice), "", "")
}

fn notice_text(notice: &SignInNotice) -> Option<&'static str> {
    if notice.expired.is_some() {
        Some("Your session expired. Sign in again to go on.")
    } else if notice.signed_out.is_some() {
        Some("You are signed out.")
    } else {
        None
    }
}

fn sign_in_form(
    status: StatusCode,
    message: Option<&str>,
    username: &str,
    organization: &str,
) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head { (head("Sign in")) }
            body {
                main id="main" class="narrow" {
                    h1 { "Sign in to Keycard" }
                    @if let Some(message) = message {
                        p role="alert" { (message) }
                    }
                    form method="post" action="/console/sign-in" class="card" {
                        label for="username" { "Username" }
                        input id="username" type="text" name="username" value=(username)
                            autocomplete="username" required autofocus;
                        label for="password" { "Password" }
                        input id="password" type="password" name="password"
                            autocomplete="current-password" required;
                        label for="organization" { "Organization" }
                        input id="organization" type="text" name="organization" value=(organization)
                            autocomplete="organization" aria-describedby="organization-hint";
                        p id="organization-hint" class="hint" { "Leave empty for the default organization." }
                        p { button type="submit" { "Sign in" } }
                    }
                }
            }
        }
    };
    (status, body).into_response()
}

/// A form posted from a page of another origin is refused: a browser says where a form came from
/// in `Origin`, and a page of this console always comes from the server's own base URL (the
/// configured public URL, else the scheme and `Host` the request came with).
pub fn same_origin(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> Result<(), ConsoleError> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let base = crate::origin::base_url(&state.settings, headers, peer);
    // The base URL may carry a path; an origin is only the scheme and the authority.
    let ours = match base.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest)),
        None => base,
    };
    if origin.eq_ignore_ascii_case(&ours) {
        Ok(())
    } else {
        Err(ConsoleError::Forgery)
    }
}

/// The attributes of the console's cookies: `Secure` when the client came over HTTPS, as the
/// IAP face's session cookie.
fn cookie_attributes(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
) -> String {
    let secure = if crate::origin::is_https(&state.settings, headers, peer) {
        "; Secure"
    } else {
        ""
    };
    format!("Path=/console; HttpOnly; SameSite=Strict{secure}")
}

/// Checks a username and password (under the failed-login limit) and opens a console session.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    same_origin(&state, &headers, ip)?;
    let fields = Fields::parse(&body)?;
    let username = fields.get("username").unwrap_or_default().trim();
    let password = fields.get("password").unwrap_or_default();
    let organization = fields.optional("organization").unwrap_or_default();
    let org = if organization.is_empty() {
        Ok(state.app.default_organization())
    } else {
        state.app.organization_named(organization)
    };
    let account = match org {
        Ok(org) => state.app.verify_password(org, username, password, ip).await,
        // An unknown organization is answered as a wrong password is.
        Err(_) => Err(keycard_core::Error::Unauthenticated(
            "invalid username or password".into(),
        )),
    };
    let account = match account {
        Ok(account) => account,
        Err(keycard_core::Error::Unauthenticated(message)) => {
            return Ok(sign_in_form(
                StatusCode::UNAUTHORIZED,
                Some(&format!("Not signed in: {message}.")),
                username,
                organization,
            ));
        }
        Err(err) => return Err(err.into()),
    };
    let (_, token) = state.app.open_session(&account).await?;
    let mut response = Redirect::to("/console/").into_response();
    let ttl = state.app.session_ttl().as_secs();
    let attributes = cookie_attributes(&state, &headers, ip);
    set_cookie(
        response.headers_mut(),
        &format!("{SESSION_COOKIE}={token}; {attributes}; Max-Age={ttl}"),
    );
    set_cookie(
        response.headers_mut(),
        &format!("{ORGANIZATION_COOKIE}=; {attributes}; Max-Age=0"),
    );
    Ok(response)
}

fn set_cookie(headers: &mut HeaderMap, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.append(header::SET_COOKIE, value);
    }
}

/// Removes the console's cookies.
pub fn clear_cookies(headers: &mut HeaderMap) {
    for name in [SESSION_COOKIE, ORGANIZATION_COOKIE] {
        set_cookie(
            headers,
            &format!("{name}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0"),
        );
    }
}

/// Ends the session on the server and forgets it in the browser.
pub async fn sign_out(
    State(state): State<AppState>,
    console: Console,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    console.form(&body)?;
    state.app.end_own_session(&console.caller).await?;
    let mut response = Redirect::to("/console/sign-in?signed_out=1").into_response();
    clear_cookies(response.headers_mut());
    Ok(response)
}

/// A partner chooses the organization the console acts in.
pub async fn switch_organization(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    console: Console,
    body: Bytes,
) -> Result<Response, ConsoleError> {
    let fields = console.form(&body)?;
    let org = state
        .app
        .organization_named(fields.required("organization")?)?;
    // Acting there is the partner's to do: the same check every request makes.
    console.caller.acting_in(org)?;
    let mut response = Redirect::to("/console/").into_response();
    set_cookie(
        response.headers_mut(),
        &format!(
            "{ORGANIZATION_COOKIE}={org}; {}",
            cookie_attributes(&state, &headers, ip)
        ),
    );
    Ok(response)
}
