"""Starts a real `keycard serve` on a free loopback port over a fresh SQLite file for each test module."""

import os
import pathlib
import subprocess
import tempfile
import threading

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "client-suite-admin-1"


class Keycard:
    def __init__(self, base: str, process: subprocess.Popen):
        self.base = base
        self.process = process
        self.host, port = base.removeprefix("http://").split(":")
        self.port = int(port)

    def native(self, method: str, path: str, **kwargs) -> requests.Response:
        """Calls the native /v1 API as the bootstrap administrator."""
        return requests.request(method, f"{self.base}{path}", auth=("admin", ADMIN_PASSWORD), timeout=30, **kwargs)

    def create(self, path: str, body: dict) -> dict:
        response = self.native("POST", path, json=body)
        assert response.status_code == 201, response.text
        return response.json()["data"]


def start_keycard(database: str) -> Keycard:
    """A `keycard serve` on a free loopback port over `database`, listening when this returns."""
    binary = os.environ.get("KEYCARD_BIN", str(ROOT / "target" / "debug" / "keycard"))
    # Webhooks may reach this machine's loopback only: the suites' receivers listen there.
    env = dict(os.environ, KEYCARD_ADMIN_PASSWORD=ADMIN_PASSWORD, KEYCARD_LOG="warn", KEYCARD_WEBHOOK_ALLOW_HOSTS="127.0.0.1")
    process = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--database", database],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = None
    for line in process.stderr:
        if line.startswith("keycard: listening on "):
            base = line.removeprefix("keycard: listening on ").strip()
            break
    assert base, "keycard exited before listening"
    # Keep draining stderr so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
    return Keycard(base, process)


@pytest.fixture(scope="module")
def keycard():
    with tempfile.TemporaryDirectory() as directory:
        node = start_keycard(f"sqlite://{directory}/keycard.db")
        try:
            yield node
        finally:
            node.process.terminate()
            node.process.wait(timeout=30)
