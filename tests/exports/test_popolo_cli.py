"""`timeline export --format popolo` and `timeline import --format popolo FILE`, run as real
processes: the whole history out as one Popolo document, and back into an empty database."""

from __future__ import annotations

import json

from tests.e2e.server import cli, environment


def test_the_cli_exports_every_organisation_as_popolo_and_imports_it_into_an_empty_database(
    database_url, empty, tmp_path, popolo_validators
):
    source = environment(database_url)
    assert cli(["seed"], source, tmp_path).returncode == 0
    exported = cli(["export", "--format", "popolo"], source, tmp_path)
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    listed = json.loads(cli(["export"], source, tmp_path).stdout.splitlines()[0])
    assert listed["organisation"]  # the JSON Lines export is unchanged by the option
    organisations = {o["id"] for o in document["organizations"]}
    assert {"cicopa", "ica", "cecop", "cicopa-americas"} <= organisations
    for kind, validator in popolo_validators.items():
        assert all(not list(validator.iter_errors(found)) for found in document[kind])
    path = tmp_path / "history.popolo.json"
    path.write_text(exported.stdout, "utf-8")
    target = environment(empty.config.database_url)
    imported = cli(["import", "--format", "popolo", str(path)], target, tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["imported"] > 0
    state = json.loads(cli(["state", "cicopa", "--at", "1998"], target, tmp_path).stdout)
    presidents = [h["person"]["name"] for h in state["office_holders"] if h["role"] == "President"]
    assert presidents == ["Marian Rybar"]
    cited = state["office_holders"][0]["sources"]
    assert {"title": "Popolo file history.popolo.json", "file": "history.popolo.json"} in cited


def test_the_cli_refuses_a_popolo_file_it_cannot_import_with_one_line_and_writes_nothing(
    database_url, tmp_path
):
    env = environment(database_url)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"memberships": [{"person_id": "x", "organization_id": "y"}]}))
    refused = cli(["import", "--format", "popolo", str(path)], env, tmp_path)
    assert refused.returncode != 0
    assert "memberships[0]" in refused.stderr and refused.stdout == ""
    assert cli(["export"], env, tmp_path).stdout == ""
