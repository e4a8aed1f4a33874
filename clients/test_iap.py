"""The published Itential clients (ipsdk, iap-sdk) against a live Keycard, unchanged."""

import csv
import io

import ipsdk
import pytest
from iap_sdk import Iap

from conftest import ADMIN_PASSWORD


def platform(keycard, user="admin", password=ADMIN_PASSWORD):
    return ipsdk.platform_factory(host=keycard.host, port=keycard.port, use_tls=False, user=user, password=password)


def test_ipsdk_logs_in_with_the_cookie_and_pages_accounts(keycard):
    for index in range(60):
        keycard.create("/v1/accounts", {"username": f"paged-{index:02}"})
    p = platform(keycard)
    me = p.get("/whoami").json()
    assert me["username"] == "admin"
    assert "createRole" in me["methods"]["Authorization"]

    collected, skip, total = [], 0, None
    while total is None or len(collected) < total:
        page = p.get("/authorization/accounts", params={"limit": 25, "skip": skip}).json()
        total = page["total"]
        collected.extend(page["results"])
        skip += len(page["results"])
        assert page["results"], "a page short of total must not be empty"
    assert total == 61
    assert len({account["_id"] for account in collected}) == 61


def test_iap_sdk_logs_in_with_the_plain_token(keycard):
    iap = Iap(host=keycard.host, username="admin", password=ADMIN_PASSWORD, protocol="http", port=keycard.port, verify=False)
    assert iap.token and not iap.token.startswith('"')
    roles = iap.query("/authorization/roles", params={"limit": 100, "skip": 0})
    assert {"Admin", "admin", "apiread"} <= {role["name"] for role in roles["results"]}
    created = iap.query(
        "/authorization/groups",
        method="post",
        jsonbody={"group": {"provenance": "Pronghorn", "name": "netops", "description": "", "memberOf": [], "assignedRoles": [], "inactive": False}},
    )
    assert created["status"] == "OK"
    assert created["data"]["name"] == "netops"


def test_roles_groups_nesting_and_assignments_through_ipsdk(keycard):
    p = platform(keycard)
    role = p.post(
        "/authorization/roles",
        json={"role": {"provenance": "Custom", "name": "device-operator", "allowedMethods": [{"name": "getDevicesFiltered", "provenance": "ConfigurationManager"}], "allowedViews": []}},
    ).json()["data"]
    assert role["description"] == ""
    updated = p.patch(f"/authorization/roles/{role['_id']}", json={"updates": {"description": "ops"}}).json()
    assert updated["data"]["description"] == "ops"

    parent = p.post("/authorization/groups", json={"group": {"name": "operators", "assignedRoles": [{"roleId": role["_id"]}]}}).json()["data"]
    child = p.post("/authorization/groups", json={"group": {"name": "night-shift", "memberOf": [{"groupId": parent["_id"], "aaaManaged": False}]}}).json()["data"]
    assert child["memberOf"][0]["groupId"] == parent["_id"]
    with pytest.raises(ipsdk.exceptions.HTTPStatusError):
        p.patch(f"/authorization/groups/{parent['_id']}", json={"updates": {"memberOf": [{"groupId": child["_id"]}]}})

    dana = keycard.create("/v1/accounts", {"username": "dana", "password": "dana-password"})
    p.patch(f"/authorization/accounts/{dana['id']}", json={"updates": {"memberOf": [{"groupId": child["_id"]}]}})
    dana_platform = platform(keycard, "dana", "dana-password")
    me = dana_platform.get("/whoami").json()
    assert "device-operator" in me["roles"], "roles inherited through night-shift -> operators"
    assert me["methods"]["ConfigurationManager"] == ["getDevicesFiltered"]
    decision = keycard.native(
        "POST", "/v1/check", json={"subject": {"id": "dana"}, "action": "call", "resource": {"type": "method", "id": "ConfigurationManager/getDevicesFiltered"}}
    ).json()
    assert decision["allowed"] is True

    assert p.delete(f"/authorization/groups/{child['_id']}").json()["status"] == "OK"
    assert p.delete(f"/authorization/roles/{role['_id']}").json()["status"] == "OK"
    with pytest.raises(ipsdk.exceptions.HTTPStatusError):
        p.get(f"/authorization/roles/{role['_id']}")


def test_csv_export(keycard):
    p = platform(keycard)
    response = p.get("/authorization/csv/export")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {"account", "group", "role"} <= {row["type"] for row in rows}
    admin = next(row for row in rows if row["type"] == "account" and row["name"] == "admin")
    assert admin["assignedRoles"] == "Admin"


def test_force_logout_refuses_the_old_token(keycard):
    keycard.create("/v1/accounts", {"username": "erin", "password": "erin-password"})
    erin = platform(keycard, "erin", "erin-password")
    erin.get("/whoami")
    token = erin.client.cookies.get("token")
    assert token
    admin = platform(keycard)
    erin_id = next(a["_id"] for a in admin.get("/authorization/accounts", params={"equals": "erin"}).json()["results"])
    assert admin.post(f"/authorization/accounts/{erin_id}/forceLogout").json()["status"] == "OK"
    with pytest.raises(ipsdk.exceptions.HTTPStatusError) as refused:
        erin.get("/whoami")
    assert "401" in str(refused.value)


def test_ipsdk_client_credentials(keycard):
    admin = platform(keycard)
    created = admin.post("/oauth/serviceAccounts", json={"accountData": {"name": "pipeline", "description": "ci robot"}}).json()["results"]
    robot = ipsdk.platform_factory(
        host=keycard.host, port=keycard.port, use_tls=False, client_id=created["client_id"], client_secret=created["client_secret"]
    )
    me = robot.get("/whoami").json()
    assert me["username"] == "pipeline"
    assert me["isServiceAccount"] is True
