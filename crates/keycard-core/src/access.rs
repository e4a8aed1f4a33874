//! The rule every write passes, whatever face it came through: a caller never grants more than it
//! holds, only an organization's administrators change what belongs to the whole organization, and
//! no write leaves an organization without an administrator who can log in.
//!
//! [`review_write`] is a pure function of the state just before a write and the changes the write
//! is about to commit. The store calls it inside the write's transaction, after taking the write
//! lock (see ADR 0004), so two writes cannot race past it: each is judged against the state the
//! other left.
//!
//! Administrators of the organization (and partners, the administrators of `default`) may change
//! anything the faces let them, subject only to the last-administrator rule. Anyone else may change
//! an account, a group, a role or an API key only when everything it gives, before and after the
//! write, is within what the caller holds:
//! - an account or a group gives every role it reaches (its own, and those of every group above it,
//!   counting inactive ones, which an administrator could switch back on); the caller's own account
//!   may change as long as it gains nothing beyond the caller's holdings;
//! - a role is within the caller's holdings when the caller holds it, or when it is not a system
//!   role, every method and view it lists is one the caller may use, and no policy binds it (a
//!   policy grant is not something the caller can be compared with);
//! - a role changed by the caller must, before and after, list only methods and views the caller
//!   may use, and may not be bound by a policy unless the caller holds it;
//! - an API key acts as its account, so creating or revoking one for another account needs that
//!   account to be within the caller's holdings; decision keys, which ask about every subject, are
//!   administrators' alone.
//!
//! Organizations, policies and the catalogue are changed by administrators only, and the default
//! organization, where partners come from, is never renamed or deleted.

use std::collections::{BTreeSet, HashSet, VecDeque};

use crate::change::{Change, EntityKind};
use crate::decision;
use crate::ids::{AccountId, GroupId, OrganizationId, RoleId};
use crate::model::{self, Account, Actor, ApiKey, MethodRef, Resource, Role, ViewRef};
use crate::snapshot::{OrgSnapshot, Snapshot};
use crate::{Error, Result};

/// Judges a write: `before` is the state the write started from, `pending` the changes it is about
/// to commit (all of one organization, as every write is).
pub fn review_write(before: &Snapshot, actor: &Actor, pending: &[Change]) -> Result<()> {
    let Some(first) = pending.first() else {
        return Ok(());
    };
    let org_id = first.organization_id;
    let mut after = before.clone();
    after.apply(pending)?;
    keeps_the_default_organization(before, &after, org_id)?;
    if let Some(account_id) = actor.account_id {
        review_grants(before, &after, actor, account_id, org_id, pending)?;
    }
    keeps_an_administrator(
        before.organization(org_id),
        after.organization(org_id),
        pending,
    )
}

/// The default organization is where partners come from: it is neither renamed nor deleted.
fn keeps_the_default_organization(
    before: &Snapshot,
    after: &Snapshot,
    org_id: OrganizationId,
) -> Result<()> {
    let is_default =
        |org: &OrgSnapshot| org.organization.name.as_str() == model::DEFAULT_ORGANIZATION;
    let was_default = before.organization(org_id).is_some_and(is_default);
    if was_default && !after.organization(org_id).is_some_and(is_default) {
        return Err(Error::BuiltIn {
            what: "organization",
            name: model::DEFAULT_ORGANIZATION.into(),
        });
    }
    Ok(())
}

/// Whether a resource change is what deleting its owner does to it: the owner cleared, because that
/// account is gone, and nothing else changed. Whoever may delete the account may do that.
fn owner_left_with_its_account(change: &Change, org_after: &OrgSnapshot) -> Result<bool> {
    if change.before.is_none() || change.after.is_none() {
        return Ok(false);
    }
    let before: Resource = change.before_as()?;
    let after: Resource = change.after_as()?;
    let owner_gone = before
        .owner
        .is_some_and(|owner| org_after.account(owner).is_none());
    Ok(owner_gone
        && after
            == Resource {
                owner: None,
                updated_at: after.updated_at,
                ..before
            })
}

/// Whether an account may log in as an administrator: active, with a password, holding `Admin`.
pub fn is_usable_administrator(org: &OrgSnapshot, account: &Account) -> bool {
    account.has_password && !account.inactive && org.index().holds_admin(account)
}

fn has_usable_administrator(org: &OrgSnapshot) -> bool {
    org.accounts()
        .any(|account| is_usable_administrator(org, account))
}

