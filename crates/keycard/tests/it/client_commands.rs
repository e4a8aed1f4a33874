//! The client commands, the real binary against a live server: `login` keeps a session in a
//! profile (mode 0600), and `check`, `explain`, `lookup`, `get` and `list` answer for humans and,
//! with `--output json`, for scripts.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::harness::{ADMIN_PASSWORD, TestServer};

/// Runs `keycard ARGS` with the client file in `dir`; answers (success, stdout, stderr).
fn keycard(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: &str,
) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keycard"));
    command
        .args(args)
        .env("KEYCARD_CLIENT_CONFIG", dir.join("client.toml"))
        .env_remove("KEYCARD_SERVER")
        .env_remove("KEYCARD_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn client_commands_answer_humans_and_scripts() {
    let server = TestServer::start().await;
    let role = server.create_role(json!({"name": "editors"})).await;
    let group = server
        .create_group(json!({"name": "writers", "roles": [role]}))
        .await;
    let alice = server
        .create_account(json!({"username": "alice", "groups": [group]}))
        .await;
    server
        .create_policy(json!({"name": "documents", "actions": [{"action": "edit", "role_ids": [role]}], "resources": [{"type": "document", "id": "*"}]}))
        .await;
    let (status, _) = server
        .post(
            "/v1/resources",
            json!({"type": "document", "id": "notes", "owner": alice}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    let dir = tempfile::tempdir().unwrap();
    let base = server.base.clone();
    let dir_path = dir.path().to_owned();

    tokio::task::spawn_blocking(move || {
        let dir = dir_path.as_path();
        // Login keeps the session in the named profile, readable by its owner only.
        let (ok, _, err) = keycard(
            dir,
            &[],
            &[
                "login",
                "--server",
                &base,
                "--username",
                "admin",
                "--profile",
                "ops",
            ],
            &format!("{ADMIN_PASSWORD}\n"),
        );
        assert!(ok, "{err}");
        let file = dir.join("client.toml");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(std::fs::read_to_string(&file).unwrap().contains("kcs_"));
        let profile = [("KEYCARD_PROFILE", "ops")];

        let (ok, out, err) = keycard(
            dir,
            &profile,
            &["check", "alice", "edit", "document", "readme"],
            "",
        );
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "allowed");
        let (ok, out, _) = keycard(
            dir,
            &profile,
            &[
                "check", "alice", "delete", "document", "readme", "--output", "json",
            ],
            "",
        );
        assert!(ok);
        let answer: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(answer["allowed"], false);

        let (ok, out, err) = keycard(
            dir,
            &profile,
            &["explain", "alice", "edit", "document", "readme"],
            "",
        );
        assert!(ok, "{err}");
        assert!(out.starts_with("allowed"), "{out}");
        assert!(
            out.contains("policy `documents` grants it to role `editors`, through group `writers`"),
            "{out}"
        );

        let (ok, out, _) = keycard(
            dir,
            &profile,
            &["lookup", "resources", "alice", "edit", "document"],
            "",
        );
        assert!(ok);
        assert!(out.lines().any(|line| line == "*"), "{out}");
        let (ok, out, _) = keycard(
            dir,
            &profile,
            &[
                "lookup", "subjects", "edit", "document", "readme", "--output", "json",
            ],
            "",
        );
        assert!(ok);
        let subjects: Vec<Value> = serde_json::from_str(&out).unwrap();
        assert!(subjects.iter().any(|s| s["username"] == "alice"), "{out}");

        let (ok, out, _) = keycard(dir, &profile, &["list", "roles"], "");
        assert!(ok);
        assert!(
            out.lines().any(|line| line.starts_with("editors\t")),
            "{out}"
        );
        let (ok, out, _) = keycard(dir, &profile, &["list", "accounts", "--output", "json"], "");
        assert!(ok);
        let accounts: Vec<Value> = serde_json::from_str(&out).unwrap();
        assert_eq!(accounts.len(), 2);
        let (ok, out, _) = keycard(
            dir,
            &profile,
            &["get", "accounts", &alice, "--output", "json"],
            "",
        );
        assert!(ok);
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap()["username"],
            "alice"
        );
        let (ok, out, _) = keycard(dir, &profile, &["get", "resources", "document/notes"], "");
        assert!(ok);
        assert!(out.contains("\"owner\""), "{out}");
        let (ok, out, _) = keycard(dir, &profile, &["list", "changes"], "");
        assert!(ok);
        assert!(out.contains("create policy"), "{out}");

        // A flag or the environment overrides the profile; a bad credential says what to do.
        let (ok, _, err) = keycard(
            dir,
            &[
                ("KEYCARD_PROFILE", "ops"),
                ("KEYCARD_TOKEN", "kck_not-a-key"),
            ],
            &["list", "roles"],
            "",
        );
        assert!(!ok);
        assert!(err.contains("keycard login"), "{err}");
        let (ok, _, err) = keycard(dir, &[], &["list", "roles"], "");
        assert!(!ok);
        assert!(err.contains("no server"), "{err}");
    })
    .await
    .unwrap();
}

#[test]
fn completions_and_the_manual_come_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let (ok, out, err) = keycard(dir.path(), &[], &["completions", shell], "");
        assert!(ok, "{err}");
        assert!(out.contains("explain") && out.contains("lookup"), "{shell}");
    }
    let (ok, out, _) = keycard(dir.path(), &[], &["man"], "");
    assert!(ok);
    assert!(out.contains(".TH keycard 1"), "{out}");
}
