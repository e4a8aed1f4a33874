//! Who is asking: the authenticated account, the organization the request acts in, and its
//! standing there. Built by authentication (`crate::auth`), read by the access table.

use std::sync::Arc;

use keycard_core::Error;
use keycard_core::ids::{ApiKeyId, OrganizationId, SessionId};
use keycard_core::model::{Account, Actor};

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    Password,
    ApiKey(ApiKeyId),
    Session(SessionId),
    /// The operator of the deployment, who holds the database itself (`keycard admin`).
    Operator,
}

/// An authenticated caller and the organization the request acts in.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Shared with the snapshot when it came from there.
    pub account: Arc<Account>,
    /// The organization the request acts in: the account's own, or for a partner the one it named.
    pub organization: OrganizationId,
    /// Holds the acting organization's `Admin` role (partners are admins everywhere).
    pub admin: bool,
    /// An administrator of the default organization, who may act in every organization.
    pub partner: bool,
    pub credential: Credential,
}

impl Caller {
    /// Who the change log records as having made a write.
    pub fn actor(&self) -> Actor {
        match self.credential {
            // The operator is above the review of grants, as the database's owner already is.
            Credential::Operator => Actor {
                account_id: None,
                organization_id: None,
                label: self.account.username.to_string(),
            },
            _ => Actor::account(&self.account),
        }
    }

    /// The operator of the deployment acting in an organization: `keycard admin` commands, run by
    /// whoever holds the database. It is no account: it stands for the machine's owner, as an
    /// administrator of every organization, and the log records its writes as `cli`.
    pub fn operator(organization: OrganizationId) -> keycard_core::Result<Caller> {
        let now = chrono::Utc::now();
        let account = Account {
            id: keycard_core::ids::AccountId::new(),
            organization_id: organization,
            username: keycard_core::names::Username::try_from("cli")?,
            email: None,
            first_name: keycard_core::names::FirstName::default(),
            provenance: keycard_core::names::Provenance::local(),
            inactive: false,
            service_account: false,
            has_password: false,
            roles: Vec::new(),
            groups: Vec::new(),
            attributes: Default::default(),
            created_at: now,
            updated_at: now,
        };
        Ok(Caller {
            account: Arc::new(account),
            organization,
            admin: true,
            partner: true,
            credential: Credential::Operator,
        })
    }

    /// The same caller acting in another organization, which only partners may do.
    pub fn acting_in(&self, organization: OrganizationId) -> keycard_core::Result<Caller> {
        if organization == self.organization {
            return Ok(self.clone());
        }
        if !self.partner {
            return Err(Error::Forbidden(format!(
                "`{}` may not act in organization `{organization}`",
                self.account.username
            )));
        }
        Ok(Caller {
            organization,
            ..self.clone()
        })
    }
}
