"""Fixtures of the export tests: the CICOPA history on a real database, a second empty one
on the same kind of server, and the schemas the exports are held to (copied from the Popolo
and CSL projects, see schemas/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft3Validator, Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT3

from timeline.bootstrap import build
from timeline.config import Config

SCHEMAS = Path(__file__).parent / "schemas"
POPOLO_BASE = "http://www.popoloproject.com/schemas/"


@pytest.fixture
def seeded(services):
    services.commands.seed()
    return services


@pytest.fixture
def empty(database_url, request, tmp_path):
    """A second, empty database of the same kind as `database_url`."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'second.db'}"
    else:
        url = request.getfixturevalue("postgres").create()
        request.addfinalizer(lambda: request.getfixturevalue("postgres").drop(url))
    built = build(Config(database_url=url))
    yield built
    built.close()


def _popolo_registry() -> Registry:
    resources = []
    for path in sorted((SCHEMAS / "popolo").glob("*.json")):
        schema = json.loads(path.read_text("utf-8"))
        resources.append((f"{POPOLO_BASE}{path.name}", DRAFT3.create_resource(schema)))
    return Registry().with_resources(resources)


@pytest.fixture(scope="session")
def popolo_validators():
    """A draft-03 validator per Popolo object kind, its $refs resolved to the local files."""
    registry = _popolo_registry()
    kinds = {
        "organizations": "organization",
        "persons": "person",
        "posts": "post",
        "memberships": "membership",
    }
    validators = {}
    for plural, name in kinds.items():
        schema = json.loads((SCHEMAS / "popolo" / f"{name}.json").read_text("utf-8"))
        validators[plural] = Draft3Validator(
            schema, registry=registry, format_checker=Draft3Validator.FORMAT_CHECKER
        )
    return validators


@pytest.fixture(scope="session")
def csl_validator():
    schema = json.loads((SCHEMAS / "csl" / "csl-data.json").read_text("utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


assert Resource  # the registry is built of referencing's resources


@pytest.fixture
def client(seeded):
    from api.app import create_app

    return create_app(seeded).test_client()
