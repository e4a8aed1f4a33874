//! Who is asking: the authenticated account (or decision key, or operator), the organization the
//! request acts in, and its standing there. Built by authentication (`crate::auth`), read by the access table.

use std::sync::Arc;

use keycard_core::Error;
use keycard_core::ids::{ApiKeyId, OrganizationId, SessionId};
use keycard_core::model::{Account, Actor};

/// How the change log names the operator's writes.
const OPERATOR: &str = "cli";

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    Password,
    ApiKey(ApiKeyId),
    Session(SessionId),
    /// The operator of the deployment, who holds the database itself (`keycard admin`).
    Operator,
}

/// Who authenticated.
#[derive(Clone, Debug)]
pub enum Identity {
    /// An account of the directory; shared with the snapshot when it came from there.
    Account(Arc<Account>),
    /// One of the organization's decision keys, held by its policy enforcement points. It is no
    /// account: it asks for decisions about the directory's subjects and is never one of them.
    DecisionKey {
        id: ApiKeyId,
        organization: OrganizationId,
    },
    /// The operator of the deployment, who holds the database itself (`keycard admin`). It is no
    /// account either: it stands for the machine's owner, an administrator of every organization.
    Operator,
}

/// An authenticated caller and the organization the request acts in.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Identity,
    /// The organization the request acts in: the account's own, or for a partner the one it named.
    pub organization: OrganizationId,
    /// Holds the acting organization's `Admin` role (partners are admins everywhere).
    pub admin: bool,
    /// An administrator of the default organization, who may act in every organization.
    pub partner: bool,
    pub credential: Credential,
}

impl Caller {
    /// The account the caller is, when it is one.
    pub fn account(&self) -> Option<&Arc<Account>> {
        match &self.principal {
            Identity::Account(account) => Some(account),
            Identity::DecisionKey { .. } | Identity::Operator => None,
        }
    }

    /// The account the caller is, for an operation only an account may perform.
    pub fn require_account(&self) -> keycard_core::Result<&Arc<Account>> {
        self.account().ok_or_else(|| {
            Error::Forbidden(format!(
                "{} is no account: it may only ask for decisions",
                self.name()
            ))
        })
    }

    /// The caller as messages and the change log name it.
    pub fn name(&self) -> String {
        match &self.principal {
            Identity::Account(account) => format!("`{}`", account.username),
            Identity::DecisionKey { id, .. } => format!("decision key `{id}`"),
            Identity::Operator => format!("`{OPERATOR}`"),
        }
    }

    /// Whether the caller is a decision key, which may only ask for decisions.
    pub fn is_decision_key(&self) -> bool {
        matches!(self.principal, Identity::DecisionKey { .. })
    }

    /// Who the change log records as having made a write. A decision key writes nothing: the
    /// access table refuses it every write, and this refuses it again.
    pub fn actor(&self) -> keycard_core::Result<Actor> {
        match &self.principal {
            Identity::Account(account) => Ok(Actor::account(account)),
            // The operator is above the review of grants, as the database's owner already is.
            Identity::Operator => Ok(Actor {
                account_id: None,
                organization_id: None,
                label: OPERATOR.to_owned(),
            }),
            Identity::DecisionKey { .. } => Err(Error::Forbidden(format!(
                "{} may not write: it may only ask for decisions",
                self.name()
            ))),
        }
    }

    /// The operator of the deployment acting in an organization: `keycard admin` commands, run by
    /// whoever holds the database. The log records its writes as `cli`.
    pub fn operator(organization: OrganizationId) -> Caller {
        Caller {
            principal: Identity::Operator,
            organization,
            admin: true,
            partner: true,
            credential: Credential::Operator,
        }
    }

    /// The same caller acting in another organization, which only partners may do.
    pub fn acting_in(&self, organization: OrganizationId) -> keycard_core::Result<Caller> {
        if organization == self.organization {
            return Ok(self.clone());
        }
        if !self.partner {
            return Err(Error::Forbidden(format!(
                "{} may not act in organization `{organization}`",
                self.name()
            )));
        }
        Ok(Caller {
            organization,
            ..self.clone()
        })
    }
}
