//! Organizations, the tenants: partners (administrators of the default organization) manage them.

use keycard_core::change::Revision;
use keycard_core::ids::OrganizationId;
use keycard_core::model::{NewOrganization, Organization, OrganizationPatch};
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::Written;
use keycard_core::{Error, Result};

use super::{App, Caller, Operation};

impl App {
    pub async fn list_organizations(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<Page<Organization>> {
        self.read(
            caller,
            Operation::ListOrganizations,
            None,
            move |store, _| async move { store.list_organizations(page).await },
        )
        .await
    }

    /// Every organization, for faces that answer lists whole.
    pub async fn all_organizations(&self, caller: &Caller) -> Result<Vec<Organization>> {
        self.read(
            caller,
            Operation::ListOrganizations,
            None,
            move |store, _| {
                keycard_core::page::read_all(move |page| async move {
                    store.list_organizations(&page).await
                })
            },
        )
        .await
    }

    /// Reads an organization: partners read any, others only their own (another one is not
    /// found, as it would be in another deployment).
    pub async fn read_organization(
        &self,
        caller: &Caller,
        id: OrganizationId,
    ) -> Result<Organization> {
        self.read(
            caller,
            Operation::ReadOrganization,
            None,
            move |store, _| async move {
                if !caller.partner
                    && caller.account().map(|account| account.organization_id) != Some(id)
                {
                    return Err(Error::not_found("organization", id));
                }
                store.get_organization(id).await
            },
        )
        .await
    }

    /// The organization the caller acts in, as the snapshot holds it.
    pub fn acting_organization(&self, caller: &Caller) -> Result<std::sync::Arc<Organization>> {
        let snapshot = self.read_snapshot(caller, Operation::ReadOrganization)?;
        Ok(super::organization(&snapshot, caller.organization)?
            .organization
            .clone())
    }

    /// Creates an organization with what `new` starts it with (its system roles, its catalogue).
    pub async fn create_organization(
        &self,
        caller: &Caller,
        new: NewOrganization,
    ) -> Result<Written<Organization>> {
        self.write(
            caller,
            Operation::CreateOrganization,
            None,
            move |store, actor, _| async move { store.create_organization(&actor, new).await },
        )
        .await
    }

    pub async fn update_organization(
        &self,
        caller: &Caller,
        id: OrganizationId,
        patch: OrganizationPatch,
    ) -> Result<Written<Organization>> {
        self.write(caller, Operation::UpdateOrganization, None, move |store, actor, _| async move {
            store.update_organization(&actor, id, patch).await
        })
        .await
    }

    /// Deletes an organization and everything in it; the default organization cannot be deleted.
    pub async fn delete_organization(
        &self,
        caller: &Caller,
        id: OrganizationId,
    ) -> Result<Revision> {
        self.commit(
            caller,
            Operation::DeleteOrganization,
            None,
            move |store, actor, _| async move { store.delete_organization(&actor, id).await },
        )
        .await
    }
}
