//! Roles: what they grant, and who may define them.

use keycard_core::Result;
use keycard_core::change::Revision;
use keycard_core::ids::RoleId;
use keycard_core::model::{NewRole, Role, RolePatch};
use keycard_core::names::validate_description;
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::Written;

use super::{App, Caller, Operation};

impl App {
    pub async fn list_roles(&self, caller: &Caller, page: &PageRequest) -> Result<Page<Role>> {
        self.authorize(caller, Operation::ListRoles)?;
        self.store.list_roles(caller.organization, page).await
    }

    pub async fn read_role(&self, caller: &Caller, id: RoleId) -> Result<Role> {
        self.authorize(caller, Operation::ReadRole)?;
        self.store.get_role(caller.organization, id).await
    }

    pub async fn create_role(&self, caller: &Caller, new: NewRole) -> Result<Written<Role>> {
        self.authorize(caller, Operation::CreateRole)?;
        validate_description(&new.description)?;
        let written = self
            .store
            .create_role(&caller.actor(), caller.organization, new)
            .await?;
        self.visible(written).await
    }

    /// Changes a role; system roles are refused.
    pub async fn update_role(
        &self,
        caller: &Caller,
        id: RoleId,
        patch: RolePatch,
    ) -> Result<Written<Role>> {
        self.authorize(caller, Operation::UpdateRole)?;
        if let Some(description) = &patch.description {
            validate_description(description)?;
        }
        let written = self
            .store
            .update_role(&caller.actor(), caller.organization, id, patch)
            .await?;
        self.visible(written).await
    }

    /// Deletes a role: accounts and groups lose it; policies keep its id, which grants nothing.
    pub async fn delete_role(&self, caller: &Caller, id: RoleId) -> Result<Revision> {
        self.authorize(caller, Operation::DeleteRole)?;
        let revision = self
            .store
            .delete_role(&caller.actor(), caller.organization, id)
            .await?;
        self.committed(revision).await
    }
}
