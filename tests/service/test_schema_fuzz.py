"""The API fuzzed from its own OpenAPI document (schemathesis), against the real server.

Every operation, with and without a valid admin token: no 5xx, and every answer
matches the documented status codes, content types, headers and bodies.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from schemathesis import checks
from hypothesis import HealthCheck, settings

from feedback_service.openapi import OPENAPI

from .conftest import ADMIN, SECTIONS_10, SECTIONS_20, write_manifest
from .test_processes import ServiceProcess, _env

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


# What the document promises. Left out on purpose: the check that the server refuses
# anything the schema does not allow (unknown query parameters are ignored, as
# HTTP APIs do) and its converse (an unknown section is valid by the schema's
# types but 422 by the published editions, which no static schema can know).
CHECKS = [
    checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
    checks.response_schema_conformance, checks.response_headers_conformance,
    checks.allow_header_conformance, checks.missing_required_header, checks.ignored_auth,
]


def _service(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    site = root / "site"
    write_manifest(site / "1.0", "1.0", SECTIONS_10)
    write_manifest(site / "2.0", "2.0", SECTIONS_20)
    # The fuzzer guesses tokens by the hundred; the throttle has its own test.
    env = _env(f"sqlite:///{root / 'fuzz.sqlite3'}", site, FEEDBACK_LOGIN_LIMIT="100000/1")
    return ServiceProcess(env, root / "log", root)


# One server per role: a stranger's wrong guesses throttle the admin API for
# that client, which must not spill over into the editor's run.
@pytest.fixture(scope="module")
def stranger_service(tmp_path_factory):
    service = _service(tmp_path_factory)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def editor_service(tmp_path_factory):
    service = _service(tmp_path_factory)
    yield service
    service.stop()


# The document the service serves at /api/v1/openapi.json (a test below checks they are one).
schema = schemathesis.openapi.from_dict(OPENAPI)


def test_the_fuzzed_document_is_the_served_one(stranger_service):
    assert httpx.get(f"{stranger_service.url}/api/v1/openapi.json").json() == OPENAPI


@schema.parametrize()
@FUZZ
def test_every_operation_as_a_stranger(case, stranger_service):
    case.call_and_validate(base_url=stranger_service.url, checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_every_operation_as_an_editor_with_the_token(case, editor_service):
    case.call_and_validate(base_url=editor_service.url, headers=ADMIN, checks=CHECKS)
