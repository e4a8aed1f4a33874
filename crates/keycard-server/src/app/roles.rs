//! Roles: what they grant, and who may define them.

use keycard_core::Result;
use keycard_core::change::Revision;
use keycard_core::ids::RoleId;
use keycard_core::model::{NewRole, Role, RolePatch};
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::Written;

use super::{App, Caller, Operation};

impl App {
    pub async fn list_roles(&self, caller: &Caller, page: &PageRequest) -> Result<Page<Role>> {
        self.read(
            caller,
            Operation::ListRoles,
            None,
            move |store, org| async move { store.list_roles(org, page).await },
        )
        .await
    }

    /// The organization's system role of this name (`Admin`, `Member`).
    pub fn system_role(&self, caller: &Caller, name: &str) -> Result<RoleId> {
        let snapshot = self.read_snapshot(caller, Operation::ListRoles)?;
        super::organization(&snapshot, caller.organization)?
            .system_role(name)
            .ok_or_else(|| keycard_core::Error::not_found("role", name))
    }

    pub async fn read_role(&self, caller: &Caller, id: RoleId) -> Result<Role> {
        self.read(
            caller,
            Operation::ReadRole,
            None,
            move |store, org| async move { store.get_role(org, id).await },
        )
        .await
    }

    pub async fn create_role(&self, caller: &Caller, new: NewRole) -> Result<Written<Role>> {
        self.write(
            caller,
            Operation::CreateRole,
            None,
            move |store, actor, org| async move { store.create_role(&actor, org, new).await },
        )
        .await
    }

    /// Changes a role; system roles are refused.
    pub async fn update_role(
        &self,
        caller: &Caller,
        id: RoleId,
        patch: RolePatch,
    ) -> Result<Written<Role>> {
        self.write(
            caller,
            Operation::UpdateRole,
            None,
            move |store, actor, org| async move { store.update_role(&actor, org, id, patch).await },
        )
        .await
    }

    /// Deletes a role: accounts and groups lose it; policies keep its id, which grants nothing.
    pub async fn delete_role(&self, caller: &Caller, id: RoleId) -> Result<Revision> {
        self.commit(
            caller,
            Operation::DeleteRole,
            None,
            async |store, actor, org| store.delete_role(&actor, org, id).await,
        )
        .await
    }
}
