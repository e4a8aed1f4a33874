//! Nothing acknowledged is lost: not across a restart, not when the process is killed mid-burst.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{ADMIN_PASSWORD, TestServer};

#[tokio::test]
async fn restarting_keeps_everything() {
    let server = TestServer::start().await;
    let role = server.create_role(json!({"name": "keeper"})).await;
    let group = server
        .create_group(json!({"name": "keepers", "roles": [role]}))
        .await;
    server
        .create_account(json!({"username": "kim", "groups": [group]}))
        .await;
    let policy = server
        .create_policy(
            json!({"name": "vault", "actions": [{"action": "open", "role_ids": [role]}]}),
        )
        .await;
    server
        .post(
            &format!("/v1/policies/{policy}/resources"),
            json!({"type": "vault", "id": "*"}),
        )
        .await;
    assert!(server.allowed("kim", "open", "vault", "v1").await);
    let (_, before) = server.get("/v1/changes").await;

    let server = server.restart().await;
    assert!(
        server.allowed("kim", "open", "vault", "v1").await,
        "the snapshot is rebuilt from the store"
    );
    let (status, kept) = server.get(&format!("/v1/groups/{group}")).await;
    assert_eq!(
        (status, kept["roles"].clone()),
        (StatusCode::OK, json!([role]))
    );
    let (_, after) = server.get("/v1/changes").await;
    let before_items = before["items"].as_array().unwrap();
    assert_eq!(
        &after["items"].as_array().unwrap()[..before_items.len()],
        before_items.as_slice()
    );
    let (_, admins) = server.get("/v1/accounts").await;
    assert_eq!(
        admins["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["username"] == "admin")
            .count(),
        1,
        "bootstrap runs once"
    );
}

/// A `keycard serve` process on a free port; dropped, it is killed.
pub(crate) struct Process {
    pub(crate) child: Child,
    pub(crate) base: String,
    /// What the server wrote to stderr after it started listening.
    pub(crate) log: Arc<Mutex<Vec<String>>>,
}

impl Process {
    pub(crate) fn spawn(database_url: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keycard"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database",
                database_url,
            ])
            .env("KEYCARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("KEYCARD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("keycard exited before listening")
                .unwrap();
            if let Some(address) = line.strip_prefix("keycard: listening on ") {
                break address.trim().to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Self { child, base, log }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_during_a_burst_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let url = match crate::harness::fresh_postgres_database().await {
        Some(url) => url,
        None => format!("sqlite://{}", dir.path().join("keycard.db").display()),
    };
    let mut process = Process::spawn(&url);
    let http = reqwest::Client::new();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));

    let mut writers = Vec::new();
    for writer in 0..8 {
        let (http, base, acknowledged) = (http.clone(), process.base.clone(), acknowledged.clone());
        writers.push(tokio::spawn(async move {
            for index in 0.. {
                let name = format!("burst-{writer}-{index}");
                let sent = http
                    .post(format!("{base}/v1/roles"))
                    .basic_auth("admin", Some(ADMIN_PASSWORD))
                    .json(&json!({"name": name}))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == StatusCode::CREATED => {
                        acknowledged.lock().unwrap().push(name)
                    }
                    Ok(response) => panic!("unexpected {}", response.status()),
                    Err(_) => break, // the server died mid-request: not acknowledged
                }
            }
        }));
    }
    // Kill once a good number of writes are acknowledged, while the writers are still going.
    loop {
        if acknowledged.lock().unwrap().len() >= 40 {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::timeout(
            std::time::Duration::from_millis(5),
            std::future::pending::<()>(),
        )
        .await
        .ok();
    }
    process.child.kill().unwrap(); // SIGKILL
    process.child.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let restarted = Process::spawn(&url);
    let mut stored = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: serde_json::Value = http
            .get(format!(
                "{}/v1/roles?limit=500&cursor={cursor}",
                restarted.base
            ))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stored.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|role| role["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|name| !stored.contains(name))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert!(acknowledged.len() >= 40);
}

/// A new API key for `username`, minted with `keycard admin create-key`.
pub(crate) fn create_key(url: &str, username: &str) -> String {
    keycard(
        &[
            "admin",
            "create-key",
            "--database",
            url,
            "--username",
            username,
        ],
        None,
    )
    .trim()
    .to_owned()
}

pub(crate) fn keycard(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_keycard"))
        .args(args)
        .env("KEYCARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "keycard {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_reach_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let url = match crate::harness::fresh_postgres_database().await {
        Some(url) => url,
        None => format!("sqlite://{}", dir.path().join("keycard.db").display()),
    };
    assert!(keycard(&["migrate", "--database", &url], None).contains("schema is current"));
    let server = Process::spawn(&url);

    let created = keycard(
        &[
            "admin",
            "create-account",
            "--database",
            &url,
            "--username",
            "ops",
            "--admin",
            "--password-stdin",
        ],
        Some("ops-password\n"),
    );
    let account: serde_json::Value = serde_json::from_str(&created).unwrap();
    assert_eq!(account["username"], "ops");
    let key = create_key(&url, "ops");
    let manifest = dir.path().join("manifest.json");
    std::fs::write(&manifest, r#"{"methods": [{"provenance": "App", "name": "run", "route": {"verb": "POST", "path": "/run"}}], "views": []}"#).unwrap();
    assert!(
        keycard(
            &[
                "admin",
                "import-manifest",
                "--database",
                &url,
                manifest.to_str().unwrap()
            ],
            None
        )
        .contains("imported 1 methods")
    );

    // The server follows the change log: the new administrator's key works at once (it is checked
    // against the store), and decisions about it appear within the follow interval.
    let http = reqwest::Client::new();
    let me: serde_json::Value = http
        .get(format!("{}/v1/me", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["account"]["username"], "ops");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let answer: serde_json::Value = http
            .post(format!("{}/v1/check", server.base))
            .bearer_auth(&key)
            .json(&json!({"subject": {"id": "ops"}, "action": "POST", "resource": {"type": "route", "id": "/run"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if answer["allowed"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server never saw the CLI's writes: {answer}"
        );
        tokio::task::yield_now().await;
    }
    let methods: serde_json::Value = http
        .get(format!("{}/v1/catalogue/methods", server.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(methods["items"][0]["name"], "run", "{methods}");
    let spec = keycard(&["openapi"], None);
    assert!(spec.contains("\"/v1/check\""));
}
