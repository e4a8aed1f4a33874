//! The organization's webhook: administrators manage it; deliveries go only to hosts the operator
//! allows.

use keycard_core::Result;
use keycard_core::ids::WebhookId;
use keycard_core::webhook::{Delivery, DeliveryFilter, Endpoint, Webhook, WebhookSpec};

use super::{App, Caller, Operation};

impl App {
    fn webhook_spec(&self, endpoint: &str, secret: String) -> Result<WebhookSpec> {
        WebhookSpec::new(Endpoint::parse(endpoint, &self.webhook_hosts)?, secret)
    }

    pub async fn list_webhooks(&self, caller: &Caller) -> Result<Vec<Webhook>> {
        self.authorize(caller, Operation::ManageWebhooks)?;
        self.store.list_webhooks(caller.organization).await
    }

    pub async fn create_webhook(
        &self,
        caller: &Caller,
        endpoint: &str,
        secret: String,
    ) -> Result<Webhook> {
        self.authorize(caller, Operation::ManageWebhooks)?;
        let spec = self.webhook_spec(endpoint, secret)?;
        self.store.create_webhook(caller.organization, spec).await
    }

    pub async fn read_webhook(&self, caller: &Caller, id: WebhookId) -> Result<Webhook> {
        self.authorize(caller, Operation::ManageWebhooks)?;
        self.store.get_webhook(caller.organization, id).await
    }

    pub async fn update_webhook(
        &self,
        caller: &Caller,
        id: WebhookId,
        endpoint: &str,
        secret: String,
    ) -> Result<Webhook> {
        self.authorize(caller, Operation::ManageWebhooks)?;
        let spec = self.webhook_spec(endpoint, secret)?;
        self.store
            .update_webhook(caller.organization, id, spec)
            .await
    }

    pub async fn delete_webhook(&self, caller: &Caller, id: WebhookId) -> Result<()> {
        self.authorize(caller, Operation::ManageWebhooks)?;
        self.store.delete_webhook(caller.organization, id).await
    }

    pub async fn set_webhook_disabled(
        &self,
        caller: &Caller,
        id: WebhookId,
        disabled: bool,
    ) -> Result<Webhook> {
        self.authorize(caller, Operation::ManageWebhooks)?;
        self.store
            .set_webhook_disabled(caller.organization, id, disabled)
            .await
    }

    pub async fn list_deliveries(
        &self,
        caller: &Caller,
        id: WebhookId,
        filter: &DeliveryFilter,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        self.authorize(caller, Operation::ManageWebhooks)?;
        self.store
            .list_deliveries(caller.organization, id, filter, limit)
            .await
    }
}
