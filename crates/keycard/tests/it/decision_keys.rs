//! Decision keys: the credential a policy enforcement point asks with. It is no account of the
//! directory, so a subject search lists the directory's accounts only, and it may ask for
//! decisions and nothing else.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Auth, TestServer};

/// A request as the partner acting in organization `shop`.
async fn in_shop(server: &TestServer, method: Method, path: &str, body: Value) -> Value {
    let (status, value) = server.in_org("shop", method.clone(), path, body).await;
    assert!(status.is_success(), "{method} {path}: {status} {value}");
    value
}

/// Organization `shop`: `ann` and `bob` may read document `1`, `cy` may not.
async fn shop(server: &TestServer) {
    let (status, body) = server
        .post("/v1/organizations", json!({"name": "shop"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let role = in_shop(server, Method::POST, "/v1/roles", json!({"name": "reader"})).await;
    let role = role["data"]["id"].clone();
    in_shop(
        server,
        Method::POST,
        "/v1/policies",
        json!({"name": "read", "actions": [{"action": "read", "role_ids": [role]}], "resources": [{"type": "doc", "id": "1"}]}),
    )
    .await;
    for (username, roles) in [
        ("ann", json!([role])),
        ("bob", json!([role])),
        ("cy", json!([])),
    ] {
        in_shop(
            server,
            Method::POST,
            "/v1/accounts",
            json!({"username": username, "roles": roles}),
        )
        .await;
    }
}

#[tokio::test]
async fn a_decision_key_asks_about_the_directory_and_is_not_in_it() {
    let server = TestServer::start().await;
    shop(&server).await;
    let issued = in_shop(
        &server,
        Method::POST,
        "/v1/decision-keys",
        json!({"name": "gateway"}),
    )
    .await;
    assert_eq!(issued["data"]["key"]["account_id"], Value::Null);
    let key_id = issued["data"]["key"]["id"].as_str().unwrap().to_owned();
    let pep = Auth::Bearer(issued["data"]["secret"].as_str().unwrap().to_owned());

    // Every account of `shop` that may read, and no one else: not the key, not an administrator
    // of another organization.
    let (status, found) = server
        .call(
            Method::POST,
            "/access/v1/search/subject",
            Some(json!({"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "doc", "id": "1"}})),
            &pep,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let mut ids: Vec<&str> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|subject| subject["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["ann", "bob"]);

    // It asks about anyone of its organization, through every decision route.
    for (subject, expected) in [("ann", true), ("cy", false)] {
        let (status, answer) = server
            .call(
                Method::POST,
                "/access/v1/evaluation",
                Some(json!({"subject": {"type": "user", "id": subject}, "action": {"name": "read"}, "resource": {"type": "doc", "id": "1"}})),
                &pep,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["decision"], expected, "{subject}");
        let (status, answer) = server
            .call(
                Method::POST,
                "/v1/check",
                Some(json!({"subject": {"id": subject}, "action": "read", "resource": {"type": "doc", "id": "1"}})),
                &pep,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["allowed"], expected, "{subject}");
    }

    // And does nothing else: no reads of the directory, no writes, no self to describe, on any face.
    for (method, path, body) in [
        (Method::GET, "/v1/accounts", None),
        (Method::GET, "/v1/me", None),
        (
            Method::POST,
            "/v1/roles",
            Some(json!({"name": "sneaky", "methods": []})),
        ),
        (Method::POST, "/v1/decision-keys", Some(json!({}))),
        (Method::GET, "/whoami", None),
        (Method::GET, "/api/me", None),
    ] {
        let (status, body) = server.call(method.clone(), path, body, &pep).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
    }

    // It acts in its own organization only.
    let response = server
        .request(Method::POST, "/v1/check")
        .bearer_auth(issued["data"]["secret"].as_str().unwrap())
        .header("keycard-organization", "default")
        .json(&json!({"subject": {"id": "admin"}, "action": "read", "resource": {"type": "doc", "id": "1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Listed among the organization's decision keys, not among an account's keys.
    let keys = in_shop(&server, Method::GET, "/v1/decision-keys", Value::Null).await;
    assert_eq!(keys["items"][0]["id"], key_id.as_str());
    let accounts = in_shop(&server, Method::GET, "/v1/accounts", Value::Null).await;
    let ann = accounts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|account| account["username"] == "ann")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = server
        .request(Method::DELETE, &format!("/v1/accounts/{ann}/keys/{key_id}"))
        .bearer_auth(&server.admin_key)
        .header("keycard-organization", "shop")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Revoked, it is refused at once.
    let revoked = in_shop(
        &server,
        Method::DELETE,
        &format!("/v1/decision-keys/{key_id}"),
        Value::Null,
    )
    .await;
    assert!(revoked["data"]["revoked_at"].is_string(), "{revoked}");
    let (status, _) = server
        .call(
            Method::POST,
            "/v1/check",
            Some(json!({"subject": {"id": "ann"}, "action": "read", "resource": {"type": "doc", "id": "1"}})),
            &pep,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
