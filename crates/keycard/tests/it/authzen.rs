//! AuthZEN 1.0: the interop and certification vectors against a directory loaded through the
//! native API, plus the batch and search rules.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestServer;

fn vectors(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// POSTs to the PDP with the key as the raw `Authorization` value, as the interop harnesses do.
/// Posts to the PDP as the administrator's key, sent bare as some PEPs do.
async fn pdp_response(server: &TestServer, path: &str, body: &Value) -> reqwest::Response {
    server
        .http
        .post(format!("{}{path}", server.base))
        .header("authorization", &server.admin_key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn pdp(
    server: &TestServer,
    path: &str,
    body: &Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = pdp_response(server, path, body).await;
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn role_with(server: &TestServer, name: &str, methods: &[&str]) -> String {
    let methods: Vec<Value> = methods
        .iter()
        .map(|m| json!({"provenance": "Todo", "name": m}))
        .collect();
    server
        .create_role(json!({"name": name, "methods": methods}))
        .await
}

/// The gateway scenario's roles, by name.
struct TodoRoles {
    viewer: String,
    editor: String,
    admin: String,
    evil: String,
}

/// The gateway scenario's directory: five people whose roles nest through groups
/// (admin and evil_genius imply editor, editor implies viewer), and the Todo routes.
async fn load_gateway_directory(server: &TestServer) -> TodoRoles {
    let routes = [
        ("getUser", "GET", "/users/{userId}"),
        ("getTodos", "GET", "/todos"),
        ("createTodo", "POST", "/todos"),
        ("updateTodo", "PUT", "/todos/{todoId}"),
        ("deleteTodo", "DELETE", "/todos/{todoId}"),
    ];
    let methods: Vec<Value> = routes.iter().map(|(name, verb, path)| json!({"provenance": "Todo", "name": name, "route": {"verb": verb, "path": path}})).collect();
    server
        .post("/v1/catalogue", json!({"methods": methods}))
        .await;
    let viewer = role_with(server, "viewer", &["getUser", "getTodos"]).await;
    let editor = role_with(
        server,
        "editor",
        &["createTodo", "updateTodo", "deleteTodo"],
    )
    .await;
    let admin = role_with(server, "todo-admin", &["deleteTodo"]).await;
    let evil = role_with(server, "evil_genius", &["updateTodo"]).await;
    let viewers = server
        .create_group(json!({"name": "viewers", "roles": [viewer]}))
        .await;
    let editors = server
        .create_group(json!({"name": "editors", "roles": [editor], "parents": [viewers]}))
        .await;
    let admins = server
        .create_group(json!({"name": "admins", "roles": [admin], "parents": [editors]}))
        .await;
    let evil_geniuses = server
        .create_group(json!({"name": "evil-geniuses", "roles": [evil], "parents": [editors]}))
        .await;
    for (pid, email, groups) in [
        (
            "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
            "rick@the-citadel.com",
            vec![admins.clone(), evil_geniuses.clone()],
        ),
        (
            "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
            "morty@the-citadel.com",
            vec![editors.clone()],
        ),
        (
            "CiRmZDI2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
            "summer@the-smiths.com",
            vec![editors.clone()],
        ),
        (
            "CiRmZDM2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
            "beth@the-smiths.com",
            vec![viewers.clone()],
        ),
        (
            "CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
            "jerry@the-smiths.com",
            vec![viewers.clone()],
        ),
    ] {
        server
            .create_account(json!({"username": pid, "email": email, "groups": groups}))
            .await;
    }
    TodoRoles {
        viewer,
        editor,
        admin,
        evil,
    }
}

/// The Todo scenario on top of the gateway's directory: reading for viewers, creating for editors,
/// updating for evil geniuses and deleting for admins outright, and both for editors on the todos
/// they own. Owners are the users' emails: the request says so in `resource.properties.ownerID`
/// (-01, -02), and the registry holds them for requests that do not (-00).
async fn load_todo_directory(server: &TestServer) {
    let roles = load_gateway_directory(server).await;
    let owns = "resource.properties.ownerID == subject.email";
    server
        .create_policy(json!({
            "name": "todos",
            "resources": [{"type": "todo", "id": "*"}, {"type": "user", "id": "*"}],
            "actions": [
                {"action": "can_read_user", "role_ids": [roles.viewer]},
                {"action": "can_read_todos", "role_ids": [roles.viewer]},
                {"action": "can_create_todo", "role_ids": [roles.editor]},
                {"action": "can_update_todo", "role_ids": [roles.evil]},
                {"action": "can_update_todo", "role_ids": [roles.editor], "condition": owns},
                {"action": "can_delete_todo", "role_ids": [roles.admin]},
                {"action": "can_delete_todo", "role_ids": [roles.editor], "condition": owns},
            ],
        }))
        .await;
    let owners = [
        (
            "7240d0db-8ff0-41ec-98b2-34a096273b91",
            "morty@the-citadel.com",
        ),
        (
            "7240d0db-8ff0-41ec-98b2-34a096273b92",
            "rick@the-citadel.com",
        ),
        (
            "7240d0db-8ff0-41ec-98b2-34a096273b93",
            "summer@the-smiths.com",
        ),
        (
            "7240d0db-8ff0-41ec-98b2-34a096273b94",
            "beth@the-smiths.com",
        ),
        (
            "7240d0db-8ff0-41ec-98b2-34a096273b95",
            "jerry@the-smiths.com",
        ),
    ];
    let todos: Vec<Value> = owners
        .iter()
        .map(|(id, owner)| json!({"type": "todo", "id": id, "attributes": {"ownerID": owner}}))
        .collect();
    let (status, body) = server
        .call(
            Method::PUT,
            "/v1/resources",
            Some(json!({"resources": todos})),
            &server.admin(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn todo_interop_vectors_pass_in_every_format() {
    let server = TestServer::start().await;
    load_todo_directory(&server).await;
    let mut ran = 0;
    for format in ["00", "01", "02"] {
        let file = vectors(&format!(
            "todo-decisions-authorization-api-1_0-{format}.json"
        ));
        for case in file["evaluation"].as_array().unwrap() {
            let (status, _, answer) = pdp(&server, "/access/v1/evaluation", &case["request"]).await;
            assert_eq!(status, StatusCode::OK, "{case}");
            assert_eq!(
                answer,
                json!({"decision": case["expected"]}),
                "-{format}: {}",
                case["request"]
            );
            ran += 1;
        }
        for case in file["evaluations"].as_array().into_iter().flatten() {
            let (status, _, answer) =
                pdp(&server, "/access/v1/evaluations", &case["request"]).await;
            assert_eq!(status, StatusCode::OK, "{case}");
            // The upstream runner compares the JSON text of `evaluations` exactly.
            assert_eq!(
                answer["evaluations"].to_string(),
                case["expected"].to_string(),
                "-{format}: {}",
                case["request"]
            );
            ran += 1;
        }
    }
    assert_eq!(ran, 123);
}

#[tokio::test]
async fn api_gateway_interop_vectors_pass() {
    let server = TestServer::start().await;
    let _roles = load_gateway_directory(&server).await;
    let decisions = vectors("api-gateway-decisions.json");
    let cases = decisions["evaluation"].as_array().unwrap();
    assert_eq!(cases.len(), 25);
    for case in cases {
        let (status, _, answer) = pdp(&server, "/access/v1/evaluation", &case["request"]).await;
        assert_eq!(status, StatusCode::OK, "{case}");
        assert_eq!(
            answer,
            json!({"decision": case["expected"]}),
            "{}",
            case["request"]
        );
    }
}

/// The certification fixture with the scenario's own rules: `read` for every fixture user, `write`
/// for alice on active records and for admins on archived ones, `delete` when soft. bob's stored
/// attributes make him the admin, and the records are registered with their status, for the
/// requests that send no properties. Returns the policy's id.
pub(crate) async fn load_certification_fixture(server: &TestServer) -> String {
    let member = server.create_role(json!({"name": "member"})).await;
    server
        .create_account(json!({"username": "alice", "roles": [member]}))
        .await;
    server
        .create_account(
            json!({"username": "bob", "roles": [member], "attributes": {"role": "admin"}}),
        )
        .await;
    for (id, status) in [("record-1", "active"), ("record-2", "archived")] {
        let (code, body) = server
            .post(
                "/v1/resources",
                json!({"type": "record", "id": id, "attributes": {"status": status}}),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
    }
    server
        .create_policy(json!({
            "name": "records",
            "resources": [{"type": "record", "id": "*"}],
            "actions": [
                {"action": "read", "role_ids": [member]},
                {"action": "write", "role_ids": [member], "condition":
                    "(resource.properties.status == 'active' && subject.username == 'alice') || (resource.properties.status == 'archived' && subject.properties.role == 'admin')"},
                {"action": "delete", "role_ids": [member], "condition":
                    "has(action.properties.soft) && action.properties.soft == true"},
            ],
        }))
        .await
}

#[tokio::test]
async fn certification_vectors_pass_except_attribute_conditions() {
    let server = TestServer::start().await;
    load_certification_fixture(&server).await;
    let all = vectors("certification-vectors.json");
    let mut previous_next_token: Option<String> = None;
    let mut ran = 0;
    for vector in all["vectors"].as_array().unwrap() {
        let id = vector["id"].as_str().unwrap();
        ran += 1;
        let endpoint = vector["endpoint"].as_str().unwrap();
        let mut request = server
            .http
            .request(Method::POST, format!("{}{endpoint}", server.base))
            .header("authorization", &server.admin_key);
        if let Some(headers) = vector["request_headers"].as_object() {
            for (name, value) in headers {
                request = request.header(name.as_str(), value.as_str().unwrap());
            }
        }
        request = match vector.get("request_raw") {
            Some(raw) => request
                .header("content-type", raw["content_type"].as_str().unwrap())
                .body(raw["body"].as_str().unwrap().to_owned()),
            None => {
                let mut body = vector["request"].clone();
                if body["page"]["token"].as_str() == Some("<next_token from previous response>") {
                    match &previous_next_token {
                        Some(token) if !token.is_empty() => body["page"]["token"] = json!(token),
                        _ => continue,
                    }
                }
                request.json(&body)
            }
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(
            status.as_u16() as u64,
            vector["expected_status"].as_u64().unwrap(),
            "{id}: {body}"
        );
        let expected = &vector["expected"];
        match vector["check"].as_str().unwrap() {
            "exact" => assert_eq!(&body, expected, "{id}"),
            "decisions" => {
                let got: Vec<&Value> = body["evaluations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| &e["decision"])
                    .collect();
                let want: Vec<&Value> = expected["evaluations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| &e["decision"])
                    .collect();
                assert_eq!(got, want, "{id}");
            }
            "shape" => assert!(body.is_object(), "{id}"),
            "status_only" => {}
            "results_include" => {
                let results = body["results"].as_array().unwrap();
                for wanted in expected["results"].as_array().unwrap() {
                    assert!(
                        results.contains(wanted),
                        "{id}: {wanted} not in {results:?}"
                    );
                }
            }
            "exact_results" => assert_eq!(body["results"], expected["results"], "{id}"),
            "header_echo" => {
                assert_eq!(
                    headers["x-request-id"],
                    vector["request_headers"]["X-Request-ID"].as_str().unwrap(),
                    "{id}"
                );
            }
            other => panic!("unknown check `{other}` in {id}"),
        }
        if endpoint.contains("/search/") {
            previous_next_token = body["page"]["next_token"].as_str().map(str::to_owned);
        }
    }
    assert_eq!(ran, all["vectors"].as_array().unwrap().len());
}

#[tokio::test]
async fn batches_apply_defaults_and_semantics() {
    let server = TestServer::start().await;
    load_certification_fixture(&server).await;
    let item = |action: &str| json!({"action": {"name": action}});
    let base = json!({"subject": {"type": "user", "id": "bob"}, "resource": {"type": "record", "id": "record-1"}});
    let with = |semantic: &str, actions: &[&str]| {
        let mut body = base.clone();
        body["options"] = json!({"evaluations_semantic": semantic, "another_option": 1});
        body["evaluations"] = Value::Array(actions.iter().map(|a| item(a)).collect());
        body
    };
    let decisions = |body: &Value| {
        body["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["decision"].as_bool().unwrap())
            .collect::<Vec<_>>()
    };
    let (_, _, all) = pdp(
        &server,
        "/access/v1/evaluations",
        &with("execute_all", &["read", "write", "read"]),
    )
    .await;
    assert_eq!(decisions(&all), vec![true, false, true]);
    let (_, _, deny) = pdp(
        &server,
        "/access/v1/evaluations",
        &with("deny_on_first_deny", &["read", "write", "read"]),
    )
    .await;
    assert_eq!(
        decisions(&deny),
        vec![true, false],
        "stops at the first deny"
    );
    let (_, _, permit) = pdp(
        &server,
        "/access/v1/evaluations",
        &with("permit_on_first_permit", &["write", "read", "write"]),
    )
    .await;
    assert_eq!(
        decisions(&permit),
        vec![false, true],
        "stops at the first permit"
    );
    let (status, _, _) = pdp(
        &server,
        "/access/v1/evaluations",
        &with("whatever", &["read"]),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = pdp(
        &server,
        "/access/v1/evaluations",
        &json!({"evaluations": "nope"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // An item replaces a default as a whole object: no merging below it.
    let body = json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "write"},
                      "resource": {"type": "record", "id": "record-1"},
                      "evaluations": [{"resource": {"type": "record", "id": "record-2"}}, {"subject": {"type": "user", "id": "nobody"}}, {"subject": "bad"}]});
    let (status, _, answer) = pdp(&server, "/access/v1/evaluations", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["evaluations"][0], json!({"decision": false}));
    assert_eq!(answer["evaluations"][1], json!({"decision": false}));
    assert_eq!(answer["evaluations"][2]["decision"], false);
    assert_eq!(answer["evaluations"][2]["context"]["error"]["status"], 400);
}

#[tokio::test]
async fn searches_page_and_metadata_and_auth() {
    let server = TestServer::start().await;
    load_certification_fixture(&server).await;
    let query = json!({"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}});
    let (_, _, full) = pdp(&server, "/access/v1/search/subject", &query).await;
    let everyone: Vec<Value> = full["results"].as_array().unwrap().clone();
    assert_eq!(full["page"]["next_token"], "");
    assert!(
        everyone.contains(&json!({"type": "user", "id": "alice"}))
            && everyone.contains(&json!({"type": "user", "id": "bob"}))
    );

    let mut collected = Vec::new();
    let mut body = query.clone();
    body["page"] = json!({"limit": 1});
    loop {
        let (status, _, page) = pdp(&server, "/access/v1/search/subject", &body).await;
        assert_eq!(status, StatusCode::OK);
        collected.extend(page["results"].as_array().unwrap().iter().cloned());
        let next = page["page"]["next_token"].as_str().unwrap().to_owned();
        if next.is_empty() {
            break;
        }
        body["page"]["token"] = json!(next);
    }
    assert_eq!(collected, everyone);
    body["page"] = json!({"limit": 2, "token": "bm9wZQ"});
    assert_eq!(
        pdp(&server, "/access/v1/search/subject", &body).await.0,
        StatusCode::BAD_REQUEST
    );

    let (_, _, actions) = pdp(&server, "/access/v1/search/action", &json!({"subject": {"type": "user", "id": "bob"}, "resource": {"type": "record", "id": "record-1"}})).await;
    assert_eq!(actions["results"], json!([{"name": "read"}]));
    let (_, _, records) = pdp(&server, "/access/v1/search/resource", &json!({"subject": {"type": "user", "id": "bob"}, "action": {"name": "write"}, "resource": {"type": "record"}})).await;
    assert_eq!(
        records["results"],
        json!([{"type": "record", "id": "record-2"}])
    );

    let metadata: Value = server
        .request(Method::GET, "/.well-known/authzen-configuration")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["access_evaluation_endpoint"],
        format!("{}/access/v1/evaluation", server.base)
    );
    assert_eq!(metadata["policy_decision_point"], server.base);

    let evaluation = json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}});
    let anonymous = server
        .request(Method::POST, "/access/v1/evaluation")
        .json(&evaluation)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    let bearer = server
        .request(Method::POST, "/access/v1/evaluation")
        .bearer_auth(&server.admin_key)
        .json(&evaluation)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    let (_, key) = server
        .account_with_key("pep-without-admin", json!({}))
        .await;
    let weak = server
        .request(Method::POST, "/access/v1/evaluation")
        .bearer_auth(key)
        .json(&evaluation)
        .send()
        .await
        .unwrap();
    assert_eq!(weak.status(), StatusCode::FORBIDDEN);
}

/// The text of a search answer, as the public interop runners compare it.
async fn search_text(server: &TestServer, path: &str, body: &Value) -> String {
    let response = pdp_response(server, path, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

#[tokio::test]
async fn search_results_name_the_type_first_and_a_zero_limit_is_refused() {
    let server = TestServer::start().await;
    load_certification_fixture(&server).await;
    let subjects = json!({"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}});
    let text = search_text(&server, "/access/v1/search/subject", &subjects).await;
    assert!(text.contains(r#"{"type":"user","id":"alice"}"#), "{text}");
    let resources = json!({"subject": {"type": "user", "id": "bob"}, "action": {"name": "write"}, "resource": {"type": "record"}});
    let text = search_text(&server, "/access/v1/search/resource", &resources).await;
    assert!(
        text.contains(r#"{"type":"record","id":"record-2"}"#),
        "{text}"
    );

    // A limit of 0 used to answer a token to the same empty page, forever.
    let mut zero = subjects.clone();
    zero["page"] = json!({"limit": 0});
    let (status, _, body) = pdp(&server, "/access/v1/search/subject", &zero).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
