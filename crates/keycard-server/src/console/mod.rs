//! The admin console at `/console/`: server-rendered pages over the application layer (ADR 0007).
//!
//! A face like the others: it authenticates with its own cookie session, calls the application
//! layer for every read and write, and renders what it gets. Each page is one module; this one
//! holds what they share: the session, the CSRF token, the page shell and the error page.

mod accounts;
mod assets;
mod changes;
mod deletion;
mod directory;
mod fields;
mod policies;
mod session;
mod what_if;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use keycard_core::Error;
use keycard_core::change::Revision;
use keycard_core::snapshot::{OrgSnapshot, Snapshot};
use maud::{DOCTYPE, Markup, html};
use sha2::{Digest, Sha256};

use crate::app::{Caller, Credential, Identity};
use crate::state::AppState;

pub use fields::Fields;

/// The cookie holding the session token.
const SESSION_COOKIE: &str = "keycard_console";
/// The cookie naming the organization a partner acts in.
const ORGANIZATION_COOKIE: &str = "keycard_console_org";
/// Items per page of every list.
const PAGE_SIZE: usize = 50;

/// The policy every console response carries: nothing but this server's own files.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
    img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(session::home))
        .route("/console/", get(session::home))
        .route(
            "/console/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/organization", post(session::switch_organization))
        .route("/console/assets/console.css", get(assets::stylesheet))
        .route("/console/assets/console.js", get(assets::script))
        .route("/console/me", get(accounts::me))
        .route(
            "/console/accounts",
            get(accounts::list).post(accounts::create),
        )
        .route("/console/accounts/{id}", get(accounts::show))
        .route(
            "/console/accounts/{id}/attributes",
            post(accounts::set_attributes),
        )
        .route(
            "/console/accounts/{id}/membership",
            post(accounts::change_membership),
        )
        .route("/console/accounts/{id}/keys", post(accounts::issue_key))
        .route(
            "/console/accounts/{id}/keys/revoke",
            post(accounts::revoke_key),
        )
        .route(
            "/console/groups",
            get(directory::groups).post(directory::create_group),
        )
        .route("/console/groups/{id}", get(directory::group))
        .route(
            "/console/roles",
            get(directory::roles).post(directory::create_role),
        )
        .route("/console/roles/{id}", get(directory::role))
        .route(
            "/console/policies",
            get(policies::list).post(policies::create),
        )
        .route("/console/policies/{id}", get(policies::show))
        .route("/console/conditions/check", post(policies::check_condition))
        .route("/console/resources", get(directory::resources))
        .route("/console/catalogue", get(directory::catalogue))
        .route("/console/organizations", get(directory::organizations))
        .route("/console/changes", get(changes::list))
        .route("/console/what-if", get(what_if::show))
        .route("/console/{kind}/{id}/delete", post(deletion::delete))
        .layer(axum::middleware::map_response(secure_headers))
}

/// Every console response: a strict CSP, no sniffing, no framing, never cached.
async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A signed-in console user: the caller, and the CSRF token its forms carry.
pub struct Console {
    pub caller: Caller,
    pub csrf: String,
}

impl Console {
    /// A posted form's fields, once its CSRF token is this session's.
    pub fn form(&self, body: &[u8]) -> Result<Fields, ConsoleError> {
        let fields = Fields::parse(body)?;
        self.check(&fields)?;
        Ok(fields)
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check(&self, fields: &Fields) -> Result<(), ConsoleError> {
        let given = fields.get("csrf").unwrap_or_default();
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(given.as_bytes(), self.csrf.as_bytes()).into();
        if same {
            Ok(())
        } else {
            Err(ConsoleError::Forgery)
        }
    }

    /// The snapshot and the organization the caller acts in.
    pub fn org<'s>(&self, snapshot: &'s Snapshot) -> Result<&'s OrgSnapshot, ConsoleError> {
        Ok(crate::state::org_of(snapshot, self.caller.organization)?)
    }

    /// Whether write controls are shown. The server decides each write anyway.
    pub fn may_write(&self) -> bool {
        self.caller.admin
    }
}

/// The CSRF token of a session: derived from its secret, so it is stored nowhere and a page of
/// another origin cannot know it.
fn csrf_token(session_token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"keycard console csrf\0");
    hasher.update(session_token.as_bytes());
    hex::encode(hasher.finalize())
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

