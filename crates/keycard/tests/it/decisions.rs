//! Decisions from the snapshot, before and after writes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestServer;

#[tokio::test]
async fn decisions_follow_writes_immediately() {
    let server = TestServer::start().await;
    let role = server.create_role(json!({"name": "editor"})).await;
    let parent = server
        .create_group(json!({"name": "staff", "roles": [role]}))
        .await;
    let child = server
        .create_group(json!({"name": "writers", "parents": [parent]}))
        .await;
    let alice = server
        .create_account(json!({"username": "alice", "email": "Alice@Example.com"}))
        .await;
    let policy = server
        .create_policy(json!({"name": "docs", "actions": [{"action": "edit", "role_ids": [role]}]}))
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
        json!([{"kind": "policy_grant", "policy": policy, "policy_name": "docs", "role": role,
                "role_name": "editor", "via": [child, parent], "via_names": ["writers", "staff"]}])
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
        .create_role(json!({"name": "reader", "methods": [{"provenance": "Authorization", "name": "getRoles"}], "views": [{"provenance": "Authorization", "path": "/roles"}]}),
        )
        .await;
    let bob = server.create_account(json!({"username": "bob"})).await;
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

#[tokio::test]
async fn batch_explain_and_lookups() {
    let server = TestServer::start().await;
    let role = server
        .create_role(
            json!({"name": "analyst", "methods": [{"provenance": "BI", "name": "runQuery"}]}),
        )
        .await;
    let team = server
        .create_group(json!({"name": "analysts", "roles": [role]}))
        .await;
    let ann = server
        .create_account(json!({"username": "ann", "groups": [team], "attributes": {"team": "bi"}}))
        .await;
    let bob = server.create_account(json!({"username": "bob"})).await;
    let policy = server
        .create_policy(json!({"name": "dashboards", "actions": [{"action": "read", "role_ids": [role]}], "resources": [{"type": "dashboard", "id": "sales"}, {"type": "dashboard", "id": "ops"}]}))
        .await;

    let request = |subject: &str, id: &str| json!({"subject": {"id": subject}, "action": "read", "resource": {"type": "dashboard", "id": id}});
    let (status, batch) = server.post("/v1/check/batch", json!({"checks": [request("ann", "sales"), request("bob", "sales"), request("ann", "hr")]})).await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    let allowed: Vec<bool> = batch["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(allowed, vec![true, false, false]);
    assert!(batch["revision"].as_i64().unwrap() > 0);

    let (_, explained) = server.post("/v1/explain", request("ann", "sales")).await;
    assert_eq!(explained["allowed"], true);
    assert_eq!(
        explained["reasons"],
        json!([{"kind": "policy_grant", "policy": policy, "policy_name": "dashboards", "role": role,
                "role_name": "analyst", "via": [team], "via_names": ["analysts"]}])
    );
    assert_eq!(
        explained["effective_roles"],
        json!([{"role": role, "via": [team]}])
    );
    let (_, denied) = server.post("/v1/explain", request("bob", "sales")).await;
    assert_eq!(denied["reasons"], json!([{"kind": "no_grant"}]));

    let (_, permissions) = server.get(&format!("/v1/accounts/{ann}/permissions")).await;
    assert_eq!(permissions["admin"], false);
    assert_eq!(
        permissions["roles"],
        json!([{"id": role, "name": "analyst", "via": [team]}])
    );
    assert_eq!(
        permissions["methods"],
        json!([{"provenance": "BI", "name": "runQuery"}])
    );

    let (_, resources) = server
        .post(
            "/v1/lookup/resources",
            json!({"subject": {"id": "ann"}, "action": "read", "type": "dashboard"}),
        )
        .await;
    assert_eq!(resources["items"], json!(["ops", "sales"]));
    let (_, first) = server
        .post(
            "/v1/lookup/resources",
            json!({"subject": {"id": "ann"}, "action": "read", "type": "dashboard", "limit": 1}),
        )
        .await;
    assert_eq!(first["items"], json!(["ops"]));
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = server.post("/v1/lookup/resources", json!({"subject": {"id": "ann"}, "action": "read", "type": "dashboard", "limit": 1, "cursor": cursor})).await;
    assert_eq!(
        (second["items"].clone(), second["next_cursor"].clone()),
        (json!(["sales"]), Value::Null)
    );
    let (_, none) = server
        .post(
            "/v1/lookup/resources",
            json!({"subject": {"id": "bob"}, "action": "read", "type": "dashboard"}),
        )
        .await;
    assert_eq!(none["items"], json!([]));
    let (_, admin_view) = server
        .post(
            "/v1/lookup/resources",
            json!({"subject": {"id": "admin"}, "action": "read", "type": "dashboard"}),
        )
        .await;
    assert_eq!(
        admin_view["items"],
        json!(["*", "ops", "sales"]),
        "`*`: an administrator may read every dashboard"
    );

    let (_, subjects) = server
        .post(
            "/v1/lookup/subjects",
            json!({"action": "read", "resource": {"type": "dashboard", "id": "sales"}}),
        )
        .await;
    let usernames: Vec<&str> = subjects["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["username"].as_str().unwrap())
        .collect();
    assert!(
        usernames.contains(&"ann") && usernames.contains(&"admin") && !usernames.contains(&"bob"),
        "{usernames:?}"
    );
    // Each with the attributes conditions would read of it.
    let ann_found = subjects["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == "ann")
        .unwrap();
    assert_eq!(ann_found["attributes"], json!({"team": "bi"}));
    let _ = bob;
}
