//! `GET /v1/watch`: the change log as Server-Sent Events, resumable without loss or duplicate,
//! filtered by kind, with heartbeats; on PostgreSQL a node's watch sees another node's writes.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{TestServer, fresh_postgres_database};

/// One event of a stream: its id, if any, and its data; or a comment.
#[derive(Debug)]
enum Sse {
    Event { kind: Option<String>, data: Value },
    Comment(String),
}

/// A watch open on a server.
struct Watch {
    response: reqwest::Response,
    buffer: String,
    /// The id of the last event that had one.
    last_id: Option<String>,
}

impl Watch {
    async fn open(server: &TestServer, query: &str, last_id: Option<&str>) -> Self {
        let mut request = server
            .request(reqwest::Method::GET, &format!("/v1/watch{query}"))
            .bearer_auth(&server.admin_key);
        if let Some(id) = last_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            response,
            buffer: String::new(),
            last_id: None,
        }
    }

    /// The next event or comment, waiting at most ten seconds.
    async fn next(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut kind = None;
                let mut data = String::new();
                let mut comment = None;
                for line in block.lines() {
                    if let Some(text) = line.strip_prefix(':') {
                        comment = Some(text.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("id:") {
                        id = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("event:") {
                        kind = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push_str(value.trim());
                    }
                }
                if let Some(comment) = comment.filter(|_| data.is_empty()) {
                    return Sse::Comment(comment);
                }
                if id.is_some() {
                    self.last_id = id;
                }
                return Sse::Event {
                    kind,
                    data: serde_json::from_str(&data).unwrap(),
                };
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("the watch said nothing for ten seconds")
                .unwrap()
                .expect("the watch ended");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next `count` changes, heartbeats passed over.
    async fn changes(&mut self, count: usize) -> Vec<Value> {
        let mut changes = Vec::new();
        while changes.len() < count {
            if let Sse::Event { data, kind, .. } = self.next().await {
                assert_eq!(kind, None, "{data}");
                changes.push(data);
            }
        }
        changes
    }
}

fn positions(changes: &[Value]) -> Vec<(i64, i64)> {
    changes
        .iter()
        .map(|c| (c["revision"].as_i64().unwrap(), c["seq"].as_i64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_streams_changes_and_resumes_without_loss_or_duplicate() {
    let server = TestServer::start().await;
    let start = server.store.latest_revision().await.unwrap().0;
    let mut watch = Watch::open(&server, &format!("?after={start}&heartbeat=1"), None).await;
    server.create_role(json!({"name": "watched"})).await;
    let group = server.create_group(json!({"name": "w-group"})).await;
    server
        .create_account(json!({"username": "wanda", "groups": [group]}))
        .await;
    let seen = watch.changes(3).await;
    assert_eq!(
        seen.iter()
            .map(|c| c["entity"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["role", "group", "account"]
    );
    assert_eq!(seen[2]["after"]["username"], "wanda");
    assert_eq!(watch.last_id, Some((start + 3).to_string()));
    // Nothing changes: heartbeats keep the connection alive.
    assert!(matches!(watch.next().await, Sse::Comment(text) if text == "heartbeat"));
    let last = watch.last_id.clone().unwrap();
    drop(watch);

    // Written while nobody watched, and a batch of many changes under one revision.
    server.create_role(json!({"name": "missed"})).await;
    let (status, _) = server
        .post(
            "/v1/directory/batch",
            json!({"entries": {"accounts": [{"username": "x1"}, {"username": "x2"}, {"username": "x3"}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut resumed = Watch::open(&server, "", Some(&last)).await;
    let again = resumed.changes(4).await;
    let expected: Vec<(i64, i64)> = vec![
        (start + 4, 0),
        (start + 5, 0),
        (start + 5, 1),
        (start + 5, 2),
    ];
    assert_eq!(positions(&again), expected, "a loss or a duplicate");
    // Only a revision's last event carries the id: a client cut off inside one resumes before it.
    assert_eq!(resumed.last_id, Some((start + 5).to_string()));

    // Filtered by kind.
    let mut accounts = Watch::open(&server, &format!("?after={start}&kinds=account"), None).await;
    let only = accounts.changes(4).await;
    assert!(only.iter().all(|c| c["entity"] == "account"), "{only:?}");
    assert_eq!(only[0]["after"]["username"], "wanda");
}

#[tokio::test]
async fn a_watch_refuses_what_it_cannot_stream() {
    let server = TestServer::start().await;
    let latest = server.store.latest_revision().await.unwrap().0;
    let mut refused = Vec::new();
    for (query, last_id) in [
        (format!("?after={}", latest + 10), None),
        ("?after=-1".to_owned(), None),
        ("?kinds=gadget".to_owned(), None),
        ("?organizations=some".to_owned(), None),
        ("?heartbeat=0".to_owned(), None),
        (String::new(), Some("yesterday")),
    ] {
        let mut request = server
            .request(reqwest::Method::GET, &format!("/v1/watch{query}"))
            .bearer_auth(&server.admin_key);
        if let Some(id) = last_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        refused.push(format!("{status} {} {}", body["code"], body["message"]));
    }
    let ahead = format!(
        "422 \"invalid_input\" \"invalid after: revision {} is ahead of the log, which is at {latest}\"",
        latest + 10
    );
    assert_eq!(refused[0], ahead);
    assert_eq!(
        refused[1..],
        [
            "422 \"invalid_input\" \"invalid after: a revision is 0 or more\"",
            "422 \"invalid_input\" \"invalid kinds: `gadget` is no kind of entity\"",
            "422 \"invalid_input\" \"invalid organizations: `some` is not `all`\"",
            "422 \"invalid_input\" \"invalid heartbeat: must be between 1 and 300 seconds\"",
            "400 \"invalid_header\" \"`Last-Event-ID` must be a revision\"",
        ]
    );

    // An administrator of another organization watches it, but not every organization.
    let (status, org) = server
        .post("/v1/organizations", json!({"name": "elsewhere"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let (_, roles) = server
        .in_org("elsewhere", reqwest::Method::GET, "/v1/roles", Value::Null)
        .await;
    let admin_role = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|role| role["name"] == "Admin")
        .unwrap()["id"]
        .clone();
    let (status, boss) = server
        .in_org(
            "elsewhere",
            reqwest::Method::POST,
            "/v1/accounts",
            json!({"username": "boss", "roles": [admin_role]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{boss}");
    let id = boss["data"]["id"].as_str().unwrap();
    let (status, key) = server
        .in_org(
            "elsewhere",
            reqwest::Method::POST,
            &format!("/v1/accounts/{id}/keys"),
            json!({"name": "watch"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let key_id = key["data"]["key"]["id"].as_str().unwrap().to_owned();
    let key = key["data"]["secret"].as_str().unwrap();
    for (query, expected) in [
        ("?organizations=all", StatusCode::FORBIDDEN),
        ("", StatusCode::OK),
    ] {
        let response = server
            .request(reqwest::Method::GET, &format!("/v1/watch{query}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{query}");
    }

    // A watch is judged again as it goes on: its key revoked, the next read ends it.
    let mut request = server
        .request(reqwest::Method::GET, "/v1/watch")
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(request.status(), StatusCode::OK);
    let (status, _) = server
        .in_org(
            "elsewhere",
            reqwest::Method::DELETE,
            &format!("/v1/accounts/{id}/keys/{key_id}"),
            Value::Null,
        )
        .await;
    assert!(status.is_success(), "{status}");
    let mut said = String::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), request.chunk())
        .await
        .expect("the watch went on after its key was revoked")
        .unwrap()
    {
        said.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(said.contains("event: error"), "{said}");
    assert!(said.contains("unauthenticated"), "{said}");
}

/// PostgreSQL only: two nodes on one database; a watch on one sees a write through the other.
#[tokio::test(flavor = "multi_thread")]
async fn a_watch_on_one_node_sees_writes_through_another() {
    let Some(url) = fresh_postgres_database().await else {
        eprintln!("skipped: set KEYCARD_TEST_POSTGRES_URL to run the two-node watch");
        return;
    };
    let first = TestServer::start_on(url.clone(), None).await;
    let second = TestServer::start_on(url, None).await;
    let start = first.store.latest_revision().await.unwrap().0;
    let mut watch = Watch::open(&first, &format!("?after={start}"), None).await;
    second
        .create_role(json!({"name": "from-the-other-node"}))
        .await;
    let seen = watch.changes(1).await;
    assert_eq!(seen[0]["after"]["name"], "from-the-other-node");
}

#[tokio::test]
async fn a_watch_from_before_what_the_log_holds_is_gone_not_a_silent_gap() {
    let server = TestServer::start().await;
    server.create_role(json!({"name": "kept"})).await;
    let latest = server.store.latest_revision().await.unwrap().0;
    // The log's first revisions dropped, as a retention policy would.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.database_url).await.unwrap();
    sqlx::query("DELETE FROM changes WHERE revision < $1")
        .bind(latest)
        .execute(&pool)
        .await
        .unwrap();
    let response = server
        .request(reqwest::Method::GET, "/v1/watch?after=0")
        .bearer_auth(&server.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GONE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "gone");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&format!("it starts at {latest}")),
        "{body}"
    );
    // From just before what it holds, the watch goes on.
    let mut watch = Watch::open(&server, &format!("?after={}", latest - 1), None).await;
    assert_eq!(watch.changes(1).await[0]["after"]["name"], "kept");
}
