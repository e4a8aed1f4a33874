//! The decision log: a JSON line per decision on every face that decides, with the request's id,
//! the reasons, the revision and the latency; only the denials when asked.

use std::time::{Duration, Instant};

use keycard_server::Settings;
use keycard_server::decision_log::{DecisionLogSettings, LogTarget};
use serde_json::{Value, json};

use crate::harness::TestServer;

async fn started(dir: &tempfile::TempDir, only_denied: bool) -> (TestServer, std::path::PathBuf) {
    let path = dir.path().join("decisions.jsonl");
    let server = TestServer::start_with(Settings {
        decision_log: Some(DecisionLogSettings {
            target: LogTarget::File(path.clone()),
            sample: 1.0,
            only_denied,
        }),
        ..Settings::default()
    })
    .await;
    (server, path)
}

/// The log's lines once there are `count` of them (the writer is a thread of its own).
async fn lines(path: &std::path::Path, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        if lines.len() >= count || Instant::now() > deadline {
            return lines;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn check(server: &TestServer, subject: &str, resource: &str) -> String {
    let response = server
        .request(reqwest::Method::POST, "/v1/check")
        .bearer_auth(&server.admin_key)
        .json(&json!({"subject": {"type": "user", "id": subject}, "action": {"name": "read"}, "resource": {"type": "doc", "id": resource}}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_face_logs_each_decision_with_its_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let (server, path) = started(&dir, false).await;
    let role = server.create_role(json!({"name": "readers"})).await;
    server
        .create_policy(json!({"name": "docs", "actions": [{"action": "read", "role_ids": [role]}], "resources": [{"type": "doc", "id": "*"}]}))
        .await;
    server
        .create_account(json!({"username": "rhea", "roles": [role]}))
        .await;
    let revision = server.store.latest_revision().await.unwrap().0;
    let allowed = check(&server, "rhea", "one").await;
    let denied = check(&server, "nobody", "two").await;
    let (status, _) = server
        .post(
            "/access/v1/evaluation",
            json!({"subject": {"type": "user", "id": "rhea"}, "action": {"name": "read"}, "resource": {"type": "doc", "id": "three"}}),
        )
        .await;
    assert!(status.is_success());
    let (status, _) = server
        .post(
            "/v1/explain",
            json!({"subject": {"type": "user", "id": "rhea"}, "action": {"name": "delete"}, "resource": {"type": "doc", "id": "four"}}),
        )
        .await;
    assert!(status.is_success());

    let lines = lines(&path, 4).await;
    assert_eq!(lines.len(), 4, "{lines:?}");
    let first = &lines[0];
    assert_eq!(first["request_id"], allowed);
    assert_eq!(first["face"], "v1");
    assert_eq!(first["subject"], "rhea");
    assert_eq!(first["action"], "read");
    assert_eq!(first["resource"], json!({"type": "doc", "id": "one"}));
    assert_eq!(first["decision"], "allow");
    assert_eq!(first["revision"], revision);
    assert!(first["latency_us"].as_u64().unwrap() > 0);
    assert!(first["time"].as_str().unwrap().contains('T'));
    // A plain check computes no reasons; the log works them out for the lines it keeps.
    assert!(!first["reasons"].as_array().unwrap().is_empty(), "{first}");
    assert_eq!(lines[1]["request_id"], denied);
    assert_eq!(lines[1]["decision"], "deny");
    assert_eq!(
        lines[1]["reasons"][0]["kind"], "unknown_subject",
        "{}",
        lines[1]
    );
    assert_eq!(lines[2]["face"], "authzen");
    assert_eq!(lines[2]["decision"], "allow");
    assert_eq!(lines[3]["face"], "v1");
    assert_eq!(lines[3]["decision"], "deny");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_denials_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (server, path) = started(&dir, true).await;
    server.create_account(json!({"username": "ivo"})).await;
    // The administrator may do anything: allowed, and not logged.
    check(&server, "admin", "a").await;
    let denied = check(&server, "ivo", "b").await;
    let lines = lines(&path, 1).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["request_id"], denied);
    assert_eq!(lines[0]["decision"], "deny");
}
