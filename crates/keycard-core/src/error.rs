//! Domain errors. The server gives each variant a stable snake_case code and an HTTP status
//! (`keycard_server::error::Code`); messages are lowercase and put user input in backticks.

/// The result type used throughout Keycard.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    #[error("{what} `{key}` already exists")]
    Conflict { what: &'static str, key: String },
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("adding group `{child}` to group `{parent}` would create a membership cycle")]
    Cycle { child: String, parent: String },
    #[error("{what} `{name}` is built in and cannot be changed or deleted")]
    BuiltIn { what: &'static str, name: String },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    /// The write would leave an organization with no active administrator who can log in.
    #[error("{0}")]
    LastAdministrator(String),
    #[error("too many failed attempts; retry in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    /// What was asked for is past: the change log no longer holds the revision a client resumes
    /// from.
    #[error("{0}")]
    Gone(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn not_found(what: &'static str, id: impl std::fmt::Display) -> Self {
        Error::NotFound {
            what,
            id: id.to_string(),
        }
    }

    pub fn conflict(what: &'static str, key: impl std::fmt::Display) -> Self {
        Error::Conflict {
            what,
            key: key.to_string(),
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
