//! `keycard export` and `keycard apply` with the real binary against live servers: apply a file,
//! apply it again and nothing is written, export, apply the export to an empty server and export
//! again: the same file. `--dry-run` writes nothing; `--prune` deletes what the file leaves out.

use std::process::Command;

use serde_json::Value;

use crate::harness::TestServer;

fn keycard(server: &TestServer, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_keycard"))
        .args(args)
        .env("KEYCARD_SERVER", &server.base)
        .env("KEYCARD_TOKEN", &server.admin_key)
        .env("KEYCARD_CLIENT_CONFIG", "/nonexistent/keycard-client.toml")
        .env_remove("KEYCARD_ORGANIZATION")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The Polytomic-style example's directory, for the default organization.
fn directory() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/polytomic-workspace.yaml"
    );
    let file: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut directory = file["directory"].clone();
    directory.as_object_mut().unwrap().remove("organization");
    serde_yaml_ng::to_string(&directory).unwrap()
}

async fn revision(server: &TestServer) -> i64 {
    server.store.latest_revision().await.unwrap().0
}

#[tokio::test(flavor = "multi_thread")]
async fn export_apply_round_trips_and_a_second_apply_writes_nothing() {
    let first = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("directory.yaml");
    std::fs::write(&file, directory()).unwrap();
    let file = file.to_str().unwrap().to_owned();

    let (ok, out, err) = keycard(&first, &["apply", "-f", &file]);
    assert!(ok, "{err}");
    assert!(out.contains("+ create role builder"), "{out}");
    assert!(out.contains("+ create policy build"), "{out}");
    assert!(out.contains("+ create resource model/revenue"), "{out}");
    // Decisions follow the file.
    assert!(first.allowed("ben", "delete", "model", "revenue").await);
    assert!(!first.allowed("ben", "delete", "model", "churn").await);

    let before = revision(&first).await;
    let (ok, out, err) = keycard(&first, &["apply", "-f", &file]);
    assert!(ok, "{err}");
    assert!(
        out.contains("0 to create, 0 to update, 0 to delete"),
        "{out}"
    );
    assert_eq!(revision(&first).await, before, "a second apply wrote");

    let exported = dir.path().join("exported.yaml");
    let exported = exported.to_str().unwrap().to_owned();
    let (ok, _, err) = keycard(&first, &["export", "-o", &exported]);
    assert!(ok, "{err}");
    let once = std::fs::read_to_string(&exported).unwrap();
    assert!(
        once.contains("condition: resource.owner == subject.id"),
        "{once}"
    );
    assert!(
        !once.contains("password") && !once.contains("kck_"),
        "{once}"
    );

    // The export applied to an empty server exports as the same file.
    let second = TestServer::start().await;
    let (ok, _, err) = keycard(&second, &["apply", "-f", &exported]);
    assert!(ok, "{err}");
    let (ok, again, err) = keycard(&second, &["export"]);
    assert!(ok, "{err}");
    assert_eq!(once, again);

    // A dry run prints the plan and writes nothing; prune deletes what the file leaves out.
    let trimmed = once.replace("- username: cy\n", "- username: cyd\n");
    let edited = dir.path().join("edited.yaml");
    std::fs::write(&edited, trimmed).unwrap();
    let edited = edited.to_str().unwrap().to_owned();
    let before = revision(&second).await;
    let (ok, out, err) = keycard(&second, &["apply", "-f", &edited, "--prune", "--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.contains("+ create account cyd"), "{out}");
    assert!(out.contains("- delete account cy\n"), "{out}");
    assert!(out.contains("dry run, nothing changed"), "{out}");
    assert_eq!(revision(&second).await, before);
    let (ok, out, err) = keycard(
        &second,
        &["apply", "-f", &edited, "--prune", "--output", "json"],
    );
    assert!(ok, "{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["applied"], true);
    let (_, accounts) = second.get("/v1/accounts?limit=500").await;
    let names: Vec<&str> = accounts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"cyd") && !names.contains(&"cy"),
        "{names:?}"
    );
}
