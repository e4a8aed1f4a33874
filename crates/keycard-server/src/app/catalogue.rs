//! The catalogue: the methods and views that roles grant.

use keycard_core::Result;
use keycard_core::change::Revision;
use keycard_core::model::{Manifest, Method, View};
use keycard_core::names::Provenance;
use keycard_core::page::{Page, PageRequest};

use super::{App, Caller, Operation};

impl App {
    /// Adds or replaces every method and view of a manifest, in one write.
    pub async fn import_manifest(&self, caller: &Caller, manifest: Manifest) -> Result<Revision> {
        self.commit(caller, Operation::ImportCatalogue, None, move |store, actor, org| async move {
            store.import_manifest(&actor, org, manifest).await
        })
        .await
    }

    pub async fn list_methods(&self, caller: &Caller, page: &PageRequest) -> Result<Page<Method>> {
        self.read(
            caller,
            Operation::ListMethods,
            None,
            move |store, org| async move { store.list_methods(org, page).await },
        )
        .await
    }

    pub async fn list_views(&self, caller: &Caller, page: &PageRequest) -> Result<Page<View>> {
        self.read(
            caller,
            Operation::ListViews,
            None,
            move |store, org| async move { store.list_views(org, page).await },
        )
        .await
    }

    /// Removes a method from the catalogue (roles keep listing it).
    pub async fn delete_method(
        &self,
        caller: &Caller,
        provenance: &Provenance,
        name: &str,
    ) -> Result<Revision> {
        self.commit(
            caller,
            Operation::EditCatalogue,
            None,
            move |store, actor, org| async move {
                store.delete_method(&actor, org, provenance, name).await
            },
        )
        .await
    }

    /// Removes a view from the catalogue (roles keep listing it).
    pub async fn delete_view(
        &self,
        caller: &Caller,
        provenance: &Provenance,
        path: &str,
    ) -> Result<Revision> {
        self.commit(
            caller,
            Operation::EditCatalogue,
            None,
            move |store, actor, org| async move {
                store.delete_view(&actor, org, provenance, path).await
            },
        )
        .await
    }
}
