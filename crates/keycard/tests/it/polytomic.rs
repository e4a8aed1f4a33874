//! The Polytomic face: every route, its error shape, version negotiation and idempotency.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{ADMIN_PASSWORD, TestServer};

struct Call<'a> {
    server: &'a TestServer,
    method: Method,
    path: String,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
    token: String,
}

impl<'a> Call<'a> {
    fn new(server: &'a TestServer, method: Method, path: impl Into<String>) -> Self {
        Self {
            server,
            method,
            path: path.into(),
            body: None,
            headers: Vec::new(),
            token: server.admin_key.clone(),
        }
    }

    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn token(mut self, token: &str) -> Self {
        self.token = token.to_owned();
        self
    }

    async fn send(self) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .server
            .http
            .request(self.method, format!("{}{}", self.server.base, self.path))
            .bearer_auth(&self.token);
        for (name, value) in self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = self.body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }
}

fn get<'a>(server: &'a TestServer, path: &str) -> Call<'a> {
    Call::new(server, Method::GET, path)
}

fn post<'a>(server: &'a TestServer, path: &str, body: Value) -> Call<'a> {
    Call::new(server, Method::POST, path).body(body)
}

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, key: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["key"], key, "{body}");
    assert_eq!(body["status"], expected.as_u16());
    assert!(body["message"].is_string() && body["metadata"].is_object());
}

