//! Policies: actions bound to roles, attached to resources.

use async_trait::async_trait;
use keycard_core::change::Revision;
use keycard_core::ids::{OrganizationId, PolicyId, RoleId};
use keycard_core::model::{
    self, Actor, NewPolicy, Policy, PolicyPatch, normalize_actions, sorted_unique,
};
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::{PolicyStore, Written};
use keycard_core::{Error, Result};
use sqlx::AnyConnection;

use super::rows::json_text;
use super::rows::{self, ensure_in_org, load};
use super::{SqlStore, WriteTx, internal, millis, unique_or};

#[async_trait]
impl PolicyStore for SqlStore {
    async fn create_policy(
        &self,
        actor: &Actor,
        org: OrganizationId,
        new: NewPolicy,
    ) -> Result<Written<Policy>> {
        self.write(actor, org, move |w| Box::pin(insert(w, org, new)))
            .await
    }

    async fn get_policy(&self, org: OrganizationId, id: PolicyId) -> Result<Policy> {
        self.get(org, id).await
    }

    async fn list_policies(&self, org: OrganizationId, page: &PageRequest) -> Result<Page<Policy>> {
        self.page(org, page).await
    }

    async fn update_policy(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PolicyId,
        patch: PolicyPatch,
    ) -> Result<Written<Policy>> {
        self.write(actor, org, move |w| Box::pin(update(w, org, id, patch)))
            .await
    }

    async fn delete_policy(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PolicyId,
    ) -> Result<Revision> {
        self.commit(actor, org, move |w| Box::pin(delete(w, org, id)))
            .await
    }

    async fn set_attachment(
        &self,
        actor: &Actor,
        org: OrganizationId,
        id: PolicyId,
        resource: model::ResourceRef,
        attached: bool,
    ) -> Result<Written<Policy>> {
        resource.validate()?;
        self.write(actor, org, move |w| {
            Box::pin(async move {
                let before = load::<Policy>(w.conn(), org, id).await?;
                let mut resources = before.resources.clone();
                let present = resources.contains(&resource);
                match (attached, present) {
                    (true, false) => resources.push(resource),
                    (false, true) => resources.retain(|existing| existing != &resource),
                    (false, false) => {
                        return Err(Error::not_found(
                            "attachment",
                            format!("{}:{}", resource.resource_type, resource.id),
                        ));
                    }
                    (true, true) => {}
                }
                if resources != before.resources {
                    sqlx::query(
                        "UPDATE policies SET resources = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(json_text(&sorted_unique(resources))?)
                    .bind(millis(w.at))
                    .bind(id.to_string())
                    .execute(w.conn())
                    .await
                    .map_err(internal)?;
                }
                let after = load::<Policy>(w.conn(), org, id).await?;
                if after != before {
                    w.updated(&before, &after).await?;
                }
                Ok(after)
            })
        })
        .await
    }
}
/// Keeps the first occurrence of each action, in order.
pub(super) fn sorted_actions(
    actions: Vec<keycard_core::names::ActionName>,
) -> Vec<keycard_core::names::ActionName> {
    let mut unique = Vec::with_capacity(actions.len());
    for action in actions {
        if !unique.contains(&action) {
            unique.push(action);
        }
    }
    unique
}
pub(super) fn validated_resources(
    resources: Vec<model::ResourceRef>,
) -> Result<Vec<model::ResourceRef>> {
    for resource in &resources {
        resource.validate()?;
    }
    Ok(sorted_unique(resources))
}
/// Roles named by a policy must exist when the policy is written.
pub(super) async fn ensure_policy_roles(
    conn: &mut AnyConnection,
    org: OrganizationId,
    actions: &[model::PolicyAction],
) -> Result<()> {
    let roles: Vec<RoleId> = sorted_unique(
        actions
            .iter()
            .flat_map(|action| action.role_ids.iter().copied())
            .collect(),
    );
    ensure_in_org(conn, "roles", "role", org, &roles).await
}

/// Deletes a policy, within a write; a system policy stays.
pub(super) async fn delete(w: &mut WriteTx, org: OrganizationId, id: PolicyId) -> Result<()> {
    let before = load::<Policy>(w.conn(), org, id).await?;
    if before.system {
        return Err(Error::BuiltIn {
            what: "policy",
            name: before.name.to_string(),
        });
    }
    w.delete_row("policies", &id).await?;
    w.deleted(&before).await?;
    Ok(())
}

/// Adds a policy, within a write; every role it names must exist.
pub(super) async fn insert(w: &mut WriteTx, org: OrganizationId, new: NewPolicy) -> Result<Policy> {
    let actions = normalize_actions(new.actions);
    let resources = validated_resources(new.resources)?;
    rows::load_organization(w.conn(), org).await?;
    ensure_policy_roles(w.conn(), org, &actions).await?;
    let id = PolicyId::new();
    let now = millis(w.at);
    sqlx::query(
                    "INSERT INTO policies (id, organization_id, name, system, actions, resources, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id.to_string())
                .bind(org.to_string())
                .bind(new.name.as_str())
                .bind(new.system)
                .bind(json_text(&actions)?)
                .bind(json_text(&resources)?)
                .bind(now)
                .bind(now)
                .execute(w.conn())
                .await
                .map_err(unique_or("policy", new.name.as_str()))?;
    let policy = load::<Policy>(w.conn(), org, id).await?;
    w.created(&policy).await?;
    Ok(policy)
}

/// Changes a policy, within a write.
pub(super) async fn update(
    w: &mut WriteTx,
    org: OrganizationId,
    id: PolicyId,
    patch: PolicyPatch,
) -> Result<Policy> {
    let actions = patch.actions.map(normalize_actions);
    let resources = patch.resources.map(validated_resources).transpose()?;
    let before = load::<Policy>(w.conn(), org, id).await?;
    let actions = actions.map(|mut actions| {
        if patch.keep_conditional_actions {
            actions.retain(|action| action.condition.is_none());
            actions.extend(
                before
                    .actions
                    .iter()
                    .filter(|action| action.condition.is_some())
                    .cloned(),
            );
        }
        actions
    });
    if let Some(actions) = &actions {
        ensure_policy_roles(w.conn(), org, actions).await?;
    }
    let name = patch.name.as_ref().unwrap_or(&before.name);
    sqlx::query(
                    "UPDATE policies SET name = $1, actions = $2, resources = $3, updated_at = $4 WHERE id = $5",
                )
                .bind(name.as_str())
                .bind(json_text(actions.as_ref().unwrap_or(&before.actions))?)
                .bind(json_text(resources.as_ref().unwrap_or(&before.resources))?)
                .bind(millis(w.at))
                .bind(id.to_string())
                .execute(w.conn())
                .await
                .map_err(unique_or("policy", name.as_str()))?;
    let after = load::<Policy>(w.conn(), org, id).await?;
    w.updated(&before, &after).await?;
    Ok(after)
}