/// Refuses a write that takes an organization from having an administrator who can log in to
/// having none. Creating and deleting organizations are outside the rule (a new one has no
/// account yet; partners manage it).
fn keeps_an_administrator(
    before: Option<&OrgSnapshot>,
    after: Option<&OrgSnapshot>,
    pending: &[Change],
) -> Result<()> {
    let (Some(before), Some(after)) = (before, after) else {
        return Ok(());
    };
    let touches_standing = |change: &Change| {
        matches!(
            change.entity,
            EntityKind::Account | EntityKind::Group | EntityKind::Role
        )
    };
    if !pending.iter().any(touches_standing) {
        return Ok(());
    }
    // The usual write changes accounts that were not administrators: nothing to count.
    let only_accounts = pending
        .iter()
        .all(|change| change.entity == EntityKind::Account || !touches_standing(change));
    if only_accounts
        && !pending.iter().any(|change| {
            change.entity == EntityKind::Account
                && change
                    .entity_id
                    .parse::<AccountId>()
                    .ok()
                    .and_then(|id| before.account(id))
                    .is_some_and(|account| is_usable_administrator(before, account))
        })
    {
        return Ok(());
    }
    if has_usable_administrator(after) || !has_usable_administrator(before) {
        return Ok(());
    }
    Err(Error::LastAdministrator(format!(
        "organization `{}` would be left without an active administrator who can log in; \
         make another account an administrator first",
        after.organization.name
    )))
}

/// What a caller that is not an administrator holds in the organization it acts in.
struct Holdings<'a> {
    label: &'a str,
    roles: HashSet<RoleId>,
    methods: BTreeSet<MethodRef>,
    views: BTreeSet<ViewRef>,
}

impl Holdings<'_> {
    fn lists_only_what_is_held(&self, role: &Role) -> bool {
        role.methods
            .iter()
            .all(|method| self.methods.contains(method))
            && role.views.iter().all(|view| self.views.contains(view))
    }

    /// Whether granting the role gives nothing the caller does not hold.
    fn covers_role(&self, org: &OrgSnapshot, id: RoleId) -> bool {
        if self.roles.contains(&id) {
            return true;
        }
        // A role that does not exist grants nothing.
        org.role(id).is_none_or(|role| {
            !role.system && self.lists_only_what_is_held(role) && !bound_by_policy(org, id)
        })
    }

    /// Whether the caller may define the role this way.
    fn covers_definition(&self, org: &OrgSnapshot, role: &Role) -> Result<()> {
        if role.system {
            return Err(Error::BuiltIn {
                what: "role",
                name: role.name.to_string(),
            });
        }
        if !self.lists_only_what_is_held(role) {
            return Err(Error::Forbidden(format!(
                "`{}` may not give role `{}` methods or views it cannot use itself",
                self.label, role.name
            )));
        }
        if !self.roles.contains(&role.id) && bound_by_policy(org, role.id) {
            return Err(Error::Forbidden(format!(
                "`{}` may not change role `{}`: a policy grants it, and `{}` does not hold it",
                self.label, role.name, self.label
            )));
        }
        Ok(())
    }

    /// Refuses when the roles reached include one the caller does not cover.
    fn covers_reach(
        &self,
        org: &OrgSnapshot,
        what: &str,
        reached: &BTreeSet<RoleId>,
    ) -> Result<()> {
        match reached.iter().find(|role| !self.covers_role(org, **role)) {
            None => Ok(()),
            Some(role) => Err(Error::Forbidden(format!(
                "`{}` may not change {what}: it gives role `{}`, which `{}` does not hold",
                self.label,
                org.role(*role)
                    .map_or_else(|| role.to_string(), |role| role.name.to_string()),
                self.label
            ))),
        }
    }
}

fn bound_by_policy(org: &OrgSnapshot, role: RoleId) -> bool {
    org.policies().any(|policy| {
        policy
            .actions
            .iter()
            .any(|action| action.role_ids.contains(&role))
    })
}

/// Every role an account or group reaches: its own and those of every group above it, active or
/// not.
fn reach(org: &OrgSnapshot, roles: &[RoleId], groups: &[GroupId]) -> BTreeSet<RoleId> {
    let mut reached: BTreeSet<RoleId> = roles.iter().copied().collect();
    let mut seen: HashSet<GroupId> = HashSet::new();
    let mut queue: VecDeque<GroupId> = groups.iter().copied().collect();
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(group) = org.group(id) {
            reached.extend(group.roles.iter().copied());
            queue.extend(group.parents.iter().copied());
        }
    }
    reached
}

