//! Authentication and authorization failures, sessions and the failed-login limit.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{ADMIN_PASSWORD, Auth, TestServer};

#[tokio::test]
async fn requests_without_valid_credentials_get_401() {
    let server = TestServer::start().await;
    for auth in [
        Auth::None,
        Auth::Bearer("not-a-keycard-token".into()),
        Auth::Bearer(format!("kck_{}_forged", uuid::Uuid::now_v7().simple())),
        Auth::Basic("admin".into(), "wrong-password".into()),
        Auth::Basic("nobody".into(), "whatever-password".into()),
    ] {
        let (status, body) = server.call(Method::GET, "/v1/roles", None, &auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(body["code"], "unauthenticated");
    }
    let tampered = format!("{}x", server.admin_key);
    let (status, _) = server
        .call(Method::GET, "/v1/roles", None, &Auth::Bearer(tampered))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .call(
            Method::GET,
            "/v1/roles",
            None,
            &Auth::Basic("admin".into(), ADMIN_PASSWORD.into()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn non_admins_get_403_but_may_see_and_check_themselves() {
    let server = TestServer::start().await;
    let (id, key) = server.account_with_key("dave", json!({})).await;
    let dave = Auth::Bearer(key);
    for (method, path, body) in [
        (Method::GET, "/v1/roles".to_owned(), None),
        (
            Method::POST,
            "/v1/roles".to_owned(),
            Some(json!({"name": "sneaky"})),
        ),
        (Method::GET, "/v1/accounts".to_owned(), None),
        (
            Method::PATCH,
            format!("/v1/accounts/{id}"),
            Some(json!({"inactive": false})),
        ),
        (Method::GET, "/v1/changes".to_owned(), None),
        (
            Method::POST,
            "/v1/organizations".to_owned(),
            Some(json!({"name": "mine"})),
        ),
    ] {
        let (status, body) = server.call(method.clone(), &path, body, &dave).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert_eq!(body["code"], "forbidden");
    }
    let (status, me) = server.call(Method::GET, "/v1/me", None, &dave).await;
    assert_eq!(
        (status, me["admin"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let (status, own) = server
        .call(Method::GET, &format!("/v1/accounts/{id}"), None, &dave)
        .await;
    assert_eq!(
        (status, own["username"].as_str()),
        (StatusCode::OK, Some("dave"))
    );
    let check = |subject: &str| json!({"subject": {"id": subject}, "action": "read", "resource": {"type": "doc", "id": "1"}});
    let (status, answer) = server
        .call(Method::POST, "/v1/check", Some(check("dave")), &dave)
        .await;
    assert_eq!(
        (status, answer["allowed"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let (status, _) = server
        .call(Method::POST, "/v1/check", Some(check("admin")), &dave)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sessions_log_in_out_and_are_revoked_together() {
    let server = TestServer::start().await;
    let id = server
        .create_account(json!({"username": "erin", "password": "erin-password"}))
        .await;
    let login = json!({"username": "erin", "password": "erin-password"});
    let (status, first) = server
        .call(
            Method::POST,
            "/v1/sessions",
            Some(login.clone()),
            &Auth::None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (_, second) = server
        .call(
            Method::POST,
            "/v1/sessions",
            Some(login.clone()),
            &Auth::None,
        )
        .await;
    let first = Auth::Bearer(first["token"].as_str().unwrap().to_owned());
    let second = Auth::Bearer(second["token"].as_str().unwrap().to_owned());
    assert_eq!(
        server.call(Method::GET, "/v1/me", None, &first).await.0,
        StatusCode::OK
    );

    assert_eq!(
        server
            .call(Method::DELETE, "/v1/sessions/current", None, &first)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.call(Method::GET, "/v1/me", None, &first).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.call(Method::GET, "/v1/me", None, &second).await.0,
        StatusCode::OK
    );

    let (status, revoked) = server.delete(&format!("/v1/accounts/{id}/sessions")).await;
    assert_eq!(
        (status, revoked["revoked"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    assert_eq!(
        server.call(Method::GET, "/v1/me", None, &second).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (status, _) = server
        .call(
            Method::POST,
            "/v1/sessions",
            Some(json!({"username": "erin", "password": "nope-nope"})),
            &Auth::None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Inactive accounts cannot log in or use their credentials.
    let (_, third) = server
        .call(
            Method::POST,
            "/v1/sessions",
            Some(login.clone()),
            &Auth::None,
        )
        .await;
    let third = Auth::Bearer(third["token"].as_str().unwrap().to_owned());
    server
        .patch(&format!("/v1/accounts/{id}"), json!({"inactive": true}))
        .await;
    assert_eq!(
        server
            .call(Method::POST, "/v1/sessions", Some(login), &Auth::None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.call(Method::GET, "/v1/me", None, &third).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn passwords_change_with_the_current_one() {
    let server = TestServer::start().await;
    let (id, key) = server
        .account_with_key("fred", json!({"password": "fred-password"}))
        .await;
    let fred = Auth::Bearer(key);
    let path = format!("/v1/accounts/{id}/password");
    let (status, _) = server
        .call(
            Method::PUT,
            &path,
            Some(json!({"password": "new-password"})),
            &fred,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body = json!({"password": "new-password", "current_password": "fred-password"});
    let (status, _) = server.call(Method::PUT, &path, Some(body), &fred).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call(
            Method::GET,
            "/v1/me",
            None,
            &Auth::Basic("fred".into(), "new-password".into()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server
        .call(
            Method::PUT,
            &path,
            Some(json!({"password": "short"})),
            &server.admin(),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"))
    );
}

#[tokio::test]
async fn failed_logins_are_rate_limited() {
    let server = TestServer::start().await;
    let wrong = Auth::Basic("admin".into(), "wrong-password".into());
    for _ in 0..10 {
        assert_eq!(
            server.call(Method::GET, "/v1/me", None, &wrong).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let response = server
        .request(Method::GET, "/v1/me")
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits out the window"
    );
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    // API keys are not affected.
    assert_eq!(server.get("/v1/me").await.0, StatusCode::OK);
}
