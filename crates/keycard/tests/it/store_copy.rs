//! `keycard admin copy`: a SQLite store copied into an empty PostgreSQL database, then a node on
//! the copy accepts the same passwords and API keys at the same revision. Runs where the test
//! command gives it PostgreSQL (`KEYCARD_TEST_POSTGRES_URL`).

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Auth, TestServer, fresh_postgres_database};

fn copy(from: &str, to: &str) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_keycard"))
        .args(["admin", "copy", "--from", from, "--to", to])
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_store_copied_to_postgres_keeps_passwords_keys_and_revision() {
    let Some(postgres) = fresh_postgres_database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("keycard.db").display());
    let server = TestServer::start_on(sqlite.clone(), None).await;
    let role = server.create_role(json!({"name": "editors"})).await;
    let (alice, key) = server
        .account_with_key(
            "alice",
            json!({"password": "alice-password-1", "roles": [role], "attributes": {"team": "docs"}}),
        )
        .await;
    server
        .post(
            "/v1/resources",
            json!({"type": "document", "id": "notes", "owner": alice}),
        )
        .await;
    let admin_key = server.admin_key.clone();
    let revision = server.store.latest_revision().await.unwrap();
    drop(server);

    let (ok, out, err) = copy(&sqlite, &postgres);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("copied at revision {}", revision.0)),
        "{out}"
    );
    assert!(out.contains("changes: "), "{out}");
    // Once there is data, a second copy is refused and changes nothing.
    let (ok, _, err) = copy(&sqlite, &postgres);
    assert!(!ok);
    assert!(err.contains("already holds data"), "{err}");

    let copied = keycard_store::open(&postgres).await.unwrap();
    assert_eq!(copied.latest_revision().await.unwrap(), revision);
    drop(copied);
    let node = TestServer::start_on(postgres, None).await;
    for auth in [
        Auth::Basic("alice".into(), "alice-password-1".into()),
        Auth::Bearer(key),
        Auth::Bearer(admin_key),
    ] {
        let (status, me) = node.call(reqwest::Method::GET, "/v1/me", None, &auth).await;
        assert_eq!(status, StatusCode::OK, "{me}");
    }
    let (_, account) = node.get(&format!("/v1/accounts/{alice}")).await;
    assert_eq!(account["attributes"], json!({"team": "docs"}));
    let (status, resource) = node.get("/v1/resources/document/notes").await;
    assert_eq!(status, StatusCode::OK, "{resource}");
    assert_eq!(resource["owner"], alice.as_str());
    let (_, changes) = node.get("/v1/changes?limit=500").await;
    assert!(changes["items"].as_array().unwrap().len() > 5);
}
