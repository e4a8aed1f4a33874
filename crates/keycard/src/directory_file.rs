//! The declarative directory file: one organization's catalogue, roles, groups, accounts,
//! policies and resources, referring to each other by name, in YAML (JSON is YAML too). It never
//! holds a secret: no password, no key.
//!
//! ```yaml
//! organization: acme
//! actions: [read, edit]
//! catalogue:
//!   methods: [{provenance: Todo, name: getTodos, route: {verb: GET, path: /todos}}]
//! roles:
//!   - {name: editors, methods: [Todo/getTodos]}
//! groups:
//!   - {name: writers, roles: [editors], inside: [staff]}
//! accounts:
//!   - {username: alice, email: alice@example.com, groups: [writers], attributes: {team: docs}}
//! policies:
//!   - name: documents
//!     resources: [{type: document, id: "*"}]
//!     actions:
//!       - {action: edit, roles: [editors]}
//!       - {action: delete, roles: [editors], condition: resource.owner == subject.id}
//! resources:
//!   - {type: document, id: notes, owner: alice, attributes: {level: 2}}
//! ```

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An organization as a file describes it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryFile {
    /// The organization's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// The actions the organization knows (search by action lists them); the standard ones when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Catalogue::is_empty")]
    pub catalogue: Catalogue,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceEntry>,
}

/// The permission catalogue: methods (with their routes) and views.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<keycard_core::model::Method>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<keycard_core::model::View>,
}

impl Catalogue {
    pub fn is_empty(&self) -> bool {
        self.methods.is_empty() && self.views.is_empty()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Catalogue methods as `provenance/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Catalogue views as `provenance/path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Roles by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The groups this one is inside, by name: its members hold their roles too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inside: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub inactive: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub first_name: String,
    /// Roles by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Groups by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub inactive: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub service_account: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyEntry {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<keycard_core::model::ResourceRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<GrantEntry>,
}

/// An action a policy grants to roles, maybe under a condition.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GrantEntry {
    pub action: String,
    /// Roles by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceEntry {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
    /// The owning account, by username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

impl DirectoryFile {
    /// Puts every list in one order (entries by name, names sorted), so that two files saying the
    /// same thing are equal and an export is the same text each time.
    pub fn normalize(&mut self) {
        if let Some(actions) = &mut self.actions {
            actions.sort();
            actions.dedup();
        }
        self.catalogue.methods.sort_by_key(|method| method.key());
        self.catalogue.views.sort_by_key(|view| view.key());
        self.roles.sort_by(|a, b| a.name.cmp(&b.name));
        for role in &mut self.roles {
            role.methods.sort();
            role.views.sort();
        }
        self.groups.sort_by(|a, b| a.name.cmp(&b.name));
        for group in &mut self.groups {
            group.roles.sort();
            group.inside.sort();
        }
        self.accounts.sort_by(|a, b| a.username.cmp(&b.username));
        for account in &mut self.accounts {
            account.roles.sort();
            account.groups.sort();
        }
        self.policies.sort_by(|a, b| a.name.cmp(&b.name));
        for policy in &mut self.policies {
            policy.resources.sort();
            policy.resources.dedup();
            for grant in &mut policy.actions {
                grant.roles.sort();
                grant.roles.dedup();
            }
            policy
                .actions
                .sort_by(|a, b| (&a.action, &a.condition).cmp(&(&b.action, &b.condition)));
        }
        self.resources
            .sort_by(|a, b| (&a.resource_type, &a.id).cmp(&(&b.resource_type, &b.id)));
    }
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

/// Reads a YAML or JSON file of type `T`, naming the file and the place of an error.
pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
    serde_yaml_ng::from_str(&text).with_context(|| format!("`{}` is not valid", path.display()))
}
