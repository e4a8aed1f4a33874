//! Registered resources: what conditions read as `resource`, beside what a request says of it.

use keycard_core::Result;
use keycard_core::change::Revision;
use keycard_core::model::{NewResource, Resource, ResourcePatch};
use keycard_core::names::{ResourceId, ResourceType};
use keycard_core::page::{Page, PageRequest};
use keycard_core::store::{UpsertCount, Written};

use super::{App, Caller, Operation};

impl App {
    /// The organization's resources in (type, id) order, of one type when it is given.
    pub async fn list_resources(
        &self,
        caller: &Caller,
        resource_type: Option<&ResourceType>,
        page: &PageRequest,
    ) -> Result<Page<Resource>> {
        self.read(
            caller,
            Operation::ListResources,
            None,
            move |store, org| async move { store.list_resources(org, resource_type, page).await },
        )
        .await
    }

    pub async fn read_resource(
        &self,
        caller: &Caller,
        resource_type: &ResourceType,
        id: &ResourceId,
    ) -> Result<Resource> {
        self.read(
            caller,
            Operation::ReadResource,
            None,
            move |store, org| async move { store.get_resource(org, resource_type, id).await },
        )
        .await
    }

    pub async fn create_resource(
        &self,
        caller: &Caller,
        new: NewResource,
    ) -> Result<Written<Resource>> {
        self.write(
            caller,
            Operation::CreateResource,
            None,
            move |store, actor, org| async move { store.create_resource(&actor, org, new).await },
        )
        .await
    }

    pub async fn update_resource(
        &self,
        caller: &Caller,
        resource_type: &ResourceType,
        id: &ResourceId,
        patch: ResourcePatch,
    ) -> Result<Written<Resource>> {
        self.write(
            caller,
            Operation::UpdateResource,
            None,
            move |store, actor, org| async move {
                store
                    .update_resource(&actor, org, resource_type, id, patch)
                    .await
            },
        )
        .await
    }

    pub async fn delete_resource(
        &self,
        caller: &Caller,
        resource_type: &ResourceType,
        id: &ResourceId,
    ) -> Result<Revision> {
        self.commit(
            caller,
            Operation::DeleteResource,
            None,
            async |store, actor, org| store.delete_resource(&actor, org, resource_type, id).await,
        )
        .await
    }

    /// Registers or replaces up to [`super::MAX_BULK`] resources in one write.
    pub async fn upsert_resources(
        &self,
        caller: &Caller,
        resources: Vec<NewResource>,
    ) -> Result<Written<UpsertCount>> {
        self.write(
            caller,
            Operation::UpsertResources,
            None,
            move |store, actor, org| async move {
                super::within_bulk_limit("resources", resources.len())?;
                store.upsert_resources(&actor, org, resources).await
            },
        )
        .await
    }
}
