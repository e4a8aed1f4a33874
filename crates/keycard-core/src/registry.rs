//! What the snapshot keeps of a registered resource: what conditions read of it, and no more.
//!
//! A registry may hold a million resources, so each costs what it must: its owner, and its
//! attributes as compact JSON text rather than a map (a `serde_json` map of two keys costs about
//! 600 bytes; its text, a few dozen). The type and id are the keys it is found by; timestamps and
//! the organization are the store's to answer. A condition that reads `resource.properties` parses
//! the text when it is evaluated; one that does not (an ownership check, say) never does.

use serde_json::{Map, Value};

use crate::ids::AccountId;
use crate::model::Resource;

/// A registered resource as decisions see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceFacts {
    /// The account that owns it, if any.
    pub owner: Option<AccountId>,
    /// Its attributes as compact JSON text; `None` when it has none.
    attributes: Option<Box<str>>,
}

impl ResourceFacts {
    pub fn of(resource: &Resource) -> Self {
        let attributes = if resource.attributes.is_empty() {
            None
        } else {
            // Serializing a map of JSON values cannot fail: it has string keys only.
            serde_json::to_string(resource.attributes.as_map())
                .ok()
                .map(String::into_boxed_str)
        };
        Self {
            owner: resource.owner,
            attributes,
        }
    }

    /// Its attributes.
    pub fn attributes(&self) -> Map<String, Value> {
        self.attributes
            .as_deref()
            // The text was written from a map just above, so it reads back as one.
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn attributes_read_back_as_they_were_given() {
        let now = chrono::Utc::now();
        let mut resource = Resource {
            organization_id: crate::ids::OrganizationId::new(),
            resource_type: "doc".to_owned().try_into().unwrap(),
            id: "1".to_owned().try_into().unwrap(),
            owner: Some(AccountId::new()),
            attributes: json!({"department": "Sales", "tags": ["a", {"b": 1.5}], "n": -3})
                .try_into()
                .unwrap(),
            created_at: now,
            updated_at: now,
        };
        let facts = ResourceFacts::of(&resource);
        assert_eq!(facts.owner, resource.owner);
        assert_eq!(&facts.attributes(), resource.attributes.as_map());
        resource.attributes = Default::default();
        assert_eq!(ResourceFacts::of(&resource).attributes(), Map::new());
    }
}
