//! The resource registry through the native API: one at a time, in bulk, paged by type and id, with
//! owners that stay within the organization and are cleared when their account goes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Auth, TestServer};

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["type"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn resources_round_trip_by_type_and_id() {
    let server = TestServer::start().await;
    let ann = server.create_account(json!({"username": "ann"})).await;
    let (status, saved) = server
        .post(
            "/v1/resources",
            json!({"type": "route", "id": "/todos/{todoId}", "owner": ann, "attributes": {"level": 2}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["data"]["owner"], ann.as_str());
    assert!(saved["revision"].as_i64().unwrap() > 0);

    // An id holding `/` is one percent-encoded path segment.
    let path = "/v1/resources/route/%2Ftodos%2F%7BtodoId%7D";
    let (status, resource) = server.get(path).await;
    assert_eq!(status, StatusCode::OK, "{resource}");
    assert_eq!(resource["id"], "/todos/{todoId}");
    assert_eq!(resource["attributes"], json!({"level": 2}));

    // Taken type and id: a conflict.
    let (status, body) = server
        .post(
            "/v1/resources",
            json!({"type": "route", "id": "/todos/{todoId}"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // A change sets what it names; `null` clears the owner.
    let (status, saved) = server
        .patch(path, json!({"attributes": {"level": 3}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["data"]["owner"], ann.as_str());
    assert_eq!(saved["data"]["attributes"], json!({"level": 3}));
    let (_, saved) = server.patch(path, json!({"owner": null})).await;
    assert_eq!(saved["data"]["owner"], Value::Null);
    assert_eq!(saved["data"]["attributes"], json!({"level": 3}));

    // Bad input is a 422 in the native shape; `*` names every resource and so none.
    for bad in [
        json!({"type": "doc", "id": "*"}),
        json!({"type": "doc", "id": ""}),
        json!({"type": " doc", "id": "1"}),
        json!({"type": "doc", "id": "1", "attributes": [1]}),
        json!({"type": "doc", "id": "1", "extra": true}),
    ] {
        let (status, body) = server.post("/v1/resources", bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(body["code"].is_string(), "{body}");
    }

    let (status, _) = server.delete(path).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server.get(path).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _) = server.delete(path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bulk_upserts_are_one_write_and_lists_page_by_type_then_id() {
    let server = TestServer::start().await;
    let mut resources: Vec<Value> = (0..120)
        .map(|n| json!({"type": "record", "id": format!("{:03}", n), "attributes": {"n": n}}))
        .collect();
    resources.push(json!({"type": "doc", "id": "a"}));
    let (status, body) = server
        .call(
            Method::PUT,
            "/v1/resources",
            Some(json!({"resources": resources})),
            &server.admin(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        [&body["created"], &body["updated"], &body["unchanged"]],
        [&json!(121), &json!(0), &json!(0)]
    );
    let first = body["revision"].as_i64().unwrap();

    // Again, one as it was and one changed: one more revision, with one change in the log.
    let again = json!({"resources": [
        {"type": "record", "id": "000", "attributes": {"n": 0}},
        {"type": "record", "id": "001", "attributes": {"n": "changed"}},
    ]});
    let (status, body) = server
        .call(Method::PUT, "/v1/resources", Some(again), &server.admin())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        [&body["created"], &body["updated"], &body["unchanged"]],
        [&json!(0), &json!(1), &json!(1)]
    );
    assert_eq!(body["revision"].as_i64().unwrap(), first + 1);
    let (_, changes) = server.get(&format!("/v1/changes?after={first}")).await;
    let changed: Vec<&Value> = changes["items"].as_array().unwrap().iter().collect();
    assert_eq!(changed.len(), 1, "{changes}");
    assert_eq!(changed[0]["entity"], "resource");
    assert_eq!(changed[0]["after"]["attributes"], json!({"n": "changed"}));

    // A request naming one resource twice, or an owner of no account, changes nothing.
    for bad in [
        json!({"resources": [{"type": "doc", "id": "b"}, {"type": "doc", "id": "b"}]}),
        json!({"resources": [{"type": "doc", "id": "c"}, {"type": "doc", "id": "d", "owner": "00000000-0000-4000-8000-000000000000"}]}),
    ] {
        let (status, body) = server
            .call(Method::PUT, "/v1/resources", Some(bad), &server.admin())
            .await;
        assert!(status.is_client_error(), "{status} {body}");
    }
    let (status, _) = server.get("/v1/resources/doc/c").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Pages of 50, by type then id, across types; a type filters.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = server
            .get(&format!("/v1/resources?limit=50&cursor={cursor}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let mut expected: Vec<String> = vec!["doc/a".to_owned()];
    expected.extend((0..120).map(|n| format!("record/{n:03}")));
    assert_eq!(seen, expected);
    let (_, docs) = server.get("/v1/resources?type=doc").await;
    assert_eq!(ids(&docs), vec!["doc/a".to_owned()]);
    let (status, body) = server.get("/v1/resources?cursor=bm9wZQ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn deleting_an_account_clears_what_it_owned_and_owners_stay_in_the_organization() {
    let server = TestServer::start().await;
    let ann = server.create_account(json!({"username": "ann"})).await;
    for id in ["1", "2"] {
        server
            .post(
                "/v1/resources",
                json!({"type": "doc", "id": id, "owner": ann}),
            )
            .await;
    }
    let (status, _) = server.delete(&format!("/v1/accounts/{ann}")).await;
    assert_eq!(status, StatusCode::OK);
    for id in ["1", "2"] {
        let (_, resource) = server.get(&format!("/v1/resources/doc/{id}")).await;
        assert_eq!(resource["owner"], Value::Null, "{resource}");
    }
    // The clearing is in the change log, in the deletion's revision.
    let (_, changes) = server.get("/v1/changes?limit=1000").await;
    let items = changes["items"].as_array().unwrap();
    let deletion = items
        .iter()
        .find(|c| c["entity"] == "account" && c["operation"] == "delete")
        .unwrap();
    let cleared = items
        .iter()
        .filter(|c| c["entity"] == "resource" && c["revision"] == deletion["revision"])
        .count();
    assert_eq!(cleared, 2);

    // Another organization's account cannot own this one's resources, nor see them.
    let (status, org) = server
        .post("/v1/organizations", json!({"name": "other"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let (outsider, key) = server.account_with_key("outsider", json!({})).await;
    let (status, body) = server
        .post(
            "/v1/resources",
            json!({"type": "doc", "id": "3", "owner": outsider}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = server
        .call(Method::GET, "/v1/resources/doc/1", None, &Auth::Bearer(key))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
