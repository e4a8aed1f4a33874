//! Webhooks: the organization's endpoint managed through `/api/webhooks`, only on hosts the
//! operator allows; every event POSTed signed, retried with backoff, each attempt recorded; a
//! delivery pending when a node stops is made by the next.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use keycard_server::Settings;
use serde_json::{Value, json};

use crate::harness::TestServer;

const SECRET: &str = "a-webhook-secret-of-some-length";

/// A local endpoint that fails its first `failures` requests, then takes them, keeping each
/// body with whether its signature was right.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(Value, bool, u16)>>>,
    failures: Arc<Mutex<u32>>,
    /// Told of each request, for whoever waits for one.
    arrived: Arc<tokio::sync::Notify>,
}

impl Receiver {
    async fn start(failures: u32) -> (Self, String) {
        let receiver = Receiver {
            failures: Arc::new(Mutex::new(failures)),
            ..Receiver::default()
        };
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move {
                    let signed = headers
                        .get("polytomic-signature")
                        .and_then(|value| value.to_str().ok())
                        == Some(
                            keycard_server::webhook_delivery::signature(SECRET, &body).as_str(),
                        );
                    let mut failures = state.failures.lock().unwrap();
                    let status = if *failures > 0 {
                        *failures -= 1;
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    };
                    state.seen.lock().unwrap().push((
                        serde_json::from_slice(&body).unwrap(),
                        signed,
                        status.as_u16(),
                    ));
                    state.arrived.notify_waiters();
                    (status, "noted")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    /// What it received, once it has `count` requests (waiting at most 30 seconds).
    async fn received(&self, count: usize) -> Vec<(Value, bool, u16)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            // Asked for before looking, so that a request arriving in between still wakes us.
            let arrived = self.arrived.notified();
            let seen = self.seen.lock().unwrap().clone();
            if seen.len() >= count || tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return seen;
            }
        }
    }
}

/// The webhook's deliveries once `count` attempts are recorded (each is recorded just after the
/// endpoint answers), waiting at most ten seconds.
async fn recorded(server: &TestServer, id: &str, count: usize) -> (StatusCode, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, deliveries) = server.get(&format!("/api/webhooks/{id}/deliveries")).await;
        let listed = deliveries["data"].as_array().map_or(0, Vec::len);
        if listed >= count || tokio::time::Instant::now() > deadline {
            return (status, deliveries);
        }
        tokio::task::yield_now().await;
    }
}

