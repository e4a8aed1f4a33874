"""Webhooks driven by the published Polytomic Python SDK against a live Keycard: a receiver on
127.0.0.1 checks each delivery's `Polytomic-Signature` (hex HMAC-SHA256 of the raw body under the
webhook's secret, verified as docs/webhooks.md shows); failing twice, then taking it, gives three
recorded attempts; a host the operator did not allow is refused when the webhook is made."""

import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest
from polytomic import Polytomic
from polytomic.core.api_error import ApiError

from conftest import start_keycard
from test_polytomic import api_key

SECRET = "sdk-webhook-secret-0123456789"


class Receiver(http.server.BaseHTTPRequestHandler):
    """Answers 500 to its first `failures` deliveries, then 200; keeps what it got."""

    failures = 2
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(self.headers.get("Polytomic-Signature", ""), expected)
        status = 500 if Receiver.failures > 0 else 200
        Receiver.failures -= 1
        Receiver.received.append((json.loads(body), signed, status))
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.end_headers()
        self.wfile.write(b"received")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture(scope="module")
def client(keycard):
    return Polytomic(base_url=keycard.base, token=api_key(keycard), version="2025-09-18")


def test_a_disallowed_host_is_refused(client):
    with pytest.raises(ApiError) as refused:
        client.webhooks.create(endpoint="http://169.254.169.254/latest", secret=SECRET)
    assert refused.value.status_code == 403


def test_a_webhook_receives_signed_events_and_records_every_attempt(client, receiver):
    webhook = client.webhooks.create(endpoint=receiver, secret=SECRET).data
    assert webhook.endpoint == receiver and webhook.disabled is False
    assert [w.id for w in client.webhooks.list().data] == [webhook.id]
    assert client.webhooks.get(webhook.id).data.endpoint == receiver

    client.permissions.roles.create(name="Webhook watchers")
    deadline = time.time() + 30
    while len(Receiver.received) < 3 and time.time() < deadline:
        time.sleep(0.2)
    assert [status for _, _, status in Receiver.received] == [500, 500, 200]
    assert all(signed for _, signed, _ in Receiver.received), "a delivery was not signed with the secret"
    event = Receiver.received[-1][0]
    assert event["type"] == "role.created"
    assert event["event"]["after"]["name"] == "Webhook watchers"

    # Each attempt is recorded just after the endpoint answers.
    assert wait_for(lambda: len(client.webhooks.list_deliveries(webhook.id).data) == 3)
    deliveries = client.webhooks.list_deliveries(webhook.id).data
    assert len(deliveries) == 3
    assert [d.success for d in deliveries] == [True, False, False], "newest first"
    assert deliveries[0].status_code == 200 and deliveries[0].event_id == event["id"]
    failed = client.webhooks.list_deliveries(webhook.id, success=False).data
    assert len(failed) == 2 and all(d.status_code == 500 for d in failed)

    assert client.webhooks.disable(webhook.id).data.disabled is True
    assert client.webhooks.enable(webhook.id).data.disabled is False
    updated = client.webhooks.update(webhook.id, endpoint=receiver + "?v=2", secret=SECRET).data
    assert updated.endpoint == receiver + "?v=2"
    client.webhooks.delete(webhook.id)
    with pytest.raises(ApiError) as missing:
        client.webhooks.get(webhook.id)
    assert missing.value.status_code == 404


class FailsOnce(Receiver):
    """Answers 500 to its first delivery, then 200."""

    failures = 1
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        status = 500 if FailsOnce.failures > 0 else 200
        FailsOnce.failures -= 1
        FailsOnce.received.append((json.loads(body), status))
        self.send_response(status)
        self.end_headers()


def wait_for(predicate, seconds=45):
    deadline = time.time() + seconds
    while not predicate() and time.time() < deadline:
        time.sleep(0.2)
    return predicate()


def test_a_node_killed_with_a_delivery_pending_delivers_it_after_restart(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FailsOnce)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}/hook"
    database = f"sqlite://{tmp_path}/keycard.db"
    node = start_keycard(database)
    try:
        client = Polytomic(base_url=node.base, token=api_key(node), version="2025-09-18")
        webhook = client.webhooks.create(endpoint=endpoint, secret=SECRET).data
        client.permissions.roles.create(name="Pending delivery")
        assert wait_for(lambda: len(FailsOnce.received) >= 1), "no first attempt"
        # Killed between attempts: the first is recorded, the retry not yet due.
        assert wait_for(lambda: len(client.webhooks.list_deliveries(webhook.id).data) == 1)
    finally:
        # Killed, not stopped: no chance to finish anything.
        node.process.kill()
        node.process.wait(timeout=30)
    assert FailsOnce.received[0][1] == 500
    restarted = start_keycard(database)
    try:
        assert wait_for(lambda: len(FailsOnce.received) >= 2), "the pending delivery was lost"
        event, status = FailsOnce.received[1]
        assert status == 200
        assert event["id"] == FailsOnce.received[0][0]["id"]
        assert event["event"]["after"]["name"] == "Pending delivery"
    finally:
        restarted.process.terminate()
        restarted.process.wait(timeout=30)
        server.shutdown()
