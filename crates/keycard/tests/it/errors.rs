//! Malformed input gets a clear 4xx in the native error shape, never a 500.

use insta::assert_json_snapshot;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestServer;

async fn raw(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let response = server
        .http
        .request(method, format!("{}{path}", server.base))
        .bearer_auth(&server.admin_key)
        .header("content-type", content_type)
        .header("x-request-id", "test-request")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "test-request");
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn malformed_bodies_are_400_and_wrong_shapes_422() {
    let server = TestServer::start().await;
    let post = reqwest::Method::POST;
    let (status, body) = raw(
        &server,
        post.clone(),
        "/v1/roles",
        "application/json",
        "{\"name\": ",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!(body, @r###"
    {
      "code": "malformed_json",
      "message": "Failed to parse the request body as JSON: name: EOF while parsing a value at line 1 column 9",
      "request_id": "test-request"
    }
    "###);
    let (status, body) = raw(
        &server,
        post.clone(),
        "/v1/roles",
        "application/json",
        "{\"name\": 7}",
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    let (status, body) = raw(
        &server,
        post.clone(),
        "/v1/roles",
        "application/json",
        "{\"name\": \"x\", \"colour\": \"red\"}",
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    assert!(body["message"].as_str().unwrap().contains("colour"));
    let (status, body) = raw(
        &server,
        post.clone(),
        "/v1/roles",
        "application/json",
        "{\"name\": \"\"}",
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("must not be empty"),
        "{body}"
    );
    let (status, body) = raw(
        &server,
        post.clone(),
        "/v1/roles",
        "text/plain",
        "{\"name\": \"x\"}",
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
    let (status, body) = raw(
        &server,
        post.clone(),
        "/v1/accounts",
        "application/json",
        "{\"username\": \"two words\"}",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = raw(
        &server,
        post,
        "/v1/accounts",
        "application/json",
        "{\"username\": \"ok\", \"email\": \"nope\"}",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(5 * 1024 * 1024));
    let (status, body) = raw(
        &server,
        reqwest::Method::POST,
        "/v1/roles",
        "application/json",
        &huge,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
}

#[tokio::test]
async fn bad_paths_and_queries_are_400_and_unknown_ids_404() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/v1/roles/not-a-uuid").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_path"))
    );
    let (status, body) = server.get("/v1/roles?limit=lots").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    let (status, body) = server.get("/v1/roles?colour=red").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    let (status, body) = server.get("/v1/roles?limit=0").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input"))
    );
    let (status, body) = server.get("/v1/roles?cursor=%%%").await;
    assert_eq!(status.as_u16() / 100, 4, "{body}");
    let missing = uuid::Uuid::now_v7();
    for path in ["roles", "groups", "accounts", "policies"] {
        let (status, body) = server.get(&format!("/v1/{path}/{missing}")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{path}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains(&format!("`{missing}`"))
        );
    }
    let (status, body) = server
        .post("/v1/accounts", json!({"username": "x", "roles": [missing]}))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _) = server
        .put(&format!("/v1/accounts/{missing}/roles/{missing}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = server.get("/v1/nothing-here").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("route_not_found"))
    );
    let (status, body) = server.put("/v1/roles").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}

#[tokio::test]
async fn duplicates_are_409() {
    let server = TestServer::start().await;
    for (path, body) in [
        ("/v1/roles", json!({"name": "dup"})),
        ("/v1/groups", json!({"name": "dup"})),
        ("/v1/accounts", json!({"username": "dup"})),
        ("/v1/policies", json!({"name": "dup"})),
        ("/v1/organizations", json!({"name": "dup"})),
    ] {
        server.create(path, body.clone()).await;
        let (status, error) = server.post(path, body).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::CONFLICT, Some("conflict")),
            "{path}"
        );
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("`dup` already exists"),
            "{error}"
        );
    }
    let role = server.create_role(json!({"name": "other"})).await;
    let (status, _) = server
        .patch(&format!("/v1/roles/{role}"), json!({"name": "dup"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        server.get("/healthz").await.0,
        StatusCode::OK,
        "the server keeps running"
    );
}
