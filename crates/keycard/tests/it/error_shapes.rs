//! Every face's error bodies, pinned: each face renders the one `Code` enum in its own shape (the
//! native `{code, message, request_id}`, IAP's `{status, code, message}`, Polytomic's
//! `{key, message, status, metadata}`, AuthZEN's `{error}`), and a change to any of them shows
//! here.

use insta::assert_json_snapshot;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Auth, TestServer};

/// An id that names nothing.
const NOBODY: &str = "01900000-0000-7000-8000-000000000000";

/// Sends a request with a fixed request id and answers `{status, body}` for the snapshot.
async fn outcome(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<&str>,
    auth: &Auth,
) -> Value {
    let mut request = server
        .http
        .request(method, format!("{}{path}", server.base))
        .header("x-request-id", "shape-test");
    request = match auth {
        Auth::None => request,
        Auth::Bearer(token) => request.bearer_auth(token),
        Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
    };
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    json!({"status": status, "body": sorted(body)})
}

/// The value with every object's keys in order, as the snapshots hold them whether or not a
/// crate of the build turns on `serde_json`'s `preserve_order`.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key, sorted(value)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// A signed-in account that holds no role.
async fn nobody_in_particular(server: &TestServer) -> Auth {
    let (_, key) = server.account_with_key("plain", json!({})).await;
    Auth::Bearer(key)
}

