//! How the benchmarks put a workload into cedar-policy: entity ids, and the roles and users as
//! entities (each user a member of its roles). Shared by the benchmarks that run cedar.

// Each benchmark compiles this module on its own and uses a part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::str::FromStr;

use cedar_policy::{Entity, EntityUid, RestrictedExpression};
use keycard_bench::{Workload, role_name, user_name};

pub fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_str(&format!("{kind}::\"{id}\"")).unwrap()
}

/// A type name as a cedar entity type (`type3` becomes `Type3`).
pub fn capitalised(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The workload's roles, and its users as members of their roles.
pub fn roles_and_users(workload: &Workload) -> Vec<Entity> {
    let mut entities: Vec<Entity> = (0..workload.shape.roles)
        .map(|role| Entity::new_no_attrs(uid("Role", &role_name(role)), Default::default()))
        .collect();
    for (user, roles) in workload.user_roles.iter().enumerate() {
        let parents = roles
            .iter()
            .map(|role| uid("Role", &role_name(*role)))
            .collect();
        entities.push(
            Entity::new(
                uid("User", &user_name(user)),
                HashMap::<String, RestrictedExpression>::new(),
                parents,
            )
            .unwrap(),
        );
    }
    entities
}

/// A resource entity with an `owner` attribute naming a user.
pub fn owned(id: EntityUid, owner: usize) -> Entity {
    let owner = RestrictedExpression::new_entity_uid(uid("User", &user_name(owner)));
    Entity::new(
        id,
        HashMap::from([("owner".to_owned(), owner)]),
        Default::default(),
    )
    .unwrap()
}
