//! `keycard apply -f FILE [--dry-run] [--prune]`: makes a server's organization match a directory
//! file. The plan compares the file with an export of the server, entity by entity and by name;
//! applying runs it through the native API, in the order entities refer to each other. A file
//! already matched makes no write at all.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context as _, anyhow};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Client, segment};
use crate::directory_export::{Exported, export};
use crate::directory_file::{
    AccountEntry, DirectoryFile, GroupEntry, PolicyEntry, ResourceEntry, RoleEntry,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    Create,
    Update,
    Delete,
}

/// One change the plan makes.
#[derive(Clone, Debug)]
pub struct Step {
    pub verb: Verb,
    pub kind: &'static str,
    pub name: String,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (sign, verb) = match self.verb {
            Verb::Create => ('+', "create"),
            Verb::Update => ('~', "update"),
            Verb::Delete => ('-', "delete"),
        };
        write!(f, "{sign} {verb} {} {}", self.kind, self.name)
    }
}

/// The entries of each side by key, and what to do with each key.
fn compare<T: PartialEq>(
    kind: &'static str,
    current: &[T],
    desired: &[T],
    key: impl Fn(&T) -> String,
    prune: bool,
    steps: &mut Vec<Step>,
) {
    let now: BTreeMap<String, &T> = current.iter().map(|item| (key(item), item)).collect();
    let wanted: BTreeMap<String, &T> = desired.iter().map(|item| (key(item), item)).collect();
    for (name, item) in &wanted {
        match now.get(name) {
            None => steps.push(Step {
                verb: Verb::Create,
                kind,
                name: name.clone(),
            }),
            Some(existing) if *existing != *item => steps.push(Step {
                verb: Verb::Update,
                kind,
                name: name.clone(),
            }),
            Some(_) => {}
        }
    }
    if prune {
        for name in now.keys().filter(|name| !wanted.contains_key(*name)) {
            steps.push(Step {
                verb: Verb::Delete,
                kind,
                name: name.clone(),
            });
        }
    }
}

fn resource_key(resource: &ResourceEntry) -> String {
    format!("{}/{}", resource.resource_type, resource.id)
}

/// What applying `desired` to `current` changes. The catalogue is only added to: entries it no
/// longer lists stay (roles may grant them); remove them through the API.
pub fn plan(current: &DirectoryFile, desired: &DirectoryFile, prune: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    if desired.actions.is_some() && desired.actions != current.actions {
        steps.push(Step {
            verb: Verb::Update,
            kind: "organization",
            name: "actions".into(),
        });
    }
    compare(
        "method",
        &current.catalogue.methods,
        &desired.catalogue.methods,
        |m| m.key(),
        false,
        &mut steps,
    );
    compare(
        "view",
        &current.catalogue.views,
        &desired.catalogue.views,
        |v| v.key(),
        false,
        &mut steps,
    );
    compare(
        "role",
        &current.roles,
        &desired.roles,
        |r: &RoleEntry| r.name.clone(),
        prune,
        &mut steps,
    );
    compare(
        "group",
        &current.groups,
        &desired.groups,
        |g: &GroupEntry| g.name.clone(),
        prune,
        &mut steps,
    );
    compare(
        "account",
        &current.accounts,
        &desired.accounts,
        |a: &AccountEntry| a.username.clone(),
        prune,
        &mut steps,
    );
    compare(
        "policy",
        &current.policies,
        &desired.policies,
        |p: &PolicyEntry| p.name.clone(),
        prune,
        &mut steps,
    );
    compare(
        "resource",
        &current.resources,
        &desired.resources,
        resource_key,
        prune,
        &mut steps,
    );
    steps
}

/// Ids by name, as the server has them and as this run makes them.
struct Ids<'e> {
    exported: &'e Exported,
    made: HashMap<(&'static str, String), String>,
}

