"""The published Polytomic Python SDK against a live Keycard, with only its base URL changed."""

import datetime

import pytest
from polytomic import Polytomic
from polytomic.core.api_error import ApiError
from polytomic.types import PolicyAction


def api_key(keycard, org_header=None) -> str:
    me = keycard.native("GET", "/v1/me").json()["account"]["id"]
    return keycard.native("POST", f"/v1/accounts/{me}/keys", json={"name": "sdk"}).json()["data"]["secret"]


@pytest.fixture(scope="module")
def client(keycard):
    return Polytomic(base_url=keycard.base, token=api_key(keycard), version="2025-09-18")


def test_roles_and_policies_round_trip(client):
    role = client.permissions.roles.create(name="Data Engineer", idempotency_key="create-role-0001").data
    assert role.system is False
    names = [r.name for r in client.permissions.roles.list().data]
    assert "Data Engineer" in names and "Admin" in names and "Member" in names
    assert client.permissions.roles.get(role.id).data.name == "Data Engineer"
    assert client.permissions.roles.update(role.id, name="Data Engineers").data.name == "Data Engineers"

    policy = client.permissions.policies.create(
        name="Snowflake writers", policy_actions=[PolicyAction(action="sync_to", role_ids=[role.id])], idempotency_key="create-policy-0001"
    ).data
    actions = {a.action: a.role_ids for a in client.permissions.policies.get(policy.id).data.policy_actions}
    assert actions["sync_to"] == [role.id]
    assert set(actions) == {"apply_policy", "create", "delete", "edit", "read", "sync_to", "trigger"}, "the full action list comes back"
    updated = client.permissions.policies.update(policy.id, name="Snowflake writers", policy_actions=[PolicyAction(action="read", role_ids=[role.id])]).data
    actions = {a.action: a.role_ids for a in updated.policy_actions}
    assert actions["read"] == [role.id] and actions["sync_to"] == [], "update replaces the bindings"
    assert "Snowflake writers" in [p.name for p in client.permissions.policies.list().data]

    client.permissions.policies.delete(policy.id)
    client.permissions.roles.delete(role.id)
    with pytest.raises(ApiError) as missing:
        client.permissions.roles.get(role.id)
    assert missing.value.status_code == 404
    assert missing.value.body.key == "not_found"


def test_system_roles_are_refused(client):
    admin = next(r for r in client.permissions.roles.list().data if r.name == "Admin")
    assert admin.system is True
    for attempt in (lambda: client.permissions.roles.update(admin.id, name="Boss"), lambda: client.permissions.roles.delete(admin.id)):
        with pytest.raises(ApiError) as refused:
            attempt()
        assert refused.value.status_code == 403


def test_idempotent_create_is_retried_safely(client):
    first = client.permissions.roles.create(name="Analyst", idempotency_key="analyst-create-1").data
    again = client.permissions.roles.create(name="Analyst", idempotency_key="analyst-create-1").data
    assert again.id == first.id, "the replay returns the first outcome instead of a duplicate error"
    assert [r.name for r in client.permissions.roles.list().data].count("Analyst") == 1
    with pytest.raises(ApiError) as mismatch:
        client.permissions.roles.create(name="Other", idempotency_key="analyst-create-1")
    assert mismatch.value.status_code == 422


def test_policies_need_existing_roles(client):
    with pytest.raises(ApiError) as missing:
        client.permissions.policies.create(name="ghost", policy_actions=[PolicyAction(action="read", role_ids=["01a20000-0000-7000-8000-000000000000"])])
    assert missing.value.status_code == 404
    assert "01a20000-0000-7000-8000-000000000000" in missing.value.body.message


def test_two_organizations_are_isolated(keycard, client):
    acme = client.organization.create(name="acme").data
    acme_admin = client.users.create(acme.id, email="boss@acme.test", role="admin").data
    assert acme_admin.role == "admin"
    acme_key = client.users.create_api_key(acme.id, acme_admin.id).data.value
    acme_client = Polytomic(base_url=keycard.base, token=acme_key, version="2025-09-18")

    secret = acme_client.permissions.roles.create(name="Acme only").data
    assert secret.organization_id == acme.id
    assert "Acme only" not in [r.name for r in client.permissions.roles.list().data]
    with pytest.raises(ApiError) as hidden:
        client.permissions.roles.get(secret.id)
    assert hidden.value.status_code == 404
    default_org = client.identity.get().data.organization_id
    with pytest.raises(ApiError) as refused:
        acme_client.permissions.roles.create(name="Sneaky", organization_id=default_org)
    assert refused.value.status_code == 403
    me = acme_client.identity.get().data
    assert (me.organization_id, me.organization_name, me.is_partner) == (acme.id, "acme", False)
    with pytest.raises(ApiError):
        acme_client.organization.list()


def test_users_with_role_ids_decide(keycard, client):
    role = client.permissions.roles.create(name="Syncer").data
    policy = client.permissions.policies.create(name="Syncs", policy_actions=[PolicyAction(action="trigger", role_ids=[role.id])]).data
    keycard.native("POST", f"/v1/policies/{policy.id}/resources", json={"type": "sync", "id": "*"})
    user = client.users.create_current_org_user(email="ops@example.com", role_ids=[role.id]).data
    assert user.role_ids == [role.id]
    assert client.users.get_current_org_user(user.id).data.email == "ops@example.com"

    def allowed():
        body = {"subject": {"id": "ops@example.com"}, "action": "trigger", "resource": {"type": "sync", "id": "nightly"}}
        return keycard.native("POST", "/v1/check", json=body).json()["allowed"]

    assert allowed() is True
    client.users.update_current_org_user(user.id, role_ids=[])
    assert allowed() is False
    client.users.update_current_org_user(user.id, role_ids=[role.id])
    client.permissions.roles.delete(role.id)
    assert allowed() is False, "a deleted role's id left in the policy grants nothing"
    assert role.id in [r for a in client.permissions.policies.get(policy.id).data.policy_actions for r in (a.role_ids or [])]
    client.users.delete_current_org_user(user.id)
    with pytest.raises(ApiError):
        client.users.get_current_org_user(user.id)


def test_events_follow_changes(client):
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    role = client.permissions.roles.create(name="Evented").data
    client.permissions.roles.update(role.id, name="Evented 2")
    client.permissions.roles.delete(role.id)
    events = client.events.list(starting_after=start, limit=100).data
    mine = [e.type for e in events if e.event and getattr(e.event, "entity_id", None) == role.id]
    assert mine == ["role.created", "role.updated", "role.deleted"]
    only_deleted = client.events.list(type="role.deleted", starting_after=start).data
    assert all(e.type == "role.deleted" for e in only_deleted) and only_deleted
    assert "policy.created" in client.events.get_types().data
    with pytest.raises(ApiError) as bad:
        client.events.list(limit=101)
    assert bad.value.status_code == 422
