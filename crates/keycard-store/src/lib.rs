//! Keycard's storage: one SQL implementation of every trait of [`keycard_core::store`], on SQLite
//! (embedded, the default) or PostgreSQL (for several nodes on one database).

use std::sync::Arc;

use keycard_core::store::Store;
use keycard_core::{Error, Result};

pub mod sql;

pub use sql::{Dialect, SqlStore};

/// Opens (creating if needed) and migrates the store a database URL names.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(open_sql(url).await?))
}

/// Like [`open`], keeping the concrete type (for change notifications).
pub async fn open_sql(url: &str) -> Result<SqlStore> {
    if url.starts_with("sqlite:") || url.starts_with("postgres:") || url.starts_with("postgresql:")
    {
        SqlStore::open(url).await
    } else {
        Err(Error::invalid(
            "database url",
            format!(
                "`{}` names no supported backend (sqlite:, postgres:)",
                redact_url(url)
            ),
        ))
    }
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