#[tokio::test]
async fn roles_routes_and_errors() {
    let server = TestServer::start().await;
    let (status, headers, roles) = get(&server, "/api/permissions/roles").send().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["x-polytomic-version"], "2025-09-18",
        "a missing version means the newest"
    );
    let system: Vec<&str> = roles["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["system"] == true)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(system.contains(&"Admin") && system.contains(&"Member"));

    let (status, _, created) = post(&server, "/api/permissions/roles", json!({"name": "Custom"}))
        .send()
        .await;
    assert_eq!(status, StatusCode::OK);
    let role = created["data"].clone();
    assert_eq!(
        (role["name"].as_str(), role["system"].as_bool()),
        (Some("Custom"), Some(false))
    );
    let id = role["id"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&server, &format!("/api/permissions/roles/{id}"))
            .send()
            .await
            .2["data"],
        role
    );
    for method in [Method::PUT, Method::PATCH] {
        let (status, _, updated) = Call::new(
            &server,
            method.clone(),
            format!("/api/permissions/roles/{id}"),
        )
        .body(json!({"name": format!("Custom {method}")}))
        .send()
        .await;
        assert_eq!(
            (status, updated["data"]["name"].clone()),
            (StatusCode::OK, json!(format!("Custom {method}")))
        );
    }
    let (status, _, body) = post(
        &server,
        "/api/permissions/roles",
        json!({"name": "Custom PATCH"}),
    )
    .send()
    .await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, _, body) = post(&server, "/api/permissions/roles", json!({"nom": "x"}))
        .send()
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    let (status, _, body) = Call::new(&server, Method::POST, "/api/permissions/roles")
        .header("content-type", "application/json")
        .send()
        .await;
    assert!(status.is_client_error(), "{body}");

    let admin = roles["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, body) = Call::new(
        &server,
        Method::PUT,
        format!("/api/permissions/roles/{admin}"),
    )
    .body(json!({"name": "Boss"}))
    .send()
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "built_in");
    let (status, _, body) = Call::new(
        &server,
        Method::DELETE,
        format!("/api/permissions/roles/{admin}"),
    )
    .send()
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "built_in");

    assert_eq!(
        Call::new(
            &server,
            Method::DELETE,
            format!("/api/permissions/roles/{id}")
        )
        .send()
        .await
        .0,
        StatusCode::OK
    );
    let (status, _, body) = get(&server, &format!("/api/permissions/roles/{id}"))
        .send()
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, _, body) = get(&server, "/api/permissions/roles/not-a-uuid")
        .send()
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, _, body) = get(&server, "/api/permissions/nothing").send().await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn policies_carry_the_full_action_list_and_check_roles() {
    let server = TestServer::start().await;
    let (_, _, role) = post(&server, "/api/permissions/roles", json!({"name": "Writer"}))
        .send()
        .await;
    let role = role["data"]["id"].as_str().unwrap().to_owned();
    let (status, _, created) = post(
        &server,
        "/api/permissions/policies",
        json!({"name": "Docs", "policy_actions": [{"action": "edit", "role_ids": [role]}]}),
    )
    .send()
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let policy = &created["data"];
    let actions: Vec<&str> = policy["policy_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "apply_policy",
            "create",
            "delete",
            "edit",
            "read",
            "sync_to",
            "trigger"
        ]
    );
    assert_eq!(policy["policy_actions"][3]["role_ids"], json!([role]));
    assert_eq!(policy["policy_actions"][0]["role_ids"], json!([]));
    assert_eq!(policy["system"], false);
    let id = policy["id"].as_str().unwrap().to_owned();

    let (status, _, replaced) = Call::new(
        &server,
        Method::PUT,
        format!("/api/permissions/policies/{id}"),
    )
    .body(json!({"name": "Docs", "policy_actions": [{"action": "read", "role_ids": [role]}]}))
    .send()
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        replaced["data"]["policy_actions"][3]["role_ids"],
        json!([]),
        "update is a full replacement"
    );
    assert_eq!(
        replaced["data"]["policy_actions"][4]["role_ids"],
        json!([role])
    );
    let (_, _, list) = get(&server, "/api/permissions/policies").send().await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    let missing = uuid::Uuid::now_v7().to_string();
    let (status, _, body) = post(
        &server,
        "/api/permissions/policies",
        json!({"name": "Ghost", "policy_actions": [{"action": "read", "role_ids": [missing]}]}),
    )
    .send()
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert!(body["message"].as_str().unwrap().contains(&missing));
    let (status, _, body) = post(
        &server,
        "/api/permissions/policies",
        json!({"name": "Odd", "policy_actions": [{"action": "fly", "role_ids": []}]}),
    )
    .send()
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let (status, _, body) = post(
        &server,
        "/api/permissions/policies",
        json!({"name": "Typed", "policy_actions": [{"action": "read", "role_ids": "nope"}]}),
    )
    .send()
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );

    // Deleting a role leaves its id in policies, granting nothing.
    Call::new(
        &server,
        Method::DELETE,
        format!("/api/permissions/roles/{role}"),
    )
    .send()
    .await;
    let (_, _, kept) = get(&server, &format!("/api/permissions/policies/{id}"))
        .send()
        .await;
    assert_eq!(kept["data"]["policy_actions"][4]["role_ids"], json!([role]));
    assert_eq!(
        Call::new(
            &server,
            Method::DELETE,
            format!("/api/permissions/policies/{id}")
        )
        .send()
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        get(&server, &format!("/api/permissions/policies/{id}"))
            .send()
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn policy_decisions_follow_the_policies() {
    let server = TestServer::start().await;
    let (_, _, role) = post(&server, "/api/permissions/roles", json!({"name": "Syncer"}))
        .send()
        .await;
    let role = role["data"]["id"].as_str().unwrap().to_owned();
    let (_, _, user) = post(
        &server,
        "/api/organization/users",
        json!({"email": "ops@example.com", "role_ids": [role]}),
    )
    .send()
    .await;
    assert_eq!(user["data"]["role_ids"], json!([role]));
    let (_, _, policy) = post(
        &server,
        "/api/permissions/policies",
        json!({"name": "Syncs", "policy_actions": [{"action": "trigger", "role_ids": [role]}]}),
    )
    .send()
    .await;
    let policy = policy["data"]["id"].as_str().unwrap().to_owned();
    server
        .post(
            &format!("/v1/policies/{policy}/resources"),
            json!({"type": "sync", "id": "*"}),
        )
        .await;
    assert!(
        server
            .allowed("ops@example.com", "trigger", "sync", "s1")
            .await
    );
    assert!(
        !server
            .allowed("ops@example.com", "delete", "sync", "s1")
            .await
    );
    Call::new(
        &server,
        Method::DELETE,
        format!("/api/permissions/policies/{policy}"),
    )
    .send()
    .await;
    assert!(
        !server
            .allowed("ops@example.com", "trigger", "sync", "s1")
            .await,
        "deleting the policy revokes at once"
    );
}

#[tokio::test]
async fn versions_are_negotiated_and_echoed() {
    let server = TestServer::start().await;
    for version in [
        "2025-09-18",
        "2024-02-08",
        "2023-04-25",
        "2022-12-12",
        "2021-05-23",
    ] {
        let (status, headers, _) = get(&server, "/api/permissions/roles")
            .header("x-polytomic-version", version)
            .send()
            .await;
        assert_eq!(
            (status, headers["x-polytomic-version"].to_str().unwrap()),
            (StatusCode::OK, version)
        );
    }
    let (status, headers, body) = get(&server, "/api/permissions/roles")
        .header("x-polytomic-version", "2020-01-01")
        .send()
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_header");
    assert!(
        headers.contains_key("x-polytomic-version"),
        "errors echo a version too"
    );
    let (status, headers, _) = get(&server, "/api/permissions/roles/nope")
        .header("x-polytomic-version", "2023-04-25")
        .send()
        .await;
    assert_eq!(
        (status, headers["x-polytomic-version"].to_str().unwrap()),
        (StatusCode::NOT_FOUND, "2023-04-25")
    );
}

#[tokio::test]
async fn authentication_variants_and_scoping() {
    let server = TestServer::start().await;
    let (status, _, body) = Call::new(&server, Method::GET, "/api/me")
        .token("kck_garbage")
        .send()
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthenticated");
    let anonymous = server.request(Method::GET, "/api/me").send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // Basic with an organization key as the username, and with a username and password.
    for (user, password) in [(server.admin_key.as_str(), ""), ("admin", ADMIN_PASSWORD)] {
        let response = server
            .request(Method::GET, "/api/me")
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let me: Value = response.json().await.unwrap();
        assert_eq!(
            (
                me["data"]["organization_name"].as_str(),
                me["data"]["is_partner"].as_bool()
            ),
            (Some("default"), Some(true))
        );
    }

    let (_, _, org) = post(
        &server,
        "/api/organizations",
        json!({"name": "acme", "sso_domain": "acme.test"}),
    )
    .send()
    .await;
    let org = org["data"].clone();
    assert_eq!(org["sso_domain"], "acme.test");
    let acme = org["id"].as_str().unwrap().to_owned();
    let (status, _, body) = post(
        &server,
        "/api/organizations",
        json!({"name": "sso", "client_secret": "s"}),
    )
    .send()
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let (_, _, boss) = post(
        &server,
        &format!("/api/organizations/{acme}/users"),
        json!({"email": "boss@acme.test", "role": "admin"}),
    )
    .send()
    .await;
    let boss = boss["data"]["id"].as_str().unwrap().to_owned();
    let (status, _, key) = post(
        &server,
        &format!("/api/organizations/{acme}/users/{boss}/keys"),
        json!({}),
    )
    .send()
    .await;
    assert_eq!(status, StatusCode::OK, "{key}");
    let acme_key = key["data"]["value"].as_str().unwrap().to_owned();

    // A partner may create in another organization through organization_id; others may not.
    let (status, _, role) = post(
        &server,
        "/api/permissions/roles",
        json!({"name": "Made by partner", "organization_id": acme}),
    )
    .send()
    .await;
    assert_eq!(
        (status, role["data"]["organization_id"].as_str()),
        (StatusCode::OK, Some(acme.as_str()))
    );
    let (_, _, me) = get(&server, "/api/me").send().await;
    let home = me["data"]["organization_id"].as_str().unwrap().to_owned();
    let (status, _, body) = post(
        &server,
        "/api/permissions/roles",
        json!({"name": "Sneaky", "organization_id": home}),
    )
    .token(&acme_key)
    .send()
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, _, acme_roles) = get(&server, "/api/permissions/roles")
        .token(&acme_key)
        .send()
        .await;
    assert!(
        acme_roles["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "Made by partner")
    );
    let (_, _, own_roles) = get(&server, "/api/permissions/roles").send().await;
    assert!(
        !own_roles["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "Made by partner")
    );
    let (status, _, body) = get(&server, "/api/organizations")
        .token(&acme_key)
        .send()
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, _, body) = get(&server, &format!("/api/organizations/{home}/users"))
        .token(&acme_key)
        .send()
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, _, current) = get(&server, "/api/organization")
        .token(&acme_key)
        .send()
        .await;
    assert_eq!(
        (status, current["data"]["name"].as_str()),
        (StatusCode::OK, Some("acme"))
    );

    // Organizations: read, update, delete (not the default one).
    let (status, _, renamed) =
        Call::new(&server, Method::PUT, format!("/api/organizations/{acme}"))
            .body(json!({"name": "acme-corp"}))
            .send()
            .await;
    assert_eq!(
        (
            status,
            renamed["data"]["name"].as_str(),
            renamed["data"]["sso_domain"].clone()
        ),
        (StatusCode::OK, Some("acme-corp"), Value::Null)
    );
    assert_eq!(
        get(&server, &format!("/api/organizations/{acme}"))
            .send()
            .await
            .2["data"]["name"],
        "acme-corp"
    );
    let (status, _, body) = Call::new(
        &server,
        Method::DELETE,
        format!("/api/organizations/{home}"),
    )
    .send()
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "built_in");
    assert_eq!(
        Call::new(
            &server,
            Method::DELETE,
            format!("/api/organizations/{acme}")
        )
        .send()
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        get(&server, "/api/me").token(&acme_key).send().await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn users_crud_in_both_route_families() {
    let server = TestServer::start().await;
    let (_, _, me) = get(&server, "/api/me").send().await;
    let org = me["data"]["organization_id"].as_str().unwrap().to_owned();
    let (_, _, role) = post(&server, "/api/permissions/roles", json!({"name": "Viewer"}))
        .send()
        .await;
    let role = role["data"]["id"].as_str().unwrap().to_owned();
    for (collection, email) in [
        ("/api/organization/users".to_owned(), "one@example.com"),
        (format!("/api/organizations/{org}/users"), "two@example.com"),
    ] {
        let (status, _, created) = post(
            &server,
            &collection,
            json!({"email": email, "role_ids": [role]}),
        )
        .send()
        .await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let user = &created["data"];
        assert_eq!(
            (
                user["email"].as_str(),
                user["role"].as_str(),
                user["role_ids"].clone()
            ),
            (Some(email), Some("user"), json!([role]))
        );
        let id = user["id"].as_str().unwrap().to_owned();
        let item = format!("{collection}/{id}");
        assert_eq!(get(&server, &item).send().await.2["data"]["email"], email);
        let (status, _, updated) = Call::new(&server, Method::PUT, item.clone())
            .body(json!({"email": email, "role_ids": [], "role": "admin"}))
            .send()
            .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["data"]["role"], "admin");
        let (status, _, body) = post(&server, &collection, json!({"email": email}))
            .send()
            .await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (_, _, listed) = get(&server, &collection).send().await;
        assert!(
            listed["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["id"] == id.as_str())
        );
        assert_eq!(
            Call::new(&server, Method::DELETE, item.clone())
                .send()
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(get(&server, &item).send().await.0, StatusCode::NOT_FOUND);
    }
    let (status, _, body) = post(
        &server,
        "/api/organization/users",
        json!({"email": "not-an-email"}),
    )
    .send()
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    let (status, _, body) = post(
        &server,
        "/api/organization/users",
        json!({"email": "x@example.com", "role": "wizard"}),
    )
    .send()
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let missing = uuid::Uuid::now_v7();
    assert_eq!(
        get(&server, &format!("/api/organizations/{missing}/users"))
            .send()
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // A user made here is the same account on every face.
    let (_, _, user) = post(
        &server,
        "/api/organization/users",
        json!({"email": "same@example.com"}),
    )
    .send()
    .await;
    let id = user["data"]["id"].as_str().unwrap();
    let (status, account) = server.get(&format!("/v1/accounts/{id}")).await;
    assert_eq!(
        (status, account["username"].as_str()),
        (StatusCode::OK, Some("same@example.com"))
    );

    // force=true revokes the user's earlier keys.
    let keys = format!("/api/organizations/{org}/users/{id}/keys");
    let (_, _, first) = post(&server, &keys, json!({})).send().await;
    let first = first["data"]["value"].as_str().unwrap().to_owned();
    assert_eq!(
        get(&server, "/api/me").token(&first).send().await.0,
        StatusCode::OK
    );
    let (_, _, second) = post(&server, &format!("{keys}?force=true"), json!({}))
        .send()
        .await;
    assert_eq!(
        get(&server, "/api/me").token(&first).send().await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&server, "/api/me")
            .token(second["data"]["value"].as_str().unwrap())
            .send()
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn idempotency_keys_replay_conflict_and_survive_restarts() {
    let server = TestServer::start().await;
    let create = |key: &str, name: &str| {
        post(&server, "/api/permissions/roles", json!({"name": name}))
            .header("idempotency-key", key.to_owned())
    };
    let (status, first_headers, first) = create("role-create-0001", "Replayed").send().await;
    assert_eq!(status, StatusCode::OK);
    let written: i64 = first_headers["keycard-revision"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let (status, headers, again) = create("role-create-0001", "Replayed").send().await;
    assert_eq!((status, &again), (StatusCode::OK, &first));
    assert_eq!(headers["idempotent-replayed"], "true");
    // A replay's consistency token includes the first request's write.
    let replayed: i64 = headers["keycard-revision"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(replayed >= written, "{replayed} < {written}");
    assert_eq!(headers["x-polytomic-version"], "2025-09-18");
    let (status, _, body) = create("role-create-0001", "Different").send().await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );

    // Errors are outcomes too: the conflict is replayed even after the name is freed.
    let (status, _, conflict) = create("role-create-0002", "Replayed").send().await;
    assert_eq!(status, StatusCode::CONFLICT);
    let id = first["data"]["id"].as_str().unwrap();
    Call::new(
        &server,
        Method::DELETE,
        format!("/api/permissions/roles/{id}"),
    )
    .send()
    .await;
    let (status, _, replayed) = create("role-create-0002", "Replayed").send().await;
    assert_eq!(
        (status, replayed["key"].as_str()),
        (StatusCode::CONFLICT, conflict["key"].as_str())
    );

    for bad in ["short", "has spaces in it", &"x".repeat(256)] {
        let (status, _, body) = create(bad, "Whatever").send().await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_header");
    }

    // Keys are stored scoped to the caller (a digest), so a claim under the bare key blocks nothing.
    let (_, _, me) = get(&server, "/api/me").send().await;
    let org: keycard_core::ids::OrganizationId = me["data"]["organization_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = Utc::now();
    let claim = server
        .store
        .claim_idempotency_key(
            org,
            "in-flight-0001",
            "elsewhere",
            now,
            now - chrono::Duration::minutes(5),
            now - chrono::Duration::hours(24),
        )
        .await
        .unwrap();
    assert!(claim.is_none());
    let (status, _, body) = create("in-flight-0001", "Unblocked").send().await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Keys are per organization and kept in the database.
    let (_, _, stored) = create("survives-restart-1", "Durable").send().await;
    // The key is the caller's: the restarted server is called with the same credential.
    let credential = server.admin_key.clone();
    let mut server = server.restart().await;
    server.admin_key = credential;
    let (status, headers, after) = post(
        &server,
        "/api/permissions/roles",
        json!({"name": "Durable"}),
    )
    .header("idempotency-key", "survives-restart-1")
    .send()
    .await;
    assert_eq!((status, &after), (StatusCode::OK, &stored));
    assert_eq!(headers["idempotent-replayed"], "true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_key_create_once() {
    let server = TestServer::start().await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, base, key) = (
            server.http.clone(),
            server.base.clone(),
            server.admin_key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let response = http
                .post(format!("{base}/api/permissions/roles"))
                .bearer_auth(key)
                .header("idempotency-key", "concurrent-create-1")
                .json(&json!({"name": "Concurrent"}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => ids.push(body["data"]["id"].as_str().unwrap().to_owned()),
            StatusCode::CONFLICT => assert_eq!(body["key"], "conflict", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(!ids.is_empty());
    assert!(
        ids.iter().all(|id| id == &ids[0]),
        "every success is the same role"
    );
    let (_, _, roles) = get(&server, "/api/permissions/roles").send().await;
    assert_eq!(
        roles["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["name"] == "Concurrent")
            .count(),
        1
    );
}

#[tokio::test]
async fn events_and_event_types() {
    let server = TestServer::start().await;
    let (_, _, bootstrap) = get(&server, "/api/events?limit=100").send().await;
    let last_bootstrap = bootstrap["data"].as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, _, role) = post(
        &server,
        "/api/permissions/roles",
        json!({"name": "Evented"}),
    )
    .send()
    .await;
    let role = role["data"]["id"].as_str().unwrap().to_owned();
    Call::new(
        &server,
        Method::PUT,
        format!("/api/permissions/roles/{role}"),
    )
    .body(json!({"name": "Evented 2"}))
    .send()
    .await;
    let (_, _, policy) = post(&server, "/api/permissions/policies", json!({"name": "P"}))
        .send()
        .await;
    let (_, _, user) = post(
        &server,
        "/api/organization/users",
        json!({"email": "evented@example.com"}),
    )
    .send()
    .await;
    Call::new(
        &server,
        Method::DELETE,
        format!("/api/permissions/roles/{role}"),
    )
    .send()
    .await;

    let (status, _, events) = get(
        &server,
        &format!("/api/events?page_token={last_bootstrap}&limit=100"),
    )
    .send()
    .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let types: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "role.created",
            "role.updated",
            "policy.created",
            "user.created",
            "role.deleted"
        ]
    );
    let first = &events["data"][0];
    assert_eq!(first["event"]["after"]["name"], "Evented");
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        events["data"][2]["event"]["entity_id"],
        policy["data"]["id"]
    );
    assert_eq!(events["data"][3]["event"]["entity_id"], user["data"]["id"]);

    // Time windows are strict on both ends.
    let first_at = first["created_at"].as_str().unwrap().to_owned();
    let (_, _, before_mine) = get(
        &server,
        &format!(
            "/api/events?ending_before={}&limit=100",
            urlencode(&first_at)
        ),
    )
    .send()
    .await;
    assert!(
        before_mine["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["event"]["entity_id"] != role.as_str())
    );
    let (_, _, since_2000) = get(
        &server,
        "/api/events?starting_after=2000-01-01T00%3A00%3A00Z&limit=100",
    )
    .send()
    .await;
    assert_eq!(
        since_2000["data"].as_array().unwrap().len(),
        bootstrap["data"].as_array().unwrap().len() + 5
    );
    let (_, _, filtered) = get(
        &server,
        &format!("/api/events?type=role.deleted&page_token={last_bootstrap}"),
    )
    .send()
    .await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    let (_, _, default) = get(&server, "/api/events").send().await;
    assert_eq!(
        default["data"].as_array().unwrap().len(),
        10,
        "limit defaults to 10"
    );

    // Paging with the token walks every event once, even those of one instant.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(token) => format!("/api/events?limit=3&page_token={token}"),
            None => "/api/events?limit=3".to_owned(),
        };
        let (_, _, page) = get(&server, &path).send().await;
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned()),
        );
        match page["pagination"]["next_page_token"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    let (_, _, everything) = get(&server, "/api/events?limit=100").send().await;
    let all: Vec<String> = everything["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, all);

    for bad in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "type=sync.exploded",
        "starting_after=yesterday",
        "organization_id=nope",
        "colour=red",
    ] {
        let (status, _, body) = get(&server, &format!("/api/events?{bad}")).send().await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
    let (status, _, types) = get(&server, "/api/events_types").send().await;
    assert_eq!(status, StatusCode::OK);
    for kind in [
        "role.created",
        "policy.deleted",
        "user.updated",
        "organization.created",
    ] {
        assert!(
            types["data"].as_array().unwrap().iter().any(|t| t == kind),
            "{kind}"
        );
    }
}

fn urlencode(value: &str) -> String {
    value.replace('+', "%2B").replace(':', "%3A")
}