async fn allowing_localhost() -> TestServer {
    TestServer::start_with(Settings {
        webhook_allow_hosts: vec!["127.0.0.1".into()],
        ..Settings::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_is_managed_only_toward_allowed_hosts() {
    let server = allowing_localhost().await;
    let (_, url) = Receiver::start(0).await;
    let mut answers = Vec::new();
    for (endpoint, secret) in [
        ("http://169.254.169.254/latest/meta-data", SECRET),
        ("ftp://127.0.0.1/hook", SECRET),
        (url.as_str(), "short"),
    ] {
        let (status, body) = server
            .post(
                "/api/webhooks",
                json!({"endpoint": endpoint, "secret": secret}),
            )
            .await;
        answers.push(format!("{} {}", status.as_u16(), body["message"]));
    }
    assert_eq!(
        answers,
        [
            "403 \"webhooks may not reach `169.254.169.254`: it is not among the hosts the operator allows (KEYCARD_WEBHOOK_ALLOW_HOSTS)\"",
            "422 \"invalid endpoint: `ftp://127.0.0.1/hook` is not an http or https URL\"",
            "422 \"invalid secret: must be 16 to 256 characters, to sign deliveries with\"",
        ]
    );
    let (status, made) = server
        .post("/api/webhooks", json!({"endpoint": url, "secret": SECRET}))
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let id = made["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(made["data"]["disabled"], false);
    assert!(
        made["data"].get("secret").is_none(),
        "the secret is not shown again"
    );
    let (status, _) = server
        .post("/api/webhooks", json!({"endpoint": url, "secret": SECRET}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "one webhook per organization");
    let (_, listed) = server.get("/api/webhooks").await;
    assert_eq!(listed["data"][0]["id"], id.as_str());
    let moved = url.replace("/hook", "/other");
    let (status, updated) = server
        .call(
            reqwest::Method::PUT,
            &format!("/api/webhooks/{id}"),
            Some(json!({"endpoint": moved, "secret": SECRET})),
            &server.admin(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["data"]["endpoint"], moved.as_str());
    let (status, disabled) = server
        .post(&format!("/api/webhooks/{id}/disable"), Value::Null)
        .await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["data"]["disabled"], true);
    assert!(disabled["data"]["disabled_at"].is_string());
    let (_, enabled) = server
        .post(&format!("/api/webhooks/{id}/enable"), Value::Null)
        .await;
    assert_eq!(enabled["data"]["disabled"], false);
    let (status, _) = server.delete(&format!("/api/webhooks/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server.get(&format!("/api/webhooks/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // With no host allowed (the default), no webhook can be made.
    let closed = TestServer::start().await;
    let (status, _) = closed
        .post("/api/webhooks", json!({"endpoint": url, "secret": SECRET}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_are_delivered_signed_and_retried_and_every_attempt_is_listed() {
    let server = allowing_localhost().await;
    let (receiver, url) = Receiver::start(2).await;
    let (status, made) = server
        .post("/api/webhooks", json!({"endpoint": url, "secret": SECRET}))
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let id = made["data"]["id"].as_str().unwrap().to_owned();
    server.create_role(json!({"name": "announced"})).await;

    // Failed twice, taken the third time (after 2 and 4 seconds).
    let seen = receiver.received(3).await;
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.iter().all(|(_, signed, _)| *signed), "a bad signature");
    assert_eq!(
        seen.iter()
            .map(|(_, _, status)| *status)
            .collect::<Vec<_>>(),
        [500, 500, 200]
    );
    let event = &seen[2].0;
    assert_eq!(event["type"], "role.created");
    assert_eq!(event["event"]["after"]["name"], "announced");

    let (status, deliveries) = recorded(&server, &id, 3).await;
    assert_eq!(status, StatusCode::OK, "{deliveries}");
    let attempts = deliveries["data"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{deliveries}");
    // Newest first.
    assert_eq!(attempts[0]["success"], true);
    assert_eq!(attempts[0]["status_code"], 200);
    assert_eq!(attempts[0]["response"], "noted");
    assert_eq!(attempts[2]["success"], false);
    assert_eq!(attempts[2]["error_kind"], "status");
    assert!(attempts.iter().all(|a| a["event_id"] == event["id"]));
    assert_eq!(deliveries["pagination"]["next_page_token"], "");
    let (_, failed) = server
        .get(&format!("/api/webhooks/{id}/deliveries?success=false"))
        .await;
    assert_eq!(failed["data"].as_array().unwrap().len(), 2);
    let (status, _) = server
        .get(&format!("/api/webhooks/{id}/deliveries?success=maybe"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_pending_when_a_node_stops_is_made_by_the_next() {
    let server = allowing_localhost().await;
    let (receiver, url) = Receiver::start(1).await;
    let (status, made) = server
        .post("/api/webhooks", json!({"endpoint": url, "secret": SECRET}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let id = made["data"]["id"].as_str().unwrap().to_owned();
    server.create_role(json!({"name": "in-flight"})).await;
    // The first attempt fails; the node stops before its retry, once the attempt is recorded.
    assert_eq!(receiver.received(1).await.len(), 1);
    let (_, deliveries) = recorded(&server, &id, 1).await;
    assert_eq!(deliveries["data"].as_array().unwrap().len(), 1);
    let server = server
        .restart_with(Settings {
            webhook_allow_hosts: vec!["127.0.0.1".into()],
            ..Settings::default()
        })
        .await;
    let seen = receiver.received(2).await;
    assert_eq!(seen.len(), 2, "the pending delivery was lost");
    assert_eq!(seen[1].2, 200);
    assert_eq!(seen[1].0["event"]["after"]["name"], "in-flight");
    drop(server);
}

/// PostgreSQL only: two nodes, each with its delivery worker; each event reaches the endpoint
/// once.
#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_deliver_each_event_once() {
    let Some(url) = crate::harness::fresh_postgres_database().await else {
        eprintln!("skipped: set KEYCARD_TEST_POSTGRES_URL to run the two-node delivery");
        return;
    };
    let settings = || Settings {
        webhook_allow_hosts: vec!["127.0.0.1".into()],
        ..Settings::default()
    };
    let first = TestServer::start_configured_on(url.clone(), settings()).await;
    let second = TestServer::start_configured_on(url, settings()).await;
    let (receiver, endpoint) = Receiver::start(0).await;
    let (status, _) = first
        .post(
            "/api/webhooks",
            json!({"endpoint": endpoint, "secret": SECRET}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for n in 0..7 {
        second.create_role(json!({"name": format!("r{n}")})).await;
    }
    // Three events in one revision.
    let (status, _) = second
        .post(
            "/v1/directory/batch",
            json!({"entries": {"roles": [{"name": "b1"}, {"name": "b2"}, {"name": "b3"}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let seen = receiver.received(10).await;
    assert_eq!(seen.len(), 10);
    // Events are delivered in order: once one made after them arrives, any second delivery of
    // the first ten would have come before it.
    second.create_role(json!({"name": "marker"})).await;
    let seen_now = receiver.received(11).await;
    assert_eq!(seen_now.len(), 11, "an event was delivered twice");
    assert_eq!(seen_now[10].0["event"]["after"]["name"], "marker");
    let mut ids: Vec<String> = seen_now
        .iter()
        .map(|(event, _, _)| event["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 11);
}
