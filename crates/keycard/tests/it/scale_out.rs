//! Several stateless nodes on one database: writes on any node reach every node's decisions, at
//! once for a client that sends the revision token, within moments for the others; a node killed
//! mid-load comes back and catches up; no acknowledged write is lost. On PostgreSQL when
//! `KEYCARD_TEST_POSTGRES_URL` is set (notifications), else on one shared SQLite file (polling).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::durability::{Process, create_key, keycard};
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

    /// A migrated database and an administrator's key for it.
    fn on(url: String) -> Self {
        assert!(keycard(&["migrate", "--database", &url], None).contains("schema is current"));
        let key = create_key(&url, "admin");
        Cluster {
            http: reqwest::Client::new(),
            key,
            url,
        }
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
    let cluster = Cluster::on(url);
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

/// A TCP proxy in front of the database that can be cut (every connection closed, new ones closed
/// as soon as they are accepted) and restored: a database outage as one node sees it.
struct Cuttable {
    address: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Cuttable {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (cut_flag, open) = (cut.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if cut_flag.load(Ordering::SeqCst) {
                    continue;
                }
                let upstream = upstream.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                open.lock().unwrap().push(relay.abort_handle());
            }
        });
        Self {
            address,
            cut,
            connections,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for relay in self.connections.lock().unwrap().drain(..) {
            relay.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// PostgreSQL only (a network database can go away under a running node; SQLite cannot).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_the_database_keeps_deciding_and_refuses_writes_with_503() {
    let Some(url) = fresh_postgres_database().await else {
        eprintln!("skipped: set KEYCARD_TEST_POSTGRES_URL to run the outage test");
        return;
    };
    let cluster = Cluster::on(url.clone());
    let mut proxied = reqwest::Url::parse(&url).unwrap();
    let upstream = format!(
        "{}:{}",
        proxied.host_str().unwrap(),
        proxied.port().unwrap_or(5432)
    );
    let proxy = Cuttable::start(upstream).await;
    proxied.set_host(Some("127.0.0.1")).unwrap();
    proxied.set_port(Some(proxy.address.port())).unwrap();
    let cut_off = Node {
        process: Process::spawn(proxied.as_str()),
    };
    let direct = cluster.node();
    let revision = cluster.grant(&cut_off, 0).await;
    assert!(
        cluster
            .allowed(&cut_off, "user0", "d0", Some(revision))
            .await
    );

    proxy.cut();
    // Decisions are answered from the snapshot: the outage does not reach them.
    assert!(cluster.allowed(&cut_off, "user0", "d0", None).await);
    assert!(!cluster.allowed(&cut_off, "user0", "d1", None).await);
    // A write cannot commit: a 503 in the native error shape, not a 500, and the node stays up.
    let response = cluster
        .http
        .post(format!("{}/v1/roles", cut_off.process.base))
        .bearer_auth(&cluster.key)
        .json(&json!({"name": "during-the-outage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "unavailable", "{body}");
    assert!(cluster.allowed(&cut_off, "user0", "d0", None).await);
    // The other node, still connected, goes on writing.
    let missed = cluster.grant(&direct, 1).await;

    proxy.restore();
    // The node recovers by itself: its next write commits, and it catches up with what it missed.
    cluster
        .write(&cut_off, "/v1/roles", json!({"name": "after-the-outage"}))
        .await;
    assert!(cluster.allowed(&cut_off, "user1", "d1", Some(missed)).await);
    let (status, roles) = {
        let response = cluster
            .http
            .get(format!("{}/v1/roles?limit=500", direct.process.base))
            .bearer_auth(&cluster.key)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|role| role["name"].as_str())
        .collect();
    assert!(
        names.contains(&"after-the-outage") && !names.contains(&"during-the-outage"),
        "{names:?}"
    );
}
