//! The access table: for every operation, who may perform it. One table for every face, so that
//! what a caller may do does not depend on the API it came through.
//!
//! This is the door of an operation. What a permitted write may grant is judged again, inside the
//! write's transaction, by `keycard_core::access::review_write` (ADR 0004): a caller allowed to
//! create roles still never creates one granting more than it holds.

use keycard_core::builtin::AUTHORIZATION_APP;
use keycard_core::decision;
use keycard_core::ids::AccountId;
use keycard_core::snapshot::{OrgSnapshot, Snapshot};
use keycard_core::{Error, Result};

use super::{App, Caller};

/// Who may perform an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Any authenticated caller.
    SignedIn,
    /// An administrator of the organization the request acts in (partners are administrators
    /// everywhere).
    Admin,
    /// An administrator, or the holder of a role that grants this method of the `Authorization`
    /// application: the delegation IAP's role editor offers.
    Delegated(&'static str),
    /// An administrator, or the caller acting on its own account.
    SelfOrAdmin,
    /// [`Rule::Delegated`], or the caller acting on its own account.
    SelfOrDelegated(&'static str),
    /// An administrator of the default organization, who manages every organization.
    Partner,
}

/// Every operation the application layer offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    ListRoles,
    ReadRole,
    CreateRole,
    UpdateRole,
    DeleteRole,
    ListGroups,
    ListGroupNames,
    ReadGroup,
    CreateGroup,
    UpdateGroup,
    DeleteGroup,
    ReadGroupMembers,
    ChangeMembership,
    ListAccounts,
    ReadAccount,
    CreateAccount,
    UpdateAccount,
    SetAttributes,
    DeleteAccount,
    EndSessions,
    ListMethods,
    ListViews,
    ExportDirectory,
    ApplyDirectory,
    ListApiKeys,
    IssueApiKey,
    ReplaceApiKeys,
    RevokeApiKey,
    ListDecisionKeys,
    IssueDecisionKey,
    RevokeDecisionKey,
    CreateServiceAccount,
    ListPolicies,
    ReadPolicy,
    CreatePolicy,
    UpdatePolicy,
    DeletePolicy,
    AttachPolicy,
    ListResources,
    ReadResource,
    CreateResource,
    UpdateResource,
    DeleteResource,
    UpsertResources,
    ImportCatalogue,
    EditCatalogue,
    ListOrganizations,
    ReadOrganization,
    CreateOrganization,
    UpdateOrganization,
    DeleteOrganization,
    ReadChanges,
    WatchChanges,
    WatchEverything,
    SetPassword,
    Decide,
    LookupSubjects,
    QueryPdp,
    DescribeSelf,
    ManageWebhooks,
}

impl Operation {
    /// Every operation, for the table's tests.
    pub const ALL: &[Operation] = &[
        Operation::ListRoles,
        Operation::ReadRole,
        Operation::CreateRole,
        Operation::UpdateRole,
        Operation::DeleteRole,
        Operation::ListGroups,
        Operation::ListGroupNames,
        Operation::ReadGroup,
        Operation::CreateGroup,
        Operation::UpdateGroup,
        Operation::DeleteGroup,
        Operation::ReadGroupMembers,
        Operation::ChangeMembership,
        Operation::ListAccounts,
        Operation::ReadAccount,
        Operation::CreateAccount,
        Operation::UpdateAccount,
        Operation::SetAttributes,
        Operation::DeleteAccount,
        Operation::EndSessions,
        Operation::ListMethods,
        Operation::ListViews,
        Operation::ExportDirectory,
        Operation::ApplyDirectory,
        Operation::ListApiKeys,
        Operation::IssueApiKey,
        Operation::ReplaceApiKeys,
        Operation::RevokeApiKey,
        Operation::ListDecisionKeys,
        Operation::IssueDecisionKey,
        Operation::RevokeDecisionKey,
        Operation::CreateServiceAccount,
        Operation::ListPolicies,
        Operation::ReadPolicy,
        Operation::CreatePolicy,
        Operation::UpdatePolicy,
        Operation::DeletePolicy,
        Operation::AttachPolicy,
        Operation::ListResources,
        Operation::ReadResource,
        Operation::CreateResource,
        Operation::UpdateResource,
        Operation::DeleteResource,
        Operation::UpsertResources,
        Operation::ImportCatalogue,
        Operation::EditCatalogue,
        Operation::ListOrganizations,
        Operation::ReadOrganization,
        Operation::CreateOrganization,
        Operation::UpdateOrganization,
        Operation::DeleteOrganization,
        Operation::ReadChanges,
        Operation::WatchChanges,
        Operation::WatchEverything,
        Operation::SetPassword,
        Operation::Decide,
        Operation::LookupSubjects,
        Operation::QueryPdp,
        Operation::DescribeSelf,
        Operation::ManageWebhooks,
    ];

