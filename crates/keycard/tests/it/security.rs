//! The escalation paths a review found, each reproduced as an attacker would try it (issue 12).
//! Every test here failed on the code before its fix.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Auth, TestServer};

/// The id of a role of the default organization, by name.
async fn role_id(server: &TestServer, name: &str) -> String {
    let (status, roles) = server.get("/v1/roles?limit=100").await;
    assert_eq!(status, StatusCode::OK, "{roles}");
    roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|role| role["name"] == name)
        .unwrap_or_else(|| panic!("no role {name}: {roles}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A custom role listing the given Authorization methods, made through the IAP face.
async fn iap_role(server: &TestServer, name: &str, methods: &[&str]) -> String {
    let methods: Vec<Value> = methods
        .iter()
        .map(|method| json!({"provenance": "Authorization", "name": method}))
        .collect();
    let body = expect(
        server,
        &server.admin(),
        Method::POST,
        "/authorization/roles",
        Some(json!({"role": {"name": name, "allowedMethods": methods}})),
        StatusCode::OK,
    )
    .await;
    body["data"]["_id"].as_str().unwrap().to_owned()
}

/// An account with a password, holding `roles` and in `groups`; returns its id and Basic auth.
async fn account(
    server: &TestServer,
    name: &str,
    roles: &[&str],
    groups: &[&str],
) -> (String, Auth) {
    let password = format!("{name}-password-1");
    let id = server
        .create_account(
            json!({"username": name, "password": password, "roles": roles, "groups": groups}),
        )
        .await;
    (id, Auth::Basic(name.to_owned(), password))
}

/// Sends a request and asserts its status; returns the body.
async fn expect(
    server: &TestServer,
    auth: &Auth,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: StatusCode,
) -> Value {
    let (answered, answer) = server.call(method.clone(), path, body, auth).await;
    assert_eq!(answered, status, "{method} {path}: {answer}");
    answer
}

async fn is_admin(server: &TestServer, auth: &Auth) -> bool {
    let (status, me) = server.call(Method::GET, "/v1/me", None, auth).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me["admin"].as_bool().unwrap()
}

#[tokio::test]
async fn one_iap_method_does_not_make_its_holder_admin() {
    let server = TestServer::start().await;
    let editor = iap_role(&server, "account-editor", &["updateAccount"]).await;
    let admin_role = role_id(&server, "Admin").await;
    let iap_admin = role_id(&server, "admin").await;
    let (mallory, as_mallory) = account(&server, "mallory", &[&editor], &[]).await;
    let (bob, _) = account(&server, "bob", &[], &[]).await;
    let (_, me) = server
        .call(Method::GET, "/v1/me", None, &server.admin())
        .await;
    let admin = me["account"]["id"].as_str().unwrap().to_owned();

    for role in [&admin_role, &iap_admin] {
        let (status, body) = server
            .call(
                Method::PATCH,
                &format!("/authorization/accounts/{mallory}"),
                Some(json!({"updates": {"assignedRoles": [{"roleId": role}]}})),
                &as_mallory,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["status"], "Forbidden");
    }
    assert!(!is_admin(&server, &as_mallory).await);

    // Nor may the holder touch an account that holds more than it does.
    expect(
        &server,
        &as_mallory,
        Method::PATCH,
        &format!("/authorization/accounts/{admin}"),
        Some(json!({"updates": {"inactive": true}})),
        StatusCode::FORBIDDEN,
    )
    .await;

    // What it holds, it may pass on.
    expect(
        &server,
        &as_mallory,
        Method::PATCH,
        &format!("/authorization/accounts/{bob}"),
        Some(json!({"updates": {"assignedRoles": [{"roleId": editor}]}})),
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn update_group_does_not_make_its_members_admin() {
    let server = TestServer::start().await;
    let group_editor = iap_role(&server, "group-editor", &["updateGroup", "createGroup"]).await;
    let admin_role = role_id(&server, "Admin").await;
    let crew = server
        .create_group(json!({"name": "crew", "roles": [group_editor]}))
        .await;
    let admins = server
        .create_group(json!({"name": "admins", "roles": [admin_role]}))
        .await;
    let (_, as_mallory) = account(&server, "mallory", &[], &[&crew]).await;

    for updates in [
        json!({"assignedRoles": [{"roleId": group_editor}, {"roleId": admin_role}]}),
        json!({"memberOf": [{"groupId": admins}]}),
    ] {
        let (status, body) = server
            .call(
                Method::PATCH,
                &format!("/authorization/groups/{crew}"),
                Some(json!({ "updates": updates })),
                &as_mallory,
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{updates}: {body}");
    }
    // A new group under `admins`, or holding `Admin`, is refused as well.
    expect(
        &server,
        &as_mallory,
        Method::POST,
        "/authorization/groups",
        Some(json!({"group": {"name": "sneaky", "assignedRoles": [{"roleId": admin_role}]}})),
        StatusCode::FORBIDDEN,
    )
    .await;
    // Changing the administrators' group is for administrators.
    expect(
        &server,
        &as_mallory,
        Method::PATCH,
        &format!("/authorization/groups/{admins}"),
        Some(json!({"updates": {"inactive": true}})),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(!is_admin(&server, &as_mallory).await);
}

#[tokio::test]
async fn roles_are_given_only_what_their_editor_may_use() {
    let server = TestServer::start().await;
    let role_editor = iap_role(&server, "role-editor", &["createRole", "updateRole"]).await;
    let (_, as_mallory) = account(&server, "mallory", &[&role_editor], &[]).await;
    let wide = json!([{"provenance": "Authorization", "name": "updateAccount"}]);
    expect(
        &server,
        &as_mallory,
        Method::POST,
        "/authorization/roles",
        Some(json!({"role": {"name": "wide", "allowedMethods": wide}})),
        StatusCode::FORBIDDEN,
    )
    .await;
    // The caller's own role may not grow either.
    expect(
        &server,
        &as_mallory,
        Method::PATCH,
        &format!("/authorization/roles/{role_editor}"),
        Some(json!({"updates": {"allowedMethods": [
            {"provenance": "Authorization", "name": "createRole"},
            {"provenance": "Authorization", "name": "updateRole"},
            {"provenance": "Authorization", "name": "updateAccount"},
        ]}})),
        StatusCode::FORBIDDEN,
    )
    .await;
    // A role within what the caller may use is fine.
    let narrow = json!([{"provenance": "Authorization", "name": "createRole"}]);
    expect(
        &server,
        &as_mallory,
        Method::POST,
        "/authorization/roles",
        Some(json!({"role": {"name": "narrow", "allowedMethods": narrow}})),
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn the_last_administrator_cannot_be_removed_on_any_face() {
    let server = TestServer::start().await;
    let (_, me) = server
        .call(Method::GET, "/v1/me", None, &server.admin())
        .await;
    let admin = me["account"]["id"].as_str().unwrap().to_owned();
    let member = role_id(&server, "Member").await;

    let attempts = [
        (
            Method::PATCH,
            format!("/v1/accounts/{admin}"),
            json!({"roles": []}),
        ),
        (
            Method::PATCH,
            format!("/v1/accounts/{admin}"),
            json!({"inactive": true}),
        ),
        (
            Method::PUT,
            format!("/v1/accounts/{admin}/password"),
            json!({"password": null}),
        ),
        (
            Method::PUT,
            format!("/api/organization/users/{admin}"),
            json!({"role": "user"}),
        ),
        (
            Method::PATCH,
            format!("/authorization/accounts/{admin}"),
            json!({"updates": {"assignedRoles": [{"roleId": member}]}}),
        ),
    ];
    for (method, path, body) in &attempts {
        let (status, answer) = server
            .call(method.clone(), path, Some(body.clone()), &server.admin())
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{method} {path}: {answer}");
        assert!(
            answer
                .to_string()
                .contains("without an active administrator"),
            "{answer}"
        );
    }
    assert!(is_admin(&server, &server.admin()).await);

    // With a second administrator, the first may step down.
    let admin_role = role_id(&server, "Admin").await;
    account(&server, "second", &[&admin_role], &[]).await;
    let (status, body) = server
        .patch(&format!("/v1/accounts/{admin}"), json!({"roles": [member]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn two_administrators_demoting_each_other_at_once_leave_one() {
    let server = TestServer::start().await;
    let admin_role = role_id(&server, "Admin").await;
    let (_, me) = server
        .call(Method::GET, "/v1/me", None, &server.admin())
        .await;
    let first = me["account"]["id"].as_str().unwrap().to_owned();
    let (second, as_second) = account(&server, "second", &[&admin_role], &[]).await;
    let (second_path, first_path, as_first) = (
        format!("/v1/accounts/{second}"),
        format!("/v1/accounts/{first}"),
        server.admin(),
    );
    for _ in 0..5 {
        let demote_second = server.call(
            Method::PATCH,
            &second_path,
            Some(json!({"roles": []})),
            &as_first,
        );
        let demote_first = server.call(
            Method::PATCH,
            &first_path,
            Some(json!({"roles": []})),
            &as_second,
        );
        let ((a, body_a), (b, body_b)) = tokio::join!(demote_second, demote_first);
        // Judged one after the other: the second to commit finds either the last administrator
        // (409) or, when it is the demoted one, a caller who no longer is one (403).
        assert_eq!(
            [a, b]
                .iter()
                .filter(|status| **status == StatusCode::OK)
                .count(),
            1,
            "{body_a} {body_b}"
        );
        assert!(
            [a, b].iter().all(|status| [
                StatusCode::OK,
                StatusCode::CONFLICT,
                StatusCode::FORBIDDEN
            ]
            .contains(status)),
            "{body_a} {body_b}"
        );
        // Put things back for the next round, through whoever is still an administrator.
        let restorer = if a == StatusCode::OK {
            server.admin()
        } else {
            as_second.clone()
        };
        for id in [&first, &second] {
            let (status, body) = server
                .call(
                    Method::PATCH,
                    &format!("/v1/accounts/{id}"),
                    Some(json!({"roles": [admin_role]})),
                    &restorer,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
}

/// Sends a Polytomic request with an `Idempotency-Key`; returns status, replay header and body.
async fn keyed(
    server: &TestServer,
    path: &str,
    key: &str,
    bearer: &str,
) -> (StatusCode, Option<String>, Value) {
    let response = server
        .http
        .post(format!("{}{path}", server.base))
        .bearer_auth(bearer)
        .header("idempotency-key", key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|value| value.to_str().unwrap().to_owned());
    (status, replayed, response.json().await.unwrap())
}

#[tokio::test]
async fn idempotent_replay_never_hands_one_callers_result_to_another() {
    let server = TestServer::start().await;
    let (_, me) = server
        .call(Method::GET, "/v1/me", None, &server.admin())
        .await;
    let (admin, org) = (
        me["account"]["id"].as_str().unwrap().to_owned(),
        me["account"]["organization_id"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let (_, nobody_key) = server.account_with_key("nobody", json!({})).await;
    let path = format!("/api/organizations/{org}/users/{admin}/keys");

    let (status, replayed, first) = keyed(&server, &path, "mint-key-0001", &server.admin_key).await;
    assert_eq!((status, replayed), (StatusCode::OK, None), "{first}");
    let secret = first["data"]["value"].as_str().unwrap().to_owned();

    // Another caller with the same key makes a new request, and is refused as such.
    let (status, replayed, body) = keyed(&server, &path, "mint-key-0001", &nobody_key).await;
    assert_eq!((status, replayed), (StatusCode::FORBIDDEN, None), "{body}");
    assert!(!body.to_string().contains(&secret), "{body}");

    // The first caller's replay does not carry the secret either: it was never stored.
    let (status, replayed, body) = keyed(&server, &path, "mint-key-0001", &server.admin_key).await;
    assert_eq!(
        (status, replayed.as_deref(), body["key"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("true"),
            Some("secret_not_replayed")
        ),
        "{body}"
    );
    let pool = sqlx::AnyPool::connect(&server.database_url).await.unwrap();
    let stored: Vec<Option<Vec<u8>>> = sqlx::query_scalar("SELECT body FROM idempotency_keys")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(!stored.is_empty());
    for body in stored.into_iter().flatten() {
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains(&secret) && !text.contains("kck_"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_wrong_passwords_are_held_to_the_limit() {
    let server = TestServer::start().await;
    account(&server, "target", &[], &[]).await;
    let mut guesses = Vec::new();
    for n in 0..100 {
        let (http, base) = (server.http.clone(), server.base.clone());
        guesses.push(tokio::spawn(async move {
            http.get(format!("{base}/v1/me"))
                .basic_auth("target", Some(format!("wrong-guess-{n}")))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut judged = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            StatusCode::UNAUTHORIZED => judged += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert!(judged <= 10, "{judged} guesses were judged");
}

/// A client calling from another loopback address (Linux routes all of 127/8 to `lo`).
fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(address))
        .build()
        .unwrap()
}

#[tokio::test]
async fn authzen_basic_failures_share_the_login_limit_by_username_and_address() {
    let server = TestServer::start().await;
    let evaluation = json!({"subject": {"type": "user", "id": "admin"}, "action": {"name": "read"}, "resource": {"type": "doc", "id": "1"}});
    let attacker = client_from([127, 0, 0, 2]);
    let try_authzen = |client: &reqwest::Client, password: &str| {
        client
            .post(format!("{}/access/v1/evaluation", server.base))
            .basic_auth("admin", Some(password))
            .json(&evaluation)
            .send()
    };
    // Five wrong guesses on the native face and five on AuthZEN use up one allowance.
    for n in 0..5 {
        let status = attacker
            .get(format!("{}/v1/me", server.base))
            .basic_auth("admin", Some(format!("wrong-{n}")))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let status = try_authzen(&attacker, "wrong").await.unwrap().status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = try_authzen(&attacker, crate::harness::ADMIN_PASSWORD)
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Somebody else's failures do not lock the administrator out from its own address.
    let response = try_authzen(&server.http, crate::harness::ADMIN_PASSWORD)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_inactive_account_answers_as_a_wrong_password_does() {
    let server = TestServer::start().await;
    let (carol, as_carol) = account(&server, "carol", &[], &[]).await;
    let (status, body) = server
        .patch(&format!("/v1/accounts/{carol}"), json!({"inactive": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (right_status, right) = server.call(Method::GET, "/v1/me", None, &as_carol).await;
    let wrong = Auth::Basic("carol".into(), "not-her-password".into());
    let (wrong_status, wrong) = server.call(Method::GET, "/v1/me", None, &wrong).await;
    assert_eq!(right_status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (right_status, &right["message"]),
        (wrong_status, &wrong["message"])
    );
    // The IAP login as well.
    for password in ["carol-password-1", "not-her-password"] {
        let (status, body) = server
            .call(
                Method::POST,
                "/login",
                Some(json!({"user": {"username": "carol", "password": password}})),
                &Auth::None,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["message"], wrong["message"], "{body}");
    }
}

async fn open_session(server: &TestServer, username: &str, password: &str) -> Auth {
    let body = expect(
        server,
        &Auth::None,
        Method::POST,
        "/v1/sessions",
        Some(json!({"username": username, "password": password})),
        StatusCode::CREATED,
    )
    .await;
    Auth::Bearer(body["token"].as_str().unwrap().to_owned())
}

async fn status_of_me(server: &TestServer, auth: &Auth) -> StatusCode {
    server.call(Method::GET, "/v1/me", None, auth).await.0
}

#[tokio::test]
async fn a_password_change_and_a_deactivation_end_sessions() {
    let server = TestServer::start().await;
    let (erin, _) = account(&server, "erin", &[], &[]).await;
    let here = open_session(&server, "erin", "erin-password-1").await;
    let elsewhere = open_session(&server, "erin", "erin-password-1").await;
    expect(
        &server,
        &here,
        Method::PUT,
        &format!("/v1/accounts/{erin}/password"),
        Some(json!({"password": "erin-password-2", "current_password": "erin-password-1"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        status_of_me(&server, &elsewhere).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(status_of_me(&server, &here).await, StatusCode::OK);

    // An administrator setting the password ends every session.
    expect(
        &server,
        &server.admin(),
        Method::PUT,
        &format!("/v1/accounts/{erin}/password"),
        Some(json!({"password": "erin-password-3"})),
        StatusCode::OK,
    )
    .await;
    assert_eq!(status_of_me(&server, &here).await, StatusCode::UNAUTHORIZED);

    // Reactivating an account revives none of its sessions.
    let session = open_session(&server, "erin", "erin-password-3").await;
    for inactive in [true, false] {
        let (status, body) = server
            .patch(
                &format!("/v1/accounts/{erin}"),
                json!({ "inactive": inactive }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(
        status_of_me(&server, &session).await,
        StatusCode::UNAUTHORIZED
    );
    let fresh = open_session(&server, "erin", "erin-password-3").await;
    assert_eq!(status_of_me(&server, &fresh).await, StatusCode::OK);
}

/// Log lines written by the server while the guard is held (the test's thread runs the server).
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn credentials_never_reach_the_debug_log() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = TestServer::start().await;
    let login = expect(
        &server,
        &Auth::None,
        Method::POST,
        "/login",
        Some(json!({"user": {"username": "admin", "password": crate::harness::ADMIN_PASSWORD}})),
        StatusCode::OK,
    )
    .await;
    let token = login
        .as_str()
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    assert!(token.starts_with("kcs_"), "{login}");
    let (status, _) = server
        .call(
            Method::GET,
            &format!("/whoami?token={token}"),
            None,
            &Auth::None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call(Method::GET, "/v1/me", None, &Auth::Bearer(token.clone()))
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("/whoami?token=[redacted]"), "{text}");
    for secret in [
        token.as_str(),
        server.admin_key.as_str(),
        crate::harness::ADMIN_PASSWORD,
    ] {
        assert!(!text.contains(secret), "a credential was logged:\n{text}");
    }
}

#[tokio::test]
async fn a_locked_sqlite_database_answers_503_with_retry_after_in_bounded_time() {
    let server = TestServer::start().await;
    let Some(path) = server.database_url.strip_prefix("sqlite://") else {
        return; // A SQLite lock; PostgreSQL runs its own outage test (scale_out).
    };
    use sqlx::Connection as _;
    let mut holder = sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let write = server
        .request(Method::POST, "/v1/roles")
        .bearer_auth(&server.admin_key)
        .json(&json!({"name": "blocked"}))
        .send();
    let login = server
        .request(Method::POST, "/login")
        .json(&json!({"user": {"username": "admin", "password": crate::harness::ADMIN_PASSWORD}}))
        .send();
    let (write, login) = tokio::join!(write, login);
    let elapsed = started.elapsed();
    // The native and the IAP error shapes both carry `code`.
    for response in [write.unwrap(), login.unwrap()] {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "unavailable", "{body}");
    }
    assert!(
        elapsed < std::time::Duration::from_secs(20),
        "answered after {elapsed:?}"
    );
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let (status, body) = server.post("/v1/roles", json!({"name": "unblocked"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Makes a directory and its files immutable (`chattr +i`) until dropped.
struct Immutable(std::path::PathBuf);

impl Immutable {
    /// The directory and its files, but a rollback journal, which comes and goes with each write
    /// (and cannot come back while the directory is immutable).
    fn paths(&self) -> Vec<std::path::PathBuf> {
        let mut paths: Vec<_> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| !path.to_string_lossy().ends_with("-journal"))
            .collect();
        paths.push(self.0.clone());
        paths
    }

    fn chattr(&self, flag: &str) -> bool {
        std::process::Command::new("chattr")
            .arg(flag)
            .args(self.paths())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        self.chattr("-i");
    }
}

#[tokio::test]
async fn unwritable_database_files_are_a_503_and_not_ready_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    // Whether this machine lets the tests make files immutable (root, a file system with flags).
    let probe = Immutable(dir.path().to_owned());
    std::fs::write(dir.path().join("probe"), b"x").unwrap();
    if !probe.chattr("+i") {
        eprintln!("skipped: chattr +i is not permitted here");
        return;
    }
    drop(probe);
    std::fs::remove_file(dir.path().join("probe")).unwrap();

    let url = format!("sqlite://{}", dir.path().join("k.db").display());
    let mut server = crate::durability::Process::spawn(&url);
    let http = reqwest::Client::new();
    let create_role = |name: &str| {
        http.post(format!("{}/v1/roles", server.base))
            .basic_auth("admin", Some(crate::harness::ADMIN_PASSWORD))
            .json(&json!({ "name": name }))
            .send()
    };
    assert_eq!(
        create_role("before").await.unwrap().status(),
        StatusCode::CREATED
    );

    // A policy enforcement point's key, used once so that the server holds it.
    let me: Value = http
        .get(format!("{}/v1/me", server.base))
        .basic_auth("admin", Some(crate::harness::ADMIN_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key: Value = http
        .post(format!(
            "{}/v1/accounts/{}/keys",
            server.base,
            me["account"]["id"].as_str().unwrap()
        ))
        .basic_auth("admin", Some(crate::harness::ADMIN_PASSWORD))
        .json(&json!({"name": "pep"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["data"]["secret"].as_str().unwrap().to_owned();
    let decide = || {
        http.post(format!("{}/v1/check", server.base))
            .bearer_auth(&key)
            .json(&json!({"subject": {"id": "admin"}, "action": "read", "resource": {"type": "doc", "id": "1"}}))
            .send()
    };
    assert_eq!(decide().await.unwrap().status(), StatusCode::OK);
    let frozen = Immutable(dir.path().to_owned());
    assert!(frozen.chattr("+i"));
    // Several at once, so that the pool opens connections while the files cannot be written.
    let names: Vec<String> = (0..8).map(|n| format!("frozen-{n}")).collect();
    let statuses = futures_util::future::join_all(names.iter().map(|name| create_role(name))).await;
    for response in statuses {
        assert_eq!(response.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    // More than the failed-login limit in all: a login the store could not judge counts no failed
    // attempt, so none of these, nor the writes after recovery, is refused with 429.
    for n in 0..4 {
        let response = create_role(&format!("frozen-again-{n}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let refused = create_role("during").await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "unavailable", "{body}");
    let login = http
        .post(format!("{}/login", server.base))
        .json(&json!({"user": {"username": "admin", "password": crate::harness::ADMIN_PASSWORD}}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Decisions go on from the snapshot, for a caller whose key the server has seen.
    let check = decide().await.unwrap();
    assert_eq!(check.status(), StatusCode::OK);
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );

    drop(frozen);
    // Recovery needs no restart: the next probe finds the files writable again (a connection
    // that failed may still be rolling back, so it is polled for, within a bound).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ready = http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap();
        let status = ready.status();
        let body = ready.text().await.unwrap();
        if status == StatusCode::OK {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never ready again: {body}"
        );
        eprintln!("not ready yet: {body}");
        tokio::task::yield_now().await;
    }
    let names: Vec<String> = (0..8).map(|n| format!("thawed-{n}")).collect();
    let statuses = futures_util::future::join_all(names.iter().map(|name| create_role(name))).await;
    for response in statuses {
        let response = response.unwrap();
        let status = response.status();
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
    }
    let log = server.log.lock().unwrap().join("\n");
    assert!(
        log.contains("the database cannot be used") || log.contains("the database is unavailable"),
        "the cause is not logged:\n{log}"
    );
}

#[tokio::test]
async fn usernames_differing_only_by_case_are_one_username() {
    let server = TestServer::start().await;
    server
        .create_account(json!({"username": "TM0", "password": "tm0-password-1"}))
        .await;
    let (status, body) = server
        .post("/v1/accounts", json!({"username": "tm0"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Signing in is case-insensitive as well.
    let (status, me) = server
        .call(
            Method::GET,
            "/v1/me",
            None,
            &Auth::Basic("tm0".into(), "tm0-password-1".into()),
        )
        .await;
    assert_eq!(
        (status, me["account"]["username"].as_str()),
        (StatusCode::OK, Some("TM0"))
    );
}

#[tokio::test]
async fn two_accounts_never_share_an_email() {
    let server = TestServer::start().await;
    server
        .create_account(json!({"username": "ann", "email": "Ann@Example.com"}))
        .await;
    let bob = server
        .create_account(json!({"username": "bob", "email": "bob@example.com"}))
        .await;
    // Decisions find subjects by email: a second account with the same one would take its place.
    let (status, body) = server
        .post(
            "/v1/accounts",
            json!({"username": "eve", "email": "ann@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = server
        .patch(
            &format!("/v1/accounts/{bob}"),
            json!({"email": "ANN@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Keeping one's own email is no conflict.
    let (status, body) = server
        .patch(
            &format!("/v1/accounts/{bob}"),
            json!({"email": "bob@example.com", "first_name": "Bob"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn names_refuse_bidirectional_controls() {
    let server = TestServer::start().await;
    for (path, body) in [
        ("/v1/accounts", json!({"username": "ad\u{202E}nim"})),
        ("/v1/roles", json!({"name": "Admin\u{200B}"})),
        ("/v1/groups", json!({"name": "\u{2067}admins"})),
    ] {
        let (status, answer) = server.post(path, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {answer}");
    }
}

async fn login_cookie(client: &reqwest::Client, base: &str, forwarded: Option<&str>) -> String {
    let mut request = client
        .post(format!("{base}/login"))
        .json(&json!({"user": {"username": "admin", "password": crate::harness::ADMIN_PASSWORD}}));
    if let Some(proto) = forwarded {
        request = request.header("x-forwarded-proto", proto);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_token_cookie_is_secure_behind_a_trusted_tls_proxy_only() {
    let settings = keycard_server::Settings {
        trusted_proxies: vec![std::net::IpAddr::from([127, 0, 0, 1])],
        ..keycard_server::Settings::default()
    };
    let server = TestServer::start_with(settings).await;
    let secure = login_cookie(&server.http, &server.base, Some("https")).await;
    assert!(secure.contains("; Secure"), "{secure}");
    let plain = login_cookie(&server.http, &server.base, None).await;
    assert!(!plain.contains("Secure"), "{plain}");
    // Anyone else claiming TLS is not believed.
    let untrusted = login_cookie(&client_from([127, 0, 0, 3]), &server.base, Some("https")).await;
    assert!(!untrusted.contains("Secure"), "{untrusted}");
}

#[tokio::test]
async fn discovery_is_built_from_the_public_url_not_the_host_header() {
    let settings = keycard_server::Settings {
        public_url: Some(keycard_server::PublicUrl::parse("https://authz.example.com/").unwrap()),
        ..keycard_server::Settings::default()
    };
    let server = TestServer::start_with(settings).await;
    let response = server
        .request(Method::GET, "/.well-known/authzen-configuration")
        .header("host", "evil.example.net")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["policy_decision_point"], "https://authz.example.com");
    assert_eq!(
        body["access_evaluation_endpoint"],
        "https://authz.example.com/access/v1/evaluation"
    );
    assert!(!body.to_string().contains("evil"), "{body}");
    let cookie = login_cookie(&server.http, &server.base, None).await;
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn the_default_organization_is_neither_renamed_nor_deleted_on_any_face() {
    let server = TestServer::start().await;
    let (_, me) = server
        .call(Method::GET, "/v1/me", None, &server.admin())
        .await;
    let default = me["account"]["organization_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (method, path, body) in [
        (
            Method::PATCH,
            format!("/v1/organizations/{default}"),
            Some(json!({"name": "renamed"})),
        ),
        (Method::DELETE, format!("/v1/organizations/{default}"), None),
        (
            Method::PUT,
            format!("/api/organizations/{default}"),
            Some(json!({"name": "renamed"})),
        ),
        (
            Method::DELETE,
            format!("/api/organizations/{default}"),
            None,
        ),
    ] {
        let (status, answer) = server
            .call(method.clone(), &path, body, &server.admin())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert!(answer.to_string().contains("built_in"), "{answer}");
    }
    // Everything is still there.
    assert!(is_admin(&server, &server.admin()).await);
    let (status, org) = server.get(&format!("/v1/organizations/{default}")).await;
    assert_eq!(
        (status, org["name"].as_str()),
        (StatusCode::OK, Some("default"))
    );
}
