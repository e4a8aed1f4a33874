//! Reading an organization from a server as a directory file: entities by name, in a canonical
//! order, so that two exports of the same state are the same text. What every organization is
//! born with (its system roles and policies, the `Authorization` catalogue) is left out: a file
//! describes what a team made.

use std::collections::HashMap;

use anyhow::{Context as _, anyhow};
use keycard_core::builtin::AUTHORIZATION_APP;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Client;
use crate::directory_file::{
    AccountEntry, Catalogue, DirectoryFile, GrantEntry, GroupEntry, PolicyEntry, ResourceEntry,
    RoleEntry,
};

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_default().to_owned()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_owned))
        .collect()
}

/// A field of an entity as the server answered it, read through its validated type.
fn field<T: DeserializeOwned>(value: &Value, key: &str) -> anyhow::Result<T> {
    serde_json::from_value(value[key].clone())
        .with_context(|| format!("the server answered an unreadable `{key}`"))
}

/// Names read through their validated type.
fn parsed<T: DeserializeOwned>(names: Vec<String>) -> anyhow::Result<Vec<T>> {
    names
        .into_iter()
        .map(|name| serde_json::from_value(Value::String(name)).context("an unreadable name"))
        .collect()
}

/// Names for ids, sorted; an id with no name (a deleted role a policy still lists) is dropped,
/// as it grants nothing.
fn named(ids: Vec<String>, names: &HashMap<String, String>) -> Vec<String> {
    let mut found: Vec<String> = ids.iter().filter_map(|id| names.get(id).cloned()).collect();
    found.sort();
    found
}

/// Reads the organization the client acts in.
pub async fn export(client: &Client) -> anyhow::Result<DirectoryFile> {
    let me = client.get("/v1/me").await?;
    let organization = &me["organization"];
    let roles = client
        .all("/v1/roles", &[])
        .await
        .context("reading roles")?;
    let groups = client
        .all("/v1/groups", &[])
        .await
        .context("reading groups")?;
    let accounts = client
        .all("/v1/accounts", &[])
        .await
        .context("reading accounts")?;
    let policies = client
        .all("/v1/policies", &[])
        .await
        .context("reading policies")?;
    let resources = client
        .all("/v1/resources", &[])
        .await
        .context("reading resources")?;
    let methods = client.all("/v1/catalogue/methods", &[]).await?;
    let views = client.all("/v1/catalogue/views", &[]).await?;

    let by_id = |items: &[Value], key: &str| -> HashMap<String, String> {
        items
            .iter()
            .map(|item| (text(item, "id"), text(item, key)))
            .collect()
    };
    let role_names = by_id(&roles, "name");
    let group_names = by_id(&groups, "name");
    let account_names = by_id(&accounts, "username");

    let mut file = DirectoryFile {
        organization: field(organization, "name")?,
        actions: Some({
            let mut actions: Vec<keycard_core::names::ActionName> = field(organization, "actions")?;
            actions.sort();
            actions
        }),
        ..DirectoryFile::default()
    };
    let own = |item: &Value| item["provenance"].as_str() != Some(AUTHORIZATION_APP);
    file.catalogue = Catalogue {
        methods: methods
            .iter()
            .filter(|m| own(m))
            .map(|m| serde_json::from_value(m.clone()))
            .collect::<Result<_, _>>()
            .context("reading the catalogue's methods")?,
        views: views
            .iter()
            .filter(|v| own(v))
            .map(|v| serde_json::from_value(v.clone()))
            .collect::<Result<_, _>>()
            .context("reading the catalogue's views")?,
    };
    file.catalogue
        .methods
        .sort_by_key(|method: &keycard_core::model::Method| method.key());
    file.catalogue
        .views
        .sort_by_key(|view: &keycard_core::model::View| view.key());
    for role in roles.iter().filter(|role| role["system"] != true) {
        let mut methods: Vec<String> = role["methods"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| format!("{}/{}", text(m, "provenance"), text(m, "name")))
            .collect();
        methods.sort();
        let mut views: Vec<String> = role["views"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| format!("{}/{}", text(v, "provenance"), text(v, "path")))
            .collect();
        views.sort();
        file.roles.push(RoleEntry {
            name: field(role, "name")?,
            description: field(role, "description")?,
            methods,
            views,
        });
    }
    for group in &groups {
        file.groups.push(GroupEntry {
            name: field(group, "name")?,
            description: field(group, "description")?,
            roles: parsed(named(strings(&group["roles"]), &role_names))?,
            inside: parsed(named(strings(&group["parents"]), &group_names))?,
            inactive: group["inactive"] == true,
        });
    }
    for account in &accounts {
        file.accounts.push(AccountEntry {
            username: field(account, "username")?,
            email: field(account, "email")?,
            first_name: field(account, "first_name")?,
            roles: parsed(named(strings(&account["roles"]), &role_names))?,
            groups: parsed(named(strings(&account["groups"]), &group_names))?,
            attributes: field(account, "attributes")?,
            inactive: account["inactive"] == true,
            service_account: account["service_account"] == true,
        });
    }
    for policy in policies.iter().filter(|policy| policy["system"] != true) {
        let actions = policy["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|grant| {
                Ok(GrantEntry {
                    action: field(grant, "action")?,
                    roles: parsed(named(strings(&grant["role_ids"]), &role_names))?,
                    condition: field(grant, "condition")?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        file.policies.push(PolicyEntry {
            name: field(policy, "name")?,
            resources: serde_json::from_value(policy["resources"].clone())
                .context("reading a policy's resources")?,
            actions,
        });
    }
    for resource in &resources {
        let owner = match resource["owner"].as_str() {
            Some(id) => Some(serde_json::from_value(Value::String(
                account_names
                    .get(id)
                    .cloned()
                    .ok_or_else(|| anyhow!("resource owner `{id}` is no account"))?,
            ))?),
            None => None,
        };
        file.resources.push(ResourceEntry {
            resource_type: field(resource, "type")?,
            id: field(resource, "id")?,
            owner,
            attributes: field(resource, "attributes")?,
        });
    }
    file.normalize();
    Ok(file)
}
