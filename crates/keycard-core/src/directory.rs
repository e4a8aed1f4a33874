//! The declarative directory: one organization's catalogue, roles, groups, accounts, policies and
//! resources, referring to each other by name. `keycard export` writes it as a file (YAML; JSON is
//! YAML too), `keycard apply` makes a server match one, and the server's batch endpoint takes a
//! slice of one ([`DirectoryBatch`]), so that every entry is validated by the same types wherever
//! it is read. It never holds a secret: no password, no key.
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

use serde::{Deserialize, Serialize};

use crate::attributes::Attributes;
use crate::condition::Condition;
use crate::model::{Method, MethodRef, ResourceRef, View, ViewRef};
use crate::names::{
    ActionName, Description, Email, FirstName, GroupName, OrganizationName, PolicyName, Provenance,
    ResourceId, ResourceType, RoleName, Username,
};
use crate::{Error, Result};

/// An organization as a file describes it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryFile {
    /// The organization's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationName>,
    /// The actions the organization knows (search by action lists them); the standard ones when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<ActionName>>,
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

/// The entries of a directory that refer to each other by name: a file without its organization,
/// actions and catalogue.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Entries {
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
    pub methods: Vec<Method>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<View>,
}

impl Catalogue {
    pub fn is_empty(&self) -> bool {
        self.methods.is_empty() && self.views.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    pub name: RoleName,
    #[serde(default, skip_serializing_if = "Description::is_empty")]
    pub description: Description,
    /// Catalogue methods as `provenance/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Catalogue views as `provenance/path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<String>,
}

impl RoleEntry {
    /// The methods it grants, as the catalogue names them.
    pub fn method_refs(&self) -> Result<Vec<MethodRef>> {
        self.methods
            .iter()
            .map(|key| {
                let field = format!("methods of role `{}`", self.name);
                let (provenance, name) = split_ref(&field, key, "provenance/name")?;
                Ok(MethodRef {
                    provenance,
                    name: name.to_owned(),
                })
            })
            .collect()
    }

    /// The views it grants, as the catalogue names them.
    pub fn view_refs(&self) -> Result<Vec<ViewRef>> {
        self.views
            .iter()
            .map(|key| {
                let field = format!("views of role `{}`", self.name);
                let (provenance, path) = split_ref(&field, key, "provenance/path")?;
                Ok(ViewRef {
                    provenance,
                    path: path.to_owned(),
                })
            })
            .collect()
    }
}

/// `provenance/rest` split at its first slash.
fn split_ref<'k>(field: &str, key: &'k str, shape: &str) -> Result<(Provenance, &'k str)> {
    let (provenance, rest) = key
        .split_once('/')
        .filter(|(_, rest)| !rest.is_empty())
        .ok_or_else(|| Error::invalid(field, format!("`{key}` is not `{shape}`")))?;
    Ok((Provenance::try_from(provenance.to_owned())?, rest))
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    pub name: GroupName,
    #[serde(default, skip_serializing_if = "Description::is_empty")]
    pub description: Description,
    /// Roles by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleName>,
    /// The groups this one is inside, by name: its members hold their roles too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inside: Vec<GroupName>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub inactive: bool,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub username: Username,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "FirstName::is_empty")]
    pub first_name: FirstName,
    /// Roles by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleName>,
    /// Groups by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupName>,
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    #[serde(default, skip_serializing_if = "is_false")]
    pub inactive: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub service_account: bool,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyEntry {
    pub name: PolicyName,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<GrantEntry>,
}

/// An action a policy grants to roles, maybe under a condition.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantEntry {
    pub action: ActionName,
    /// Roles by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceEntry {
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    pub id: ResourceId,
    /// The owning account, by username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Username>,
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
}

impl ResourceEntry {
    /// `type/id`, how a plan names it.
    pub fn key(&self) -> String {
        format!("{}/{}", self.resource_type, self.id)
    }
}

impl DirectoryFile {
    /// Puts every list in one order (entries by name, names sorted), so that two files saying the
    /// same thing are equal and an export is the same text each time.
    pub fn normalize(&mut self) {
        if let Some(actions) = &mut self.actions {
            actions.sort();
            actions.dedup();
        }
        self.catalogue.methods.sort_by_key(Method::key);
        self.catalogue.views.sort_by_key(View::key);
        let mut entries = self.take_entries();
        entries.normalize();
        self.put_entries(entries);
    }

    /// Its entries, leaving none in it.
    pub fn take_entries(&mut self) -> Entries {
        Entries {
            roles: std::mem::take(&mut self.roles),
            groups: std::mem::take(&mut self.groups),
            accounts: std::mem::take(&mut self.accounts),
            policies: std::mem::take(&mut self.policies),
            resources: std::mem::take(&mut self.resources),
        }
    }

