//! Logging in and out, OAuth client credentials, service accounts, `/whoami` and the health route
//! IAP clients probe before deciding to log in.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keycard_core::Error;
use keycard_core::decision;
use keycard_core::ids::{AccountId, ApiKeyId};
use keycard_core::model::NewAccount;
use keycard_core::names::{FirstName, Provenance, Username};
use keycard_core::secret::{self, TokenKind};
use serde::Deserialize;
use serde_json::json;

use super::{IapCaller, IapError, IapJson};
use crate::app::{Identity, Operation};
use crate::auth::{self, ClientIp, Credential};
use crate::revision::with_revision;
use crate::state::{AppState, org_of};

#[derive(Debug, Deserialize)]
pub struct LoginBody {
    user: LoginUser,
}

#[derive(Debug, Deserialize)]
pub struct LoginUser {
    username: String,
    password: String,
}

/// `POST /login`: answers 200 with the token as a plain-text body and sets the `token` cookie.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    IapJson(body): IapJson<LoginBody>,
) -> Result<Response, IapError> {
    let org = auth::login_organization(&state, &headers)?;
    let account = state
        .app
        .verify_password(org, &body.user.username, &body.user.password, ip)
        .await?;
    let (_, token) = state.app.open_session(&account).await?;
    let secure = if crate::origin::is_https(&state.settings, &headers, ip) {
        "; Secure"
    } else {
        ""
    };
    let cookie = HeaderValue::from_str(&format!(
        "token={token}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .map_err(|err| IapError::from(Error::Internal(err.to_string())))?;
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        token,
    )
        .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// `GET /logout`: ends the session the request came with.
pub async fn logout(
    State(state): State<AppState>,
    caller: IapCaller,
) -> Result<Response, IapError> {
    state.app.end_own_session(&caller.caller).await?;
    Ok(super::ok_message("logged out"))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `POST /oauth/token` with `grant_type=client_credentials`: a service account's id and one of its
/// API keys buy an expiring bearer token.
pub async fn oauth_token(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<BTreeMap<String, String>>(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let (Some(client_id), Some(client_secret)) = (form.get("client_id"), form.get("client_secret"))
    else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id and client_secret are required",
        );
    };
    match client_credentials(&state, client_id, client_secret).await {
        Ok((token, expires_in)) => (
            StatusCode::OK,
            axum::Json(
                json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in}),
            ),
        )
            .into_response(),
        Err(Error::Unauthenticated(message)) => {
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &message)
        }
        Err(err) => IapError::from(err).into_response(),
    }
}

async fn client_credentials(
    state: &AppState,
    client_id: &str,
    client_secret: &str,
) -> Result<(String, u64), Error> {
    let invalid = || Error::Unauthenticated("unknown client or wrong secret".into());
    let id: AccountId = client_id.parse().map_err(|_| invalid())?;
    let presented = secret::parse_token(client_secret)
        .filter(|token| token.kind == TokenKind::ApiKey)
        .ok_or_else(invalid)?;
    let (principal, credential) = state
        .app
        .verify_token(client_secret)
        .await
        .map_err(|_| invalid())?;
    // A decision key is no service account: it opens no session.
    let Identity::Account(account) = principal else {
        return Err(invalid());
    };
    if account.id != id
        || credential != Credential::ApiKey(ApiKeyId::from_uuid(presented.id))
        || !account.service_account
    {
        return Err(invalid());
    }
    let (_, token) = state.app.open_session(&account).await?;
    Ok((token, state.app.session_ttl().as_secs()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountBody {
    account_data: ServiceAccountData,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountData {
    name: String,
    #[serde(default)]
    description: String,
}

/// `POST /oauth/serviceAccounts`: creates a service account and its client secret (shown once).
pub async fn create_service_account(
    State(state): State<AppState>,
    caller: IapCaller,
    IapJson(body): IapJson<ServiceAccountBody>,
) -> Result<Response, IapError> {
    let caller = caller.caller;
    let data = body.account_data;
    // IAP shows a service account's description where a person's first name goes.
    let shown_as = FirstName::try_from(data.description.as_str()).map_err(|_| {
        Error::invalid(
            "description",
            "must be at most 200 characters without control characters",
        )
    })?;
    let new = NewAccount {
        username: Username::try_from(data.name.clone())?,
        email: None,
        first_name: shown_as,
        provenance: Provenance::try_from("Service Account")?,
        inactive: false,
        service_account: true,
        password_hash: None,
        roles: Vec::new(),
        groups: Vec::new(),
        attributes: Default::default(),
    };
    let written = state
        .app
        .create_service_account(&caller, new, "client secret".into())
        .await?;
    let (account, issued) = written.value;
    let results = json!({"name": data.name, "description": data.description, "client_id": account.id, "client_secret": issued.secret});
    Ok(with_revision(
        written.revision,
        (
            StatusCode::OK,
            axum::Json(
                json!({"status": "OK", "message": "service account created", "results": results}),
            ),
        )
            .into_response(),
    ))
}

/// `GET /whoami`: the caller with groups, effective roles, allowed methods, routes and views.
pub async fn whoami(
    State(state): State<AppState>,
    caller: IapCaller,
) -> Result<Response, IapError> {
    let caller = caller.caller;
    let snapshot = state.app.read_snapshot(&caller, Operation::DescribeSelf)?;
    let org = org_of(&snapshot, caller.organization)?;
    let account = caller.require_account()?;
    let permissions = decision::effective_permissions(org, account);
    let groups: Vec<_> = account
        .groups
        .iter()
        .filter_map(|id| org.group(*id))
        .map(|group| json!({"id": group.id, "name": group.name, "provenance": group.provenance}))
        .collect();
    let roles: BTreeSet<String> = permissions
        .roles
        .iter()
        .filter_map(|held| org.role(held.role))
        .map(|role| role.name.to_string())
        .collect();
    let mut methods: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut routes: BTreeSet<String> = BTreeSet::new();
    for method in &permissions.methods {
        methods
            .entry(method.provenance.to_string())
            .or_default()
            .push(method.name.clone());
        if let Some(route) = org
            .method(method.provenance.as_str(), &method.name)
            .and_then(|m| m.route.as_ref())
        {
            routes.insert(route.path.clone());
        }
    }
    let views: Vec<_> = permissions
        .views
        .iter()
        .map(|view| json!({"provenance": view.provenance, "path": view.path}))
        .collect();
    Ok(axum::Json(json!({
        "id": account.id,
        "_id": account.id,
        "username": account.username,
        "firstname": account.first_name,
        "email": account.email,
        "provenance": account.provenance,
        "isServiceAccount": account.service_account,
        "admin": permissions.admin,
        "groups": groups,
        "roles": roles,
        "methods": methods,
        "routes": routes,
        "views": views,
    }))
    .into_response())
}

/// `GET /health/applications`: the applications this server runs. Needs authentication, which is
/// how IAP clients decide whether to log in.
pub async fn health_applications(_caller: IapCaller) -> Response {
    let application = json!({
        "id": keycard_core::builtin::AUTHORIZATION_APP,
        "package_id": "@keycard/authorization",
        "version": env!("CARGO_PKG_VERSION"),
        "type": "Application",
        "state": "RUNNING",
    });
    axum::Json(json!({"results": [application], "total": 1})).into_response()
}
