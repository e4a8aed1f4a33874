//! A live server per test: `app(state)` bound to 127.0.0.1:0 over a fresh SQLite file.

use std::net::SocketAddr;

use keycard_core::ids::ApiKeyId;
use keycard_core::model::Actor;
use keycard_core::names::{OrganizationName, Username};
use keycard_core::secret::{self, TokenKind};
use keycard_core::store::Store;
use keycard_server::{AppState, Settings, app, bootstrap};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tempfile::TempDir;
use tokio::task::JoinHandle;

pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    /// An API key of the bootstrap `admin`.
    pub admin_key: String,
    pub database_url: String,
    pub store: std::sync::Arc<dyn Store>,
    server: JoinHandle<()>,
    follower: JoinHandle<()>,
    deliveries: JoinHandle<()>,
    dir: Option<TempDir>,
}

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

impl TestServer {
    /// A server on a fresh database: SQLite in a temporary directory, or, when
    /// `KEYCARD_TEST_POSTGRES_URL` names a PostgreSQL server, a new database of its own there.
    pub async fn start() -> Self {
        Self::start_with(Settings::default()).await
    }

    /// A server on a fresh database (as [`TestServer::start`]) with the given settings.
    pub async fn start_with(settings: Settings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match fresh_postgres_database().await {
            Some(url) => url,
            None => format!("sqlite://{}", dir.path().join("keycard.db").display()),
        };
        Self::start_configured(database_url, Some(dir), settings).await
    }

    /// A server, with `settings`, on a database another may share.
    pub async fn start_configured_on(database_url: String, settings: Settings) -> Self {
        Self::start_configured(database_url, None, settings).await
    }

    pub async fn start_on(database_url: String, dir: Option<TempDir>) -> Self {
        Self::start_configured(database_url, dir, Settings::default()).await
    }

    async fn start_configured(
        database_url: String,
        dir: Option<TempDir>,
        settings: Settings,
    ) -> Self {
        let sql = keycard_store::open_sql(&database_url).await.unwrap();
        let notifications = sql.subscribe();
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(sql);
        bootstrap(store.as_ref(), Some(ADMIN_PASSWORD))
            .await
            .unwrap();
        let admin_key = mint_admin_key(store.as_ref()).await;
        let state = AppState::load(store.clone(), settings).await.unwrap();
        // As `keycard serve` does: the snapshot follows the log, other nodes' writes included.
        let follower = state
            .app
            .follow(state.settings.follow_interval, notifications);
        let deliveries = keycard_server::webhook_delivery::spawn(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app(state).into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Self {
            base: format!("http://{address}"),
            http: reqwest::Client::new(),
            admin_key,
            database_url,
            store,
            server,
            follower,
            deliveries,
            dir,
        }
    }

    /// Stops the server and starts a new one on the same database.
    pub async fn restart(self) -> Self {
        self.restart_with(Settings::default()).await
    }

    /// Stops the server (its follower and delivery worker with it) and starts a new one on the
    /// same database, with `settings`.
    pub async fn restart_with(mut self, settings: Settings) -> Self {
        self.server.abort();
        self.deliveries.abort();
        let _ = (&mut self.server).await;
        let _ = (&mut self.deliveries).await;
        let dir = self.dir.take();
        let url = self.database_url.clone();
        drop(self);
        Self::start_configured(url, dir, settings).await
    }

    pub fn admin(&self) -> Auth {
        Auth::Bearer(self.admin_key.clone())
    }

    /// A request to `path` with no credentials yet, for what `call` does not cover (headers,
    /// forms, raw bodies).
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        auth: &Auth,
    ) -> (StatusCode, Value) {
        let mut request = self.request(method, path);
        request = match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, &self.admin()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body), &self.admin())
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body), &self.admin())
            .await
    }

    pub async fn put(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::PUT, path, None, &self.admin()).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None, &self.admin()).await
    }

    /// A request as the partner administrator acting in organization `org`.
    pub async fn in_org(
        &self,
        org: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let response = self
            .request(method, path)
            .bearer_auth(&self.admin_key)
            .header("keycard-organization", org)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates something and returns its id, asserting 201.
    pub async fn create(&self, path: &str, body: Value) -> String {
        let (status, value) = self.post(path, body).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {value}");
        value["data"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_account(&self, body: Value) -> String {
        self.create("/v1/accounts", body).await
    }

    pub async fn create_group(&self, body: Value) -> String {
        self.create("/v1/groups", body).await
    }

    pub async fn create_role(&self, body: Value) -> String {
        self.create("/v1/roles", body).await
    }

    pub async fn create_policy(&self, body: Value) -> String {
        self.create("/v1/policies", body).await
    }

    /// Creates an account with an API key and returns (account id, key).
    pub async fn account_with_key(&self, username: &str, extra: Value) -> (String, String) {
        let mut body = serde_json::json!({ "username": username });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let id = self.create_account(body).await;
        let (status, key) = self
            .post(
                &format!("/v1/accounts/{id}/keys"),
                serde_json::json!({"name": "test"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        (id, key["data"]["secret"].as_str().unwrap().to_owned())
    }

    /// Asks `/v1/check` as the administrator.
    pub async fn allowed(
        &self,
        subject: &str,
        action: &str,
        resource_type: &str,
        resource_id: &str,
    ) -> bool {
        let (status, value) = self
            .post(
                "/v1/check",
                serde_json::json!({"subject": {"type": "user", "id": subject}, "action": {"name": action}, "resource": {"type": resource_type, "id": resource_id}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{value}");
        value["allowed"].as_bool().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.abort();
        self.follower.abort();
        self.deliveries.abort();
    }
}

async fn mint_admin_key(store: &dyn Store) -> String {
    let org = store
        .find_organization(&OrganizationName::try_from("default").unwrap())
        .await
        .unwrap()
        .unwrap();
    let admin = store
        .find_account(org.id, &Username::try_from("admin").unwrap())
        .await
        .unwrap()
        .unwrap();
    let id = ApiKeyId::new();
    let minted = secret::mint_token(TokenKind::ApiKey, id.as_uuid());
    store
        .create_api_key(
            &Actor::system(),
            org.id,
            Some(admin.id),
            id,
            "tests".into(),
            minted.hash,
        )
        .await
        .unwrap();
    minted.value
}

/// Creates an empty database on the PostgreSQL server the tests were pointed at, if any.
pub async fn fresh_postgres_database() -> Option<String> {
    use sqlx::{Connection as _, Executor as _};
    let admin = std::env::var("KEYCARD_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())?;
    let name = format!("kc_test_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::postgres::PgConnection::connect(&admin).await.unwrap();
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    conn.close().await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(format!("{base}/{name}"))
}
