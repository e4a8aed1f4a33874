//! Grants under conditions: written through `/v1/policies`, decided on `/v1/check`, explained on
//! `/v1/explain`, and on AuthZEN with the request's properties and context beneath the stored
//! attributes. The fixture is the AuthZEN certification scenario's (rules 1 to 8, and S4's stored
//! `role: admin`), as `authzen.rs` loads it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::authzen::load_certification_fixture;
use crate::harness::TestServer;

async fn evaluate(server: &TestServer, body: Value) -> bool {
    let response = server
        .request(Method::POST, "/access/v1/evaluation")
        .header("authorization", &server.admin_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    answer["decision"].as_bool().unwrap()
}

fn request(subject: Value, action: Value, resource: Value) -> Value {
    json!({"subject": subject, "action": action, "resource": resource, "context": {}})
}

#[tokio::test]
async fn the_certification_rules_hold_on_authzen() {
    let server = TestServer::start().await;
    load_certification_fixture(&server).await;
    let alice = || json!({"type": "user", "id": "alice"});
    let bob = || json!({"type": "user", "id": "bob"});
    let record = |id: &str, status: &str| json!({"type": "record", "id": id, "properties": {"status": status}});
    let cases = [
        // Rules 1 to 4: plain grants, and bob may not write the active record.
        (
            alice(),
            json!({"name": "read"}),
            record("record-1", "active"),
            true,
        ),
        (
            alice(),
            json!({"name": "write"}),
            record("record-1", "active"),
            true,
        ),
        (
            bob(),
            json!({"name": "read"}),
            record("record-1", "active"),
            true,
        ),
        (
            bob(),
            json!({"name": "write"}),
            record("record-1", "active"),
            false,
        ),
        // Rules 5 and 6: archived records, for an admin by the subject's properties only.
        (
            alice(),
            json!({"name": "write"}),
            record("record-9", "archived"),
            false,
        ),
        (
            json!({"type": "user", "id": "bob", "properties": {"role": "admin"}}),
            json!({"name": "write"}),
            record("record-9", "archived"),
            true,
        ),
        // Rules 7 and 8: the action's properties.
        (
            alice(),
            json!({"name": "delete", "properties": {"soft": true}}),
            record("record-1", "active"),
            true,
        ),
        (
            alice(),
            json!({"name": "delete", "properties": {"soft": false}}),
            record("record-1", "active"),
            false,
        ),
        // S4: no properties sent; the stored attributes decide (record-2 archived, bob an admin).
        (
            bob(),
            json!({"name": "write"}),
            json!({"type": "record", "id": "record-2"}),
            true,
        ),
        (
            alice(),
            json!({"name": "write"}),
            json!({"type": "record", "id": "record-2"}),
            false,
        ),
        // A stored value wins over the request's: bob stays an admin, record-2 stays archived.
        (
            json!({"type": "user", "id": "bob", "properties": {"role": "guest"}}),
            json!({"name": "write"}),
            record("record-2", "active"),
            true,
        ),
        (
            alice(),
            json!({"name": "write"}),
            record("record-2", "active"),
            false,
        ),
        // A missing property is an evaluation error, which denies.
        (
            alice(),
            json!({"name": "write"}),
            json!({"type": "record", "id": "record-7"}),
            false,
        ),
        (
            alice(),
            json!({"name": "delete"}),
            record("record-1", "active"),
            false,
        ),
    ];
    for (subject, action, resource, expected) in cases {
        let body = request(subject, action, resource);
        assert_eq!(evaluate(&server, body.clone()).await, expected, "{body}");
        // `/v1/check` decides the same, with and without reasons.
        for explain in [false, true] {
            let mut check = body.clone();
            check["explain"] = json!(explain);
            let (status, answer) = server.post("/v1/check", check).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            assert_eq!(answer["allowed"], expected, "{body} {answer}");
        }
    }
    // A batch: each item with its own properties (on a record the registry does not hold, so the
    // request's status decides).
    let response = server
        .request(Method::POST, "/access/v1/evaluations")
        .header("authorization", &server.admin_key)
        .json(&json!({
            "subject": {"type": "user", "id": "alice"},
            "action": {"name": "write"},
            "evaluations": [
                {"resource": record("record-3", "active")},
                {"resource": record("record-3", "archived")},
            ],
        }))
        .send()
        .await
        .unwrap();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer,
        json!({"evaluations": [{"decision": true}, {"decision": false}]})
    );
}