impl Ids<'_> {
    fn of(&self, kind: &'static str, name: &str) -> anyhow::Result<String> {
        if let Some(id) = self.made.get(&(kind, name.to_owned())) {
            return Ok(id.clone());
        }
        let map = match kind {
            "role" => &self.exported.roles,
            "group" => &self.exported.groups,
            "account" => &self.exported.accounts,
            "policy" => &self.exported.policies,
            _ => return Err(anyhow!("no ids of {kind}s")),
        };
        map.get(name)
            .cloned()
            .ok_or_else(|| anyhow!("{kind} `{name}` is neither in the file nor on the server"))
    }

    /// The id of what an entry names: the file's or the server's.
    fn named_by(&self, kind: &'static str, name: &str, by: &str) -> anyhow::Result<String> {
        self.of(kind, name)
            .map_err(|_| anyhow!("{kind} `{name}`, named by {by}, is not in the directory"))
    }

    fn all(&self, kind: &'static str, names: &[String], by: &str) -> anyhow::Result<Vec<String>> {
        names
            .iter()
            .map(|name| self.named_by(kind, name, by))
            .collect()
    }
}

fn refs(keys: &[String], field: &str) -> anyhow::Result<Vec<Value>> {
    keys.iter()
        .map(|key| {
            let (provenance, rest) = key
                .split_once('/')
                .ok_or_else(|| anyhow!("`{key}` is not `provenance/{field}`"))?;
            Ok(json!({"provenance": provenance, field: rest}))
        })
        .collect()
}

