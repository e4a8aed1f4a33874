//! `POST /v1/directory/batch`: a slice of a directory applied as one write, entries by name;
//! a batch already matched writes nothing; a dry run is judged and rolled back; client mistakes
//! are 4xx in the API's error shape.

use insta::assert_json_snapshot;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Auth, TestServer};

async fn revision(server: &TestServer) -> i64 {
    server.store.latest_revision().await.unwrap().0
}

async fn batch(server: &TestServer, body: Value) -> (StatusCode, Value) {
    server.post("/v1/directory/batch", body).await
}

fn steps(answer: &Value) -> Vec<String> {
    answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| format!("{} {} {}", step["verb"], step["kind"], step["name"]).replace('"', ""))
        .collect()
}

fn directory() -> Value {
    json!({"entries": {
        "roles": [{"name": "readers"}, {"name": "editors", "description": "may edit"}],
        // `writers` is inside `staff`, which comes after it.
        "groups": [
            {"name": "writers", "roles": ["editors"], "inside": ["staff"]},
            {"name": "staff", "roles": ["readers"]}
        ],
        "accounts": [
            {"username": "ada", "email": "ada@example.com", "groups": ["writers"], "attributes": {"team": "docs"}},
            {"username": "bob", "roles": ["readers"]}
        ],
        "policies": [{
            "name": "documents",
            "resources": [{"type": "doc", "id": "*"}],
            "actions": [
                {"action": "read", "roles": ["readers"]},
                {"action": "delete", "roles": ["editors"], "condition": "resource.owner == subject.id"}
            ]
        }],
        "resources": [{"type": "doc", "id": "notes", "owner": "ada", "attributes": {"level": 2}}]
    }})
}

