//! What every new organization starts with: the system roles, the method catalogue of the
//! Authorization application (the API the Itential face serves) and its built-in roles.

use crate::model::{
    self, Manifest, Method, MethodRef, NewOrganization, NewRole, Route, View, ViewRef,
};
use crate::names::{OrganizationName, Provenance, RoleName};

/// The application whose methods guard the Itential authorization API.
pub const AUTHORIZATION_APP: &str = "Authorization";

/// The Authorization application's methods: name, HTTP verb, full route, and whether it only reads.
pub const AUTHORIZATION_METHODS: &[(&str, &str, &str, bool)] = &[
    ("getRoles", "GET", "/authorization/roles", true),
    ("getRole", "GET", "/authorization/roles/:roleId", true),
    ("createRole", "POST", "/authorization/roles", false),
    ("updateRole", "PATCH", "/authorization/roles/:roleId", false),
    (
        "deleteRole",
        "DELETE",
        "/authorization/roles/:roleId",
        false,
    ),
    ("getGroups", "GET", "/authorization/groups", true),
    (
        "getGroupsShortList",
        "GET",
        "/authorization/groups/list",
        true,
    ),
    ("getGroup", "GET", "/authorization/groups/:groupId", true),
    ("createGroup", "POST", "/authorization/groups", false),
    (
        "updateGroup",
        "PATCH",
        "/authorization/groups/:groupId",
        false,
    ),
    (
        "deleteGroup",
        "DELETE",
        "/authorization/groups/:groupId",
        false,
    ),
    ("getAccounts", "GET", "/authorization/accounts", true),
    (
        "getAccount",
        "GET",
        "/authorization/accounts/:accountId",
        true,
    ),
    (
        "updateAccount",
        "PATCH",
        "/authorization/accounts/:accountId",
        false,
    ),
    (
        "forceLogout",
        "POST",
        "/authorization/accounts/:accountId/forceLogout",
        false,
    ),
    ("getMethods", "GET", "/authorization/methods", true),
    ("getViews", "GET", "/authorization/views", true),
    ("exportCsv", "GET", "/authorization/csv/export", true),
    (
        "createServiceAccount",
        "POST",
        "/oauth/serviceAccounts",
        false,
    ),
];

/// The Authorization application's views.
pub const AUTHORIZATION_VIEWS: &[&str] = &[
    "/authorization",
    "/authorization/roles",
    "/authorization/groups",
    "/authorization/accounts",
];

/// Built-in role holding every Authorization method and view.
pub const AUTHORIZATION_ADMIN_ROLE: &str = "admin";
/// Built-in role holding the Authorization methods that only read.
pub const AUTHORIZATION_READ_ROLE: &str = "apiread";

fn provenance(value: &str) -> crate::Result<Provenance> {
    Provenance::try_from(value)
}

/// The Authorization application's catalogue entries.
pub fn authorization_manifest() -> crate::Result<Manifest> {
    let app = provenance(AUTHORIZATION_APP)?;
    Ok(Manifest {
        methods: AUTHORIZATION_METHODS
            .iter()
            .map(|(name, verb, path, _)| Method {
                provenance: app.clone(),
                name: (*name).to_owned(),
                deprecated: false,
                route: Some(Route {
                    verb: (*verb).to_owned(),
                    path: (*path).to_owned(),
                }),
            })
            .collect(),
        views: AUTHORIZATION_VIEWS
            .iter()
            .map(|path| View {
                provenance: app.clone(),
                path: (*path).to_owned(),
            })
            .collect(),
    })
}

fn system_role(
    name: &str,
    description: &str,
    provenance_name: &str,
    methods: Vec<MethodRef>,
    views: Vec<ViewRef>,
) -> crate::Result<NewRole> {
    Ok(NewRole {
        name: RoleName::try_from(name)?,
        description: crate::names::Description::try_from(description)?,
        provenance: provenance(provenance_name)?,
        system: true,
        inactive: false,
        methods,
        views,
    })
}

/// A new organization with its system roles, the Authorization catalogue and its built-in roles.
pub fn standard_organization(name: OrganizationName) -> crate::Result<NewOrganization> {
    let app = provenance(AUTHORIZATION_APP)?;
    let method_refs = |read_only: bool| -> Vec<MethodRef> {
        AUTHORIZATION_METHODS
            .iter()
            .filter(|(_, _, _, reads)| *reads || !read_only)
            .map(|(name, ..)| MethodRef {
                provenance: app.clone(),
                name: (*name).to_owned(),
            })
            .collect()
    };
    let views: Vec<ViewRef> = AUTHORIZATION_VIEWS
        .iter()
        .map(|path| ViewRef {
            provenance: app.clone(),
            path: (*path).to_owned(),
        })
        .collect();
    Ok(NewOrganization {
        name,
        actions: model::default_actions()?,
        sso: model::SsoSettings::default(),
        roles: vec![
            system_role(
                model::ADMIN_ROLE,
                "May do anything in the organization.",
                model::SYSTEM_PROVENANCE,
                Vec::new(),
                Vec::new(),
            )?,
            system_role(
                model::MEMBER_ROLE,
                "Every member of the organization.",
                model::SYSTEM_PROVENANCE,
                Vec::new(),
                Vec::new(),
            )?,
            system_role(
                AUTHORIZATION_ADMIN_ROLE,
                "Manages accounts, groups and roles through the authorization API.",
                AUTHORIZATION_APP,
                method_refs(false),
                views.clone(),
            )?,
            system_role(
                AUTHORIZATION_READ_ROLE,
                "Reads accounts, groups and roles through the authorization API.",
                AUTHORIZATION_APP,
                method_refs(true),
                views,
            )?,
        ],
        manifest: authorization_manifest()?,
    })
}
