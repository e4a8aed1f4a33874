//! Keycard's storage backends. Each implements every trait of [`keycard_core::store`]; what is
//! specific to a database stays inside its module.

use std::sync::Arc;

use keycard_core::store::Store;
use keycard_core::{Error, Result};

pub mod sqlite;

/// Opens (creating if needed) and migrates the store a database URL names.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else {
        Err(Error::invalid(
            "database url",
            format!("`{}` names no supported backend (sqlite:)", redact_url(url)),
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
