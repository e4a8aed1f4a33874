"""The native API against its own OpenAPI document, with schemathesis: no response may contradict
the document (status, content type, headers, body schema) and no request may get a 5xx but a
documented 503. A bounded, seeded run, so that it takes about a minute and repeats."""

import base64
import pathlib
import subprocess
import sys

from conftest import ADMIN_PASSWORD

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def test_no_response_contradicts_the_openapi_document(keycard, tmp_path):
    credentials = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    schemathesis = pathlib.Path(sys.executable).parent / "schemathesis"
    run = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{keycard.base}/openapi.json",
            "--header",
            f"Authorization: Basic {credentials}",
            "--checks",
            CHECKS,
            "--max-examples",
            "5",
            "--seed",
            "20261130",
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