/// Applies `desired` to the organization the client acts in; answers the plan it ran.
pub async fn apply(
    client: &Client,
    desired: &DirectoryFile,
    prune: bool,
    dry_run: bool,
) -> anyhow::Result<(Vec<Step>, Option<i64>)> {
    let mut desired = desired.clone();
    desired.normalize();
    let exported = export(client).await?;
    let steps = plan(&exported.file, &desired, prune);
    if dry_run || steps.is_empty() {
        return Ok((steps, None));
    }
    let mut ids = Ids {
        exported: &exported,
        made: HashMap::new(),
    };
    let mut revision = None;
    let mut note = |answer: &Value| {
        if let Some(at) = answer["revision"].as_i64() {
            revision = Some(at);
        }
    };
    let wants = |verb: Verb, kind: &str, name: &str| {
        steps
            .iter()
            .any(|step| step.verb == verb && step.kind == kind && step.name == name)
    };
    let changed =
        |kind: &str, name: &str| wants(Verb::Create, kind, name) || wants(Verb::Update, kind, name);

    if steps.iter().any(|step| step.kind == "organization") {
        let me = client.get("/v1/me").await?;
        let id = me["organization"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        note(
            &client
                .send(
                    Method::PATCH,
                    &format!("/v1/organizations/{id}"),
                    Some(&json!({"actions": desired.actions})),
                )
                .await
                .context("updating the organization's actions")?,
        );
    }
    let methods: Vec<_> = desired
        .catalogue
        .methods
        .iter()
        .filter(|m| changed("method", &m.key()))
        .collect();
    let views: Vec<_> = desired
        .catalogue
        .views
        .iter()
        .filter(|v| changed("view", &v.key()))
        .collect();
    if !methods.is_empty() || !views.is_empty() {
        note(
            &client
                .post(
                    "/v1/catalogue",
                    &json!({"methods": methods, "views": views}),
                )
                .await
                .context("importing the catalogue")?,
        );
    }
    // Deletions first, what refers to others before what it refers to: a deletion only removes
    // references, and what the file adds may take a name or an email it frees.
    let me = client.get("/v1/me").await?;
    let own = me["account"]["username"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for kind in ["resource", "policy", "account", "group", "role"] {
        for step in steps
            .iter()
            .filter(|step| step.verb == Verb::Delete && step.kind == kind)
        {
            let path = match kind {
                "resource" => {
                    let (resource_type, id) = step.name.split_once('/').unwrap_or_default();
                    format!("/v1/resources/{}/{}", segment(resource_type), segment(id))
                }
                "account" if step.name == own => continue,
                _ => format!("/v1/{}/{}", plural(kind), ids.of(kind, &step.name)?),
            };
            note(
                &client
                    .send(Method::DELETE, &path, None)
                    .await
                    .with_context(|| step.to_string())?,
            );
        }
    }
    for role in desired
        .roles
        .iter()
        .filter(|role| changed("role", &role.name))
    {
        let body = json!({"name": role.name, "description": role.description, "methods": refs(&role.methods, "name")?, "views": refs(&role.views, "path")?});
        let what = format!("role `{}`", role.name);
        if wants(Verb::Create, "role", &role.name) {
            let made = client.post("/v1/roles", &body).await.context(what)?;
            note(&made);
            ids.made.insert(
                ("role", role.name.clone()),
                made["data"]["id"].as_str().unwrap_or_default().to_owned(),
            );
        } else {
            let id = ids.of("role", &role.name)?;
            note(
                &client
                    .send(Method::PATCH, &format!("/v1/roles/{id}"), Some(&body))
                    .await
                    .context(what)?,
            );
        }
    }
    // Groups first, then where each sits: a group may be inside one made after it.
    for group in desired
        .groups
        .iter()
        .filter(|group| wants(Verb::Create, "group", &group.name))
    {
        let body = json!({"name": group.name, "description": group.description, "inactive": group.inactive, "roles": ids.all("role", &group.roles, &format!("group `{}`", group.name))?});
        let made = client
            .post("/v1/groups", &body)
            .await
            .with_context(|| format!("group `{}`", group.name))?;
        note(&made);
        ids.made.insert(
            ("group", group.name.clone()),
            made["data"]["id"].as_str().unwrap_or_default().to_owned(),
        );
    }
    for group in desired.groups.iter().filter(|group| {
        wants(Verb::Update, "group", &group.name)
            || (wants(Verb::Create, "group", &group.name) && !group.inside.is_empty())
    }) {
        let id = ids.of("group", &group.name)?;
        let body = json!({"description": group.description, "inactive": group.inactive, "roles": ids.all("role", &group.roles, &format!("group `{}`", group.name))?, "parents": ids.all("group", &group.inside, &format!("group `{}`", group.name))?});
        note(
            &client
                .send(Method::PATCH, &format!("/v1/groups/{id}"), Some(&body))
                .await
                .with_context(|| format!("group `{}`", group.name))?,
        );
    }
    for account in desired
        .accounts
        .iter()
        .filter(|account| changed("account", &account.username))
    {
        let what = format!("account `{}`", account.username);
        let mut body = json!({"email": account.email, "first_name": account.first_name, "inactive": account.inactive, "roles": ids.all("role", &account.roles, &what)?, "groups": ids.all("group", &account.groups, &what)?, "attributes": account.attributes});
        if wants(Verb::Create, "account", &account.username) {
            body["username"] = json!(account.username);
            body["service_account"] = json!(account.service_account);
            let made = client.post("/v1/accounts", &body).await.context(what)?;
            note(&made);
            ids.made.insert(
                ("account", account.username.clone()),
                made["data"]["id"].as_str().unwrap_or_default().to_owned(),
            );
        } else {
            let id = ids.of("account", &account.username)?;
            note(
                &client
                    .send(Method::PATCH, &format!("/v1/accounts/{id}"), Some(&body))
                    .await
                    .context(what)?,
            );
        }
    }
    for policy in desired
        .policies
        .iter()
        .filter(|policy| changed("policy", &policy.name))
    {
        let what = format!("policy `{}`", policy.name);
        let actions = policy
            .actions
            .iter()
            .map(|grant| Ok(json!({"action": grant.action, "role_ids": ids.all("role", &grant.roles, &what)?, "condition": grant.condition})))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let body = json!({"name": policy.name, "actions": actions, "resources": policy.resources});
        if wants(Verb::Create, "policy", &policy.name) {
            note(&client.post("/v1/policies", &body).await.context(what)?);
        } else {
            let id = ids.of("policy", &policy.name)?;
            note(
                &client
                    .send(Method::PATCH, &format!("/v1/policies/{id}"), Some(&body))
                    .await
                    .context(what)?,
            );
        }
    }
    let resources = desired
        .resources
        .iter()
        .filter(|resource| changed("resource", &resource_key(resource)))
        .map(|resource| {
            Ok(json!({"type": resource.resource_type, "id": resource.id, "owner": resource.owner.as_ref().map(|owner| ids.named_by("account", owner, &format!("resource `{}`", resource_key(resource)))).transpose()?, "attributes": resource.attributes}))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for batch in resources.chunks(10_000) {
        note(
            &client
                .send(
                    Method::PUT,
                    "/v1/resources",
                    Some(&json!({"resources": batch})),
                )
                .await
                .context("registering resources")?,
        );
    }
    Ok((steps, revision))
}

fn plural(kind: &str) -> &'static str {
    match kind {
        "policy" => "policies",
        "account" => "accounts",
        "group" => "groups",
        _ => "roles",
    }
}
