//! The native error shape, `{"code", "message", "request_id"}`, and the one table from error code to
//! HTTP status. Extractors here turn every malformed request into that shape instead of axum's
//! plain-text rejections.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keycard_core::Error;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served, for error bodies.
    pub static REQUEST_ID: HeaderValue;
}

/// Every error code any face emits, with its HTTP status. Faces render their own shapes but take
/// the status from here.
pub const STATUS_BY_CODE: &[(&str, StatusCode)] = &[
    ("malformed_json", StatusCode::BAD_REQUEST),
    ("invalid_query", StatusCode::BAD_REQUEST),
    ("invalid_path", StatusCode::BAD_REQUEST),
    ("invalid_header", StatusCode::BAD_REQUEST),
    ("unauthenticated", StatusCode::UNAUTHORIZED),
    ("forbidden", StatusCode::FORBIDDEN),
    ("built_in", StatusCode::FORBIDDEN),
    ("not_found", StatusCode::NOT_FOUND),
    ("route_not_found", StatusCode::NOT_FOUND),
    ("method_not_allowed", StatusCode::METHOD_NOT_ALLOWED),
    ("conflict", StatusCode::CONFLICT),
    ("membership_cycle", StatusCode::CONFLICT),
    ("last_administrator", StatusCode::CONFLICT),
    ("secret_not_replayed", StatusCode::CONFLICT),
    ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE),
    ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE),
    ("invalid_body", StatusCode::UNPROCESSABLE_ENTITY),
    ("invalid_input", StatusCode::UNPROCESSABLE_ENTITY),
    ("rate_limited", StatusCode::TOO_MANY_REQUESTS),
    ("internal", StatusCode::INTERNAL_SERVER_ERROR),
    ("unavailable", StatusCode::SERVICE_UNAVAILABLE),
];

/// The HTTP status of an error code; unknown codes are server errors.
pub fn status_of(code: &str) -> StatusCode {
    STATUS_BY_CODE
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, status)| *status)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// An error as the native API reports it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: &'static str,
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
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        status_of(self.code)
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
            code: err.code(),
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
    REQUEST_ID
        .try_with(|id| id.to_str().map(str::to_owned).unwrap_or_default())
        .unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = ErrorBody {
            code: self.code.to_owned(),
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
        JsonRejection::JsonSyntaxError(_) => "malformed_json",
        JsonRejection::JsonDataError(_) => "invalid_body",
        JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            "payload_too_large"
        }
        _ => "malformed_json",
    };
    ApiError::new(code, rejection.body_text())
}

/// A JSON body whose rejections use the native error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

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
                ApiError::new("invalid_path", rejection.body_text())
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
                ApiError::new("invalid_query", rejection.body_text())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_error_code_has_a_status() {
        let samples = [
            Error::not_found("role", "x"),
            Error::conflict("role", "x"),
            Error::invalid("name", "bad"),
            Error::Cycle {
                child: "a".into(),
                parent: "b".into(),
            },
            Error::BuiltIn {
                what: "role",
                name: "Admin".into(),
            },
            Error::Unauthenticated("no".into()),
            Error::Forbidden("no".into()),
            Error::LastAdministrator("no".into()),
            Error::RateLimited {
                retry_after_secs: 1,
            },
            Error::Unavailable("down".into()),
            Error::Internal("bug".into()),
        ];
        for err in samples {
            assert!(
                STATUS_BY_CODE.iter().any(|(code, _)| *code == err.code()),
                "{} has no status",
                err.code()
            );
        }
        assert_eq!(status_of("membership_cycle"), StatusCode::CONFLICT);
        assert_eq!(status_of("built_in"), StatusCode::FORBIDDEN);
    }

    #[test]
    fn internal_errors_tell_clients_nothing_of_their_detail() {
        let err = ApiError::from(Error::Internal(
            "error returned from database: no such table: kc_secret_stuff".into(),
        ));
        assert_eq!(err.code, "internal");
        assert!(!err.message.contains("kc_secret_stuff"), "{}", err.message);
        assert!(err.message.contains("request id"), "{}", err.message);
    }
}
