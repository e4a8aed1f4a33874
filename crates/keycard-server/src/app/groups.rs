//! Groups, their nesting, their members and their roles.

use keycard_core::Result;
use keycard_core::change::Revision;
use keycard_core::ids::GroupId;
use keycard_core::model::{Group, GroupPatch, Link, NewGroup};
use keycard_core::names::validate_description;
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::{GroupMembers, Written};

use super::{App, Caller, Operation};

impl App {
    pub async fn list_groups(&self, caller: &Caller, page: &PageRequest) -> Result<Page<Group>> {
        self.authorize(caller, Operation::ListGroups)?;
        self.store.list_groups(caller.organization, page).await
    }

    pub async fn read_group(&self, caller: &Caller, id: GroupId) -> Result<Group> {
        self.authorize(caller, Operation::ReadGroup)?;
        self.store.get_group(caller.organization, id).await
    }

    pub async fn create_group(&self, caller: &Caller, new: NewGroup) -> Result<Written<Group>> {
        self.authorize(caller, Operation::CreateGroup)?;
        validate_description(&new.description)?;
        let written = self
            .store
            .create_group(&caller.actor(), caller.organization, new)
            .await?;
        self.visible(written).await
    }

    pub async fn update_group(
        &self,
        caller: &Caller,
        id: GroupId,
        patch: GroupPatch,
    ) -> Result<Written<Group>> {
        self.authorize(caller, Operation::UpdateGroup)?;
        if let Some(description) = &patch.description {
            validate_description(description)?;
        }
        let written = self
            .store
            .update_group(&caller.actor(), caller.organization, id, patch)
            .await?;
        self.visible(written).await
    }

    /// Deletes a group; its members and child groups lose the membership.
    pub async fn delete_group(&self, caller: &Caller, id: GroupId) -> Result<Revision> {
        self.authorize(caller, Operation::DeleteGroup)?;
        let revision = self
            .store
            .delete_group(&caller.actor(), caller.organization, id)
            .await?;
        self.committed(revision).await
    }

    pub async fn group_members(&self, caller: &Caller, id: GroupId) -> Result<GroupMembers> {
        self.authorize(caller, Operation::ReadGroupMembers)?;
        self.store.group_members(caller.organization, id).await
    }

    /// Adds (`add`) or removes one membership or role assignment.
    pub async fn change_link(&self, caller: &Caller, link: Link, add: bool) -> Result<Revision> {
        self.authorize(caller, Operation::ChangeMembership)?;
        let actor = caller.actor();
        let revision = if add {
            self.store
                .add_link(&actor, caller.organization, link)
                .await?
        } else {
            self.store
                .remove_link(&actor, caller.organization, link)
                .await?
        };
        self.committed(revision).await
    }
}