impl FromRequestParts<AppState> for Console {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.method != axum::http::Method::GET {
            session::same_origin(state, &parts.headers, crate::auth::client_ip(parts))?;
        }
        let signed_out = if parts.method == axum::http::Method::GET {
            ConsoleError::SignIn
        } else {
            ConsoleError::SessionEnded
        };
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(signed_out);
        };
        let (identity, credential) = match state.app.verify_token(token).await {
            Ok(verified) => verified,
            Err(Error::Unauthenticated(_)) => {
                return Err(if parts.method == axum::http::Method::GET {
                    ConsoleError::Expired
                } else {
                    ConsoleError::SessionEnded
                });
            }
            Err(err) => return Err(err.into()),
        };
        // Only a console session: not an API key smuggled into the cookie.
        if !matches!(credential, Credential::Session(_))
            || !matches!(identity, Identity::Account(_))
        {
            return Err(signed_out);
        }
        let named =
            cookie(&parts.headers, ORGANIZATION_COOKIE).and_then(|value| value.parse().ok());
        let caller = match state.app.caller_for(identity.clone(), credential, named) {
            Ok(caller) => caller,
            // A partner no more (or the organization is gone): back to its own organization.
            Err(_) => state.app.caller_for(identity, credential, None)?,
        };
        Ok(Console {
            caller,
            csrf: csrf_token(token),
        })
    }
}

/// Why a console request did not get its page.
#[derive(Debug)]
pub enum ConsoleError {
    /// Not signed in: the sign-in page.
    SignIn,
    /// The session expired: the sign-in page, saying so.
    Expired,
    /// A form posted without a live session.
    SessionEnded,
    /// A form without this session's CSRF token.
    Forgery,
    /// What the application layer said.
    Refused(Error),
}

impl From<Error> for ConsoleError {
    fn from(err: Error) -> Self {
        ConsoleError::Refused(err)
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            ConsoleError::SignIn => return Redirect::to("/console/sign-in").into_response(),
            ConsoleError::Expired => {
                let mut response = Redirect::to("/console/sign-in?expired=1").into_response();
                session::clear_cookies(response.headers_mut());
                return response;
            }
            ConsoleError::SessionEnded => (
                StatusCode::UNAUTHORIZED,
                "Signed out",
                "Your session has ended. Sign in again; nothing was changed.".to_owned(),
            ),
            ConsoleError::Forgery => (
                StatusCode::FORBIDDEN,
                "Refused",
                "This form did not come from your console session; nothing was changed.".to_owned(),
            ),
            ConsoleError::Refused(err) => {
                let api = crate::error::ApiError::from(err);
                (api.status(), "Refused", api.message)
            }
        };
        let body = html! {
            (DOCTYPE)
            html lang="en" {
                head { (head(title)) }
                body {
                    main id="main" class="narrow" {
                        h1 { (title) }
                        p role="alert" { (message) }
                        p { a href="/console/" { "Back to the console" } }
                    }
                }
            }
        };
        (status, body).into_response()
    }
}

/// The `<head>` of every page.
fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) " · Keycard" }
        link rel="stylesheet" href="/console/assets/console.css";
        script src="/console/assets/console.js" defer {}
    }
}

/// The screens, in the navigation's order: (path, name, shown to non-administrators).
const SCREENS: &[(&str, &str, bool)] = &[
    ("/console/me", "My account", true),
    ("/console/accounts", "Accounts", false),
    ("/console/groups", "Groups", false),
    ("/console/roles", "Roles", false),
    ("/console/policies", "Policies", false),
    ("/console/resources", "Resources", false),
    ("/console/catalogue", "Catalogue", false),
    ("/console/changes", "Changes", false),
    ("/console/what-if", "What-if", true),
    ("/console/organizations", "Organizations", false),
];

