//! The console's fences, in-process: only its own cookie session signs in, every form needs the
//! session's CSRF token and this origin, every page carries a strict CSP, and the server refuses
//! a member's write whatever the page showed. The console itself is driven in Chromium by
//! clients/test_console.py.

use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{Client, StatusCode, redirect};
use serde_json::json;

use crate::harness::{ADMIN_PASSWORD, TestServer};

/// A client that shows redirects instead of following them.
fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in and answers the session cookie (`name=value`).
async fn sign_in(server: &TestServer, username: &str, password: &str) -> String {
    let response = client()
        .post(format!("{}/console/sign-in", server.base))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with("keycard_console="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    cookie.split(';').next().unwrap().to_owned()
}

/// The CSRF token of the session's forms, read from a page.
async fn csrf(server: &TestServer, cookie: &str, path: &str) -> String {
    let page = client()
        .get(format!("{}{path}", server.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
    page[at..at + 64].to_owned()
}

async fn post(
    server: &TestServer,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client()
        .post(format!("{}{path}", server.base))
        .header(COOKIE, cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn forms_need_the_session_its_token_and_this_origin() {
    let server = TestServer::start().await;
    let cookie = sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let token = csrf(&server, &cookie, "/console/roles").await;

    // With the token: written, and the revision says so.
    let made = post(
        &server,
        &cookie,
        "/console/roles",
        &[("csrf", &token), ("name", "editors")],
    )
    .await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    assert!(made.headers().contains_key("keycard-revision"));
    assert!(
        made.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/console/roles/")
    );

    // Without it, or with another session's, or from another origin: nothing runs.
    let before = server.get("/v1/roles?limit=500").await.1["items"]
        .as_array()
        .unwrap()
        .len();
    let other = sign_in(&server, "admin", ADMIN_PASSWORD).await;
    let others_token = csrf(&server, &other, "/console/roles").await;
    for form in [
        vec![("name", "a")],
        vec![("csrf", others_token.as_str()), ("name", "b")],
    ] {
        let refused = post(&server, &cookie, "/console/roles", &form).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    let cross_site = client()
        .post(format!("{}/console/roles", server.base))
        .header(COOKIE, &cookie)
        .header(ORIGIN, "https://evil.example")
        .form(&[("csrf", token.as_str()), ("name", "c")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    let after = server.get("/v1/roles?limit=500").await.1["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after);

    // Every page, the error pages too, carries the policy.
    for path in [
        "/console/accounts",
        "/console/sign-in",
        "/console/accounts/not-an-id",
    ] {
        let response = client()
            .get(format!("{}{path}", server.base))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        let policy = response.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(policy.starts_with("default-src 'none'"), "{path}: {policy}");
    }
}

#[tokio::test]
async fn only_a_console_session_signs_in_and_members_cannot_write() {
    let server = TestServer::start().await;
    // An API key in the cookie is not a session.
    let page = client()
        .get(format!("{}/console/accounts", server.base))
        .header(COOKIE, format!("keycard_console={}", server.admin_key))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()[LOCATION], "/console/sign-in");
    // A form without a session is refused, not redirected into a sign-in that would drop it.
    let form = client()
        .post(format!("{}/console/roles", server.base))
        .form(&[("name", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNAUTHORIZED);

    server
        .create_account(json!({"username": "mia", "password": "mia-password-1"}))
        .await;
    let cookie = sign_in(&server, "mia", "mia-password-1").await;
    let token = csrf(&server, &cookie, "/console/me").await;
    let refused = post(
        &server,
        &cookie,
        "/console/roles",
        &[("csrf", &token), ("name", "mine")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let listing = client()
        .get(format!("{}/console/accounts", server.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), StatusCode::FORBIDDEN);

    // Signing out ends the session on the server: the cookie no longer signs in.
    let out = post(&server, &cookie, "/console/sign-out", &[("csrf", &token)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = client()
        .get(format!("{}/console/me", server.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(after.headers()[LOCATION], "/console/sign-in?expired=1");
}

/// Behind a public HTTPS URL the cookie is `Secure`, and forms must come from that URL's origin.
#[tokio::test]
async fn a_public_https_url_makes_cookies_secure_and_is_the_only_origin() {
    let settings = keycard_server::Settings {
        public_url: Some(
            keycard_server::PublicUrl::parse("https://authz.example.com/keycard").unwrap(),
        ),
        ..keycard_server::Settings::default()
    };
    let server = TestServer::start_with(settings).await;
    let response = client()
        .post(format!("{}/console/sign-in", server.base))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let token = csrf(&server, &session, "/console/roles").await;
    for (origin, expected) in [
        ("https://authz.example.com", StatusCode::SEE_OTHER),
        (server.base.as_str(), StatusCode::FORBIDDEN),
    ] {
        let response = client()
            .post(format!("{}/console/roles", server.base))
            .header(COOKIE, &session)
            .header(ORIGIN, origin)
            .form(&[("csrf", token.as_str()), ("name", origin)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{origin}");
    }
}
