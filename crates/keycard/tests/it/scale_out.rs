//! Several stateless nodes on one database: writes on any node reach every node's decisions, at
//! once for a client that sends the revision token, within moments for the others; a node killed
//! mid-load comes back and catches up; no acknowledged write is lost. On PostgreSQL when
//! `KEYCARD_TEST_POSTGRES_URL` is set (notifications), else on one shared SQLite file (polling).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::durability::{Process, keycard};
use crate::harness::fresh_postgres_database;

struct Node {
    process: Process,
}

struct Cluster {
    http: reqwest::Client,
    key: String,
    url: String,
}

impl Cluster {
    async fn write(&self, node: &Node, path: &str, body: Value) -> (Value, i64) {
        let response = self
            .http
            .post(format!("{}{path}", node.process.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{path}");
        let revision: i64 = response.headers()["keycard-revision"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        (response.json().await.unwrap(), revision)
    }

    async fn allowed(
        &self,
        node: &Node,
        subject: &str,
        resource: &str,
        min_revision: Option<i64>,
    ) -> bool {
        let mut request = self
            .http
            .post(format!("{}/v1/check", node.process.base))
            .bearer_auth(&self.key)
            .json(&json!({"subject": {"id": subject}, "action": "read", "resource": {"type": "doc", "id": resource}}));
        if let Some(revision) = min_revision {
            request = request.header("keycard-min-revision", revision.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["allowed"]
            .as_bool()
            .unwrap()
    }

    /// Grants `user{i}` read on `doc/d{i}` through a role and a policy, written on `node`.
    async fn grant(&self, node: &Node, i: usize) -> i64 {
        let (role, _) = self
            .write(node, "/v1/roles", json!({"name": format!("role{i}")}))
            .await;
        let role = role["data"]["id"].as_str().unwrap().to_owned();
        self.write(
            node,
            "/v1/accounts",
            json!({"username": format!("user{i}"), "roles": [role]}),
        )
        .await;
        let (_, revision) = self
            .write(node, "/v1/policies", json!({"name": format!("policy{i}"), "actions": [{"action": "read", "role_ids": [role]}], "resources": [{"type": "doc", "id": format!("d{i}")}]}))
            .await;
        revision
    }

    fn node(&self) -> Node {
        Node {
            process: Process::spawn(&self.url),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = match fresh_postgres_database().await {
        Some(url) => url,
        None => format!("sqlite://{}", dir.path().join("shared.db").display()),
    };
    assert!(keycard(&["migrate", "--database", &url], None).contains("schema is current"));
    let key = keycard(
        &[
            "admin",
            "create-key",
            "--database",
            &url,
            "--username",
            "admin",
        ],
        None,
    )
    .trim()
    .to_owned();
    let cluster = Cluster {
        http: reqwest::Client::new(),
        key,
        url,
    };
    let mut nodes = [cluster.node(), cluster.node(), cluster.node()];

    let mut slowest = Duration::ZERO;
    for i in 0..9 {
        let writer = i % 3;
        let revision = cluster.grant(&nodes[writer], i).await;
        let (subject, resource) = (format!("user{i}"), format!("d{i}"));
        // With the token, the next node answers from a snapshot that has the write.
        let reader = &nodes[(writer + 1) % 3];
        assert!(
            cluster
                .allowed(reader, &subject, &resource, Some(revision))
                .await,
            "node {} with the token, write {i}",
            (writer + 1) % 3
        );
        // Without it, the third node converges within moments.
        let other = &nodes[(writer + 2) % 3];
        let started = Instant::now();
        while !cluster.allowed(other, &subject, &resource, None).await {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "node {} never saw write {i}",
                (writer + 2) % 3
            );
            tokio::task::yield_now().await;
        }
        slowest = slowest.max(started.elapsed());
        assert!(!cluster.allowed(other, &subject, "elsewhere", None).await);
    }
    eprintln!("slowest propagation without a token: {slowest:?}");

    // Kill node 2 in the middle of more writes on the others, then bring it back.
    nodes[2].process.child.kill().unwrap();
    nodes[2].process.child.wait().unwrap();
    let mut last_revision = 0;
    for i in 9..15 {
        last_revision = cluster.grant(&nodes[i % 2], i).await;
    }
    nodes[2] = cluster.node();
    for i in 0..15 {
        assert!(
            cluster
                .allowed(
                    &nodes[2],
                    &format!("user{i}"),
                    &format!("d{i}"),
                    Some(last_revision)
                )
                .await,
            "restarted node lacks write {i}"
        );
    }

    // A token from the future is refused with a retry hint, not answered from a stale snapshot.
    let response = cluster
        .http
        .post(format!("{}/v1/check", nodes[0].process.base))
        .bearer_auth(&cluster.key)
        .header("keycard-min-revision", (last_revision + 1000).to_string())
        .json(&json!({"subject": {"id": "user0"}, "action": "read", "resource": {"type": "doc", "id": "d0"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    let response = cluster
        .http
        .get(format!("{}/v1/roles", nodes[1].process.base))
        .bearer_auth(&cluster.key)
        .header("keycard-min-revision", "soon")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // Refused before any route runs, the error still carries the request's id, in both places.
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (body["code"].as_str(), body["request_id"].as_str()),
        (Some("invalid_header"), Some(request_id.as_str()))
    );
}
