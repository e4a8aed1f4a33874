//! Cursor pagination. A cursor is opaque to clients: the base64url form of the last key returned.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::Error;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

/// Which page of a list to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Return items whose sort key comes strictly after this one.
    pub after: Option<String>,
    pub limit: u32,
}

impl PageRequest {
    /// Builds a request from a client's optional cursor and limit, validating both.
    pub fn parse(cursor: Option<&str>, limit: Option<u32>) -> Result<Self, Error> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after =
            match cursor {
                None | Some("") => None,
                Some(cursor) => {
                    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| {
                        Error::invalid("cursor", format!("`{cursor}` is not a cursor"))
                    })?;
                    Some(String::from_utf8(bytes).map_err(|_| {
                        Error::invalid("cursor", format!("`{cursor}` is not a cursor"))
                    })?)
                }
            };
        Ok(Self { after, limit })
    }

    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }
}

/// One page of a list. `next_cursor` is set exactly when more items follow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` items fetched in key order: the extra item only proves
    /// that another page exists.
    pub fn from_overfetch(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Self {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items.last().map(|last| URL_SAFE_NO_PAD.encode(key(last)))
        } else {
            None
        };
        Self { items, next_cursor }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// The page of in-memory items, each given with its key, that comes after the key `after` in key
/// order, and the key to ask for the next page with when there is one. Keys must be unique; they
/// may borrow from the items. The page is chosen in one pass and only it is sorted, so a page of
/// 100,000 accounts costs little more than reading their keys.
pub fn select_page<K: Ord + AsRef<str>, T>(
    keyed: impl Iterator<Item = (K, T)>,
    after: Option<&str>,
    limit: usize,
) -> (Vec<T>, Option<String>) {
    let limit = limit.max(1);
    let mut kept: Vec<(K, T)> = keyed
        .filter(|(key, _)| after.is_none_or(|after| key.as_ref() > after))
        .collect();
    if kept.len() > limit + 1 {
        kept.select_nth_unstable_by(limit, |a, b| a.0.cmp(&b.0));
        kept.truncate(limit + 1);
    }
    kept.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let next = (kept.len() > limit).then(|| kept[limit - 1].0.as_ref().to_owned());
    kept.truncate(limit);
    (kept.into_iter().map(|(_, item)| item).collect(), next)
}

/// A search of names by what they contain, ignoring case. Built once per request: a list of
/// 100,000 names is searched without a lowercase copy of each name that has no capital.
pub struct Search {
    lowered: String,
    finder: memchr::memmem::Finder<'static>,
}

impl Search {
    pub fn new(query: &str) -> Self {
        let lowered = query.trim().to_lowercase();
        let finder = memchr::memmem::Finder::new(lowered.as_bytes()).into_owned();
        Self { lowered, finder }
    }

    /// Whether `text` contains the query, ignoring case; an empty query is in every text.
    pub fn finds(&self, text: &str) -> bool {
        if self.lowered.is_empty() {
            return true;
        }
        if text.bytes().any(|byte| byte.is_ascii_uppercase()) || !text.is_ascii() {
            return text.to_lowercase().contains(&self.lowered);
        }
        self.finder.find(text.as_bytes()).is_some()
    }
}

/// Reads every page of a list, in order, for the few callers that need a whole list at once.
pub async fn read_all<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, Error>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, Error>>,
{
    let mut items = Vec::new();
    let mut page = PageRequest::first(MAX_LIMIT);
    loop {
        let batch = fetch(page).await?;
        items.extend(batch.items);
        match batch.next_cursor {
            Some(cursor) => page = PageRequest::parse(Some(&cursor), Some(MAX_LIMIT))?,
            None => return Ok(items),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_ignore_case() {
        assert!(Search::new("smith").finds("Alice.Smith"));
        assert!(Search::new("SMITH").finds("alice.smith"));
        assert!(Search::new("émile").finds("ÉMILE"));
        assert!(Search::new(" ").finds("anything"));
        assert!(!Search::new("alice").finds("bob"));
        assert!(!Search::new("alice").finds("al"));
    }

    /// Walking the pages visits every item once, in key order.
    #[test]
    fn selected_pages_cover_the_list_in_order() {
        let items: Vec<u32> = (0..1000).map(|n| (n * 7919) % 1000).collect();
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, next) = select_page(
                items.iter().map(|n| (format!("{n:04}"), *n)),
                after.as_deref(),
                37,
            );
            assert!(page.len() <= 37);
            seen.extend(page);
            match next {
                Some(key) => after = Some(key),
                None => break,
            }
        }
        assert_eq!(seen, (0..1000).collect::<Vec<u32>>());
    }

    #[test]
    fn cursor_round_trip_and_limits() {
        let page = Page::from_overfetch(vec!["a", "b", "c"], 2, |s| s.to_string());
        assert_eq!(page.items, vec!["a", "b"]);
        let cursor = page.next_cursor.clone().unwrap_or_default();
        assert_eq!(
            PageRequest::parse(Some(&cursor), Some(2))
                .ok()
                .and_then(|r| r.after),
            Some("b".into())
        );
        assert!(
            Page::from_overfetch(vec!["a"], 2, |s| s.to_string())
                .next_cursor
                .is_none()
        );
        assert!(PageRequest::parse(None, Some(0)).is_err());
        assert!(PageRequest::parse(None, Some(501)).is_err());
        assert!(PageRequest::parse(Some("!!"), None).is_err());
    }
}