#[tokio::test]
async fn a_batch_makes_entries_by_name_and_the_same_batch_again_writes_nothing() {
    let server = TestServer::start().await;
    let before = revision(&server).await;
    let response = server
        .request(Method::POST, "/v1/directory/batch")
        .bearer_auth(&server.admin_key)
        .json(&directory())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let header = response.headers()["keycard-revision"]
        .to_str()
        .unwrap()
        .to_owned();
    let answer: Value = response.json().await.unwrap();
    // One write: one revision for the whole batch.
    assert_eq!(answer["revision"], before + 1, "{answer}");
    assert_eq!(header, (before + 1).to_string());
    assert_eq!(
        steps(&answer),
        [
            "create role readers",
            "create role editors",
            "create group writers",
            "create group staff",
            "create account ada",
            "create account bob",
            "create policy documents",
            "create resource doc/notes",
        ]
    );
    assert_eq!(answer["unchanged"], 0);

    // Nesting made across the batch's own order, ownership, conditions: all decided on.
    assert!(server.allowed("ada", "read", "doc", "notes").await);
    assert!(server.allowed("ada", "delete", "doc", "notes").await);
    assert!(!server.allowed("bob", "delete", "doc", "notes").await);
    let (_, groups) = server.get("/v1/groups").await;
    let writers = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|group| group["name"] == "writers")
        .unwrap();
    assert_eq!(writers["parents"].as_array().unwrap().len(), 1);

    // What the log records of each account is what the store holds: the snapshot of every node
    // is built from the one, a restart from the other.
    for change in server
        .store
        .changes_after(keycard_core::change::Revision(before), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|change| change.entity == keycard_core::change::EntityKind::Account)
    {
        let recorded: keycard_core::model::Account = change.after_as().unwrap();
        let stored = server
            .store
            .get_account(recorded.organization_id, recorded.id)
            .await
            .unwrap();
        assert_eq!(recorded, stored);
    }

    let (status, again) = batch(&server, directory()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(steps(&again), Vec::<String>::new());
    assert_eq!(again["unchanged"], 8);
    assert_eq!(again["revision"], before + 1);
    assert_eq!(revision(&server).await, before + 1, "a matched batch wrote");

    // A changed entry is updated, the rest left alone; a deletion goes first.
    let mut changed = directory();
    changed["entries"]["accounts"][1]["roles"] = json!([]);
    changed["entries"]["resources"][0]["attributes"] = json!({"level": 3});
    changed["delete"] = json!({"accounts": ["nobody"], "policies": []});
    let (status, answer) = batch(&server, changed).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        steps(&answer),
        ["update account bob", "update resource doc/notes"]
    );
    assert_eq!(answer["unchanged"], 6);
    assert!(!server.allowed("bob", "read", "doc", "notes").await);

    let (status, answer) = batch(
        &server,
        json!({"delete": {"resources": [{"type": "doc", "id": "notes"}], "policies": ["documents"], "accounts": ["bob"], "groups": ["writers"], "roles": ["readers"]}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        steps(&answer),
        [
            "delete resource doc/notes",
            "delete policy documents",
            "delete account bob",
            "delete group writers",
            "delete role readers",
        ]
    );
}

#[tokio::test]
async fn a_dry_run_is_judged_as_the_write_and_writes_nothing() {
    let server = TestServer::start().await;
    let before = revision(&server).await;
    let mut dry = directory();
    dry["dry_run"] = json!(true);
    let (status, answer) = batch(&server, dry).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["dry_run"], true);
    assert_eq!(answer["revision"], before);
    assert_eq!(steps(&answer).len(), 8);
    assert_eq!(revision(&server).await, before, "a dry run wrote");
    let (_, roles) = server.get("/v1/roles").await;
    assert!(!roles.to_string().contains("editors"), "{roles}");

    // What an earlier batch of the run would have made is ensured, bare, so that a later batch
    // naming it is judged as the real one would be.
    let later = json!({"dry_run": true, "ensure": {"groups": ["writers"], "accounts": ["ada"]},
        "entries": {"accounts": [{"username": "cy", "groups": ["writers"]}],
                    "resources": [{"type": "doc", "id": "x", "owner": "ada"}]}});
    let (status, answer) = batch(&server, later).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        steps(&answer),
        [
            "create group writers",
            "create account ada",
            "create account cy",
            "create resource doc/x"
        ]
    );
    assert_eq!(revision(&server).await, before);

    // A dry run fails as the write would.
    let (status, answer) = batch(
        &server,
        json!({"dry_run": true, "entries": {"accounts": [{"username": "cy", "groups": ["ghosts"]}]}}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
}

#[tokio::test]
async fn mistakes_in_a_batch_are_4xx_and_write_nothing() {
    let server = TestServer::start().await;
    let before = revision(&server).await;
    let mut bodies = Vec::new();
    for body in [
        json!({"entries": {"accounts": [{"username": "ada", "groups": ["ghosts"]}]}}),
        json!({"entries": {"accounts": [{"username": "ada", "colour": "red"}]}}),
        json!({"entries": {"roles": [{"name": "r", "methods": ["no-slash"]}]}}),
        json!({"entries": {"policies": [{"name": "p", "actions": [{"action": "read", "condition": "resource.("}]}]}}),
        json!({"delete": {"accounts": ["admin"]}}),
        json!({"entries": {"groups": [{"name": "g", "inside": ["g"]}]}}),
    ] {
        let (status, answer) = batch(&server, body).await;
        assert!(status.is_client_error(), "{status} {answer}");
        // Where in the body a mistake is depends on how the body's keys were ordered: left out.
        let message = answer["message"].as_str().unwrap();
        let message = message.split(" at line 1 column").next().unwrap();
        bodies.push(format!("{} {} {message}", status.as_u16(), answer["code"]));
    }
    assert_json_snapshot!(bodies, @r#"
    [
      "422 \"invalid_input\" invalid account `ada`: group `ghosts` is neither in the directory nor on the server",
      "422 \"invalid_body\" Failed to deserialize the JSON body into the target type: entries.accounts[0].colour: unknown field `colour`, expected one of `username`, `email`, `first_name`, `roles`, `groups`, `attributes`, `inactive`, `service_account`",
      "422 \"invalid_input\" invalid methods of role `r`: `no-slash` is not `provenance/name`",
      "422 \"invalid_body\" Failed to deserialize the JSON body into the target type: entries.policies[0].actions[0].condition: invalid condition: `resource.(` does not parse: Syntax error: no viable alternative at input '.(' at line 1, column 11",
      "403 \"forbidden\" an account cannot delete itself",
      "409 \"membership_cycle\" adding group `g` to group `g` would create a membership cycle"
    ]
    "#);
    assert_eq!(revision(&server).await, before, "a refused batch wrote");

    // Too large a batch is refused whole.
    let accounts: Vec<Value> = (0..60_000)
        .map(|n| json!({"username": format!("u{n}")}))
        .collect();
    let (status, answer) = batch(&server, json!({"entries": {"accounts": accounts}})).await;
    assert!(status.is_client_error(), "{status} {answer}");
}

#[tokio::test]
async fn a_batch_grants_no_more_than_its_caller_holds_and_only_administrators_send_one() {
    let server = TestServer::start().await;
    // An account that may manage roles and accounts through delegation is still no
    // administrator: the batch is refused at the door.
    let role = server
        .create_role(json!({"name": "account-managers", "methods": [{"provenance": "Authorization", "name": "updateAccount"}]}))
        .await;
    let (_, key) = server
        .account_with_key("delegate", json!({"roles": [role]}))
        .await;
    let (status, answer) = server
        .call(
            Method::POST,
            "/v1/directory/batch",
            Some(json!({"entries": {"accounts": [{"username": "delegate", "roles": ["Admin"]}]}})),
            &Auth::Bearer(key),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
}
