//! A change log written by an earlier build (`fixtures/change-log-v1.json`: a fresh deployment, a
//! catalogue import, a role, a group, an account, a policy, an API key made and revoked, a role
//! made and deleted, a method deleted, the organization's SSO set) still reads as it did. Renaming
//! a field of a domain type must not change what the log holds or how it is read: that is what the
//! record types (`keycard_core::record`) are for, and this test fails when they drift.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may fail loudly

use keycard_core::Error;
use keycard_core::change::{Change, EntityKind};
use keycard_core::decision;
use keycard_core::model::{
    Account, ApiKey, Group, Method, Organization, Policy, Resource, Role, View,
};
use keycard_core::record::{RECORD_VERSION, Recorded};
use keycard_core::snapshot::Snapshot;

fn fixture() -> Vec<Change> {
    serde_json::from_str(include_str!("fixtures/change-log-v1.json")).unwrap()
}

/// Decodes a record and encodes it again: the log's JSON comes back unchanged.
fn round_trips<T: Recorded>(change: &Change) {
    for value in [&change.before, &change.after].into_iter().flatten() {
        let entity: T = if Some(value) == change.after.as_ref() {
            change.after_as().unwrap()
        } else {
            change.before_as().unwrap()
        };
        assert_eq!(
            &keycard_core::record::encode(&entity).unwrap(),
            value,
            "change {}.{}",
            change.revision,
            change.seq
        );
    }
}

#[test]
fn every_record_of_the_fixture_decodes_and_encodes_unchanged() {
    let changes = fixture();
    assert!(changes.len() > 40);
    for change in &changes {
        assert_eq!(change.record_version, 1);
        match change.entity {
            EntityKind::Organization => round_trips::<Organization>(change),
            EntityKind::Account => round_trips::<Account>(change),
            EntityKind::Group => round_trips::<Group>(change),
            EntityKind::Role => round_trips::<Role>(change),
            EntityKind::Method => round_trips::<Method>(change),
            EntityKind::View => round_trips::<View>(change),
            EntityKind::Policy => round_trips::<Policy>(change),
            EntityKind::ApiKey => round_trips::<ApiKey>(change),
            EntityKind::Resource => round_trips::<Resource>(change),
        }
    }
}

#[test]
fn the_fixture_builds_the_state_it_recorded() {
    let mut snapshot = Snapshot::default();
    snapshot.apply(&fixture()).unwrap();
    let org = snapshot.organization_by_name("default").unwrap();
    assert_eq!(
        org.organization.sso.issuer.as_deref(),
        Some("https://idp.example.com")
    );
    // `ann` reads document 1 through the group `crew`, which holds `reader`, which the policy
    // binds to `read` on that document; nothing else.
    assert!(decision::check(org, "ann", "read", "doc", "1"));
    assert!(!decision::check(org, "ann", "read", "doc", "2"));
    assert!(!decision::check(org, "ann", "edit", "doc", "1"));
    let reader = org
        .roles()
        .find(|role| role.name.as_str() == "reader")
        .unwrap();
    assert_eq!(reader.description.as_str(), "reads the docs");
    assert!(org.roles().all(|role| role.name.as_str() != "temp"));
    assert!(org.methods().any(|method| method.name == "readDoc"));
    assert!(org.methods().all(|method| method.name != "oldDoc"));
    assert!(org.views().any(|view| view.path == "/docs"));
}

#[test]
fn a_change_recorded_in_a_newer_version_is_refused_not_misread() {
    let mut changes = fixture();
    let newer = changes
        .iter_mut()
        .find(|change| change.entity == EntityKind::Role)
        .unwrap();
    newer.record_version = RECORD_VERSION + 1;
    let err = Snapshot::default().apply(&changes).unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable(message) if message.contains("upgrade keycard")),
        "{err:?}"
    );
}

#[test]
fn version_2_records_carry_account_attributes_and_version_1_reads_without() {
    let changes = fixture();
    let created = changes
        .iter()
        .find(|change| change.entity == EntityKind::Account && change.after.is_some())
        .unwrap();
    let account: Account = created.after_as().unwrap();
    assert!(account.attributes.is_empty());

    let mut with_attributes = created.clone();
    let after = with_attributes.after.as_mut().unwrap();
    after["attributes"] = serde_json::json!({"department": "Sales", "level": 3});
    with_attributes.record_version = 2;
    let account: Account = with_attributes.after_as().unwrap();
    assert_eq!(
        account.attributes.get("department"),
        Some(&serde_json::json!("Sales"))
    );
    assert_eq!(
        &keycard_core::record::encode(&account).unwrap(),
        with_attributes.after.as_ref().unwrap()
    );
    // A record's attributes are validated as they are read: a log never yields what a write
    // would have refused.
    after_with(&mut with_attributes, serde_json::json!({"": 1}));
    assert!(with_attributes.after_as::<Account>().is_err());
}

fn after_with(change: &mut Change, attributes: serde_json::Value) {
    change.after.as_mut().unwrap()["attributes"] = attributes;
}
