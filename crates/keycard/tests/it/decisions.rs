//! Decisions from the snapshot, before and after writes.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::TestServer;

#[tokio::test]
async fn decisions_follow_writes_immediately() {
    let server = TestServer::start().await;
    let role = server.create("/v1/roles", json!({"name": "editor"})).await;
    let parent = server
        .create("/v1/groups", json!({"name": "staff", "roles": [role]}))
        .await;
    let child = server
        .create(
            "/v1/groups",
            json!({"name": "writers", "parents": [parent]}),
        )
        .await;
    let alice = server
        .create(
            "/v1/accounts",
            json!({"username": "alice", "email": "Alice@Example.com"}),
        )
        .await;
    let policy = server
        .create(
            "/v1/policies",
            json!({"name": "docs", "actions": [{"action": "edit", "role_ids": [role]}]}),
        )
        .await;

    assert!(
        !server.allowed("alice", "edit", "document", "readme").await,
        "the policy is attached to nothing yet"
    );
    server
        .post(
            &format!("/v1/policies/{policy}/resources"),
            json!({"type": "document", "id": "readme"}),
        )
        .await;
    assert!(
        !server.allowed("alice", "edit", "document", "readme").await,
        "alice is in no group yet"
    );

    server
        .put(&format!("/v1/accounts/{alice}/groups/{child}"))
        .await;
    assert!(
        server.allowed("alice", "edit", "document", "readme").await,
        "granted through writers -> staff"
    );
    assert!(
        server.allowed(&alice, "edit", "document", "readme").await,
        "subjects may be named by id"
    );
    assert!(
        server
            .allowed("alice@example.com", "edit", "document", "readme")
            .await,
        "or by email"
    );
    assert!(!server.allowed("alice", "edit", "document", "other").await);
    assert!(
        !server
            .allowed("alice", "delete", "document", "readme")
            .await
    );

    let (status, explained) = server
        .post("/v1/check", json!({"subject": {"id": "alice"}, "action": "edit", "resource": {"type": "document", "id": "readme"}, "explain": true}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        explained["reasons"],
        json!([{"kind": "policy_grant", "policy": policy, "role": role, "via": [child, parent]}])
    );

    server
        .patch(&format!("/v1/groups/{parent}"), json!({"inactive": true}))
        .await;
    assert!(
        !server.allowed("alice", "edit", "document", "readme").await,
        "an inactive group grants nothing"
    );
    server
        .patch(&format!("/v1/groups/{parent}"), json!({"inactive": false}))
        .await;
    assert!(server.allowed("alice", "edit", "document", "readme").await);

    server
        .post(
            &format!("/v1/policies/{policy}/resources"),
            json!({"type": "document", "id": "*"}),
        )
        .await;
    assert!(
        server
            .allowed("alice", "edit", "document", "anything")
            .await,
        "`*` covers every document"
    );

    server
        .patch(&format!("/v1/roles/{role}"), json!({"inactive": true}))
        .await;
    assert!(
        !server.allowed("alice", "edit", "document", "readme").await,
        "an inactive role grants nothing"
    );
    server
        .patch(&format!("/v1/roles/{role}"), json!({"inactive": false}))
        .await;

    server.delete(&format!("/v1/policies/{policy}")).await;
    assert!(
        !server.allowed("alice", "edit", "document", "readme").await,
        "deleting a policy revokes at once"
    );

    assert!(
        !server.allowed("nobody", "edit", "document", "readme").await,
        "unknown subjects are denied"
    );
    assert!(
        server.allowed("admin", "anything", "whatever", "x").await,
        "Admin may do anything"
    );
}

#[tokio::test]
async fn methods_views_and_routes_are_granted_by_roles() {
    let server = TestServer::start().await;
    server
        .post(
            "/v1/catalogue",
            json!({"methods": [{"provenance": "Authorization", "name": "getRoles", "route": {"verb": "GET", "path": "/authorization/roles"}}]}),
        )
        .await;
    let role = server
        .create(
            "/v1/roles",
            json!({"name": "reader", "methods": [{"provenance": "Authorization", "name": "getRoles"}], "views": [{"provenance": "Authorization", "path": "/roles"}]}),
        )
        .await;
    let bob = server
        .create("/v1/accounts", json!({"username": "bob"}))
        .await;
    assert!(
        !server
            .allowed("bob", "call", "method", "Authorization/getRoles")
            .await
    );
    server
        .put(&format!("/v1/accounts/{bob}/roles/{role}"))
        .await;
    assert!(
        server
            .allowed("bob", "call", "method", "Authorization/getRoles")
            .await
    );
    assert!(
        !server
            .allowed("bob", "call", "method", "Authorization/createRole")
            .await
    );
    assert!(server.allowed("bob", "view", "view", "/roles").await);
    assert!(
        server
            .allowed("bob", "GET", "route", "/authorization/roles")
            .await
    );
    assert!(
        !server
            .allowed("bob", "POST", "route", "/authorization/roles")
            .await
    );
    server
        .patch(&format!("/v1/accounts/{bob}"), json!({"inactive": true}))
        .await;
    assert!(
        !server
            .allowed("bob", "call", "method", "Authorization/getRoles")
            .await,
        "inactive accounts get nothing"
    );
}