fn account_reach(org: &OrgSnapshot, id: AccountId) -> Option<(String, BTreeSet<RoleId>)> {
    org.account(id).map(|account| {
        (
            format!("account `{}`", account.username),
            reach(org, &account.roles, &account.groups),
        )
    })
}

fn review_grants(
    before: &Snapshot,
    after: &Snapshot,
    actor: &Actor,
    account_id: AccountId,
    org_id: OrganizationId,
    pending: &[Change],
) -> Result<()> {
    let label = actor.label.as_str();
    let home_id = actor.organization_id.unwrap_or(org_id);
    let home = before.organization(home_id);
    let account = home
        .and_then(|org| org.account(account_id))
        .ok_or_else(|| Error::Forbidden(format!("`{label}` no longer exists")))?;
    let home_admin = home.is_some_and(|org| decision::is_admin(org, account));
    let partner = home_admin
        && home.is_some_and(|org| org.organization.name.as_str() == model::DEFAULT_ORGANIZATION);
    if (home_admin && home_id == org_id) || partner {
        return Ok(());
    }
    let (Some(org_before), true) = (before.organization(org_id), home_id == org_id) else {
        return Err(Error::Forbidden(format!(
            "`{label}` may not act in organization `{org_id}`"
        )));
    };
    let Some(org_after) = after.organization(org_id) else {
        return Err(Error::Forbidden(format!(
            "`{label}` may not delete organization `{org_id}`"
        )));
    };
    let permissions = decision::effective_permissions(org_before, account);
    let holdings = Holdings {
        label,
        roles: permissions.roles.iter().map(|held| held.role).collect(),
        methods: permissions.methods,
        views: permissions.views,
    };
    for change in pending {
        match change.entity {
            EntityKind::Account => {
                let id: AccountId = change.entity_id.parse()?;
                let was = account_reach(org_before, id);
                let is = account_reach(org_after, id);
                // Another account is changed only when all it held was within the caller's
                // holdings; any account, the caller's own included, gains only what is.
                if id != account_id
                    && let Some((what, reached)) = &was
                {
                    holdings.covers_reach(org_before, what, reached)?;
                }
                if let Some((what, reached)) = &is {
                    let held_before = was.map(|(_, reached)| reached).unwrap_or_default();
                    let gained: BTreeSet<RoleId> =
                        reached.difference(&held_before).copied().collect();
                    holdings.covers_reach(org_after, what, &gained)?;
                }
            }
            EntityKind::Group => {
                let id: GroupId = change.entity_id.parse()?;
                for org in [org_before, org_after] {
                    if let Some(group) = org.group(id) {
                        let reached = reach(org, &group.roles, &[id]);
                        let what = format!("group `{}`", group.name);
                        holdings.covers_reach(org, &what, &reached)?;
                    }
                }
            }
            EntityKind::Role => {
                let id: RoleId = change.entity_id.parse()?;
                for org in [org_before, org_after] {
                    if let Some(role) = org.role(id) {
                        holdings.covers_definition(org, role)?;
                    }
                }
            }
            EntityKind::ApiKey => {
                let key: ApiKey = if change.after.is_some() {
                    change.after_as()?
                } else {
                    change.before_as()?
                };
                match key.account_id {
                    Some(holder) if holder == account_id => {}
                    Some(holder) => {
                        if let Some((what, reached)) = account_reach(org_before, holder) {
                            holdings.covers_reach(
                                org_before,
                                &format!("the keys of {what}"),
                                &reached,
                            )?;
                        }
                    }
                    // A decision key asks about every subject of the organization.
                    None => {
                        return Err(Error::Forbidden(format!(
                            "`{label}` may not change decision keys: only administrators of the organization may"
                        )));
                    }
                }
            }
            EntityKind::Resource if owner_left_with_its_account(change, org_after)? => {}
            EntityKind::Organization
            | EntityKind::Policy
            | EntityKind::Method
            | EntityKind::View
            | EntityKind::Resource => {
                return Err(Error::Forbidden(format!(
                    "`{label}` may not change {}s: only administrators of the organization may",
                    change.entity.as_str()
                )));
            }
        }
    }
    Ok(())
}
