//! Stored attributes: the JSON object an account (and later a resource) carries for conditions to
//! read, such as `{"department": "Sales", "level": 3}`.
//!
//! A value of [`Attributes`] has passed validation, and the only way to build one is through
//! [`TryFrom<serde_json::Value>`] (which serde uses too). The bounds keep one entity's attributes
//! cheap to hold in the snapshot and to evaluate a condition over.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;

/// The largest attributes object, as compact JSON.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;
/// The deepest nesting of objects and arrays below the top-level object.
pub const MAX_ATTRIBUTES_DEPTH: usize = 8;
/// The longest key, at any depth.
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 128;

/// A JSON object of at most [`MAX_ATTRIBUTES_BYTES`] bytes and [`MAX_ATTRIBUTES_DEPTH`] levels,
/// whose keys are non-empty, at most [`MAX_ATTRIBUTE_KEY_CHARS`] characters and free of control
/// characters. Empty by default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "Value", into = "Value")]
#[schema(value_type = Object, example = json!({"department": "Sales", "level": 3}))]
pub struct Attributes(Map<String, Value>);

impl Attributes {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl TryFrom<Value> for Attributes {
    type Error = Error;

    fn try_from(value: Value) -> Result<Self, Error> {
        let Value::Object(map) = value else {
            return Err(Error::invalid("attributes", "must be a JSON object"));
        };
        for (key, value) in &map {
            check_entry(key, value, 1)?;
        }
        let size = serde_json::to_vec(&map)
            .map(|bytes| bytes.len())
            .unwrap_or(usize::MAX);
        if size > MAX_ATTRIBUTES_BYTES {
            return Err(Error::invalid(
                "attributes",
                format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes as JSON, not {size}"),
            ));
        }
        Ok(Self(map))
    }
}

impl From<Attributes> for Value {
    fn from(attributes: Attributes) -> Self {
        Value::Object(attributes.0)
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::invalid("attributes", "keys must not be empty"));
    }
    if key.chars().count() > MAX_ATTRIBUTE_KEY_CHARS {
        return Err(Error::invalid(
            "attributes",
            format!("key `{key}` is longer than {MAX_ATTRIBUTE_KEY_CHARS} characters"),
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(Error::invalid(
            "attributes",
            "keys must not contain control characters",
        ));
    }
    Ok(())
}

/// Checks a key and what it holds, `depth` levels below the top-level object.
fn check_entry(key: &str, value: &Value, depth: usize) -> Result<(), Error> {
    check_key(key)?;
    check_value(key, value, depth)
}

fn check_value(key: &str, value: &Value, depth: usize) -> Result<(), Error> {
    let children: Box<dyn Iterator<Item = (Option<&String>, &Value)>> = match value {
        Value::Object(map) => Box::new(map.iter().map(|(k, v)| (Some(k), v))),
        Value::Array(items) => Box::new(items.iter().map(|v| (None, v))),
        _ => return Ok(()),
    };
    if depth >= MAX_ATTRIBUTES_DEPTH {
        return Err(Error::invalid(
            "attributes",
            format!("`{key}` nests deeper than {MAX_ATTRIBUTES_DEPTH} levels"),
        ));
    }
    for (child_key, child) in children {
        match child_key {
            Some(child_key) => check_entry(child_key, child, depth + 1)?,
            None => check_value(key, child, depth + 1)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parsed(value: Value) -> Result<Attributes, String> {
        Attributes::try_from(value).map_err(|err| err.to_string())
    }

    #[test]
    fn objects_within_bounds_are_kept_as_given() {
        let value = json!({"department": "Sales", "level": 3, "tags": ["a", {"b": null}]});
        let attributes = parsed(value.clone()).unwrap();
        assert_eq!(Value::from(attributes.clone()), value);
        assert_eq!(attributes.get("level"), Some(&json!(3)));
        assert!(parsed(json!({})).unwrap().is_empty());
    }

    #[test]
    fn anything_but_an_object_is_refused() {
        for value in [json!(null), json!([]), json!("x"), json!(1)] {
            assert_eq!(
                parsed(value).unwrap_err(),
                "invalid attributes: must be a JSON object"
            );
        }
    }

    #[test]
    fn keys_are_checked_at_every_depth() {
        assert!(parsed(json!({"": 1})).is_err());
        assert!(parsed(json!({"a": {"": 1}})).is_err());
        assert!(parsed(json!({"a": [{"b\u{7}": 1}]})).is_err());
        assert!(parsed(json!({ "k".repeat(129): 1 })).is_err());
        assert!(parsed(json!({ "k".repeat(128): 1 })).is_ok());
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let mut deep = json!(1);
        for _ in 0..MAX_ATTRIBUTES_DEPTH {
            deep = json!([deep]);
        }
        assert!(parsed(json!({ "a": deep })).is_err());
        let mut deep_enough = json!(1);
        for _ in 0..MAX_ATTRIBUTES_DEPTH - 1 {
            deep_enough = json!([deep_enough]);
        }
        assert!(parsed(json!({ "a": deep_enough })).is_ok());
        let big = "x".repeat(MAX_ATTRIBUTES_BYTES);
        assert!(
            parsed(json!({ "a": big }))
                .unwrap_err()
                .contains("must be at most 16384 bytes")
        );
    }

    #[test]
    fn serde_validates_too() {
        assert!(serde_json::from_value::<Attributes>(json!({"": 1})).is_err());
        let attributes: Attributes = serde_json::from_value(json!({"a": 1})).unwrap();
        assert_eq!(serde_json::to_value(&attributes).unwrap(), json!({"a": 1}));
    }
}
