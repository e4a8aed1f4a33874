//! Reading an organization from a server as a directory file: entities by name, in a canonical
//! order, so that two exports of the same state are the same text. What every organization is
//! born with (its system roles and policies, the `Authorization` catalogue) is left out: a file
//! describes what a team made.

use std::collections::HashMap;

use anyhow::{Context as _, anyhow};
use keycard_core::builtin::AUTHORIZATION_APP;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::directory_file::{
    AccountEntry, Catalogue, DirectoryFile, GrantEntry, GroupEntry, PolicyEntry, ResourceEntry,
    RoleEntry,
};

/// An organization as a server holds it: the file, and the ids of what it names.
pub struct Exported {
    pub file: DirectoryFile,
    pub roles: HashMap<String, String>,
    /// Names of roles the file leaves out (the organization's own) that entries may still name.
    pub groups: HashMap<String, String>,
    pub accounts: HashMap<String, String>,
    pub policies: HashMap<String, String>,
}

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

fn object(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// Names for ids, sorted; an id with no name (a deleted role a policy still lists) is dropped,
/// as it grants nothing.
fn named(ids: Vec<String>, names: &HashMap<String, String>) -> Vec<String> {
    let mut found: Vec<String> = ids.iter().filter_map(|id| names.get(id).cloned()).collect();
    found.sort();
    found
}

/// Reads the organization the client acts in.
pub async fn export(client: &Client) -> anyhow::Result<Exported> {
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
    let invert = |map: &HashMap<String, String>| -> HashMap<String, String> {
        map.iter()
            .map(|(id, name)| (name.clone(), id.clone()))
            .collect()
    };

    let mut file = DirectoryFile {
        organization: organization["name"].as_str().map(str::to_owned),
        actions: Some({
            let mut actions = strings(&organization["actions"]);
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
            name: text(role, "name"),
            description: text(role, "description"),
            methods,
            views,
        });
    }
    for group in &groups {
        file.groups.push(GroupEntry {
            name: text(group, "name"),
            description: text(group, "description"),
            roles: named(strings(&group["roles"]), &role_names),
            inside: named(strings(&group["parents"]), &group_names),
            inactive: group["inactive"] == true,
        });
    }
    for account in &accounts {
        file.accounts.push(AccountEntry {
            username: text(account, "username"),
            email: account["email"].as_str().map(str::to_owned),
            first_name: text(account, "first_name"),
            roles: named(strings(&account["roles"]), &role_names),
            groups: named(strings(&account["groups"]), &group_names),
            attributes: object(&account["attributes"]),
            inactive: account["inactive"] == true,
            service_account: account["service_account"] == true,
        });
    }
    for policy in policies.iter().filter(|policy| policy["system"] != true) {
        let actions = policy["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|grant| GrantEntry {
                action: text(grant, "action"),
                roles: named(strings(&grant["role_ids"]), &role_names),
                condition: grant["condition"].as_str().map(str::to_owned),
            })
            .collect();
        file.policies.push(PolicyEntry {
            name: text(policy, "name"),
            resources: serde_json::from_value(policy["resources"].clone())
                .context("reading a policy's resources")?,
            actions,
        });
    }
    for resource in &resources {
        let owner = match resource["owner"].as_str() {
            Some(id) => Some(
                account_names
                    .get(id)
                    .cloned()
                    .ok_or_else(|| anyhow!("resource owner `{id}` is no account"))?,
            ),
            None => None,
        };
        file.resources.push(ResourceEntry {
            resource_type: text(resource, "type"),
            id: text(resource, "id"),
            owner,
            attributes: object(&resource["attributes"]),
        });
    }
    file.normalize();
    Ok(Exported {
        roles: invert(&role_names),
        groups: invert(&group_names),
        accounts: invert(&account_names),
        policies: invert(&by_id(&policies, "name")),
        file,
    })
}
