"""Schemathesis over the served OpenAPI document: no generated request gets a 5xx, and every
response matches the schema documented for its status.

The app runs in process (WSGI) on an SQLite file holding the CICOPA history, with a real
token, so generated appends reach the domain's validation and, when valid, the database.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from api.app import create_app
from timeline.bootstrap import build
from timeline.config import Config

EXAMPLES = int(os.environ.get("TIMELINE_SCHEMATHESIS_EXAMPLES", "60"))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    services = build(Config(database_url=f"sqlite:///{tmp_path_factory.mktemp('st') / 't.db'}"))
    services.commands.seed()
    token = services.tokens.create("schemathesis")
    yield create_app(services), token
    services.close()


def operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 9
    return found


def test_no_generated_request_gets_a_server_error_or_an_undocumented_response(served):
    app, token = served
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    for operation in operations(app):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)

        check()
