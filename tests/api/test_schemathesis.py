"""Schemathesis, an independent property-based tester, against the live API.

It reads the published OpenAPI document from a running server and sends what it generates from
it: the documented examples, boundary values of every parameter, random valid and invalid
requests to every operation, and stateful sequences that follow the document's links (a rule
created, then read, changed and deleted by the id it came back with). Every response must be a
non-5xx answer with a documented status, content type, headers and a body matching its schema;
invalid requests must be refused, requests without the key refused, deleted objects gone.

The run is seeded, so a failure it finds is found again; ``bench/`` has no longer mode of it:
raise ``SCHEMATHESIS_EXAMPLES`` to look harder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.scopes import Scope
from api.services import api_key_create
from tests.security.world import Names, make_tenant

pytestmark = [pytest.mark.django_db(transaction=True)]

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
]
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))


def test_the_live_api_holds_to_its_published_document(
    live_server, radicale_server, owner, settings, tmp_path: Path
):
    settings.API_KEY_RATE = "1000000/m"
    settings.PORTFOLIO_FETCH_RATE = "1000000/m"
    settings.BOOKING_BROWSE_RATE = "1000000/m"
    make_tenant(radicale_server, owner, Names.marked("owner"), handle="owner-host")
    _key, token = api_key_create(
        user=owner, name="schemathesis", scopes=list(Scope.values), expires_at=None, ip_address=None
    )
    report = tmp_path / "report.json"

    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{live_server.url}/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "19",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            "--report",
            "json",
            "--report-json-path",
            str(report),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        check=False,
    )

    print(run.stdout[-6000:])
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert report.exists()
    summary = json.loads(report.read_text())
    print(json.dumps({key: summary[key] for key in summary if key != "operations"})[:2000])
