//! The committed `openapi.json` is what the code generates.

use reqwest::Method;

#[test]
fn committed_openapi_matches_the_code() {
    let generated = keycard_server::openapi().to_pretty_json().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "openapi.json is stale: run `cargo run -q -p keycard -- openapi > openapi.json`"
    );
}

#[tokio::test]
async fn the_server_serves_its_spec_and_docs() {
    let server = crate::harness::TestServer::start().await;
    let (status, spec) = server.get("/openapi.json").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(spec["paths"]["/v1/check"].is_object());
    let docs = server.request(Method::GET, "/docs/").send().await.unwrap();
    assert_eq!(docs.status(), reqwest::StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let (status, ready) = server
        .call(
            reqwest::Method::GET,
            "/readyz",
            None,
            &crate::harness::Auth::None,
        )
        .await;
    assert_eq!(
        (status, ready["status"].as_str()),
        (reqwest::StatusCode::OK, Some("ready"))
    );
    let metrics = server
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "keycard_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "keycard_http_request_duration_seconds_count{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"
        ),
        "{metrics}"
    );
}