/// A page: the navigation, the organization switch for partners, and `body` under its title.
pub fn page(
    console: &Console,
    snapshot: &Snapshot,
    current: &str,
    title: &str,
    body: Markup,
) -> Markup {
    let me = console
        .caller
        .account()
        .map(|account| account.username.to_string())
        .unwrap_or_default();
    let org_name = snapshot
        .organization(console.caller.organization)
        .map(|org| org.organization.name.to_string())
        .unwrap_or_default();
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header {
                    p class="brand" { "Keycard" span class="org" { (org_name) } }
                    nav aria-label="Console" {
                        ul {
                            @for (path, name, everyone) in SCREENS {
                                @if *everyone || (console.caller.admin && (*path != "/console/organizations" || console.caller.partner)) {
                                    li {
                                        a href=(path) aria-current=[(*path == current).then_some("page")] { (name) }
                                    }
                                }
                            }
                        }
                    }
                    div class="who" {
                        @if console.caller.partner {
                            form method="post" action="/console/organization" class="inline" {
                                (csrf_field(console))
                                label for="switch-org" { "Organization" }
                                select id="switch-org" name="organization" {
                                    @for org in snapshot_organizations(snapshot) {
                                        option value=(org.0) selected[org.0 == console.caller.organization.to_string()] { (org.1) }
                                    }
                                }
                                button type="submit" { "Switch" }
                            }
                        }
                        span { "Signed in as " strong { (me) } }
                        form method="post" action="/console/sign-out" class="inline" {
                            (csrf_field(console))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// Every organization, by name: (id, name).
fn snapshot_organizations(snapshot: &Snapshot) -> Vec<(String, String)> {
    let mut orgs: Vec<(String, String)> = snapshot
        .organizations()
        .map(|org| {
            (
                org.organization.id.to_string(),
                org.organization.name.to_string(),
            )
        })
        .collect();
    orgs.sort_by(|a, b| a.1.cmp(&b.1));
    orgs
}

/// The hidden field every form carries.
pub fn csrf_field(console: &Console) -> Markup {
    html! { input type="hidden" name="csrf" value=(console.csrf); }
}

/// After a write: back to `to`, with the revision the write made.
pub fn written(to: &str, revision: Revision) -> Response {
    crate::revision::with_revision(revision, Redirect::to(to).into_response())
}

/// A list's query: the search text and the key the page starts after.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    pub after: Option<String>,
}

impl ListQuery {
    /// The search of names this query makes.
    pub fn search(&self) -> keycard_core::page::Search {
        keycard_core::page::Search::new(&self.q)
    }
}

/// One page of a named list, searched by name: its items, the search form and the page link.
pub struct Listing<T> {
    pub items: Vec<T>,
    pub search: Markup,
    pub pages: Markup,
}

/// The page that `query` asks for of the `found` items, each given with the name it is listed by.
pub fn listing<K: Ord + AsRef<str>, T>(
    path: &str,
    query: &ListQuery,
    found: impl Iterator<Item = (K, T)>,
) -> Listing<T> {
    let (items, next) = keycard_core::page::select_page(found, query.after.as_deref(), PAGE_SIZE);
    let (search, pages) = search_and_pages(path, &query.q, next.as_deref());
    Listing {
        items,
        search,
        pages,
    }
}

/// The search form and the next-page link of a list.
pub fn search_and_pages(path: &str, query: &str, next: Option<&str>) -> (Markup, Markup) {
    let search = html! {
        form method="get" action=(path) role="search" class="search" {
            label for="q" { "Search" }
            input id="q" type="search" name="q" value=(query);
            button type="submit" { "Search" }
        }
    };
    let pages = html! {
        @if let Some(next) = next {
            p { a rel="next" href=(format!("{path}?{}", serde_urlencoded::to_string([("q", query), ("after", next)]).unwrap_or_default())) { "Next page" } }
        }
    };
    (search, pages)
}

/// An id from a path or a form.
pub fn parse_id<T: std::str::FromStr<Err = Error>>(text: &str) -> Result<T, Error> {
    text.trim().parse()
}

/// A role's name, or its id when it is gone.
pub fn role_name(org: &OrgSnapshot, id: keycard_core::ids::RoleId) -> String {
    org.role(id)
        .map(|role| role.name.to_string())
        .unwrap_or_else(|| id.to_string())
}

/// A group's name, or its id when it is gone.
pub fn group_name(org: &OrgSnapshot, id: keycard_core::ids::GroupId) -> String {
    org.group(id)
        .map(|group| group.name.to_string())
        .unwrap_or_else(|| id.to_string())
}

/// A group path by name: `engineering → backend`.
pub fn via_names(org: &OrgSnapshot, via: &[keycard_core::ids::GroupId]) -> String {
    via.iter()
        .map(|id| group_name(org, *id))
        .collect::<Vec<_>>()
        .join(" → ")
}