#[tokio::test]
async fn native_errors() {
    let server = TestServer::start().await;
    let plain = nobody_in_particular(&server).await;
    let admin = server.admin();
    server.create_role(json!({"name": "taken"})).await;
    let outcomes = json!({
        "unauthenticated": outcome(&server, Method::GET, "/v1/roles", None, &Auth::None).await,
        "forbidden": outcome(&server, Method::POST, "/v1/policies", Some(r#"{"name": "p"}"#), &plain).await,
        "not_found": outcome(&server, Method::GET, &format!("/v1/roles/{NOBODY}"), None, &admin).await,
        "conflict": outcome(&server, Method::POST, "/v1/roles", Some(r#"{"name": "taken"}"#), &admin).await,
        "invalid_body": outcome(&server, Method::POST, "/v1/roles", Some(r#"{"name": " padded"}"#), &admin).await,
        "invalid_description": outcome(&server, Method::POST, "/v1/roles", Some(r#"{"name": "ok", "description": "bell\u0007"}"#), &admin).await,
        "invalid_input": outcome(&server, Method::POST, "/v1/policies", Some(r#"{"name": "p", "resources": [{"type": "", "id": "1"}]}"#), &admin).await,
        "malformed_json": outcome(&server, Method::POST, "/v1/roles", Some("{"), &admin).await,
        "invalid_path": outcome(&server, Method::GET, "/v1/roles/not-an-id", None, &admin).await,
        "route_not_found": outcome(&server, Method::GET, "/v1/nothing", None, &admin).await,
    });
    assert_json_snapshot!(sorted(outcomes), @r#"
    {
      "conflict": {
        "body": {
          "code": "conflict",
          "message": "role `taken` already exists",
          "request_id": "shape-test"
        },
        "status": 409
      },
      "forbidden": {
        "body": {
          "code": "forbidden",
          "message": "`plain` is not an administrator of this organization",
          "request_id": "shape-test"
        },
        "status": 403
      },
      "invalid_body": {
        "body": {
          "code": "invalid_body",
          "message": "Failed to deserialize the JSON body into the target type: name: invalid role name: ` padded` has leading or trailing whitespace at line 1 column 19",
          "request_id": "shape-test"
        },
        "status": 422
      },
      "invalid_description": {
        "body": {
          "code": "invalid_body",
          "message": "Failed to deserialize the JSON body into the target type: description: invalid description: must not contain control characters at line 1 column 43",
          "request_id": "shape-test"
        },
        "status": 422
      },
      "invalid_input": {
        "body": {
          "code": "invalid_input",
          "message": "invalid resource type: must be 1 to 512 characters without control characters",
          "request_id": "shape-test"
        },
        "status": 422
      },
      "invalid_path": {
        "body": {
          "code": "invalid_path",
          "message": "Invalid URL: Cannot parse `id` with value `not-an-id`: UUID parsing failed: invalid character: found `n` at 0",
          "request_id": "shape-test"
        },
        "status": 400
      },
      "malformed_json": {
        "body": {
          "code": "malformed_json",
          "message": "Failed to parse the request body as JSON: EOF while parsing an object at line 1 column 1",
          "request_id": "shape-test"
        },
        "status": 400
      },
      "not_found": {
        "body": {
          "code": "not_found",
          "message": "role `01900000-0000-7000-8000-000000000000` not found",
          "request_id": "shape-test"
        },
        "status": 404
      },
      "route_not_found": {
        "body": {
          "code": "route_not_found",
          "message": "no route matches this path",
          "request_id": "shape-test"
        },
        "status": 404
      },
      "unauthenticated": {
        "body": {
          "code": "unauthenticated",
          "message": "authentication required: use Basic or Bearer",
          "request_id": "shape-test"
        },
        "status": 401
      }
    }
    "#);
}

#[tokio::test]
async fn iap_errors() {
    let server = TestServer::start().await;
    let plain = nobody_in_particular(&server).await;
    let admin = server.admin();
    let outcomes = json!({
        "unauthenticated": outcome(&server, Method::GET, "/authorization/roles", None, &Auth::None).await,
        "forbidden": outcome(&server, Method::GET, "/authorization/roles", None, &plain).await,
        "not_found": outcome(&server, Method::GET, &format!("/authorization/roles/{NOBODY}"), None, &admin).await,
        "malformed_json": outcome(&server, Method::POST, "/authorization/roles", Some("{"), &admin).await,
        "no_updates": outcome(&server, Method::PATCH, &format!("/authorization/groups/{NOBODY}"), Some("{}"), &admin).await,
    });
    assert_json_snapshot!(sorted(outcomes), @r#"
    {
      "forbidden": {
        "body": {
          "code": "forbidden",
          "message": "`plain` may not call `getRoles`: it needs the `Admin` role or a role granting `Authorization/getRoles`",
          "status": "Forbidden"
        },
        "status": 403
      },
      "malformed_json": {
        "body": {
          "code": "malformed_json",
          "message": "Failed to parse the request body as JSON: EOF while parsing an object at line 1 column 1",
          "status": "Bad Request"
        },
        "status": 400
      },
      "no_updates": {
        "body": {
          "code": "invalid_body",
          "message": "No applicable updates requested: send {\"updates\": {...}}",
          "status": "Unprocessable Entity"
        },
        "status": 422
      },
      "not_found": {
        "body": {
          "code": "not_found",
          "message": "role `01900000-0000-7000-8000-000000000000` not found",
          "status": "Not Found"
        },
        "status": 404
      },
      "unauthenticated": {
        "body": {
          "code": "unauthenticated",
          "message": "authentication required: log in at /login",
          "status": "Unauthorized"
        },
        "status": 401
      }
    }
    "#);
}

#[tokio::test]
async fn polytomic_errors() {
    let server = TestServer::start().await;
    let plain = nobody_in_particular(&server).await;
    let admin = server.admin();
    let outcomes = json!({
        "unauthenticated": outcome(&server, Method::GET, "/api/permissions/roles", None, &Auth::None).await,
        "forbidden": outcome(&server, Method::GET, "/api/permissions/policies", None, &plain).await,
        "not_found": outcome(&server, Method::GET, &format!("/api/permissions/roles/{NOBODY}"), None, &admin).await,
        "malformed_json": outcome(&server, Method::POST, "/api/permissions/roles", Some("{"), &admin).await,
        "invalid_input": outcome(&server, Method::POST, "/api/permissions/policies", Some(r#"{"name": "p", "policy_actions": [{"action": "fly", "role_ids": []}]}"#), &admin).await,
    });
    assert_json_snapshot!(sorted(outcomes), @r#"
    {
      "forbidden": {
        "body": {
          "key": "forbidden",
          "message": "`plain` is not an administrator of this organization",
          "metadata": {
            "request_id": "shape-test"
          },
          "status": 403
        },
        "status": 403
      },
      "invalid_input": {
        "body": {
          "key": "invalid_input",
          "message": "invalid policy_actions: `fly` is not one of this organization's actions: apply_policy, create, delete, edit, read, sync_to, trigger",
          "metadata": {
            "request_id": "shape-test"
          },
          "status": 422
        },
        "status": 422
      },
      "malformed_json": {
        "body": {
          "key": "malformed_json",
          "message": "Failed to parse the request body as JSON: EOF while parsing an object at line 1 column 1",
          "metadata": {
            "request_id": "shape-test"
          },
          "status": 400
        },
        "status": 400
      },
      "not_found": {
        "body": {
          "key": "not_found",
          "message": "role `01900000-0000-7000-8000-000000000000` not found",
          "metadata": {
            "request_id": "shape-test"
          },
          "status": 404
        },
        "status": 404
      },
      "unauthenticated": {
        "body": {
          "key": "unauthenticated",
          "message": "authentication required: send `Authorization: Bearer <api key>`",
          "metadata": {
            "request_id": "shape-test"
          },
          "status": 401
        },
        "status": 401
      }
    }
    "#);
}

#[tokio::test]
async fn authzen_errors() {
    let server = TestServer::start().await;
    let plain = nobody_in_particular(&server).await;
    let admin = server.admin();
    let evaluation = r#"{"subject": {"type": "user", "id": "admin"}, "action": {"name": "read"}, "resource": {"type": "doc", "id": "1"}}"#;
    let outcomes = json!({
        "unauthenticated": outcome(&server, Method::POST, "/access/v1/evaluation", Some(evaluation), &Auth::None).await,
        "forbidden": outcome(&server, Method::POST, "/access/v1/evaluation", Some(evaluation), &plain).await,
        "missing_subject": outcome(&server, Method::POST, "/access/v1/evaluation", Some(r#"{"action": {"name": "read"}}"#), &admin).await,
        "malformed_json": outcome(&server, Method::POST, "/access/v1/evaluation", Some("{"), &admin).await,
    });
    assert_json_snapshot!(sorted(outcomes), @r#"
    {
      "forbidden": {
        "body": {
          "error": "`plain` is not an administrator of this organization"
        },
        "status": 403
      },
      "malformed_json": {
        "body": {
          "error": "malformed JSON: EOF while parsing an object at line 1 column 1"
        },
        "status": 400
      },
      "missing_subject": {
        "body": {
          "error": "`subject` is required"
        },
        "status": 400
      },
      "unauthenticated": {
        "body": {
          "error": "authentication required: send `Authorization: Bearer <api key>`"
        },
        "status": 401
      }
    }
    "#);
}
