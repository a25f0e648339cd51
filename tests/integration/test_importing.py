"""Imports saved a batch at a time: the same history as one save, and still all or nothing."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from bench.corpus import corpus
from timeline.bootstrap import Services, build
from timeline.commands import ImportReport, _read_import
from timeline.config import Config
from timeline.errors import ImportRejected
from timeline.importing import Importer

LINES = list(corpus(events=400, organisations=8, seed=3))


def import_in_batches(services: Services, lines: list[str], batch: int) -> ImportReport:
    importer = Importer(services.app, services.commands.writer, batch=batch)
    return ImportReport(*importer.run(_read_import(lines, None)))


def without_times(value: Any) -> Any:
    """The value with every recording time left out (two imports record at other times)."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k != "recorded_at"}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def test_the_generated_corpus_has_every_type_and_every_level_1_form_out_of_order() -> None:
    events = [json.loads(line) for line in corpus(events=2000, organisations=20, seed=3)]
    types = Counter(event["type"] for event in events)
    dates = [event.get("occurred_on") or event["data"].get("occurred_on") for event in events]

    assert len(types) == 15 and types["founded"] == 20
    assert types["retracted"] and types["corrected"]
    assert any(event.get("basis") == "attestation" for event in events)
    for form in (r"\d{4}-2[1-4]", r"\d{3}X|\d{2}XX", r"-XX", r"[?~%]$", r"/\.\.|\.\./", r"^/|/$"):
        assert any(date and re.search(form, date) for date in dates), form
    organisations = [event["organisation"] for event in events]
    assert organisations != sorted(organisations)  # the organisations' events interleave


def test_an_import_saved_in_batches_tells_the_same_history_as_one_save(services, tmp_path):
    report = import_in_batches(services, LINES, batch=37)
    whole = build(Config(database_url=f"sqlite:///{tmp_path}/whole.db"))
    try:
        import_in_batches(whole, LINES, batch=len(LINES))
        for organisation in sorted({json.loads(line)["organisation"] for line in LINES}):
            for at in ("1950", "2000", "2025"):
                assert without_times(services.queries.state(organisation, at)) == without_times(
                    whole.queries.state(organisation, at)
                )
            exported = list(services.queries.export(organisation))
            assert without_times(exported) == without_times(
                list(whole.queries.export(organisation))
            )
    finally:
        whole.close()
    assert report == ImportReport(400, 0)
    assert import_in_batches(services, LINES, batch=37) == ImportReport(0, 400)


def test_a_bad_line_in_a_later_batch_writes_nothing_of_the_file(services):
    bad = json.dumps({"organisation": "org-00001", "type": "renamed", "occurred_on": "1950"})

    with pytest.raises(ImportRejected) as refused:
        import_in_batches(services, [*LINES[:250], bad], batch=100)

    assert refused.value.line == 251
    assert (services.app.recorder.max_notification_id() or 0) == 0
    assert import_in_batches(services, LINES, batch=100) == ImportReport(400, 0)