    /// The table.
    pub const fn rule(self) -> Rule {
        use Operation::*;
        match self {
            ListRoles => Rule::Delegated("getRoles"),
            ReadRole => Rule::Delegated("getRole"),
            CreateRole => Rule::Delegated("createRole"),
            UpdateRole => Rule::Delegated("updateRole"),
            DeleteRole => Rule::Delegated("deleteRole"),
            ListGroups => Rule::Delegated("getGroups"),
            ListGroupNames => Rule::Delegated("getGroupsShortList"),
            ReadGroup => Rule::Delegated("getGroup"),
            CreateGroup => Rule::Delegated("createGroup"),
            UpdateGroup => Rule::Delegated("updateGroup"),
            DeleteGroup => Rule::Delegated("deleteGroup"),
            ReadGroupMembers => Rule::Admin,
            ChangeMembership => Rule::Admin,
            ListAccounts => Rule::Delegated("getAccounts"),
            ReadAccount => Rule::SelfOrDelegated("getAccount"),
            CreateAccount => Rule::Admin,
            UpdateAccount => Rule::Delegated("updateAccount"),
            // Attributes are what conditions decide on, for many accounts at once.
            SetAttributes => Rule::Admin,
            DeleteAccount => Rule::Admin,
            EndSessions => Rule::SelfOrDelegated("forceLogout"),
            ListMethods => Rule::Delegated("getMethods"),
            ListViews => Rule::Delegated("getViews"),
            ExportDirectory => Rule::Delegated("exportCsv"),
            // Accounts, groups, roles, policies and resources at once.
            ApplyDirectory => Rule::Admin,
            ListApiKeys => Rule::SelfOrAdmin,
            IssueApiKey => Rule::SelfOrAdmin,
            ReplaceApiKeys => Rule::Admin,
            RevokeApiKey => Rule::SelfOrAdmin,
            // A decision key asks about every subject of the organization.
            ListDecisionKeys | IssueDecisionKey | RevokeDecisionKey => Rule::Admin,
            CreateServiceAccount => Rule::Delegated("createServiceAccount"),
            ListPolicies => Rule::Admin,
            ReadPolicy => Rule::Admin,
            CreatePolicy => Rule::Admin,
            UpdatePolicy => Rule::Admin,
            DeletePolicy => Rule::Admin,
            AttachPolicy => Rule::Admin,
            // Resources and their attributes are what conditions decide on: as policies.
            ListResources | ReadResource | CreateResource | UpdateResource | DeleteResource
            | UpsertResources => Rule::Admin,
            ImportCatalogue => Rule::Admin,
            EditCatalogue => Rule::Admin,
            ListOrganizations => Rule::Partner,
            ReadOrganization => Rule::SignedIn,
            CreateOrganization => Rule::Partner,
            UpdateOrganization => Rule::Partner,
            DeleteOrganization => Rule::Partner,
            ReadChanges => Rule::Admin,
            WatchChanges => Rule::Admin,
            // Every organization's changes.
            WatchEverything => Rule::Partner,
            SetPassword => Rule::SelfOrAdmin,
            Decide => Rule::SelfOrAdmin,
            LookupSubjects => Rule::Admin,
            QueryPdp => Rule::Admin,
            DescribeSelf => Rule::SignedIn,
            // A webhook receives every event of the organization.
            ManageWebhooks => Rule::Admin,
        }
    }
}

impl Operation {
    /// Whether the operation asks for decisions (checks, lookups, searches): all that a decision
    /// key may do, about any subject of its organization.
    pub const fn asks_for_decisions(self) -> bool {
        matches!(
            self,
            Operation::Decide | Operation::LookupSubjects | Operation::QueryPdp
        )
    }
}

/// Whether `caller` may perform `operation` in `org`, the organization it acts in; `target` is the
/// account the operation acts on, when it acts on one.
pub fn permits(
    operation: Operation,
    caller: &Caller,
    org: &OrgSnapshot,
    target: Option<AccountId>,
) -> bool {
    if caller.is_decision_key() {
        return operation.asks_for_decisions();
    }
    allows(operation.rule(), caller, org, target)
}

