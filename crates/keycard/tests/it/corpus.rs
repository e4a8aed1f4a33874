//! The decision corpus (`tests/corpus/*.json`): each file sets up a directory and lists requests with
//! the expected decision and reason. One harness runs every case against the engine (a snapshot
//! built in memory), the native API (`/v1/check` with `explain`) and AuthZEN (`/access/v1/evaluation`).

use std::collections::HashMap;

use chrono::Utc;
use keycard_core::change::Revision;
use keycard_core::decision::{Query, check, decide};
use keycard_core::ids::{AccountId, GroupId, OrganizationId, PolicyId, RoleId};
use keycard_core::model::{
    Account, Group, Manifest, Organization, Policy, PolicyAction, ResourceRef, Role,
};
use keycard_core::snapshot::Snapshot;
use keycard_core::store::FullState;
use serde_json::{Value, json};

use crate::harness::TestServer;
use reqwest::Method;

fn corpus() -> Vec<(String, Value)> {
    let dir = format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap(),
            )
        })
        .collect()
}

fn list<'a>(value: &'a Value, key: &str) -> Vec<&'a Value> {
    value[key]
        .as_array()
        .map(|items| items.iter().collect())
        .unwrap_or_default()
}

fn names(value: &Value, key: &str) -> Vec<String> {
    list(value, key)
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Builds the snapshot straight from the setup, as the store would load it.
fn engine_snapshot(setup: &Value) -> (Snapshot, OrganizationId) {
    let now = Utc::now();
    let org = OrganizationId::new();
    let mut role_ids: HashMap<String, RoleId> = HashMap::new();
    let mut roles = Vec::new();
    let admin = RoleId::new();
    role_ids.insert("Admin".into(), admin);
    roles.push(Role {
        id: admin,
        organization_id: org,
        name: "Admin".to_owned().try_into().unwrap(),
        description: Default::default(),
        provenance: "Keycard".to_owned().try_into().unwrap(),
        system: true,
        inactive: false,
        methods: vec![],
        views: vec![],
        created_at: now,
        updated_at: now,
    });
    for role in list(setup, "roles") {
        let id = RoleId::new();
        role_ids.insert(role["name"].as_str().unwrap().to_owned(), id);
        roles.push(Role {
            id,
            organization_id: org,
            name: role["name"]
                .as_str()
                .unwrap()
                .to_owned()
                .try_into()
                .unwrap(),
            description: Default::default(),
            provenance: "Custom".to_owned().try_into().unwrap(),
            system: false,
            inactive: role["inactive"].as_bool().unwrap_or(false),
            methods: serde_json::from_value(role.get("methods").cloned().unwrap_or(json!([])))
                .unwrap(),
            views: serde_json::from_value(role.get("views").cloned().unwrap_or(json!([]))).unwrap(),
            created_at: now,
            updated_at: now,
        });
    }
    let mut group_ids: HashMap<String, GroupId> = HashMap::new();
    for group in list(setup, "groups") {
        group_ids.insert(group["name"].as_str().unwrap().to_owned(), GroupId::new());
    }
    let groups = list(setup, "groups")
        .iter()
        .map(|group| Group {
            id: group_ids[group["name"].as_str().unwrap()],
            organization_id: org,
            name: group["name"]
                .as_str()
                .unwrap()
                .to_owned()
                .try_into()
                .unwrap(),
            description: Default::default(),
            provenance: "Local".to_owned().try_into().unwrap(),
            inactive: group["inactive"].as_bool().unwrap_or(false),
            roles: names(group, "roles").iter().map(|n| role_ids[n]).collect(),
            parents: names(group, "parents")
                .iter()
                .map(|n| group_ids[n])
                .collect(),
            created_at: now,
            updated_at: now,
        })
        .collect();
    let accounts = list(setup, "accounts")
        .iter()
        .map(|account| Account {
            id: AccountId::new(),
            organization_id: org,
            username: account["username"]
                .as_str()
                .unwrap()
                .to_owned()
                .try_into()
                .unwrap(),
            email: account["email"]
                .as_str()
                .map(|e| e.to_owned().try_into().unwrap()),
            first_name: Default::default(),
            provenance: "Local".to_owned().try_into().unwrap(),
            inactive: account["inactive"].as_bool().unwrap_or(false),
            service_account: false,
            has_password: false,
            attributes: Default::default(),
            roles: names(account, "roles")
                .iter()
                .map(|n| role_ids[n])
                .collect(),
            groups: names(account, "groups")
                .iter()
                .map(|n| group_ids[n])
                .collect(),
            created_at: now,
            updated_at: now,
        })
        .collect();
    let policies = list(setup, "policies")
        .iter()
        .map(|policy| {
            let actions = list(policy, "actions")
                .iter()
                .map(|a| PolicyAction {
                    action: a["action"].as_str().unwrap().to_owned().try_into().unwrap(),
                    role_ids: names(a, "roles").iter().map(|n| role_ids[n]).collect(),
                    condition: None,
                })
                .collect();
            let resources: Vec<ResourceRef> =
                serde_json::from_value(policy.get("resources").cloned().unwrap_or(json!([])))
                    .unwrap();
            (
                org,
                Policy {
                    id: PolicyId::new(),
                    organization_id: org,
                    name: policy["name"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                        .try_into()
                        .unwrap(),
                    system: false,
                    actions,
                    resources,
                    created_at: now,
                    updated_at: now,
                },
            )
        })
        .collect();
    let manifest: Manifest =
        serde_json::from_value(setup.get("catalogue").cloned().unwrap_or(json!({}))).unwrap();
    let state = FullState {
        revision: Revision(1),
        organizations: vec![Organization {
            id: org,
            name: "corpus".to_owned().try_into().unwrap(),
            actions: vec![],
            sso: Default::default(),
            created_at: now,
            updated_at: now,
        }],
        accounts,
        groups,
        roles,
        policies,
        methods: manifest.methods.into_iter().map(|m| (org, m)).collect(),
        views: manifest.views.into_iter().map(|v| (org, v)).collect(),
        resources: vec![],
    };
    (Snapshot::from_state(state).unwrap(), org)
}

/// Loads the setup through the native API.
async fn load(server: &TestServer, setup: &Value) {
    if let Some(catalogue) = setup.get("catalogue") {
        server.post("/v1/catalogue", catalogue.clone()).await;
    }
    let (_, existing) = server.get("/v1/roles").await;
    let mut role_ids: HashMap<String, String> = existing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for role in list(setup, "roles") {
        let mut body = role.clone();
        body.as_object_mut()
            .unwrap()
            .retain(|key, _| ["name", "inactive", "methods", "views"].contains(&key.as_str()));
        role_ids.insert(
            role["name"].as_str().unwrap().to_owned(),
            server.create_role(body).await,
        );
    }
    let mut group_ids: HashMap<String, String> = HashMap::new();
    for group in list(setup, "groups") {
        let body = json!({
            "name": group["name"],
            "inactive": group["inactive"].as_bool().unwrap_or(false),
            "roles": names(group, "roles").iter().map(|n| role_ids[n].clone()).collect::<Vec<_>>(),
            "parents": names(group, "parents").iter().map(|n| group_ids[n].clone()).collect::<Vec<_>>(),
        });
        group_ids.insert(
            group["name"].as_str().unwrap().to_owned(),
            server.create_group(body).await,
        );
    }
    for account in list(setup, "accounts") {
        let mut body = json!({
            "username": account["username"],
            "inactive": account["inactive"].as_bool().unwrap_or(false),
            "roles": names(account, "roles").iter().map(|n| role_ids[n].clone()).collect::<Vec<_>>(),
            "groups": names(account, "groups").iter().map(|n| group_ids[n].clone()).collect::<Vec<_>>(),
        });
        if let Some(email) = account.get("email") {
            body["email"] = email.clone();
        }
        server.create_account(body).await;
    }
    for policy in list(setup, "policies") {
        let actions: Vec<Value> = list(policy, "actions")
            .iter()
            .map(|a| json!({"action": a["action"], "role_ids": names(a, "roles").iter().map(|n| role_ids[n].clone()).collect::<Vec<_>>()}))
            .collect();
        server.create_policy(json!({"name": policy["name"], "actions": actions, "resources": policy.get("resources").cloned().unwrap_or(json!([]))})).await;
    }
}

#[tokio::test]
async fn the_corpus_holds_on_the_engine_and_every_face() {
    let files = corpus();
    assert!(files.len() >= 3);
    let mut cases_run = 0;
    for (file, document) in files {
        let setup = &document["setup"];
        let (snapshot, org) = engine_snapshot(setup);
        let org = snapshot.organization(org).unwrap();
        let server = TestServer::start().await;
        load(&server, setup).await;
        for case in list(&document, "cases") {
            let (subject, action) = (
                case["subject"].as_str().unwrap(),
                case["action"].as_str().unwrap(),
            );
            let (resource_type, resource_id) = (
                case["resource"]["type"].as_str().unwrap(),
                case["resource"]["id"].as_str().unwrap(),
            );
            let (allowed, reason) = (
                case["allowed"].as_bool().unwrap(),
                case["reason"].as_str().unwrap(),
            );
            let label = format!("{file}: {subject} {action} {resource_type}/{resource_id}");

            let decision = decide(
                org,
                &Query {
                    subject,
                    action,
                    resource_type,
                    resource_id,
                    facts: Default::default(),
                },
            );
            assert_eq!(decision.allowed, allowed, "engine: {label}");
            assert_eq!(
                serde_json::to_value(&decision.reasons[0]).unwrap()["kind"],
                reason,
                "engine reason: {label}"
            );
            assert_eq!(
                check(org, subject, action, resource_type, resource_id),
                allowed,
                "fast check: {label}"
            );

            let request = json!({"subject": {"type": "user", "id": subject}, "action": {"name": action}, "resource": case["resource"]});
            let mut explained = request.clone();
            explained["explain"] = json!(true);
            let (_, native) = server.post("/v1/check", explained).await;
            assert_eq!(native["allowed"], allowed, "/v1/check: {label}");
            assert_eq!(
                native["reasons"][0]["kind"], reason,
                "/v1/check reason: {label}"
            );
            let (_, fast) = server.post("/v1/check", request.clone()).await;
            assert_eq!(fast["allowed"], allowed, "/v1/check fast: {label}");
            let authzen: Value = server
                .request(Method::POST, "/access/v1/evaluation")
                .bearer_auth(&server.admin_key)
                .json(&request)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(authzen, json!({"decision": allowed}), "AuthZEN: {label}");
            cases_run += 1;
        }
    }
    assert!(cases_run >= 25, "{cases_run}");
}