    /// Sets its entries.
    pub fn put_entries(&mut self, entries: Entries) {
        self.roles = entries.roles;
        self.groups = entries.groups;
        self.accounts = entries.accounts;
        self.policies = entries.policies;
        self.resources = entries.resources;
    }
}

impl Entries {
    /// [`DirectoryFile::normalize`] for the entries.
    pub fn normalize(&mut self) {
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
            policy.actions.sort_by(|a, b| {
                let condition = |grant: &GrantEntry| {
                    grant
                        .condition
                        .as_ref()
                        .map(|condition| condition.as_str().to_owned())
                };
                (&a.action, condition(a)).cmp(&(&b.action, condition(b)))
            });
        }
        self.resources
            .sort_by(|a, b| (&a.resource_type, &a.id).cmp(&(&b.resource_type, &b.id)));
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.roles.len()
            + self.groups.len()
            + self.accounts.len()
            + self.policies.len()
            + self.resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

/// What a plan names, in the order a directory is applied: the organization's actions, the
/// catalogue, then the entries.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Organization,
    Method,
    View,
    Role,
    Group,
    Account,
    Policy,
    Resource,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Organization => "organization",
            EntryKind::Method => "method",
            EntryKind::View => "view",
            EntryKind::Role => "role",
            EntryKind::Group => "group",
            EntryKind::Account => "account",
            EntryKind::Policy => "policy",
            EntryKind::Resource => "resource",
        }
    }
}

/// What applying an entry did.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    Create,
    Update,
    Delete,
}

/// One change a plan makes: `+ create account alice`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Step {
    pub verb: Verb,
    pub kind: EntryKind,
    /// The entry's name (`type/id` for a resource).
    pub name: String,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (sign, verb) = match self.verb {
            Verb::Create => ('+', "create"),
            Verb::Update => ('~', "update"),
            Verb::Delete => ('-', "delete"),
        };
        write!(f, "{sign} {verb} {} {}", self.kind.as_str(), self.name)
    }
}

/// A resource by type and id, as a deletion names it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceKey {
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    pub id: ResourceId,
}

/// Entries to delete, by name.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deletions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<Username>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceKey>,
}

impl Deletions {
    pub fn len(&self) -> usize {
        self.roles.len()
            + self.groups.len()
            + self.accounts.len()
            + self.policies.len()
            + self.resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Names a batch makes, bare, when the store lacks them, before its entries: a group another one
/// is inside before its own entry comes; and, in a dry run, what earlier batches of the same run
/// would have made, so that a later batch naming them is judged as the real run would be.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ensure {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<Username>,
}

impl Ensure {
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.groups.is_empty() && self.accounts.is_empty()
    }
}

/// The most entries, deletions and references (roles, groups, parents, owners named) one batch
/// holds: one transaction of bounded size.
pub const MAX_BATCH_WEIGHT: usize = 50_000;

/// A slice of a directory applied as one write: deletions first, then each entry made to match
/// (created, updated, or left alone when it matches already), in the order entries refer to each
/// other. Entries may name what earlier batches made.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryBatch {
    /// The entries to make match.
    #[serde(default)]
    pub entries: Entries,
    #[serde(default, skip_serializing_if = "Deletions::is_empty")]
    pub delete: Deletions,
    /// Made bare first, when missing.
    #[serde(default, skip_serializing_if = "Ensure::is_empty")]
    pub ensure: Ensure,
    /// Judge the batch and answer what it would change, without writing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
}

impl DirectoryBatch {
    /// Its size as [`MAX_BATCH_WEIGHT`] counts it.
    pub fn weight(&self) -> usize {
        let e = &self.entries;
        e.len()
            + self.delete.len()
            + e.roles
                .iter()
                .map(|r| r.methods.len() + r.views.len())
                .sum::<usize>()
            + e.groups
                .iter()
                .map(|g| g.roles.len() + g.inside.len())
                .sum::<usize>()
            + e.accounts
                .iter()
                .map(|a| a.roles.len() + a.groups.len())
                .sum::<usize>()
            + e.policies
                .iter()
                .map(|p| p.resources.len() + p.actions.iter().map(|g| g.roles.len()).sum::<usize>())
                .sum::<usize>()
            + self.ensure.roles.len()
            + self.ensure.groups.len()
            + self.ensure.accounts.len()
    }

    /// Refuses a batch over [`MAX_BATCH_WEIGHT`].
    pub fn validate(&self) -> Result<()> {
        let weight = self.weight();
        if weight > MAX_BATCH_WEIGHT {
            return Err(Error::invalid(
                "batch",
                format!(
                    "at most {MAX_BATCH_WEIGHT} entries, deletions and references per batch, not {weight}"
                ),
            ));
        }
        Ok(())
    }
}

/// What a batch changed (or, in a dry run, would change), in the order it did.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize, utoipa::ToSchema)]
pub struct Applied {
    pub steps: Vec<Step>,
    /// How many entries already matched.
    pub unchanged: usize,
}