/// Whether `caller`, an account or the operator, may perform an operation under `rule` in `org`.
fn allows(rule: Rule, caller: &Caller, org: &OrgSnapshot, target: Option<AccountId>) -> bool {
    match rule {
        Rule::SignedIn => true,
        Rule::Admin => caller.admin,
        Rule::Partner => caller.partner,
        Rule::SelfOrAdmin => caller.admin || acts_on_itself(caller, target),
        Rule::Delegated(method) => caller.admin || holds_method(caller, org, method),
        Rule::SelfOrDelegated(method) => {
            caller.admin || acts_on_itself(caller, target) || holds_method(caller, org, method)
        }
    }
}

/// The caller acts on its own account, in its own organization.
fn acts_on_itself(caller: &Caller, target: Option<AccountId>) -> bool {
    caller.account().is_some_and(|account| {
        target == Some(account.id) && caller.organization == account.organization_id
    })
}

/// A role of the caller grants this method of the `Authorization` application.
fn holds_method(caller: &Caller, org: &OrgSnapshot, method: &str) -> bool {
    caller.account().is_some_and(|account| {
        decision::decide_for(
            org,
            account,
            "call",
            "method",
            &format!("{AUTHORIZATION_APP}/{method}"),
            &decision::Facts::default(),
        )
        .allowed
    })
}

/// Why `operation` was refused to `caller`.
fn refusal(operation: Operation, caller: &Caller) -> Error {
    let who = caller.name();
    if caller.is_decision_key() {
        return Error::Forbidden(format!("{who} may only ask for decisions"));
    }
    Error::Forbidden(match operation.rule() {
        Rule::Partner => format!("{who} is not an administrator of the default organization"),
        Rule::Delegated(method) | Rule::SelfOrDelegated(method) => format!(
            "{who} may not call `{method}`: it needs the `Admin` role or a role granting `{AUTHORIZATION_APP}/{method}`"
        ),
        Rule::SelfOrAdmin => {
            format!("{who} is not an administrator of this organization nor the account itself")
        }
        Rule::SignedIn | Rule::Admin => {
            format!("{who} is not an administrator of this organization")
        }
    })
}

impl App {
    /// Lets the operation go ahead when the table allows it to the caller.
    pub fn authorize(&self, caller: &Caller, operation: Operation) -> Result<()> {
        self.authorize_on(caller, operation, None)
    }

    /// [`App::authorize`] for an operation on one account.
    pub fn authorize_on(
        &self,
        caller: &Caller,
        operation: Operation,
        target: Option<AccountId>,
    ) -> Result<()> {
        judge(&self.snapshot(), caller, operation, target)
    }
}

