//! The native error shape, `{"code", "message", "request_id"}`, and the one table from error code to
//! HTTP status. Extractors here turn every malformed request into that shape instead of axum's
//! plain-text rejections.

use axum::extract::FromRequestParts;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keycard_core::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

tokio::task_local! {
    /// The request being served: its id, for error bodies and the decision log, and when it
    /// began.
    pub static REQUEST: RequestScope;
}

/// What the request being served is known by while it runs.
#[derive(Clone, Debug)]
pub struct RequestScope {
    pub id: HeaderValue,
    pub started: std::time::Instant,
}

impl RequestScope {
    /// A request that begins now.
    pub fn new(id: HeaderValue) -> Self {
        Self {
            id,
            started: std::time::Instant::now(),
        }
    }
}

/// Every error any face reports: its stable snake_case name and its HTTP status. Each face renders
/// these in its own shape (native, IAP, Polytomic, AuthZEN) and takes the status from here
/// (AuthZEN folds every client mistake into 400, as its specification asks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    MalformedJson,
    InvalidQuery,
    InvalidPath,
    InvalidHeader,
    Unauthenticated,
    Forbidden,
    BuiltIn,
    NotFound,
    RouteNotFound,
    MethodNotAllowed,
    Conflict,
    MembershipCycle,
    LastAdministrator,
    SecretNotReplayed,
    PayloadTooLarge,
    UnsupportedMediaType,
    InvalidBody,
    InvalidInput,
    RateLimited,
    Gone,
    Internal,
    Unavailable,
}

impl Code {
    pub const ALL: &[Code] = &[
        Code::MalformedJson,
        Code::InvalidQuery,
        Code::InvalidPath,
        Code::InvalidHeader,
        Code::Unauthenticated,
        Code::Forbidden,
        Code::BuiltIn,
        Code::NotFound,
        Code::RouteNotFound,
        Code::MethodNotAllowed,
        Code::Conflict,
        Code::MembershipCycle,
        Code::LastAdministrator,
        Code::SecretNotReplayed,
        Code::PayloadTooLarge,
        Code::UnsupportedMediaType,
        Code::InvalidBody,
        Code::InvalidInput,
        Code::RateLimited,
        Code::Gone,
        Code::Internal,
        Code::Unavailable,
    ];

    /// The name clients match on.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::MalformedJson => "malformed_json",
            Code::InvalidQuery => "invalid_query",
            Code::InvalidPath => "invalid_path",
            Code::InvalidHeader => "invalid_header",
            Code::Unauthenticated => "unauthenticated",
            Code::Forbidden => "forbidden",
            Code::BuiltIn => "built_in",
            Code::NotFound => "not_found",
            Code::RouteNotFound => "route_not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::Conflict => "conflict",
            Code::MembershipCycle => "membership_cycle",
            Code::LastAdministrator => "last_administrator",
            Code::SecretNotReplayed => "secret_not_replayed",
            Code::PayloadTooLarge => "payload_too_large",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::InvalidBody => "invalid_body",
            Code::InvalidInput => "invalid_input",
            Code::RateLimited => "rate_limited",
            Code::Gone => "gone",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            Code::MalformedJson => StatusCode::BAD_REQUEST,
            Code::InvalidQuery => StatusCode::BAD_REQUEST,
            Code::InvalidPath => StatusCode::BAD_REQUEST,
            Code::InvalidHeader => StatusCode::BAD_REQUEST,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::Forbidden => StatusCode::FORBIDDEN,
            Code::BuiltIn => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::RouteNotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::Conflict => StatusCode::CONFLICT,
            Code::MembershipCycle => StatusCode::CONFLICT,
            Code::LastAdministrator => StatusCode::CONFLICT,
            Code::SecretNotReplayed => StatusCode::CONFLICT,
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::InvalidBody => StatusCode::UNPROCESSABLE_ENTITY,
            Code::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::Gone => StatusCode::GONE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code of a domain error.
    pub const fn of(err: &Error) -> Code {
        match err {
            Error::NotFound { .. } => Code::NotFound,
            Error::Conflict { .. } => Code::Conflict,
            Error::Invalid { .. } => Code::InvalidInput,
            Error::Cycle { .. } => Code::MembershipCycle,
            Error::BuiltIn { .. } => Code::BuiltIn,
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::Forbidden(_) => Code::Forbidden,
            Error::LastAdministrator(_) => Code::LastAdministrator,
            Error::RateLimited { .. } => Code::RateLimited,
            Error::Gone(_) => Code::Gone,
            Error::Unavailable(_) => Code::Unavailable,
            Error::Internal(_) => Code::Internal,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the native API reports it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub retry_after: Option<u64>,
}

/// The native error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case error code.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The request's id, also in the `x-request-id` header.
    pub request_id: String,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let retry_after = match &err {
            Error::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            Error::Unavailable(_) => Some(1),
            _ => None,
        };
        Self {
            code: Code::of(&err),
            message: client_message(&err),
            retry_after,
        }
    }
}

