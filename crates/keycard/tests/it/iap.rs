//! The Itential face: login and token transports, every /authorization endpoint, filters, errors
//! and enforcement through the Authorization method catalogue.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{ADMIN_PASSWORD, TestServer};

/// Logs in through `/login` and returns the plain-text token.
async fn login(
    server: &TestServer,
    username: &str,
    password: &str,
) -> (StatusCode, String, Option<String>) {
    let response = server
        .request(Method::POST, "/login")
        .json(&json!({"user": {"username": username, "password": password}}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|value| value.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap(), cookie)
}

/// Calls the IAP face with the `token` cookie.
async fn iap(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = server
        .http
        .request(method, format!("{}{path}", server.base))
        .header("cookie", format!("token={token}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn login_transports_and_logout() {
    let server = TestServer::start().await;
    let (status, token, cookie) = login(&server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        token.starts_with("kcs_") && !token.contains('"'),
        "plain text, no quotes: {token}"
    );
    let cookie = cookie.unwrap();
    assert!(
        cookie.starts_with(&format!("token={token}; Path=/")) && cookie.contains("HttpOnly"),
        "{cookie}"
    );

    let trailing = server
        .request(Method::POST, "/login/")
        .json(&json!({"user": {"username": "admin", "password": ADMIN_PASSWORD}}))
        .send()
        .await
        .unwrap();
    assert_eq!(trailing.status(), StatusCode::OK);

    for request in [
        server
            .request(Method::GET, "/whoami")
            .header("cookie", format!("other=1; token={token}")),
        server
            .http
            .get(format!("{}/whoami?token={token}", server.base)),
        server.request(Method::GET, "/whoami").bearer_auth(&token),
        server
            .request(Method::GET, "/whoami")
            .basic_auth("admin", Some(ADMIN_PASSWORD)),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers().get("set-cookie").is_none(),
            "no cookie but on /login"
        );
        let me: Value = response.json().await.unwrap();
        assert_eq!(me["username"], "admin");
        assert!(
            me["methods"]["Authorization"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m == "createRole")
        );
        assert!(
            me["routes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "/authorization/roles")
        );
    }

    let (status, body, _) = login(&server, "admin", "wrong-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(body["message"].is_string());

    let unauthenticated = server
        .request(Method::GET, "/health/applications")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    let (status, health) = iap(&server, &token, Method::GET, "/health/applications", None).await;
    assert_eq!(
        (status, health["total"].as_u64()),
        (StatusCode::OK, Some(1))
    );

    assert_eq!(
        iap(&server, &token, Method::GET, "/logout", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        iap(&server, &token, Method::GET, "/whoami", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn roles_crud_with_iap_envelopes() {
    let server = TestServer::start().await;
    let (_, token, _) = login(&server, "admin", ADMIN_PASSWORD).await;
    let (status, created) = iap(
        &server,
        &token,
        Method::POST,
        "/authorization/roles",
        Some(json!({"role": {"provenance": "Custom", "name": "device-operator", "allowedMethods": [{"name": "getDevices", "provenance": "ConfigurationManager"}], "allowedViews": []}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["status"], "OK");
    let role = created["data"].clone();
    assert_eq!(role["description"], "", "description defaults to empty");
    assert!(role["_meta"]["created"].as_str().unwrap().ends_with('Z'));
    let id = role["_id"].as_str().unwrap().to_owned();

    let (status, read) = iap(
        &server,
        &token,
        Method::GET,
        &format!("/authorization/roles/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, read["name"].as_str()),
        (StatusCode::OK, Some("device-operator"))
    );
    assert!(
        read.get("status").is_none(),
        "single GETs are bare documents"
    );

    let (status, updated) = iap(
        &server,
        &token,
        Method::PATCH,
        &format!("/authorization/roles/{id}"),
        Some(json!({"updates": {"description": "ops", "allowedMethods": []}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (
            updated["data"]["description"].as_str(),
            updated["data"]["allowedMethods"].clone()
        ),
        (Some("ops"), json!([]))
    );
    let (status, renamed) = iap(
        &server,
        &token,
        Method::PATCH,
        &format!("/authorization/roles/{id}"),
        Some(json!({"updates": {"name": "other"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{renamed}");
    let (status, bare) = iap(
        &server,
        &token,
        Method::PATCH,
        &format!("/authorization/roles/{id}"),
        Some(json!({"description": "x"})),
    )
    .await;
    assert_eq!(status.as_u16() / 100, 4, "{bare}");
    assert!(
        bare["message"]
            .as_str()
            .unwrap()
            .contains("No applicable updates")
    );

    let (status, duplicate) = iap(
        &server,
        &token,
        Method::POST,
        "/authorization/roles",
        Some(json!({"role": {"name": "device-operator"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{duplicate}");
    let (status, _) = iap(
        &server,
        &token,
        Method::POST,
        "/authorization/roles",
        Some(json!({"role": {"name": "x", "provenance": "Hacker"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, roles) = iap(
        &server,
        &token,
        Method::GET,
        "/authorization/roles?limit=100",
        None,
    )
    .await;
    let builtin = roles["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "apiread")
        .unwrap()["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = iap(
        &server,
        &token,
        Method::DELETE,
        &format!("/authorization/roles/{builtin}"),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "built-in roles cannot be deleted"
    );
    let (status, _) = iap(
        &server,
        &token,
        Method::PATCH,
        &format!("/authorization/roles/{builtin}"),
        Some(json!({"updates": {"description": "x"}})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, deleted) = iap(
        &server,
        &token,
        Method::DELETE,
        &format!("/authorization/roles/{id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, deleted["status"].as_str()),
        (StatusCode::OK, Some("OK"))
    );
    assert!(deleted.get("data").is_none());
    assert_eq!(
        iap(
            &server,
            &token,
            Method::GET,
            &format!("/authorization/roles/{id}"),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        iap(
            &server,
            &token,
            Method::GET,
            "/authorization/roles/not-an-id",
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn groups_nest_accounts_update_and_cascade() {
    let server = TestServer::start().await;
    let (_, token, _) = login(&server, "admin", ADMIN_PASSWORD).await;
    let role = server.create_role(json!({"name": "viewer"})).await;
    let (status, parent) = iap(
        &server,
        &token,
        Method::POST,
        "/authorization/groups",
        Some(json!({"group": {"provenance": "Pronghorn", "name": "netops", "description": "", "memberOf": [], "assignedRoles": [{"roleId": role}], "inactive": false}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{parent}");
    let parent = parent["data"]["_id"].as_str().unwrap().to_owned();
    let (status, child) =
        iap(&server, &token, Method::POST, "/authorization/groups", Some(json!({"group": {"name": "tier1", "memberOf": [{"groupId": parent, "aaaManaged": false}]}}))).await;
    assert_eq!(status, StatusCode::OK, "{child}");
    let child = child["data"]["_id"].as_str().unwrap().to_owned();
    let (status, cycle) = iap(
        &server,
        &token,
        Method::PATCH,
        &format!("/authorization/groups/{parent}"),
        Some(json!({"updates": {"memberOf": [{"groupId": child}]}})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{cycle}");

    let (_, short) = iap(
        &server,
        &token,
        Method::GET,
        "/authorization/groups/list",
        None,
    )
    .await;
    assert_eq!(short["total"], 2);
    assert!(short["results"][0].get("memberOf").is_none());
    let (_, one) = iap(
        &server,
        &token,
        Method::GET,
        &format!("/authorization/groups/{child}"),
        None,
    )
    .await;
    assert_eq!(
        one["memberOf"],
        json!([{"groupId": parent, "aaaManaged": false}])
    );

    let bob = server
        .create_account(json!({"username": "bob", "email": "bob@example.com"}))
        .await;
    let (status, updated) = iap(
        &server,
        &token,
        Method::PATCH,
        &format!("/authorization/accounts/{bob}"),
        Some(json!({"updates": {"memberOf": [{"groupId": child}], "assignedRoles": [{"roleId": role}], "email": "robert@example.com"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["data"]["email"], "robert@example.com");
    let (status, deactivated) = iap(
        &server,
        &token,
        Method::PATCH,
        &format!("/authorization/accounts/{bob}"),
        Some(json!({"inactive": true})),
    )
    .await;
    assert_eq!(
        (status, deactivated["data"]["inactive"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (status, wrong) = iap(
        &server,
        &token,
        Method::PATCH,
        &format!("/authorization/accounts/{bob}"),
        Some(json!({"updates": {"username": "x"}})),
    )
    .await;
    assert_eq!(status.as_u16() / 100, 4, "{wrong}");

    let (_, in_group) = iap(
        &server,
        &token,
        Method::GET,
        &format!("/authorization/accounts?groupId={child}"),
        None,
    )
    .await;
    assert_eq!(in_group["total"], 1);
    assert_eq!(in_group["results"][0]["_id"], bob.as_str());
    let (_, inactive) = iap(
        &server,
        &token,
        Method::GET,
        "/authorization/accounts?inactive=true",
        None,
    )
    .await;
    assert_eq!(inactive["total"], 1);

    // Deleting a group removes it from members (cascade), and deleting a role removes assignments.
    assert_eq!(
        iap(
            &server,
            &token,
            Method::DELETE,
            &format!("/authorization/groups/{child}"),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    let (_, bob_doc) = iap(
        &server,
        &token,
        Method::GET,
        &format!("/authorization/accounts/{bob}"),
        None,
    )
    .await;
    assert_eq!(bob_doc["memberOf"], json!([]));
    assert_eq!(
        iap(
            &server,
            &token,
            Method::DELETE,
            &format!("/authorization/roles/{role}"),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    let (_, bob_doc) = iap(
        &server,
        &token,
        Method::GET,
        &format!("/authorization/accounts/{bob}"),
        None,
    )
    .await;
    assert_eq!(bob_doc["assignedRoles"], json!([]));
    let (_, parent_doc) = iap(
        &server,
        &token,
        Method::GET,
        &format!("/authorization/groups/{parent}"),
        None,
    )
    .await;
    assert_eq!(parent_doc["assignedRoles"], json!([]));
}

#[tokio::test]
async fn lists_page_filter_and_reject_bad_parameters() {
    let server = TestServer::start().await;
    let (_, token, _) = login(&server, "admin", ADMIN_PASSWORD).await;
    for index in 0..30 {
        server
            .create_account(
                json!({"username": format!("user{index:02}"), "service_account": index % 10 == 0}),
            )
            .await;
    }
    // Loop as clients do, until `total` items are collected.
    let mut seen = Vec::new();
    let mut total = usize::MAX;
    while seen.len() < total {
        let (status, page) = iap(
            &server,
            &token,
            Method::GET,
            &format!("/authorization/accounts?limit=7&skip={}", seen.len()),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        total = page["total"].as_u64().unwrap() as usize;
        let results = page["results"].as_array().unwrap();
        assert!(!results.is_empty());
        seen.extend(
            results
                .iter()
                .map(|r| r["username"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(total, 31);
    assert_eq!(seen.len(), 31);
    let (_, default_page) = iap(
        &server,
        &token,
        Method::GET,
        "/authorization/accounts",
        None,
    )
    .await;
    assert_eq!(default_page["results"].as_array().unwrap().len(), 25);

    let cases = [
        (
            "/authorization/accounts?multiContains%5Busername%5D=user1",
            10,
        ),
        (
            "/authorization/accounts?multiContains=%7B%22username%22%3A%22user1%22%7D",
            10,
        ),
        (
            "/authorization/accounts?multiStartsWith%5Busername%5D=user2&multiEquals%5BisServiceAccount%5D=true",
            1,
        ),
        ("/authorization/accounts?isServiceAccount=true", 3),
        ("/authorization/accounts?equals=user05", 1),
        (
            "/authorization/accounts?contains=ER0&containsField=username",
            10,
        ),
        ("/authorization/accounts?startsWith=ad", 1),
        (
            "/authorization/roles?equals=Custom&equalsField=provenance",
            0,
        ),
        (
            "/authorization/methods?multiEquals%5Bprovenance%5D=Authorization",
            19,
        ),
        ("/authorization/views?startsWith=/authorization", 4),
    ];
    for (path, expected) in cases {
        let (status, page) = iap(&server, &token, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert_eq!(page["total"], expected, "{path}");
    }
    let (_, sorted) = iap(
        &server,
        &token,
        Method::GET,
        "/authorization/accounts?sort=username&order=-1&limit=2",
        None,
    )
    .await;
    assert_eq!(sorted["results"][0]["username"], "user29");
    let (_, by_id) = iap(
        &server,
        &token,
        Method::GET,
        "/authorization/accounts?sort=_id&order=-1&limit=1",
        None,
    )
    .await;
    assert_eq!(by_id["results"][0]["username"], "user29");

    for (path, named) in [
        ("/authorization/accounts?colour=blue", "colour"),
        ("/authorization/accounts?limit=lots", "limit"),
        ("/authorization/accounts?sort=salary", "salary"),
        (
            "/authorization/accounts?multiContains%5Bsalary%5D=1",
            "salary",
        ),
        ("/authorization/roles?order=sideways", "order"),
        ("/authorization/groups?inactive=perhaps", "inactive"),
        (
            "/authorization/accounts?isServiceAccount=maybe",
            "isServiceAccount",
        ),
    ] {
        let (status, error) = iap(&server, &token, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            error["message"].as_str().unwrap().contains(named),
            "{path}: {error}"
        );
        assert_eq!(error["status"], "Bad Request");
    }
}

#[tokio::test]
async fn force_logout_revokes_every_session() {
    let server = TestServer::start().await;
    let carol = server
        .create_account(json!({"username": "carol", "password": "carol-password"}))
        .await;
    let (_, first, _) = login(&server, "carol", "carol-password").await;
    let (_, second, _) = login(&server, "carol", "carol-password").await;
    let (_, admin, _) = login(&server, "admin", ADMIN_PASSWORD).await;
    let (_, doc) = iap(
        &server,
        &admin,
        Method::GET,
        &format!("/authorization/accounts/{carol}"),
        None,
    )
    .await;
    assert_eq!(doc["loggedIn"], true);
    let (status, body) = iap(
        &server,
        &admin,
        Method::POST,
        &format!("/authorization/accounts/{carol}/forceLogout"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("OK"))
    );
    for token in [first, second] {
        assert_eq!(
            iap(&server, &token, Method::GET, "/whoami", None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (_, doc) = iap(
        &server,
        &admin,
        Method::GET,
        &format!("/authorization/accounts/{carol}"),
        None,
    )
    .await;
    assert_eq!(doc["loggedIn"], false);
    server
        .patch(&format!("/v1/accounts/{carol}"), json!({"inactive": true}))
        .await;
    assert_eq!(
        login(&server, "carol", "carol-password").await.0,
        StatusCode::UNAUTHORIZED,
        "inactive accounts cannot log in"
    );
}

#[tokio::test]
async fn the_method_catalogue_is_enforced() {
    let server = TestServer::start().await;
    let (_, roles) = server.get("/v1/roles").await;
    let role_id = |name: &str| {
        roles["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let reader = server.create_account(json!({"username": "reader", "password": "reader-password", "roles": [role_id("apiread")]})).await;
    server
        .create_account(json!({"username": "nobody", "password": "nobody-password"}))
        .await;
    server.create_account(json!({"username": "manager", "password": "manager-password", "roles": [role_id("admin")]})).await;
    let (_, reader_token, _) = login(&server, "reader", "reader-password").await;
    let (_, nobody_token, _) = login(&server, "nobody", "nobody-password").await;
    let (_, manager_token, _) = login(&server, "manager", "manager-password").await;
    let create = json!({"role": {"name": "made-by-someone"}});

    assert_eq!(
        iap(
            &server,
            &reader_token,
            Method::GET,
            "/authorization/roles",
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    let (status, denied) = iap(
        &server,
        &reader_token,
        Method::POST,
        "/authorization/roles",
        Some(create.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{denied}");
    assert!(denied["message"].as_str().unwrap().contains("createRole"));
    assert_eq!(
        iap(
            &server,
            &nobody_token,
            Method::GET,
            "/authorization/roles",
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        iap(&server, &nobody_token, Method::GET, "/whoami", None)
            .await
            .0,
        StatusCode::OK,
        "anyone may ask who they are"
    );
    assert_eq!(
        iap(
            &server,
            &manager_token,
            Method::POST,
            "/authorization/roles",
            Some(create)
        )
        .await
        .0,
        StatusCode::OK
    );

    // A custom role granting only createRole is enough for that one route.
    let creator = server.create_role(json!({"name": "creator", "methods": [{"provenance": "Authorization", "name": "createRole"}]})).await;
    server
        .put(&format!("/v1/accounts/{reader}/roles/{creator}"))
        .await;
    assert_eq!(
        iap(
            &server,
            &reader_token,
            Method::POST,
            "/authorization/roles",
            Some(json!({"role": {"name": "reader-made"}}))
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        iap(
            &server,
            &reader_token,
            Method::DELETE,
            &format!("/authorization/roles/{creator}"),
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn csv_export_and_service_accounts() {
    let server = TestServer::start().await;
    let (_, token, _) = login(&server, "admin", ADMIN_PASSWORD).await;
    server.create_group(json!({"name": "ops, \"core\""})).await;
    let response = server
        .request(Method::GET, "/authorization/csv/export")
        .header("cookie", format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "type,_id,name,provenance,description,inactive,email,memberOf,assignedRoles,allowedMethods,allowedViews"
    );
    assert!(csv.contains("account,") && csv.contains(",admin,Local,"));
    assert!(
        csv.contains("\"ops, \"\"core\"\"\""),
        "fields are quoted: {csv}"
    );

    let (status, created) = iap(
        &server,
        &token,
        Method::POST,
        "/oauth/serviceAccounts",
        Some(json!({"accountData": {"name": "robot", "description": "ci"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let client_id = created["results"]["client_id"].as_str().unwrap().to_owned();
    let client_secret = created["results"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", client_secret.as_str()),
    ];
    let response = server
        .request(Method::POST, "/oauth/token")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let grant: Value = response.json().await.unwrap();
    assert_eq!(grant["token_type"], "Bearer");
    assert!(grant["expires_in"].as_u64().unwrap() > 0);
    let access = grant["access_token"].as_str().unwrap();
    let me: Value = server
        .request(Method::GET, "/whoami")
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["username"].as_str(), me["isServiceAccount"].as_bool()),
        (Some("robot"), Some(true))
    );
    let (_, accounts) = iap(
        &server,
        &token,
        Method::GET,
        "/authorization/accounts?isServiceAccount=true",
        None,
    )
    .await;
    assert_eq!(accounts["total"], 1);

    let wrong = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", "kck_nope_nope"),
    ];
    let response = server
        .request(Method::POST, "/oauth/token")
        .form(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = server
        .request(Method::POST, "/oauth/token")
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
