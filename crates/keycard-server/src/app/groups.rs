//! Groups, their nesting, their members and their roles.

use keycard_core::Result;
use keycard_core::change::Revision;
use keycard_core::ids::GroupId;
use keycard_core::model::{Group, GroupPatch, Link, NewGroup};
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::{GroupMembers, Written};

use super::{App, Caller, Operation};

impl App {
    pub async fn list_groups(&self, caller: &Caller, page: &PageRequest) -> Result<Page<Group>> {
        self.read(
            caller,
            Operation::ListGroups,
            None,
            move |store, org| async move { store.list_groups(org, page).await },
        )
        .await
    }

    pub async fn read_group(&self, caller: &Caller, id: GroupId) -> Result<Group> {
        self.read(
            caller,
            Operation::ReadGroup,
            None,
            move |store, org| async move { store.get_group(org, id).await },
        )
        .await
    }

    pub async fn create_group(&self, caller: &Caller, new: NewGroup) -> Result<Written<Group>> {
        self.write(
            caller,
            Operation::CreateGroup,
            None,
            move |store, actor, org| async move { store.create_group(&actor, org, new).await },
        )
        .await
    }

    pub async fn update_group(
        &self,
        caller: &Caller,
        id: GroupId,
        patch: GroupPatch,
    ) -> Result<Written<Group>> {
        self.write(
            caller,
            Operation::UpdateGroup,
            None,
            move |store, actor, org| async move {
                store.update_group(&actor, org, id, patch).await
            },
        )
        .await
    }

    /// Deletes a group; its members and child groups lose the membership.
    pub async fn delete_group(&self, caller: &Caller, id: GroupId) -> Result<Revision> {
        self.commit(
            caller,
            Operation::DeleteGroup,
            None,
            async |store, actor, org| store.delete_group(&actor, org, id).await,
        )
        .await
    }

    pub async fn group_members(&self, caller: &Caller, id: GroupId) -> Result<GroupMembers> {
        self.read(
            caller,
            Operation::ReadGroupMembers,
            None,
            async |store, org| store.group_members(org, id).await,
        )
        .await
    }

    /// Adds (`add`) or removes one membership or role assignment.
    pub async fn change_link(&self, caller: &Caller, link: Link, add: bool) -> Result<Revision> {
        self.commit(
            caller,
            Operation::ChangeMembership,
            None,
            move |store, actor, org| async move {
                if add {
                    store.add_link(&actor, org, link).await
                } else {
                    store.remove_link(&actor, org, link).await
                }
            },
        )
        .await
    }
}