/// What a client is told of an error. An internal error's detail (driver text, a bug's
/// circumstances) goes to the log with the request id, and the client gets the id to quote.
pub fn client_message(err: &Error) -> String {
    match err {
        Error::Internal(_) => {
            let request_id = current_request_id();
            tracing::error!(error = %err, %request_id, "internal error");
            format!(
                "the server failed to handle this request; its log has the details under request id `{request_id}`"
            )
        }
        _ => err.to_string(),
    }
}

pub fn current_request_id() -> String {
    REQUEST
        .try_with(|request| request.id.to_str().map(str::to_owned).unwrap_or_default())
        .unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            code: self.code.as_str().to_owned(),
            message: self.message,
            request_id: current_request_id(),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"keycard\", Bearer realm=\"keycard\""),
            );
        }
        response
    }
}

/// Maps a JSON body rejection to a code: broken JSON is 400, well-formed JSON of the wrong shape 422.
pub fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let code = match rejection {
        JsonRejection::JsonSyntaxError(_) => Code::MalformedJson,
        JsonRejection::JsonDataError(_) => Code::InvalidBody,
        JsonRejection::MissingJsonContentType(_) => Code::UnsupportedMediaType,
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Code::PayloadTooLarge
        }
        _ => Code::MalformedJson,
    };
    ApiError::new(code, rejection.body_text())
}

/// Declares a face's JSON body extractor: the body parsed as `T`, a rejection reported as
/// [`json_rejection`] says, in the face's own error type (anything made from an [`ApiError`]).
/// The one definition of JSON bodies for every face.
macro_rules! json_body {
    ($(#[$doc:meta])* $name:ident, $error:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name<T>(pub T);

        impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S>
            for $name<T>
        {
            type Rejection = $error;

            async fn from_request(
                req: axum::extract::Request,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                match <axum::Json<T> as axum::extract::FromRequest<S>>::from_request(req, state)
                    .await
                {
                    Ok(axum::Json(value)) => Ok($name(value)),
                    Err(rejection) => Err($crate::error::json_rejection(&rejection).into()),
                }
            }
        }
    };
}
pub(crate) use json_body;

json_body!(
    /// A JSON body whose rejections use the native error shape.
    Json,
    ApiError
);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters whose rejections use the native error shape.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection: PathRejection| {
                ApiError::new(Code::InvalidPath, rejection.body_text())
            })
    }
}

/// Query parameters whose rejections use the native error shape.
#[derive(Debug, Clone, Copy)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection: QueryRejection| {
                ApiError::new(Code::InvalidQuery, rejection.body_text())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_unique_names_and_client_or_server_statuses() {
        let mut names = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(names.insert(code.as_str()), "{code} is named twice");
            let status = code.status();
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code}: {status}"
            );
        }
        assert_eq!(
            Code::of(&Error::Cycle {
                child: "a".into(),
                parent: "b".into()
            })
            .status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            Code::of(&Error::BuiltIn {
                what: "role",
                name: "Admin".into()
            })
            .status(),
            StatusCode::FORBIDDEN
        );
    }

    #[test]
    fn internal_errors_tell_clients_nothing_of_their_detail() {
        let err = ApiError::from(Error::Internal(
            "error returned from database: no such table: kc_secret_stuff".into(),
        ));
        assert_eq!(err.code, Code::Internal);
        assert!(!err.message.contains("kc_secret_stuff"), "{}", err.message);
        assert!(err.message.contains("request id"), "{}", err.message);
    }
}
