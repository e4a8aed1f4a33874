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

/// A directory of `accounts` accounts (and a resource for each of the first `resources`), in 40
/// groups each inside the next, which the file lists after it.
fn large_directory(accounts: usize, resources: usize) -> String {
    let mut text = String::from("roles:\n- name: staff\ngroups:\n");
    for group in 0..40 {
        text.push_str(&format!("- name: g{group}\n"));
        if group < 39 {
            text.push_str(&format!("  inside: [g{}]\n", group + 1));
        } else {
            text.push_str("  roles: [staff]\n");
        }
    }
    text.push_str("accounts:\n");
    for account in 0..accounts {
        text.push_str(&format!(
            "- username: u{account}\n  groups: [g{}]\n",
            account % 40
        ));
    }
    text.push_str("policies:\n- name: docs\n  resources: [{type: doc, id: '*'}]\n  actions: [{action: read, roles: [staff]}]\n");
    text.push_str("resources:\n");
    for resource in 0..resources {
        text.push_str(&format!(
            "- {{type: doc, id: r{resource}, owner: u{resource}}}\n"
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_file_is_applied_in_batches_and_pruned() {
    let server = TestServer::start().await;
    // A catalogue entry the file will not list.
    let (status, _) = server
        .post(
            "/v1/catalogue",
            serde_json::json!({"methods": [{"provenance": "Fixture", "name": "stale"}]}),
        )
        .await;
    assert!(status.is_success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.yaml");
    std::fs::write(&path, large_directory(2_500, 1_200)).unwrap();
    let file = path.to_str().unwrap().to_owned();
    let entries = 1 + 40 + 2_500 + 1 + 1_200;

    // A dry run over several batches: later ones are judged with what earlier ones would make.
    let before = revision(&server).await;
    let (ok, out, err) = keycard(&server, &["apply", "-f", &file, "--dry-run"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "plan (dry run, nothing changed): {entries} to create, 0 to update, 0 to delete"
        )),
        "{}",
        out.lines().last().unwrap_or_default()
    );
    assert!(
        !out.contains("~ update"),
        "a group made bare first is listed once"
    );
    assert_eq!(revision(&server).await, before, "a dry run wrote");

    let (ok, out, err) = keycard(&server, &["apply", "-f", &file]);
    assert!(ok, "{err}");
    let last = out.lines().last().unwrap_or_default().to_owned();
    assert!(
        last.starts_with(&format!(
            "applied: {entries} to create, 0 to update, 0 to delete, 0 unchanged"
        )),
        "{last}"
    );
    assert_eq!(out.lines().count(), entries + 1, "one line a step");
    // Through forty levels of nesting, made across batches.
    assert!(server.allowed("u0", "read", "doc", "r0").await);
    assert!(server.allowed("u2499", "read", "doc", "r0").await);

    let before = revision(&server).await;
    let (ok, out, err) = keycard(&server, &["apply", "-f", &file]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "applied: 0 to create, 0 to update, 0 to delete, {entries} unchanged"
        )),
        "{out}"
    );
    assert_eq!(revision(&server).await, before, "a second apply wrote");

    // Fewer accounts and resources: prune deletes the rest, and the catalogue entry.
    std::fs::write(&path, large_directory(2_000, 1_000)).unwrap();
    let (ok, out, err) = keycard(&server, &["apply", "-f", &file, "--prune", "--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.contains("- delete account u2499\n"), "{out}");
    assert!(out.contains("- delete resource doc/r1199\n"), "{out}");
    assert!(out.contains("- delete method Fixture/stale\n"), "{out}");
    assert!(!out.contains("- delete account admin"), "{out}");
    let (ok, out, err) = keycard(&server, &["apply", "-f", &file, "--prune"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("applied: 0 to create, 0 to update, 701 to delete"),
        "{}",
        out.lines().last().unwrap_or_default()
    );
    assert!(!server.allowed("u2499", "read", "doc", "r0").await);
    let (_, methods) = server.get("/v1/catalogue/methods?limit=500").await;
    assert!(!methods.to_string().contains("stale"), "{methods}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_naming_a_new_organization_makes_it_for_a_partner() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newco.yaml");
    std::fs::write(
        &path,
        "organization: newco\nactions: [read, approve]\nroles:\n- name: approvers\naccounts:\n- {username: nia, roles: [approvers]}\npolicies:\n- name: invoices\n  resources: [{type: invoice, id: '*'}]\n  actions: [{action: approve, roles: [approvers]}]\n",
    )
    .unwrap();
    let file = path.to_str().unwrap().to_owned();

    let before = revision(&server).await;
    let (ok, out, err) = keycard(&server, &["apply", "-f", &file, "--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("+ create organization newco\n"), "{out}");
    assert!(out.contains("+ create account nia\n"), "{out}");
    assert!(out.contains("4 to create"), "{out}");
    assert_eq!(revision(&server).await, before, "a dry run wrote");

    let (ok, out, err) = keycard(&server, &["apply", "-f", &file]);
    assert!(ok, "{err}");
    assert!(out.starts_with("+ create organization newco\n"), "{out}");
    assert!(out.contains("applied: 4 to create, 0 to update"), "{out}");
    let (status, answer) = server
        .in_org(
            "newco",
            reqwest::Method::POST,
            "/v1/check",
            serde_json::json!({"subject": {"type": "user", "id": "nia"}, "action": {"name": "approve"}, "resource": {"type": "invoice", "id": "7"}}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{answer}");
    assert_eq!(answer["allowed"], true, "{answer}");

    let (ok, out, err) = keycard(&server, &["apply", "-f", &file]);
    assert!(ok, "{err}");
    assert!(
        out.contains("applied: 0 to create, 0 to update, 0 to delete"),
        "{out}"
    );
}