#[tokio::test]
async fn explain_says_which_condition_held_or_failed_and_why() {
    let server = TestServer::start().await;
    load_certification_fixture(&server).await;
    let (_, held) = server
        .post(
            "/v1/explain",
            request(
                json!({"type": "user", "id": "bob"}),
                json!({"name": "write"}),
                json!({"type": "record", "id": "record-2"}),
            ),
        )
        .await;
    assert_eq!(held["allowed"], true, "{held}");
    assert_eq!(held["reasons"][0]["kind"], "conditional_grant", "{held}");
    // Reasons name what they refer to by id, for people reading them.
    assert_eq!(held["reasons"][0]["role_name"], "member", "{held}");
    assert_eq!(held["reasons"][0]["policy_name"], "records", "{held}");
    assert_eq!(held["reasons"][0]["via_names"], json!([]), "{held}");
    assert!(
        held["reasons"][0]["condition"]
            .as_str()
            .unwrap()
            .contains("archived")
    );
    assert_eq!(
        held["subject_attributes"],
        json!({"role": "admin"}),
        "{held}"
    );
    // And the values the condition read: the stored ones, as it evaluated them.
    assert_eq!(
        held["reasons"][0]["read"],
        json!([
            {"path": "resource.properties.status", "value": "archived"},
            {"path": "subject.properties.role", "value": "admin"},
            {"path": "subject.username", "value": "bob"},
        ]),
        "{held}"
    );

    let (_, failed) = server
        .post(
            "/v1/explain",
            request(
                json!({"type": "user", "id": "alice"}),
                json!({"name": "write"}),
                json!({"type": "record", "id": "record-7"}),
            ),
        )
        .await;
    assert_eq!(failed["allowed"], false, "{failed}");
    let reasons = failed["reasons"].as_array().unwrap();
    assert_eq!(reasons[0]["kind"], "condition_not_met", "{failed}");
    assert!(reasons[0]["error"].is_string(), "{failed}");
    // record-7 is not registered: the status the condition needs is absent, so it has no value.
    assert_eq!(
        reasons[0]["read"][0],
        json!({"path": "resource.properties.status"}),
        "{failed}"
    );
    assert_eq!(reasons.last().unwrap()["kind"], "no_grant");
}

#[tokio::test]
async fn bad_conditions_are_refused_when_written_and_faces_without_conditions_keep_them() {
    let server = TestServer::start().await;
    let policy = load_certification_fixture(&server).await;
    for (condition, says) in [
        ("subject.username ==", "does not parse"),
        ("user.name == 'x'", "`user` is unknown"),
        ("now() > 0", "not a function"),
    ] {
        let (status, body) = server
            .post(
                "/v1/policies",
                json!({"name": "bad", "actions": [{"action": "read", "condition": condition}]}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{condition}: {body}"
        );
    }

    // The Polytomic face shows only the outright grants, refuses conditions, and an update
    // through it keeps the conditional grants it cannot show.
    let path = format!("/api/permissions/policies/{policy}");
    let (status, shown) = server.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let shown_actions = shown["data"]["policy_actions"].as_array().unwrap();
    let write = shown_actions
        .iter()
        .find(|a| a["action"] == "write")
        .map(|a| a["role_ids"].clone());
    assert!(
        write.is_none() || write == Some(json!([])),
        "a conditional grant shown as outright: {shown}"
    );
    let (status, body) = server
        .call(
            Method::PUT,
            &path,
            Some(json!({"name": "records", "policy_actions": [{"action": "read", "role_ids": [], "condition": "true"}]})),
            &server.admin(),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    let (status, body) = server
        .call(
            Method::PUT,
            &path,
            Some(
                json!({"name": "records", "policy_actions": [{"action": "read", "role_ids": []}]}),
            ),
            &server.admin(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, stored) = server.get(&format!("/v1/policies/{policy}")).await;
    let conditions: Vec<&Value> = stored["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|action| action.get("condition"))
        .collect();
    assert_eq!(conditions.len(), 2, "{stored}");
    assert!(
        stored["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|action| action["action"] != "read" || action["role_ids"] == json!([])),
        "{stored}"
    );
}
