//! Policies: actions bound to roles, attached to resources.

use keycard_core::Result;
use keycard_core::change::Revision;
use keycard_core::ids::PolicyId;
use keycard_core::model::{NewPolicy, Policy, PolicyPatch, ResourceRef};
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::Written;

use super::{App, Caller, Operation};

impl App {
    pub async fn list_policies(&self, caller: &Caller, page: &PageRequest) -> Result<Page<Policy>> {
        self.read(
            caller,
            Operation::ListPolicies,
            None,
            move |store, org| async move { store.list_policies(org, page).await },
        )
        .await
    }

    /// Every policy of the organization, for faces that answer lists whole.
    pub async fn all_policies(&self, caller: &Caller) -> Result<Vec<Policy>> {
        self.read(caller, Operation::ListPolicies, None, move |store, org| {
            keycard_core::page::read_all(move |page| async move {
                store.list_policies(org, &page).await
            })
        })
        .await
    }

    pub async fn read_policy(&self, caller: &Caller, id: PolicyId) -> Result<Policy> {
        self.read(
            caller,
            Operation::ReadPolicy,
            None,
            move |store, org| async move { store.get_policy(org, id).await },
        )
        .await
    }

    /// Creates a policy; every role it names must exist.
    pub async fn create_policy(&self, caller: &Caller, new: NewPolicy) -> Result<Written<Policy>> {
        self.write(
            caller,
            Operation::CreatePolicy,
            None,
            move |store, actor, org| async move { store.create_policy(&actor, org, new).await },
        )
        .await
    }

    pub async fn update_policy(
        &self,
        caller: &Caller,
        id: PolicyId,
        patch: PolicyPatch,
    ) -> Result<Written<Policy>> {
        self.write(caller, Operation::UpdatePolicy, None, move |store, actor, org| async move {
            store.update_policy(&actor, org, id, patch).await
        })
        .await
    }

    /// Deletes a policy; what it granted is revoked at once.
    pub async fn delete_policy(&self, caller: &Caller, id: PolicyId) -> Result<Revision> {
        self.commit(
            caller,
            Operation::DeletePolicy,
            None,
            move |store, actor, org| async move { store.delete_policy(&actor, org, id).await },
        )
        .await
    }

    /// Attaches the policy to a resource (`attached`) or detaches it.
    pub async fn set_attachment(
        &self,
        caller: &Caller,
        id: PolicyId,
        resource: ResourceRef,
        attached: bool,
    ) -> Result<Written<Policy>> {
        self.write(
            caller,
            Operation::AttachPolicy,
            None,
            move |store, actor, org| async move {
                store
                    .set_attachment(&actor, org, id, resource, attached)
                    .await
            },
        )
        .await
    }
}
