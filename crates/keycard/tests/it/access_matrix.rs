//! The access matrix: for every route of every face and every kind of caller, the status the
//! server answers, from the committed table `tests/access-matrix.txt` (one row per request,
//! reviewable on its own). The routes come from the router itself: a route without a row, or a
//! row naming no route, fails the test.
//!
//! Each caller acts on fixtures of its own (a role, a group, an account with a key, a policy, a
//! catalogue method, a spare organization), so one caller's writes do not change what another's
//! rows find. Rows run in the file's order; the ones that end the caller's session come last.
//!
//! `KEYCARD_RECORD_ACCESS_MATRIX=1` writes the observed statuses into the table instead of
//! comparing: the diff is then reviewed like any change to the access policy.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{ADMIN_PASSWORD, TestServer};

const TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/access-matrix.txt");

/// The kinds of caller, in the table's column order.
const CALLERS: [&str; 8] = [
    "anonymous",
    "no_roles",
    "one_method",
    "admin",
    "other_admin",
    "partner",
    "pep_key",
    "decision_key",
];

/// Every (method, path template) the router answers, read from its `Debug` form (axum prints each
/// route's path and the methods of its `Allow` header). `*` stands for a route taking any method.
async fn router_routes(server: &TestServer) -> BTreeSet<(String, String)> {
    let state =
        keycard_server::AppState::load(server.store.clone(), keycard_server::Settings::default())
            .await
            .unwrap();
    let text = format!("{:?}", keycard_server::routes(state));
    // Only the path router: the fallback router lists axum's own catch-all.
    let start = text.find("path_router:").unwrap();
    let end = text.find("fallback_router:").unwrap_or(text.len());
    let text = &text[start..end];
    let mut paths: BTreeMap<u32, String> = BTreeMap::new();
    let mut methods: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut rest = text;
    while let Some(at) = rest.find("RouteId(") {
        rest = &rest[at + "RouteId(".len()..];
        let close = rest.find(')').unwrap();
        let id: u32 = rest[..close].parse().unwrap();
        rest = &rest[close + 1..];
        if let Some(path) = rest.strip_prefix(": \"") {
            paths.insert(id, path[..path.find('"').unwrap()].to_owned());
        } else if rest.starts_with(": MethodRouter(") {
            let next_route = rest.find("RouteId(").unwrap_or(rest.len());
            let allow_at = rest[..next_route].find("allow_header: ").unwrap();
            let allow = &rest[allow_at + "allow_header: ".len()..];
            let listed = match allow.strip_prefix("Bytes(b\"") {
                Some(bytes) => bytes[..bytes.find('"').unwrap()]
                    .split(',')
                    .filter(|method| *method != "HEAD")
                    .map(str::to_owned)
                    .collect(),
                None => vec!["*".to_owned()],
            };
            methods.insert(id, listed);
        }
    }
    let routes: BTreeSet<(String, String)> = methods
        .into_iter()
        .flat_map(|(id, listed)| {
            let path = paths[&id].clone();
            listed.into_iter().map(move |method| (method, path.clone()))
        })
        .collect();
    assert!(
        routes.contains(&("POST".to_owned(), "/v1/check".to_owned()))
            && routes.contains(&("POST".to_owned(), "/access/v1/evaluation".to_owned())),
        "the router's Debug form changed; read the routes differently: {routes:?}"
    );
    routes
}

/// One row of the table.
#[derive(Debug, Clone)]
struct Row {
    /// The comment and blank lines between the previous row and this one, kept in place when the
    /// table is recorded.
    before: Vec<String>,
    line: usize,
    method: String,
    route: String,
    path: String,
    body: Option<String>,
    expected: Vec<String>,
}

/// The table's rows, and the comment and blank lines after the last one.
fn read_table() -> (Vec<String>, Vec<Row>) {
    let text = std::fs::read_to_string(TABLE).unwrap();
    let mut pending = Vec::new();
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            pending.push(line.to_owned());
            continue;
        }
        let fields: Vec<&str> = line.split(" | ").map(str::trim).collect();
        assert_eq!(fields.len(), 5, "line {}: five fields: {line}", index + 1);
        rows.push(Row {
            before: std::mem::take(&mut pending),
            line: index + 1,
            method: fields[0].to_owned(),
            route: fields[1].to_owned(),
            path: fields[2].to_owned(),
            body: (fields[3] != "-").then(|| fields[3].to_owned()),
            expected: fields[4].split_whitespace().map(str::to_owned).collect(),
        });
    }
    (pending, rows)
}