/// The table's answer for `caller` in `snapshot`: the organization it acts in must exist there.
pub(super) fn judge(
    snapshot: &Snapshot,
    caller: &Caller,
    operation: Operation,
    target: Option<AccountId>,
) -> Result<()> {
    let org = super::organization(snapshot, caller.organization)?;
    if permits(operation, caller, org, target) {
        Ok(())
    } else {
        Err(refusal(operation, caller))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use keycard_core::ids::{AccountId, OrganizationId, RoleId};
    use keycard_core::model::{Account, MethodRef, NewAccount, Organization, Role};
    use keycard_core::names::{Description, Provenance, RoleName, Username};
    use keycard_core::snapshot::{Snapshot, SnapshotBuilder};
    use keycard_core::store::StateItem;

    use super::*;
    use crate::app::{Caller, Credential, Identity};

    #[test]
    fn every_delegated_operation_names_a_method_of_the_authorization_catalogue() {
        for operation in Operation::ALL {
            if let Rule::Delegated(method) | Rule::SelfOrDelegated(method) = operation.rule() {
                assert!(
                    keycard_core::builtin::AUTHORIZATION_METHODS
                        .iter()
                        .any(|(known, ..)| *known == method),
                    "{operation:?} names `{method}`, which the catalogue lacks"
                );
            }
        }
    }

    #[test]
    fn the_table_lists_each_operation_once() {
        let mut seen = std::collections::HashSet::new();
        for operation in Operation::ALL {
            assert!(seen.insert(operation), "{operation:?} is listed twice");
        }
    }

    /// An organization with a role granting `Authorization/updateAccount`, held by `editor`;
    /// `plain` holds nothing.
    struct Fixture {
        snapshot: Snapshot,
        org: OrganizationId,
        editor: Account,
        plain: Account,
    }

    fn account(org: OrganizationId, username: &str, roles: Vec<RoleId>) -> Account {
        let new = NewAccount::local(Username::try_from(username).unwrap());
        Account {
            id: AccountId::new(),
            organization_id: org,
            username: new.username,
            email: None,
            first_name: new.first_name,
            provenance: new.provenance,
            inactive: false,
            service_account: false,
            has_password: true,
            roles,
            groups: Vec::new(),
            attributes: Default::default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn fixture() -> Fixture {
        let org = OrganizationId::new();
        let now = chrono::Utc::now();
        let role = Role {
            id: RoleId::new(),
            organization_id: org,
            name: RoleName::try_from("account editor").unwrap(),
            description: Description::default(),
            provenance: Provenance::custom(),
            system: false,
            inactive: false,
            methods: vec![MethodRef {
                provenance: Provenance::try_from(AUTHORIZATION_APP).unwrap(),
                name: "updateAccount".into(),
            }],
            views: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        let editor = account(org, "editor", vec![role.id]);
        let plain = account(org, "plain", Vec::new());
        let mut builder = SnapshotBuilder::default();
        for item in [
            StateItem::Organization(Organization {
                id: org,
                name: "acme".to_owned().try_into().unwrap(),
                actions: Vec::new(),
                sso: Default::default(),
                created_at: now,
                updated_at: now,
            }),
            StateItem::Role(role),
            StateItem::Account(editor.clone()),
            StateItem::Account(plain.clone()),
        ] {
            builder.add(item).unwrap();
        }
        Fixture {
            snapshot: builder.finish(),
            org,
            editor,
            plain,
        }
    }

    fn caller(account: &Account, admin: bool, partner: bool) -> Caller {
        Caller {
            principal: Identity::Account(Arc::new(account.clone())),
            organization: account.organization_id,
            admin,
            partner,
            credential: Credential::Password,
        }
    }

    /// Each rule, judged for each kind of caller, as the table means it.
    #[test]
    fn each_rule_allows_exactly_its_callers() {
        let f = fixture();
        let org = f.snapshot.organization(f.org).unwrap();
        let plain = caller(&f.plain, false, false);
        let editor = caller(&f.editor, false, false);
        let admin = caller(&f.plain, true, false);
        let partner = caller(&f.plain, true, true);
        let other = Some(f.editor.id);
        let own = Some(f.plain.id);
        let cases = [
            (Rule::SignedIn, &plain, None, true),
            (Rule::Admin, &plain, None, false),
            (Rule::Admin, &editor, None, false),
            (Rule::Admin, &admin, None, true),
            (Rule::Partner, &admin, None, false),
            (Rule::Partner, &partner, None, true),
            (Rule::SelfOrAdmin, &plain, own, true),
            (Rule::SelfOrAdmin, &plain, other, false),
            (Rule::SelfOrAdmin, &admin, other, true),
            (Rule::Delegated("updateAccount"), &editor, None, true),
            (Rule::Delegated("updateAccount"), &plain, None, false),
            (Rule::Delegated("updateRole"), &editor, None, false),
            (Rule::Delegated("updateRole"), &admin, None, true),
            (Rule::SelfOrDelegated("forceLogout"), &plain, own, true),
            (Rule::SelfOrDelegated("forceLogout"), &plain, other, false),
            (Rule::SelfOrDelegated("forceLogout"), &editor, own, false),
        ];
        for (rule, who, target, expected) in cases {
            assert_eq!(
                allows(rule, who, org, target),
                expected,
                "{rule:?} for `{}` (admin {}, partner {}) on {target:?}",
                who.name(),
                who.admin,
                who.partner
            );
        }
    }

    /// A decision key asks for decisions about anyone of its organization, and does nothing else.
    #[test]
    fn a_decision_key_may_only_ask_for_decisions() {
        let f = fixture();
        let org = f.snapshot.organization(f.org).unwrap();
        let id = keycard_core::ids::ApiKeyId::new();
        let key = Caller {
            principal: Identity::DecisionKey {
                id,
                organization: f.org,
            },
            organization: f.org,
            admin: false,
            partner: false,
            credential: Credential::ApiKey(id),
        };
        let asks = [
            Operation::Decide,
            Operation::LookupSubjects,
            Operation::QueryPdp,
        ];
        for operation in Operation::ALL {
            for target in [None, Some(f.editor.id)] {
                assert_eq!(
                    permits(*operation, &key, org, target),
                    asks.contains(operation),
                    "{operation:?} on {target:?}"
                );
            }
        }
        assert!(key.actor().is_err(), "a decision key never writes");
    }

    /// A partner acting in another organization acts on no account of its own there.
    #[test]
    fn acting_elsewhere_is_not_acting_on_oneself() {
        let f = fixture();
        let org = f.snapshot.organization(f.org).unwrap();
        let mut visitor = caller(&f.plain, false, false);
        visitor.organization = OrganizationId::new();
        assert!(!allows(Rule::SelfOrAdmin, &visitor, org, Some(f.plain.id)));
    }
}
