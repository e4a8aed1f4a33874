//! Lists are paged with opaque cursors and never truncated silently.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::TestServer;

async fn collect(server: &TestServer, path: &str, limit: u32) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            Some(cursor) => format!("{path}?limit={limit}&cursor={cursor}"),
            None => format!("{path}?limit={limit}"),
        };
        let (status, page) = server.get(&url).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize);
        ids.extend(items.iter().map(|item| {
            item["id"]
                .as_str()
                .or(item["name"].as_str())
                .unwrap()
                .to_owned()
        }));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    (ids, pages)
}

#[tokio::test]
async fn every_list_pages_through_everything_once() {
    let server = TestServer::start().await;
    for index in 0..7 {
        server
            .create_role(json!({"name": format!("role-{index}")}))
            .await;
        server
            .create_group(json!({"name": format!("group-{index}")}))
            .await;
        server
            .create_account(json!({"username": format!("user-{index}")}))
            .await;
        server
            .create_policy(json!({"name": format!("policy-{index}")}))
            .await;
    }
    let methods: Vec<_> = (0..7)
        .map(|i| json!({"provenance": format!("App{}", i % 2), "name": format!("m{i}")}))
        .collect();
    server
        .post("/v1/catalogue", json!({"methods": methods}))
        .await;

    for (path, expected) in [
        ("/v1/roles", 11),
        ("/v1/groups", 7),
        ("/v1/accounts", 8),
        ("/v1/policies", 7),
        ("/v1/catalogue/methods", 26),
    ] {
        let (all, _) = collect(&server, path, 500).await;
        assert_eq!(all.len(), expected, "{path}");
        let (paged, pages) = collect(&server, path, 3).await;
        assert_eq!(paged, all, "{path}: pages join up in order");
        assert_eq!(pages, expected.div_ceil(3), "{path}");
        assert_eq!(
            paged.iter().collect::<BTreeSet<_>>().len(),
            paged.len(),
            "{path}: no duplicates"
        );
    }
    let (page, pages) = collect(&server, "/v1/roles", 11).await;
    assert_eq!(
        (page.len(), pages),
        (11, 1),
        "an exact final page has no cursor"
    );
}
