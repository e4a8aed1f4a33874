//! The AuthZEN search and IdP interop scenarios: their users and records loaded through the native
//! API (accounts with attributes, registered records with owners, one policy whose grants are
//! conditions), then every vector run the way the upstream runners compare it: both `results`
//! arrays sorted, then compared exactly.
//!
//! The directory lives in an organization of its own, `search`, loaded by the deployment's partner
//! administrator acting in it (`Keycard-Organization: search`). The PEP asks with a decision key
//! of `search`: it is no account of that directory, so it never appears among the subjects a
//! search finds.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::TestServer;

fn vectors(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Sends a request as the partner acting in `search`.
async fn in_search(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    server.in_org("search", method, path, body).await
}

/// The scenario's rules, as conditions on one role every user holds.
const VIEW: &str = "resource.owner == subject.id \
    || resource.properties.department == subject.properties.department \
    || subject.properties.role == 'manager'";
const EDIT: &str = "resource.owner == subject.id \
    || (resource.properties.department == subject.properties.department && subject.properties.role == 'manager')";
const DELETE: &str = "resource.owner == subject.id";

async fn load_search_directory(server: &TestServer) {
    let (status, body) = server
        .post(
            "/v1/organizations",
            json!({"name": "search", "actions": ["view", "edit", "delete"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, role) =
        in_search(server, Method::POST, "/v1/roles", json!({"name": "staff"})).await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    let staff = role["data"]["id"].clone();
    let mut accounts: HashMap<String, Value> = HashMap::new();
    for user in vectors("search-data-users.json").as_array().unwrap() {
        let username = user["id"].as_str().unwrap();
        let (status, account) = in_search(
            server,
            Method::POST,
            "/v1/accounts",
            json!({
                "username": username,
                "roles": [staff],
                "attributes": {"role": user["role"], "department": user["department"]},
            }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{account}");
        accounts.insert(username.to_owned(), account["data"]["id"].clone());
    }
    // The records' ids are numbers in the data file and strings in the requests.
    let records: Vec<Value> = vectors("search-data-records.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            json!({
                "type": "record",
                "id": record["id"].to_string(),
                "owner": accounts[record["owner"].as_str().unwrap()],
                "attributes": {"title": record["title"], "department": record["department"]},
            })
        })
        .collect();
    let (status, body) = in_search(
        server,
        Method::PUT,
        "/v1/resources",
        json!({"resources": records}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = in_search(
        server,
        Method::POST,
        "/v1/policies",
        json!({
            "name": "records",
            "actions": [
                {"action": "view", "role_ids": [staff], "condition": VIEW},
                {"action": "edit", "role_ids": [staff], "condition": EDIT},
                {"action": "delete", "role_ids": [staff], "condition": DELETE},
            ],
            "resources": [{"type": "record", "id": "*"}],
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Sorts search results as the upstream runner does: by type then id, or by name.
fn sorted(results: &Value) -> Vec<Value> {
    let mut results = results.as_array().cloned().unwrap_or_default();
    let key = |v: &Value| {
        format!(
            "{}\u{0}{}\u{0}{}",
            v["type"].as_str().unwrap_or(""),
            v["id"].as_str().unwrap_or(""),
            v["name"].as_str().unwrap_or("")
        )
    };
    results.sort_by_key(key);
    results
}

/// Runs a file's vectors as the PEP holding `decision_key`.
async fn run(
    server: &TestServer,
    decision_key: &str,
    file: &str,
    member: &str,
    kind: &str,
) -> usize {
    let cases = vectors(file);
    let cases = cases[member].as_array().unwrap();
    for case in cases {
        let response = server
            .request(Method::POST, &format!("/access/v1/search/{kind}"))
            .bearer_auth(decision_key)
            .json(&case["request"])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            sorted(&answer["results"]),
            sorted(&case["expected"]["results"]),
            "{file}: {}",
            case["request"]
        );
    }
    cases.len()
}

#[tokio::test]
async fn the_search_and_idp_scenarios_pass_every_vector() {
    let server = TestServer::start().await;
    load_search_directory(&server).await;
    let (status, issued) = in_search(
        &server,
        Method::POST,
        "/v1/decision-keys",
        json!({"name": "pep"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let pep = issued["data"]["secret"].as_str().unwrap();
    let mut total = 0;
    total += run(
        &server,
        pep,
        "search-subject-results.json",
        "evaluation",
        "subject",
    )
    .await;
    total += run(
        &server,
        pep,
        "search-resource-results.json",
        "evaluation",
        "resource",
    )
    .await;
    total += run(
        &server,
        pep,
        "search-action-results.json",
        "evaluation",
        "action",
    )
    .await;
    assert_eq!(total, 198);
    // The IdP scenario reuses the directory: the records a user owns, as a resource search.
    assert_eq!(
        run(&server, pep, "idp-results.json", "search", "resource").await,
        6
    );
}
