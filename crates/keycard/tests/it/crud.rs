//! Create, read, update, delete round trips for every entity, with the cascades Keycard chose.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Auth, TestServer};
use reqwest::Method;

#[tokio::test]
async fn roles_round_trip_and_system_roles_are_protected() {
    let server = TestServer::start().await;
    let id = server
        .create_role(json!({"name": "editor", "methods": [{"provenance": "App", "name": "edit"}], "views": [{"provenance": "App", "path": "/edit"}]}))
        .await;
    let (status, role) = server.get(&format!("/v1/roles/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(role["name"], "editor");
    assert_eq!(role["provenance"], "Custom");
    assert_eq!(role["system"], false);
    assert_eq!(
        role["methods"],
        json!([{"provenance": "App", "name": "edit"}])
    );

    let (status, updated) = server
        .patch(
            &format!("/v1/roles/{id}"),
            json!({"description": "edits", "views": []}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["data"]["description"], "edits");
    assert_eq!(updated["data"]["views"], json!([]));
    assert_eq!(
        updated["data"]["methods"].as_array().unwrap().len(),
        1,
        "fields not sent are kept"
    );

    let (_, roles) = server.get("/v1/roles").await;
    let admin = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Admin")
        .unwrap()
        .clone();
    assert_eq!(admin["system"], true);
    let admin_id = admin["id"].as_str().unwrap();
    let (status, body) = server
        .patch(
            &format!("/v1/roles/{admin_id}"),
            json!({"description": "mine now"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("built_in"))
    );
    let (status, body) = server.delete(&format!("/v1/roles/{admin_id}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("built_in"))
    );

    let (status, deleted) = server.delete(&format!("/v1/roles/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(deleted["revision"].as_i64().unwrap() > 0);
    assert_eq!(
        server.get(&format!("/v1/roles/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn groups_nest_and_cycles_are_rejected() {
    let server = TestServer::start().await;
    let a = server.create_group(json!({"name": "a"})).await;
    let b = server
        .create_group(json!({"name": "b", "parents": [a]}))
        .await;
    let c = server
        .create_group(json!({"name": "c", "parents": [b]}))
        .await;

    let (status, group) = server.get(&format!("/v1/groups/{c}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(group["parents"], json!([b]));
    assert_eq!(group["provenance"], "Local");
    assert_eq!(group["description"], "");

    for (path, body) in [
        (format!("/v1/groups/{a}/parents/{c}"), None),
        (format!("/v1/groups/{a}/parents/{a}"), None),
        (format!("/v1/groups/{a}"), Some(json!({"parents": [b]}))),
    ] {
        let (status, body) = match body {
            None => server.put(&path).await,
            Some(body) => server.patch(&path, body).await,
        };
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
        assert_eq!(body["code"], "membership_cycle");
    }

    let (_, members) = server.get(&format!("/v1/groups/{b}/members")).await;
    assert_eq!(members, json!({"accounts": [], "groups": [c]}));
    assert_eq!(
        server.put(&format!("/v1/groups/{c}/parents/{a}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        server
            .delete(&format!("/v1/groups/{c}/parents/{a}"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        server
            .delete(&format!("/v1/groups/{c}/parents/{a}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let (status, renamed) = server
        .patch(
            &format!("/v1/groups/{b}"),
            json!({"name": "bee", "inactive": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(renamed["data"]["name"], "bee");
    assert_eq!(renamed["data"]["inactive"], true);

    // Deleting a group removes it from its members' memberships.
    assert_eq!(
        server.delete(&format!("/v1/groups/{b}")).await.0,
        StatusCode::OK
    );
    let (_, child) = server.get(&format!("/v1/groups/{c}")).await;
    assert_eq!(child["parents"], json!([]));
}

#[tokio::test]
async fn accounts_round_trip_with_links_and_cascades() {
    let server = TestServer::start().await;
    let role = server.create_role(json!({"name": "viewer"})).await;
    let group = server.create_group(json!({"name": "staff"})).await;
    let (id, key) = server
        .account_with_key("bob", json!({"email": "bob@example.com", "first_name": "Bob", "password": "bob-password", "roles": [role], "groups": [group]}))
        .await;

    let (status, account) = server.get(&format!("/v1/accounts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account["username"], "bob");
    assert_eq!(account["email"], "bob@example.com");
    assert_eq!(account["has_password"], true);
    assert_eq!(account["roles"], json!([role]));
    assert_eq!(account["groups"], json!([group]));
    assert!(
        account.get("password_hash").is_none(),
        "the hash never leaves the store"
    );

    let (status, updated) = server
        .patch(
            &format!("/v1/accounts/{id}"),
            json!({"email": null, "first_name": "Robert"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["data"]["email"], json!(null));
    assert_eq!(updated["data"]["first_name"], "Robert");
    assert_eq!(updated["data"]["roles"], json!([role]));

    // Deleting a role takes it from its holders.
    assert_eq!(
        server.delete(&format!("/v1/roles/{role}")).await.0,
        StatusCode::OK
    );
    let (_, account) = server.get(&format!("/v1/accounts/{id}")).await;
    assert_eq!(account["roles"], json!([]));

    let other_role = server.create_role(json!({"name": "other"})).await;
    assert_eq!(
        server
            .put(&format!("/v1/accounts/{id}/roles/{other_role}"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        server
            .delete(&format!("/v1/accounts/{id}/groups/{group}"))
            .await
            .0,
        StatusCode::OK
    );
    let (_, account) = server.get(&format!("/v1/accounts/{id}")).await;
    assert_eq!(
        (account["roles"].clone(), account["groups"].clone()),
        (json!([other_role]), json!([]))
    );

    // The account's key works until the account is deleted with its keys.
    let (status, _) = server
        .call(
            reqwest::Method::GET,
            "/v1/me",
            None,
            &Auth::Bearer(key.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        server.delete(&format!("/v1/accounts/{id}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        server.get(&format!("/v1/accounts/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = server
        .call(reqwest::Method::GET, "/v1/me", None, &Auth::Bearer(key))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn policies_round_trip_and_keep_stale_role_ids() {
    let server = TestServer::start().await;
    let role = server.create_role(json!({"name": "writer"})).await;
    let policy = server
        .create_policy(json!({"name": "docs", "actions": [{"action": "edit", "role_ids": [role]}, {"action": "edit", "role_ids": [role]}]}))
        .await;
    let (_, read) = server.get(&format!("/v1/policies/{policy}")).await;
    assert_eq!(
        read["actions"],
        json!([{"action": "edit", "role_ids": [role]}]),
        "duplicate actions merge"
    );
    assert_eq!(read["resources"], json!([]));

    let (status, attached) = server
        .post(
            &format!("/v1/policies/{policy}/resources"),
            json!({"type": "document", "id": "*"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{attached}");
    assert_eq!(
        attached["data"]["resources"],
        json!([{"type": "document", "id": "*"}])
    );
    let (status, detached) = server
        .delete(&format!(
            "/v1/policies/{policy}/resources?type=document&id=*"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detached["data"]["resources"], json!([]));
    assert_eq!(
        server
            .delete(&format!(
                "/v1/policies/{policy}/resources?type=document&id=*"
            ))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let missing = uuid::Uuid::now_v7();
    let (status, body) = server
        .patch(
            &format!("/v1/policies/{policy}"),
            json!({"actions": [{"action": "read", "role_ids": [missing]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&missing.to_string()),
        "{body}"
    );

    assert_eq!(
        server.delete(&format!("/v1/roles/{role}")).await.0,
        StatusCode::OK
    );
    let (_, read) = server.get(&format!("/v1/policies/{policy}")).await;
    assert_eq!(
        read["actions"][0]["role_ids"],
        json!([role]),
        "policies keep deleted role ids"
    );

    let (status, renamed) = server
        .patch(
            &format!("/v1/policies/{policy}"),
            json!({"name": "documents"}),
        )
        .await;
    assert_eq!(
        (status, renamed["data"]["name"].as_str()),
        (StatusCode::OK, Some("documents"))
    );
    assert_eq!(
        server.delete(&format!("/v1/policies/{policy}")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        server.get(&format!("/v1/policies/{policy}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn catalogue_imports_lists_and_deletes() {
    let server = TestServer::start().await;
    let manifest = json!({
        "methods": [
            {"provenance": "Inventory", "name": "getDevices", "route": {"verb": "GET", "path": "/inventory/devices"}},
            {"provenance": "Inventory", "name": "addDevice", "deprecated": true, "route": {"verb": "POST", "path": "/inventory/devices"}}
        ],
        "views": [{"provenance": "Inventory", "path": "/inventory"}]
    });
    let (status, first) = server.post("/v1/catalogue", manifest.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, again) = server.post("/v1/catalogue", manifest).await;
    assert_eq!(
        again["revision"], first["revision"],
        "re-importing the same manifest writes nothing"
    );

    let inventory = |page: &serde_json::Value| -> Vec<serde_json::Value> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["provenance"] == "Inventory")
            .cloned()
            .collect()
    };
    let (_, methods) = server.get("/v1/catalogue/methods?limit=500").await;
    let names: Vec<String> = inventory(&methods)
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, vec!["addDevice", "getDevices"]);
    assert_eq!(inventory(&methods)[0]["deprecated"], true);
    let (_, views) = server.get("/v1/catalogue/views?limit=500").await;
    assert_eq!(
        inventory(&views),
        vec![json!({"provenance": "Inventory", "path": "/inventory"})]
    );

    assert_eq!(
        server
            .delete("/v1/catalogue/methods/Inventory/getDevices")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        server
            .delete("/v1/catalogue/methods/Inventory/getDevices")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .delete("/v1/catalogue/views?provenance=Inventory&path=/inventory")
            .await
            .0,
        StatusCode::OK
    );
    let (_, views) = server.get("/v1/catalogue/views?limit=500").await;
    assert!(inventory(&views).is_empty());
    let (_, methods) = server.get("/v1/catalogue/methods?limit=500").await;
    assert_eq!(inventory(&methods).len(), 1);
}

#[tokio::test]
async fn organizations_are_isolated_tenants() {
    let server = TestServer::start().await;
    let org = server
        .create("/v1/organizations", json!({"name": "acme"}))
        .await;
    let (status, read) = server.get(&format!("/v1/organizations/{org}")).await;
    assert_eq!(
        (status, read["name"].as_str()),
        (StatusCode::OK, Some("acme"))
    );

    // The partner acts in acme through the organization header.
    let acme = |method: reqwest::Method, path: &str, body: Option<serde_json::Value>| {
        let mut request = server
            .http
            .request(method, format!("{}{path}", server.base))
            .bearer_auth(&server.admin_key)
            .header("keycard-organization", "acme");
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
    };
    let response = acme(
        reqwest::Method::POST,
        "/v1/roles",
        Some(json!({"name": "acme-only"})),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let acme_roles: serde_json::Value = acme(reqwest::Method::GET, "/v1/roles", None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = acme_roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["Admin", "Member", "admin", "apiread", "acme-only"]
    );
    let (_, default_roles) = server.get("/v1/roles").await;
    assert!(
        default_roles["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] != "acme-only")
    );
    let acme_role = acme_roles["items"][4]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        server.get(&format!("/v1/roles/{acme_role}")).await.0,
        StatusCode::NOT_FOUND,
        "other tenants' ids are invisible"
    );

    // An acme administrator cannot see or reach the default organization.
    let response = acme(
        reqwest::Method::POST,
        "/v1/accounts",
        Some(json!({"username": "acme-admin", "roles": [acme_roles["items"][0]["id"]]})),
    )
    .send()
    .await
    .unwrap();
    let acme_admin: serde_json::Value = response.json().await.unwrap();
    let acme_admin_id = acme_admin["data"]["id"].as_str().unwrap();
    let key: serde_json::Value = acme(
        reqwest::Method::POST,
        &format!("/v1/accounts/{acme_admin_id}/keys"),
        Some(json!({})),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let acme_key = Auth::Bearer(key["data"]["secret"].as_str().unwrap().to_owned());
    let (status, roles) = server
        .call(reqwest::Method::GET, "/v1/roles", None, &acme_key)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(roles["items"].as_array().unwrap().len(), 5);
    let (status, _) = server
        .call(reqwest::Method::GET, "/v1/organizations", None, &acme_key)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let sneaky = server
        .request(Method::GET, "/v1/roles")
        .bearer_auth(key["data"]["secret"].as_str().unwrap())
        .header("keycard-organization", "default")
        .send()
        .await
        .unwrap();
    assert_eq!(sneaky.status(), StatusCode::FORBIDDEN);

    let (status, renamed) = server
        .patch(
            &format!("/v1/organizations/{org}"),
            json!({"name": "acme-corp"}),
        )
        .await;
    assert_eq!(
        (status, renamed["data"]["name"].as_str()),
        (StatusCode::OK, Some("acme-corp"))
    );
    let (_, orgs) = server.get("/v1/organizations").await;
    assert_eq!(orgs["items"].as_array().unwrap().len(), 2);
    let default_id = orgs["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .delete(&format!("/v1/organizations/{default_id}"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server.delete(&format!("/v1/organizations/{org}")).await.0,
        StatusCode::OK
    );
    let (status, _) = server
        .call(reqwest::Method::GET, "/v1/roles", None, &acme_key)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "deleting an organization deletes its accounts and keys"
    );
}

#[tokio::test]
async fn api_keys_list_and_revoke() {
    let server = TestServer::start().await;
    let (id, key) = server.account_with_key("carol", json!({})).await;
    let (status, keys) = server.get(&format!("/v1/accounts/{id}/keys")).await;
    assert_eq!(status, StatusCode::OK);
    let listed = keys["items"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("secret").is_none());
    let key_id = listed[0]["id"].as_str().unwrap();
    let (status, _) = server
        .call(
            reqwest::Method::GET,
            "/v1/me",
            None,
            &Auth::Bearer(key.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The use is recorded off the request's path; wait for it, within bounds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, keys) = server.get(&format!("/v1/accounts/{id}/keys")).await;
        if keys["items"][0]["last_used_at"].is_string() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "use is never recorded"
        );
        tokio::task::yield_now().await;
    }
    let (status, revoked) = server
        .delete(&format!("/v1/accounts/{id}/keys/{key_id}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["data"]["revoked_at"].is_string());
    let (status, _) = server
        .call(reqwest::Method::GET, "/v1/me", None, &Auth::Bearer(key))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn change_log_records_every_write() {
    let server = TestServer::start().await;
    let (_, before) = server.get("/v1/changes").await;
    let start = before["items"].as_array().unwrap().last().unwrap()["revision"]
        .as_i64()
        .unwrap();
    let role = server.create_role(json!({"name": "auditor"})).await;
    server
        .patch(
            &format!("/v1/roles/{role}"),
            json!({"description": "reads logs"}),
        )
        .await;
    server.delete(&format!("/v1/roles/{role}")).await;
    let (status, changes) = server.get(&format!("/v1/changes?after={start}")).await;
    assert_eq!(status, StatusCode::OK);
    let items = changes["items"].as_array().unwrap();
    let ops: Vec<(&str, &str)> = items
        .iter()
        .map(|c| {
            (
                c["entity"].as_str().unwrap(),
                c["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        vec![("role", "create"), ("role", "update"), ("role", "delete")]
    );
    assert_eq!(items[1]["before"]["description"], "");
    assert_eq!(items[1]["after"]["description"], "reads logs");
    assert_eq!(items[0]["actor"], "admin");
    let revisions: Vec<i64> = items
        .iter()
        .map(|c| c["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(
        revisions,
        vec![start + 1, start + 2, start + 3],
        "revisions are gapless"
    );
    let (_, limited) = server
        .get(&format!("/v1/changes?after={start}&limit=2"))
        .await;
    assert_eq!(limited["items"].as_array().unwrap().len(), 2);
    assert_eq!(limited["next_after"], start + 2);
}

#[tokio::test]
async fn account_attributes_are_stored_replaced_and_bounded() {
    let server = TestServer::start().await;
    let attributes = json!({"department": "Sales", "level": 3, "tags": ["a", {"b": null}]});
    let (id, key) = server
        .account_with_key("ada", json!({"attributes": attributes}))
        .await;
    let (status, account) = server.get(&format!("/v1/accounts/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account["attributes"], attributes);
    // The account sees its own attributes.
    let (status, me) = server
        .call(Method::GET, "/v1/me", None, &Auth::Bearer(key))
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["account"]["attributes"], attributes);
    // An account made without attributes has an empty object.
    let plain = server.create_account(json!({"username": "bea"})).await;
    assert_eq!(
        server.get(&format!("/v1/accounts/{plain}")).await.1["attributes"],
        json!({})
    );

    // A change replaces them wholesale; a change that leaves them out keeps them.
    let (status, saved) = server
        .patch(
            &format!("/v1/accounts/{id}"),
            json!({"attributes": {"department": "Legal"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["data"]["attributes"], json!({"department": "Legal"}));
    let (_, saved) = server
        .patch(&format!("/v1/accounts/{id}"), json!({"inactive": false}))
        .await;
    assert_eq!(saved["data"]["attributes"], json!({"department": "Legal"}));
    let (_, saved) = server
        .patch(&format!("/v1/accounts/{id}"), json!({"attributes": {}}))
        .await;
    assert_eq!(saved["data"]["attributes"], json!({}));

    // The change log records them.
    let (_, changes) = server.get("/v1/changes").await;
    let recorded = changes["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|change| change["entity_id"] == id.as_str())
        .map(|change| change["after"]["attributes"].clone())
        .collect::<Vec<_>>();
    assert!(
        recorded.contains(&json!({"department": "Legal"})),
        "{recorded:?}"
    );
    assert!(
        changes["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["record_version"] == 3)
    );

    // What is not an object of bounded size and depth with proper keys is refused, and nothing
    // is written.
    let too_big = "x".repeat(16 * 1024);
    let mut too_deep = json!(1);
    for _ in 0..8 {
        too_deep = json!([too_deep]);
    }
    for (bad, says) in [
        (json!(["not", "an", "object"]), "must be a JSON object"),
        (json!({"": 1}), "keys must not be empty"),
        (json!({"big": too_big}), "must be at most 16384 bytes"),
        (json!({"deep": too_deep}), "nests deeper than 8 levels"),
    ] {
        let (status, body) = server
            .patch(&format!("/v1/accounts/{id}"), json!({"attributes": bad}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["message"].as_str().unwrap().contains(says), "{body}");
        let (status, body) = server
            .post("/v1/accounts", json!({"username": "cy", "attributes": bad}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    assert_eq!(
        server.get(&format!("/v1/accounts/{id}")).await.1["attributes"],
        json!({})
    );
    assert_eq!(
        server.get("/v1/accounts?limit=500").await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn account_attributes_are_set_in_bulk_in_one_write() {
    let server = TestServer::start().await;
    let ann = server.create_account(json!({"username": "ann"})).await;
    let bob = server
        .create_account(json!({"username": "bob", "attributes": {"team": "b"}}))
        .await;
    let server = &server;
    let bulk = |accounts: Value| async move {
        server
            .call(
                Method::PUT,
                "/v1/accounts/attributes",
                Some(json!({"accounts": accounts})),
                &server.admin(),
            )
            .await
    };
    let (status, body) = bulk(json!([
        {"id": ann, "attributes": {"team": "a", "level": 2}},
        {"id": bob, "attributes": {"team": "b"}},
    ]))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        [&body["updated"], &body["unchanged"]],
        [&json!(1), &json!(1)]
    );
    assert_eq!(
        server.get(&format!("/v1/accounts/{ann}")).await.1["attributes"],
        json!({"team": "a", "level": 2})
    );

    // An unknown account, or one named twice, and nothing is written.
    for bad in [
        json!([{"id": ann, "attributes": {}}, {"id": "00000000-0000-4000-8000-000000000000", "attributes": {}}]),
        json!([{"id": ann, "attributes": {}}, {"id": ann, "attributes": {"x": 1}}]),
        json!([{"id": ann, "attributes": [1]}]),
    ] {
        let (status, body) = bulk(bad).await;
        assert!(status.is_client_error(), "{status} {body}");
        assert!(body["code"].is_string(), "{body}");
    }
    assert_eq!(
        server.get(&format!("/v1/accounts/{ann}")).await.1["attributes"],
        json!({"team": "a", "level": 2})
    );
}
