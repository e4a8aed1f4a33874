//! Fills an empty organization with what a directory file describes, through the application
//! layer (the same validation and write review as every API), resolving names to ids as it goes.

use std::collections::HashMap;

use anyhow::{Context as _, anyhow};
use keycard_core::attributes::Attributes;
use keycard_core::condition::Condition;
use keycard_core::ids::{AccountId, GroupId, RoleId};
use keycard_core::model::{
    GroupPatch, Manifest, MethodRef, NewAccount, NewGroup, NewPolicy, NewResource, NewRole,
    PolicyAction, ViewRef,
};
use keycard_core::names::{
    ActionName, Description, Email, FirstName, GroupName, PolicyName, RoleName, Username,
};
use keycard_server::app::{App, Caller, Operation};

use crate::directory_file::DirectoryFile;

/// Names resolved to ids so far.
#[derive(Default)]
struct Names {
    roles: HashMap<String, RoleId>,
    groups: HashMap<String, GroupId>,
    accounts: HashMap<String, AccountId>,
}

fn find<T: Copy>(map: &HashMap<String, T>, kind: &str, name: &str, by: &str) -> anyhow::Result<T> {
    map.get(name)
        .copied()
        .ok_or_else(|| anyhow!("{kind} `{name}`, named by {by}, is not in the directory"))
}

fn split<'k>(key: &'k str, what: &str) -> anyhow::Result<(&'k str, &'k str)> {
    key.split_once('/')
        .ok_or_else(|| anyhow!("{what} `{key}` is not `provenance/name`"))
}

/// Creates the file's entities in the organization `caller` acts in, which must hold none of them.
pub async fn seed(app: &App, caller: &Caller, file: &DirectoryFile) -> anyhow::Result<()> {
    let mut names = Names::default();
    // The organization's own roles (Admin, Member, ...) may be named too.
    let snapshot = app.read_snapshot(caller, Operation::ListRoles)?;
    if let Some(org) = snapshot.organization(caller.organization) {
        for role in org.roles() {
            names.roles.insert(role.name.to_string(), role.id);
        }
    }
    if !file.catalogue.is_empty() {
        let manifest = Manifest {
            methods: file.catalogue.methods.clone(),
            views: file.catalogue.views.clone(),
        };
        app.import_manifest(caller, manifest)
            .await
            .context("importing the catalogue")?;
    }
    for role in &file.roles {
        let by = format!("role `{}`", role.name);
        let mut new = NewRole::custom(RoleName::try_from(role.name.clone())?);
        new.description = Description::try_from(role.description.clone())?;
        for key in &role.methods {
            let (provenance, name) = split(key, "method")?;
            new.methods.push(MethodRef {
                provenance: provenance.to_owned().try_into()?,
                name: name.to_owned(),
            });
        }
        for key in &role.views {
            let (provenance, path) = split(key, "view")?;
            new.views.push(ViewRef {
                provenance: provenance.to_owned().try_into()?,
                path: path.to_owned(),
            });
        }
        let made = app.create_role(caller, new).await.context(by)?;
        names.roles.insert(role.name.clone(), made.value.id);
    }
    // Groups first, then where each sits: a group may be inside one listed after it.
    for group in &file.groups {
        let by = format!("group `{}`", group.name);
        let mut new = NewGroup::local(GroupName::try_from(group.name.clone())?);
        new.description = Description::try_from(group.description.clone())?;
        new.inactive = group.inactive;
        for role in &group.roles {
            new.roles.push(find(&names.roles, "role", role, &by)?);
        }
        let made = app.create_group(caller, new).await.context(by)?;
        names.groups.insert(group.name.clone(), made.value.id);
    }
    for group in file.groups.iter().filter(|group| !group.inside.is_empty()) {
        let by = format!("group `{}`", group.name);
        let parents = group
            .inside
            .iter()
            .map(|parent| find(&names.groups, "group", parent, &by))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let id = find(&names.groups, "group", &group.name, &by)?;
        let patch = GroupPatch {
            parents: Some(parents),
            ..GroupPatch::default()
        };
        app.update_group(caller, id, patch).await.context(by)?;
    }
    for account in &file.accounts {
        let by = format!("account `{}`", account.username);
        let mut new = NewAccount::local(Username::try_from(account.username.clone())?);
        new.email = account.email.clone().map(Email::try_from).transpose()?;
        new.first_name = FirstName::try_from(account.first_name.clone())?;
        new.inactive = account.inactive;
        new.service_account = account.service_account;
        new.attributes =
            Attributes::try_from(serde_json::Value::Object(account.attributes.clone()))?;
        for role in &account.roles {
            new.roles.push(find(&names.roles, "role", role, &by)?);
        }
        for group in &account.groups {
            new.groups.push(find(&names.groups, "group", group, &by)?);
        }
        let made = app.create_account(caller, new).await.context(by)?;
        names
            .accounts
            .insert(account.username.clone(), made.value.id);
    }
    for policy in &file.policies {
        let by = format!("policy `{}`", policy.name);
        let mut actions = Vec::new();
        for grant in &policy.actions {
            actions.push(PolicyAction {
                action: ActionName::try_from(grant.action.clone())?,
                role_ids: grant
                    .roles
                    .iter()
                    .map(|role| find(&names.roles, "role", role, &by))
                    .collect::<anyhow::Result<_>>()?,
                condition: grant
                    .condition
                    .clone()
                    .map(Condition::try_from)
                    .transpose()?,
            });
        }
        let new = NewPolicy {
            name: PolicyName::try_from(policy.name.clone())?,
            system: false,
            actions,
            resources: policy.resources.clone(),
        };
        app.create_policy(caller, new).await.context(by)?;
    }
    if !file.resources.is_empty() {
        let mut resources = Vec::new();
        for resource in &file.resources {
            let by = format!("resource `{}/{}`", resource.resource_type, resource.id);
            resources.push(NewResource {
                resource_type: resource.resource_type.clone().try_into()?,
                id: resource.id.clone().try_into()?,
                owner: resource
                    .owner
                    .as_ref()
                    .map(|owner| find(&names.accounts, "account", owner, &by))
                    .transpose()?,
                attributes: Attributes::try_from(serde_json::Value::Object(
                    resource.attributes.clone(),
                ))?,
            });
        }
        app.upsert_resources(caller, resources)
            .await
            .context("registering the resources")?;
    }
    Ok(())
}
