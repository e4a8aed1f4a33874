//! Loads the peer workload into a Keycard database through the store, and writes the 20,000
//! queries as request bodies: AuthZEN evaluations (`authzen.jsonl`) and Cerbos checks
//! (`cerbos.jsonl`), plus Cerbos resource policies for the same grants (`cerbos-policies/`).
//!
//! `peer-load DATABASE_URL OUT_DIR`

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use keycard_bench::{Shape, Workload, action_name, resource_id, role_name, type_name, user_name};
use keycard_core::model::{Actor, NewAccount, NewPolicy, PolicyAction, ResourceRef};
use keycard_core::names::OrganizationName;
use keycard_core::store::Store;
use serde_json::json;

const SEED: u64 = 20_261_122;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(out)) = (args.next(), args.next()) else {
        return Err(anyhow!("usage: peer-load DATABASE_URL OUT_DIR"));
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(out.join("cerbos-policies"))?;
    let workload = Workload::generate(Shape::PEER, SEED);
    let store = keycard_store::open(&url).await?;
    keycard_server::bootstrap(store.as_ref(), Some("bench-admin-password")).await?;
    let org = store
        .find_organization(&OrganizationName::try_from("default")?)
        .await?
        .context("no default organization")?
        .id;
    load(store.as_ref(), org, &workload).await?;

    let mut authzen = String::new();
    let mut cerbos = String::new();
    for (index, q) in workload.queries.iter().enumerate() {
        let body = json!({
            "subject": {"type": "user", "id": user_name(q.user)},
            "action": {"name": action_name(q.action)},
            "resource": {"type": type_name(q.resource_type), "id": resource_id(q.resource_type, q.resource)},
        });
        writeln!(authzen, "{body}")?;
        let roles: Vec<String> = workload.user_roles[q.user]
            .iter()
            .map(|r| role_name(*r))
            .collect();
        let check = json!({
            "requestId": index.to_string(),
            "principal": {"id": user_name(q.user), "roles": roles},
            "resources": [{"actions": [action_name(q.action)], "resource": {"kind": type_name(q.resource_type), "id": resource_id(q.resource_type, q.resource)}}],
        });
        writeln!(cerbos, "{check}")?;
    }
    std::fs::write(out.join("authzen.jsonl"), authzen)?;
    std::fs::write(out.join("cerbos.jsonl"), cerbos)?;
    let expected: String = workload
        .queries
        .iter()
        .map(|q| if q.expected { "1\n" } else { "0\n" })
        .collect();
    std::fs::write(out.join("expected.txt"), expected)?;

    let mut by_type: Vec<Vec<Vec<usize>>> =
        vec![vec![Vec::new(); workload.shape.actions]; workload.shape.types];
    for (role, grants) in workload.role_grants.iter().enumerate() {
        for (action, resource_type) in grants {
            by_type[*resource_type][*action].push(role);
        }
    }
    for (resource_type, actions) in by_type.iter().enumerate() {
        let mut yaml = format!(
            "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  version: default\n  resource: {}\n  rules:\n",
            type_name(resource_type)
        );
        for (action, roles) in actions
            .iter()
            .enumerate()
            .filter(|(_, roles)| !roles.is_empty())
        {
            let roles: Vec<String> = roles
                .iter()
                .map(|r| format!("\"{}\"", role_name(*r)))
                .collect();
            writeln!(
                yaml,
                "    - actions: [\"{}\"]\n      effect: EFFECT_ALLOW\n      roles: [{}]",
                action_name(action),
                roles.join(", ")
            )?;
        }
        std::fs::write(
            out.join("cerbos-policies")
                .join(format!("{}.yaml", type_name(resource_type))),
            yaml,
        )?;
    }
    println!(
        "loaded {} users, {} roles; wrote {} queries to {}",
        workload.shape.users,
        workload.shape.roles,
        workload.queries.len(),
        out.display()
    );
    Ok(())
}

async fn load(
    store: &dyn Store,
    org: keycard_core::ids::OrganizationId,
    workload: &Workload,
) -> anyhow::Result<()> {
    let actor = Actor::system();
    let mut role_ids = Vec::with_capacity(workload.shape.roles);
    for role in 0..workload.shape.roles {
        let new = keycard_bench::custom_role(role_name(role))?;
        role_ids.push(store.create_role(&actor, org, new).await?.value.id);
    }
    for (user, roles) in workload.user_roles.iter().enumerate() {
        let new = NewAccount {
            username: user_name(user).try_into()?,
            email: None,
            first_name: Default::default(),
            provenance: "Local".to_owned().try_into()?,
            inactive: false,
            service_account: false,
            password_hash: None,
            roles: roles.iter().map(|r| role_ids[*r]).collect(),
            groups: vec![],
            attributes: Default::default(),
        };
        store.create_account(&actor, org, new).await?;
    }
    let mut by_type: Vec<Vec<Vec<usize>>> =
        vec![vec![Vec::new(); workload.shape.actions]; workload.shape.types];
    for (role, grants) in workload.role_grants.iter().enumerate() {
        for (action, resource_type) in grants {
            by_type[*resource_type][*action].push(role);
        }
    }
    for (resource_type, actions) in by_type.into_iter().enumerate() {
        let new = NewPolicy {
            name: format!("policy-{}", type_name(resource_type)).try_into()?,
            system: false,
            actions: actions
                .into_iter()
                .enumerate()
                .map(|(action, roles)| -> anyhow::Result<PolicyAction> {
                    Ok(PolicyAction {
                        action: action_name(action).try_into()?,
                        role_ids: roles.into_iter().map(|r| role_ids[r]).collect(),
                        condition: None,
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            resources: vec![ResourceRef {
                resource_type: type_name(resource_type),
                id: ResourceRef::ANY_ID.into(),
            }],
        };
        store.create_policy(&actor, org, new).await?;
    }
    Ok(())
}