/// How one kind of caller authenticates, and the fixtures its rows act on.
struct Caller {
    name: &'static str,
    auth: Option<(String, String)>,
    values: BTreeMap<&'static str, String>,
}

impl Caller {
    fn fill(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (key, value) in &self.values {
            text = text.replace(&format!("{{{key}}}"), value);
        }
        text
    }
}

/// A request as the partner (the bootstrap administrator), acting in `org` when given.
async fn as_partner(
    server: &TestServer,
    method: Method,
    path: &str,
    org: Option<&str>,
    body: Value,
) -> Value {
    let mut request = server
        .http
        .request(method.clone(), format!("{}{path}", server.base))
        .bearer_auth(&server.admin_key)
        .json(&body);
    if let Some(org) = org {
        request = request.header("keycard-organization", org);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {value}");
    value
}

fn id_of(value: &Value) -> String {
    value["data"]["id"].as_str().unwrap().to_owned()
}

/// Builds the organizations, callers and per-caller fixtures the table's rows refer to.
async fn callers(server: &TestServer) -> Vec<Caller> {
    let acme = id_of(
        &as_partner(
            server,
            Method::POST,
            "/v1/organizations",
            None,
            json!({"name": "acme"}),
        )
        .await,
    );
    let other = id_of(
        &as_partner(
            server,
            Method::POST,
            "/v1/organizations",
            None,
            json!({"name": "other"}),
        )
        .await,
    );
    let role_named = |org: String, name: &'static str| async move {
        let roles = as_partner(
            server,
            Method::GET,
            "/v1/roles?limit=100",
            Some(&org),
            json!(null),
        )
        .await;
        roles["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|role| role["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let acme_admin = role_named(acme.clone(), "Admin").await;
    let other_admin = role_named(other.clone(), "Admin").await;
    let one_method = id_of(
        &as_partner(
            server,
            Method::POST,
            "/v1/roles",
            Some(&acme),
            json!({"name": "one-method", "methods": [{"provenance": "Authorization", "name": "updateAccount"}]}),
        )
        .await,
    );
    let account = |org: String, username: String, roles: Vec<String>| async move {
        let password = format!("{username}-password-1");
        let created = as_partner(
            server,
            Method::POST,
            "/v1/accounts",
            Some(&org),
            json!({"username": username, "password": password, "roles": roles}),
        )
        .await;
        let id = id_of(&created);
        let key = as_partner(
            server,
            Method::POST,
            &format!("/v1/accounts/{id}/keys"),
            Some(&org),
            json!({"name": "fixture"}),
        )
        .await;
        (
            id,
            password,
            key["data"]["secret"].as_str().unwrap().to_owned(),
        )
    };
    let (nobody, _, nobody_key) = account(acme.clone(), "nobody".into(), vec![]).await;
    let (single, single_password, _) =
        account(acme.clone(), "single".into(), vec![one_method.clone()]).await;
    let (boss, boss_password, _) =
        account(acme.clone(), "boss".into(), vec![acme_admin.clone()]).await;
    let (pep, _, pep_key) = account(acme.clone(), "pep".into(), vec![acme_admin.clone()]).await;
    let decision_key = as_partner(
        server,
        Method::POST,
        "/v1/decision-keys",
        Some(&acme),
        json!({"name": "pep"}),
    )
    .await["data"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let (rival, _, rival_key) = account(other.clone(), "rival".into(), vec![other_admin]).await;
    let session = server
        .request(Method::POST, "/v1/sessions")
        .json(&json!({"username": "single", "password": single_password, "organization": "acme"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, me) = server
        .call(Method::GET, "/v1/me", None, &server.admin())
        .await;
    let partner = me["account"]["id"].as_str().unwrap().to_owned();

    let mut callers = Vec::new();
    for name in CALLERS {
        let (auth, own, password) = match name {
            "anonymous" => (None, uuid::Uuid::now_v7().to_string(), String::new()),
            "no_roles" => (
                Some(("bearer".into(), nobody_key.clone())),
                nobody.clone(),
                "nobody-password-1".into(),
            ),
            "one_method" => (
                Some(("bearer".into(), session.clone())),
                single.clone(),
                single_password.clone(),
            ),
            "admin" => (
                Some(("basic".into(), format!("boss:{boss_password}"))),
                boss.clone(),
                boss_password.clone(),
            ),
            "other_admin" => (
                Some(("bearer".into(), rival_key.clone())),
                rival.clone(),
                "rival-password-1".into(),
            ),
            "partner" => (
                Some(("bearer".into(), server.admin_key.clone())),
                partner.clone(),
                ADMIN_PASSWORD.into(),
            ),
            "pep_key" => (
                Some(("bearer".into(), pep_key.clone())),
                pep.clone(),
                "pep-password-1".into(),
            ),
            // No account: `{self}` names none.
            _ => (
                Some(("bearer".into(), decision_key.clone())),
                uuid::Uuid::now_v7().to_string(),
                String::new(),
            ),
        };
        let tag = name.replace('_', "-");
        let mut values = BTreeMap::from([
            ("caller", tag.clone()),
            ("acme", acme.clone()),
            ("other", other.clone()),
            ("admin_role", acme_admin.clone()),
            ("self", own),
            ("password", password),
        ]);
        // Fixtures come in several copies where one face's delete would leave another's row
        // nothing to act on.
        for (path, keys) in [
            ("/v1/roles", ["role", "role_iap", "role_poly"]),
            ("/v1/groups", ["group", "group_iap", "parent"]),
        ] {
            for key in keys {
                let made = as_partner(
                    server,
                    Method::POST,
                    path,
                    Some(&acme),
                    json!({"name": format!("{key}-{tag}")}),
                )
                .await;
                values.insert(key, id_of(&made));
            }
        }
        for key in ["account", "account_own", "account_org"] {
            let (fixture, _, _) = account(acme.clone(), format!("{key}-{tag}"), vec![]).await;
            values.insert(key, fixture);
        }
        let keys = as_partner(
            server,
            Method::GET,
            &format!("/v1/accounts/{}/keys", values["account"]),
            Some(&acme),
            json!(null),
        )
        .await;
        values.insert(
            "account_key",
            keys["items"][0]["id"].as_str().unwrap().to_owned(),
        );
        let issued = as_partner(
            server,
            Method::POST,
            "/v1/decision-keys",
            Some(&acme),
            json!({"name": format!("dk-{tag}")}),
        )
        .await;
        values.insert(
            "decision_key",
            issued["data"]["key"]["id"].as_str().unwrap().to_owned(),
        );
        for key in ["policy", "policy_poly"] {
            let policy = as_partner(
                server,
                Method::POST,
                "/v1/policies",
                Some(&acme),
                json!({"name": format!("{key}-{tag}"), "actions": [{"action": "read", "role_ids": [values["role"]]}], "resources": [{"type": "doc", "id": tag}]}),
            )
            .await;
            values.insert(key, id_of(&policy));
        }
        let resource = format!("res-{tag}");
        as_partner(
            server,
            Method::POST,
            "/v1/resources",
            Some(&acme),
            json!({"type": "doc", "id": resource}),
        )
        .await;
        values.insert("resource", resource);
        as_partner(
            server,
            Method::POST,
            "/v1/catalogue",
            Some(&acme),
            json!({"methods": [{"provenance": "Fixture", "name": format!("m-{tag}")}], "views": [{"provenance": "Fixture", "path": format!("/v-{tag}")}]}),
        )
        .await;
        for key in ["spare", "spare_poly"] {
            let spare = as_partner(
                server,
                Method::POST,
                "/v1/organizations",
                None,
                json!({"name": format!("{key}-{tag}")}),
            )
            .await;
            values.insert(key, id_of(&spare));
        }
        callers.push(Caller { name, auth, values });
    }
    callers
}

/// The routes that take a mutating method but change no authorization state: decisions and
/// lookups asked over POST, and signing in and out (sessions are credentials, not in the change
/// log). Every other POST, PUT, PATCH and DELETE route is a write, which must answer
/// `Keycard-Revision` when it succeeds (issue 13).
const NOT_WRITES: &[(&str, &str)] = &[
    ("POST", "/access/v1/evaluation"),
    ("POST", "/access/v1/evaluations"),
    ("POST", "/access/v1/search/action"),
    ("POST", "/access/v1/search/resource"),
    ("POST", "/access/v1/search/subject"),
    ("POST", "/v1/check"),
    ("POST", "/v1/check/batch"),
    ("POST", "/v1/explain"),
    ("POST", "/v1/lookup/resources"),
    ("POST", "/v1/lookup/subjects"),
    // A webhook is not authorization state: its writes make no revision.
    ("POST", "/api/webhooks"),
    ("PUT", "/api/webhooks/{id}"),
    ("DELETE", "/api/webhooks/{id}"),
    ("POST", "/api/webhooks/{id}/disable"),
    ("POST", "/api/webhooks/{id}/enable"),
    ("POST", "/login"),
    ("POST", "/login/"),
    ("POST", "/oauth/token"),
    ("POST", "/v1/sessions"),
    ("DELETE", "/v1/sessions/current"),
    // The console's session and its condition check, which write nothing.
    ("POST", "/console/sign-in"),
    ("POST", "/console/sign-out"),
    ("POST", "/console/organization"),
    ("POST", "/console/conditions/check"),
    // Polytomic's catch-all, which answers only "no such route".
    ("*", "/api/{*rest}"),
];

fn is_write(method: &str, route: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH" | "DELETE" | "*")
        && !NOT_WRITES.contains(&(method, route))
}

/// The status a request got, and whether it answered `Keycard-Revision`.
async fn send(server: &TestServer, caller: &Caller, row: &Row) -> (StatusCode, bool) {
    let method = if row.method == "*" {
        Method::GET
    } else {
        Method::from_bytes(row.method.as_bytes()).unwrap()
    };
    let mut request = server
        .http
        .request(method, format!("{}{}", server.base, caller.fill(&row.path)));
    match &caller.auth {
        Some((scheme, credential)) if scheme == "basic" => {
            let (user, password) = credential.split_once(':').unwrap();
            request = request
                .basic_auth(user, Some(password))
                .header("keycard-organization", "acme");
        }
        Some((_, token)) => request = request.bearer_auth(token),
        None => {}
    }
    // The partner acts in `acme`, as partners name the organization they act in.
    if caller.name == "partner" {
        request = request.header("keycard-organization", "acme");
    }
    if let Some(body) = &row.body {
        request = request
            .header("content-type", "application/json")
            .body(caller.fill(body));
    }
    let response = request.send().await.unwrap();
    (
        response.status(),
        response.headers().contains_key("keycard-revision"),
    )
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_the_table_says() {
    let server = TestServer::start().await;
    let routes = router_routes(&server).await;
    let (trailer, rows) = read_table();
    let covered: BTreeSet<(String, String)> = rows
        .iter()
        .map(|row| (row.method.clone(), row.route.clone()))
        .collect();
    let missing: Vec<_> = routes.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in {TABLE}: {missing:?}"
    );
    let unknown: Vec<_> = covered.difference(&routes).collect();
    assert!(unknown.is_empty(), "rows naming no route: {unknown:?}");
    for (method, route) in NOT_WRITES {
        assert!(
            routes.contains(&(method.to_string(), route.to_string())),
            "NOT_WRITES names no route: {method} {route}"
        );
    }

    let callers = callers(&server).await;
    let recording = std::env::var_os("KEYCARD_RECORD_ACCESS_MATRIX").is_some();
    let mut failures = Vec::new();
    let mut observed_rows = Vec::new();
    for row in &rows {
        let mut observed = Vec::new();
        for (index, caller) in callers.iter().enumerate() {
            let (status, revision) = send(&server, caller, row).await;
            if status.is_success() && is_write(&row.method, &row.route) && !revision {
                failures.push(format!(
                    "line {}: {} {} as {}: a write answered {} without Keycard-Revision",
                    row.line,
                    row.method,
                    row.path,
                    caller.name,
                    status.as_u16()
                ));
            }
            assert!(
                !status.is_server_error(),
                "line {}: {} {} as {}: {status}",
                row.line,
                row.method,
                row.path,
                caller.name
            );
            let expected = row.expected.get(index).map(String::as_str).unwrap_or("?");
            if expected != status.as_str() {
                failures.push(format!(
                    "line {}: {} {} as {}: expected {expected}, got {}",
                    row.line,
                    row.method,
                    row.path,
                    caller.name,
                    status.as_u16()
                ));
            }
            observed.push(status.as_u16().to_string());
        }
        observed_rows.push((row.clone(), observed));
    }
    if recording {
        let mut text = String::new();
        for (row, observed) in observed_rows {
            for line in &row.before {
                text.push_str(line);
                text.push('\n');
            }
            text.push_str(&format!(
                "{} | {} | {} | {} | {}\n",
                row.method,
                row.route,
                row.path,
                row.body.as_deref().unwrap_or("-"),
                observed.join(" ")
            ));
        }
        for line in &trailer {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(TABLE, text).unwrap();
        return;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
