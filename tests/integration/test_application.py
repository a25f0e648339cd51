"""The application on real databases: each test runs on an SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from eventsourcing.persistence import StoredEvent
from sqlalchemy import func, select

from events.errors import InvalidEvent, OrganisationNotFound, VersionMismatch
from events.organisation import Organisation
from events.validation import parse_event
from timeline.bootstrap import Services, build
from timeline.config import DEFAULT_SQLITE_MMAP_SIZE, Config
from timeline.errors import IdempotencyKeyReused, ImportRejected, InvalidArguments, InvalidCursor

FOUNDED = {"type": "founded", "occurred_on": "1947", "data": {"name": "CICOPA"}}


def appoint(role: str, person: str, when: str) -> dict:
    return {
        "type": "office_holder_appointed",
        "occurred_on": when,
        "data": {"role": role, "person": {"id": person, "name": person.replace("-", " ").title()}},
        "sources": [{"title": "What is CICOPA? (1998)", "file": "003_8246a2747768bb40.txt"}],
    }


def append(services: Services, payload: dict, org: str = "cicopa") -> dict:
    return services.commands.append(org, payload, recorded_by="tester").event


def stored_count(services: Services) -> int:
    return services.app.recorder.max_notification_id() or 0


def now() -> str:
    return datetime.now(UTC).isoformat()


def test_an_appended_event_is_stored_with_its_id_version_and_recording_time(services):
    stored = append(services, FOUNDED)
    assert stored["organisation"] == "cicopa"
    assert stored["version"] == 1
    assert stored["status"] == "active"
    assert stored["recorded_by"] == "tester"
    assert stored["recorded_at"].endswith("Z")
    assert services.queries.event("cicopa", stored["id"]) == stored
    assert services.queries.version("cicopa") == 1


def test_a_write_is_visible_to_the_next_read(services):
    append(services, FOUNDED)
    append(services, appoint("President", "marian-rybar", "1998"))
    state = services.queries.state("cicopa", "1998")
    assert [h["person"]["id"] for h in state["office_holders"]] == ["marian-rybar"]
    assert state["office_holders"][0]["sources"][0]["file"] == "003_8246a2747768bb40.txt"


def test_an_organisation_with_no_events_is_not_found(services):
    with pytest.raises(OrganisationNotFound):
        services.queries.state("nobody")
    append(services, FOUNDED)
    with pytest.raises(OrganisationNotFound):
        services.queries.state("cicopa", known_at="2000-01-01T00:00:00Z")


def test_a_rejected_event_writes_nothing(services):
    append(services, FOUNDED)
    before = stored_count(services)
    with pytest.raises(InvalidEvent) as refused:
        append(services, {"type": "founded", "occurred_on": "2005-02-30", "data": {}})
    assert set(refused.value.errors) == {"occurred_on", "data.name"}
    with pytest.raises(InvalidEvent):
        append(services, {"type": "retracted", "data": {"event_id": "0" * 32, "reason": "x"}})
    assert stored_count(services) == before
    assert services.queries.version("cicopa") == 1


def test_an_append_at_a_stale_version_is_refused_and_writes_nothing(services):
    append(services, FOUNDED)
    services.commands.append("cicopa", FOUNDED, recorded_by="t", expected_version=1)
    with pytest.raises(VersionMismatch) as refused:
        services.commands.append("cicopa", FOUNDED, recorded_by="t", expected_version=1)
    assert (refused.value.expected, refused.value.actual) == (1, 2)
    assert services.queries.version("cicopa") == 2
    assert services.commands.append("new-org", FOUNDED, recorded_by="t", expected_version=0)


def test_concurrent_appends_to_one_organisation_all_succeed_with_gapless_versions(services):
    writers, each = 8, 15
    acknowledged: list[dict] = []
    lock = threading.Lock()

    def write(n: int) -> None:
        for i in range(each):
            payload = {"type": "milestone", "occurred_on": "2001", "data": {"headline": f"{n}-{i}"}}
            event = services.commands.append("cicopa", payload, recorded_by="w").event
            with lock:
                acknowledged.append(event)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(acknowledged) == writers * each
    assert sorted(e["version"] for e in acknowledged) == list(range(1, writers * each + 1))
    listed = list(services.queries.all_events("cicopa"))
    assert sorted(e["id"] for e in listed) == sorted(e["id"] for e in acknowledged)


def test_an_idempotency_key_replays_the_first_response_and_refuses_another_body(services):
    first = services.commands.append(
        "cicopa", FOUNDED, recorded_by="t", token_id="tok1", idempotency_key="k-1"
    )
    again = services.commands.append(
        "cicopa", FOUNDED, recorded_by="t", token_id="tok1", idempotency_key="k-1"
    )
    assert (first.replayed, again.replayed) == (False, True)
    assert again.event == first.event
    assert services.queries.version("cicopa") == 1
    other_token = services.commands.append(
        "cicopa", FOUNDED, recorded_by="t", token_id="tok2", idempotency_key="k-1"
    )
    assert other_token.replayed is False
    with pytest.raises(IdempotencyKeyReused):
        services.commands.append(
            "cicopa",
            {**FOUNDED, "occurred_on": "1948"},
            recorded_by="t",
            token_id="tok1",
            idempotency_key="k-1",
        )
    assert services.queries.version("cicopa") == 2


def test_an_idempotency_key_survives_a_restart(database_url):
    services = build(Config(database_url=database_url))
    first = services.commands.append(
        "cicopa", FOUNDED, recorded_by="t", token_id="x", idempotency_key="k"
    )
    services.close()
    restarted = build(Config(database_url=database_url))
    try:
        again = restarted.commands.append(
            "cicopa", FOUNDED, recorded_by="t", token_id="x", idempotency_key="k"
        )
        assert again.replayed and again.event == first.event
        assert restarted.queries.version("cicopa") == 1
    finally:
        restarted.close()


def amended_history(services: Services) -> dict[str, dict]:
    """A history with every kind of amendment, across organisations."""
    events = {
        "founded": append(services, FOUNDED),
        "rybar": append(services, appoint("President", "marian-rybar", "1998")),
        "wrong": append(services, appoint("President", "nobody", "1999")),
        "mariscal": append(services, appoint("President", "manuel-mariscal", "2011")),
        "figures": append(
            services,
            {
                "type": "figures_reported",
                "occurred_on": "1998",
                "data": {"figures": {"countries": 45}},
            },
        ),
        "cecop": append(
            services,
            {"type": "affiliated", "occurred_on": "1990", "data": {"parent": "cicopa"}},
            "cecop",
        ),
    }
    append(
        services, {"type": "retracted", "data": {"event_id": events["wrong"]["id"], "reason": "no"}}
    )
    append(
        services,
        {
            "type": "corrected",
            "data": {"event_id": events["mariscal"]["id"], "reason": "r", "occurred_on": "2009~"},
        },
    )
    return events


def test_export_then_import_into_an_empty_database_gives_the_same_states(services, tmp_path):
    amended_history(services)
    exported = [json.dumps(body) for body in services.queries.export()]
    fresh = build(Config(database_url=f"sqlite:///{tmp_path / 'fresh.db'}"))
    try:
        report = fresh.commands.import_lines(exported)
        assert (report.imported, report.skipped) == (len(exported), 0)
        for at in ("1947", "1990", "1998", "1999", "2009", "2010", "2011", "2026"):
            for org in ("cicopa", "cecop"):
                theirs = fresh.queries.state(org, at)
                ours = services.queries.state(org, at)
                assert {k: v for k, v in theirs.items() if k != "uncertain"} == {
                    k: v for k, v in ours.items() if k != "uncertain"
                }
                assert [e["id"] for e in theirs["uncertain"]] == [
                    e["id"] for e in ours["uncertain"]
                ]
        assert [json.loads(line)["id"] for line in exported] == [
            e["id"] for e in fresh.queries.export()
        ]
        again = fresh.commands.import_lines(exported)
        assert (again.imported, again.skipped) == (0, len(exported))
    finally:
        fresh.close()


def test_export_shows_statuses_and_what_was_first_recorded(services):
    events = amended_history(services)
    by_id = {body["id"]: body for body in services.queries.export()}
    assert by_id[events["wrong"]["id"]]["status"] == "retracted"
    corrected = by_id[events["mariscal"]["id"]]
    assert (corrected["status"], corrected["occurred_on"]) == ("corrected", "2009~")
    assert corrected["original"] == {"occurred_on": "2011", "data": events["mariscal"]["data"]}
    assert [b["organisation"] for b in services.queries.export("cecop")] == ["cecop"]


def test_a_bad_line_in_an_import_names_its_line_and_writes_nothing(services):
    good = {"id": "8f0e6c52-8a61-4a56-9d0a-1f1d5d2b6b10", "organisation": "cicopa", **FOUNDED}
    lines = [
        json.dumps(good),
        "",
        json.dumps({"organisation": "cicopa", "type": "renamed", "occurred_on": "1950"}),
    ]
    with pytest.raises(ImportRejected) as refused:
        services.commands.import_lines(lines)
    assert refused.value.line == 3
    assert "data.name" in str(refused.value)
    assert stored_count(services) == 0
    for bad, where in (
        ("{not json", "line 1"),
        ('{"organisation": "cicopa", "type": NaN}', "line 1"),
    ):
        with pytest.raises(ImportRejected, match=where):
            services.commands.import_lines([bad])
    assert stored_count(services) == 0


def test_an_imported_line_keeps_its_id_and_ignores_stored_fields(services):
    line = {
        "id": "8F0E6C52-8A61-4A56-9D0A-1F1D5D2B6B10",
        "organisation": "cicopa",
        "version": 99,
        "recorded_at": "1999-01-01T00:00:00Z",
        "recorded_by": "someone",
        "status": "retracted",
        **FOUNDED,
    }
    services.commands.import_lines([json.dumps(line)])
    stored = services.queries.event("cicopa", "8f0e6c52-8a61-4a56-9d0a-1f1d5d2b6b10")
    assert (stored["version"], stored["recorded_by"], stored["status"]) == (1, "cli", "active")


def test_rebuilding_the_read_model_gives_identical_answers(services):
    amended_history(services)
    questions = [("cicopa", at) for at in ("1998", "1999", "2009", "2011", "2026")]
    questions.append(("cecop", "1995"))
    before = [services.queries.state(org, at) for org, at in questions]
    listed = list(services.queries.all_events("cicopa", include_retracted=True))
    position = services.rebuild_projections()
    assert position == stored_count(services)
    assert [services.queries.state(org, at) for org, at in questions] == before
    assert list(services.queries.all_events("cicopa", include_retracted=True)) == listed


def test_a_rebuild_on_postgresql_vacuums_the_rows_it_replaced(services):
    if services.engine.dialect.name != "postgresql":
        pytest.skip("VACUUM is PostgreSQL's")
    amended_history(services)

    def vacuumed() -> int:
        with services.engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'tl_events'"
            ).scalar_one()

    before = vacuumed()
    services.rebuild_projections()
    deadline = time.monotonic() + 5  # the statistics collector reports a moment later
    while vacuumed() == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert vacuumed() == before + 1


def test_a_catch_up_that_fails_midway_leaves_nothing_half_applied_and_resumes(services):
    append(services, FOUNDED)
    services.app.timeline_recorder.read_model = None  # events now land without projection
    for year in range(1950, 1990):
        append(
            services,
            {"type": "milestone", "occurred_on": str(year), "data": {"headline": str(year)}},
        )
    services.app.timeline_recorder.read_model = services.read_model
    position_before = services.read_model.position()

    class Crash(Exception):
        pass

    class FailingDecoder:
        calls = 0

        def to_domain_event(self, notification):
            FailingDecoder.calls += 1
            if FailingDecoder.calls == 25:
                raise Crash
            return services.app.mapper.to_domain_event(notification)

    with pytest.raises(Crash):
        services.read_model.catch_up(services.app.recorder, FailingDecoder())
    assert services.read_model.position() == position_before
    assert len(list(services.queries.all_events("cicopa"))) == 1
    assert services.catch_up() == stored_count(services)
    assert len(list(services.queries.all_events("cicopa"))) == 41
    assert services.queries.state("cicopa", "2000") == services.queries.state_by_replay(
        "cicopa", "2000"
    )


def test_event_pages_stay_correct_while_events_are_appended(services):
    for year in range(1950, 1960):
        append(
            services,
            {"type": "milestone", "occurred_on": str(year), "data": {"headline": str(year)}},
        )
    seen: list[str] = []
    page = services.queries.events("cicopa", limit=3)
    seen.extend(e["occurred_on"] for e in page.events)
    append(services, {"type": "milestone", "occurred_on": "1940", "data": {"headline": "before"}})
    append(services, {"type": "milestone", "occurred_on": "1958-06", "data": {"headline": "later"}})
    while page.next:
        page = services.queries.events("cicopa", limit=3, cursor=page.next)
        seen.extend(e["occurred_on"] for e in page.events)
    assert seen == [str(y) for y in range(1950, 1958)] + ["1958", "1958-06", "1959"]
    with pytest.raises(InvalidCursor):
        services.queries.events("cicopa", cursor="WzAsIDEsIDFd.forged")


def test_event_lists_filter_by_type_period_status_and_recording_time(services):
    events = amended_history(services)
    listed = services.queries.events("cicopa", types="office_holder_appointed").events
    assert [e["id"] for e in listed] == [events["rybar"]["id"], events["mariscal"]["id"]]
    assert listed[1]["status"] == "corrected" and listed[1]["occurred_on"] == "2009~"
    with_retracted = services.queries.events(
        "cicopa", types="office_holder_appointed", include_retracted=True
    ).events
    assert [e["status"] for e in with_retracted] == ["active", "retracted", "corrected"]
    in_period = services.queries.events("cicopa", start="1998", end="1998").events
    assert {e["id"] for e in in_period} == {events["rybar"]["id"], events["figures"]["id"]}
    everything = services.queries.events("cicopa").events
    assert [e["type"] for e in everything[-2:]] == ["retracted", "corrected"]
    at_first = services.queries.events("cicopa", known_at=events["founded"]["recorded_at"]).events
    assert [e["id"] for e in at_first] == [events["founded"]["id"]]
    for bad in (
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "ten"},
        {"types": "nonsense"},
        {"start": "1998-13"},
    ):
        with pytest.raises(InvalidArguments):
            services.queries.events("cicopa", **bad)


def test_the_state_as_known_at_a_past_time_ignores_later_amendments(services):
    events = amended_history(services)
    known = events["cecop"]["recorded_at"]
    then = services.queries.state("cicopa", "2011", known_at=known)
    assert [h["person"]["id"] for h in then["office_holders"]] == ["manuel-mariscal"]
    assert then["office_holders"][0]["since"] == "2011"
    assert then == services.queries.state_by_replay("cicopa", "2011", known_at=known)
    assert services.queries.state("cicopa", "2010")["office_holders"][0]["since"] == "2009~"


def test_sub_organisations_and_positions_come_from_every_organisation(services):
    amended_history(services)
    assert services.queries.state("cicopa", "1995")["sub_organisations"] == [
        {"id": "cecop", "name": None}
    ]
    rybar = services.queries.person("marian-rybar")
    assert rybar == {
        "id": "marian-rybar",
        "name": "Marian Rybar",
        "positions": [
            {
                "organisation": "cicopa",
                "role": "President",
                "from": "1998",
                "to": "2009~",
                "attested": None,
            }
        ],
    }
    listed = {o["id"]: o for o in services.queries.organisations()}
    assert listed["cicopa"]["name"] == "CICOPA"
    assert (listed["cicopa"]["version"], listed["cecop"]["version"]) == (7, 1)


def test_seeding_twice_adds_nothing(services):
    first = services.commands.seed()
    assert first.imported > 20 and first.skipped == 0
    second = services.commands.seed()
    assert (second.imported, second.skipped) == (0, first.imported)
    with services.engine.connect() as conn:
        from projections.tables import event_versions

        rows = conn.execute(select(func.count()).select_from(event_versions)).scalar_one()
    assert rows >= first.imported


@pytest.mark.parametrize("size", [DEFAULT_SQLITE_MMAP_SIZE, 4096 * 1000, 0])
def test_an_sqlite_file_is_read_through_a_memory_map_of_the_configured_size(sqlite_url, size):
    built = build(Config(database_url=sqlite_url, sqlite_mmap_size=size))
    try:
        built.commands.append(  # writers and readers take their connections from one pool
            "cicopa",
            {"type": "milestone", "occurred_on": "2001", "data": {"headline": "m"}},
            recorded_by="t",
        )
        with built.app.engine.connect() as conn, built.app.engine.connect() as other:
            assert conn.exec_driver_sql("PRAGMA mmap_size").scalar() == size
            assert other.exec_driver_sql("PRAGMA mmap_size").scalar() == size
    finally:
        built.close()


def test_the_memory_map_size_is_read_from_the_environment():
    assert Config.from_env({}).sqlite_mmap_size == 256 * 1024 * 1024
    assert Config.from_env({"TIMELINE_SQLITE_MMAP_SIZE": "0"}).sqlite_mmap_size == 0
    with pytest.raises(ValueError, match="TIMELINE_SQLITE_MMAP_SIZE must be a whole number"):
        Config.from_env({"TIMELINE_SQLITE_MMAP_SIZE": "lots"})
    with pytest.raises(ValueError, match="TIMELINE_SQLITE_MMAP_SIZE must be 0 or more"):
        Config.from_env({"TIMELINE_SQLITE_MMAP_SIZE": "-1"})


def test_export_then_import_keeps_bases_languages_qualifiers_and_corrected_bases(
    services, tmp_path
):
    seen = append(
        services,
        {
            "type": "headquarters_moved",
            "occurred_on": "1998",
            "data": {"location": "Geneva"},
        },
    )
    sent = [
        {"type": "renamed", "occurred_on": "2014", "basis": "attestation", "data": {"name": "A"}},
        {"type": "founded", "occurred_on": "1947", "data": {"name": "B", "language": "fr-CA"}},
        {
            "type": "figures_reported",
            "occurred_on": "2017",
            "data": {"figures": {"jobs": 4000000}, "qualifiers": {"jobs": "about"}},
        },
        {
            "type": "corrected",
            "basis": "attestation",
            "data": {"event_id": seen["id"], "reason": "only seen in 1998"},
        },
    ]
    ids = [append(services, payload)["id"] for payload in sent]
    append(
        services,
        {
            "type": "corrected",
            "basis": "change",
            "data": {"event_id": ids[0], "reason": "the page says it was renamed then"},
        },
    )
    exported = list(services.queries.export())
    by_id = {body["id"]: body for body in exported}
    assert (by_id[seen["id"]]["basis"], by_id[seen["id"]]["original"]) == (
        "attestation",
        {"basis": None},
    )
    assert (by_id[ids[0]]["basis"], by_id[ids[0]]["original"]) == (
        "change",
        {"basis": "attestation"},
    )
    fresh = build(Config(database_url=f"sqlite:///{tmp_path / 'fresh.db'}"))
    try:
        fresh.commands.import_lines([json.dumps(body) for body in exported])
        again = list(fresh.queries.export())
        kept = ("id", "type", "occurred_on", "basis", "data", "status", "original")
        assert [{k: b.get(k) for k in kept} for b in again] == [
            {k: b.get(k) for k in kept} for b in exported
        ]
        assert [b.get("basis") for b in again] == [
            "attestation",
            "change",
            None,
            None,
            "attestation",
            "change",
        ]
    finally:
        fresh.close()


def test_an_event_stored_in_the_shape_before_basis_and_language_still_reads_as_a_change(
    services,
):
    """Events stored before issue 17 have no `basis` and no `class_version` in their state."""
    draft = parse_event({"type": "renamed", "occurred_on": "1998", "data": {"name": "CICOPA"}})
    event = Organisation.start("cicopa").record(draft, event_id=uuid.uuid4(), recorded_by="cli")
    state = {k: v for k, v in vars(event).items() if k not in OLD_SHAPE_LEAVES_OUT}
    stored = StoredEvent(
        originator_id=event.originator_id,
        originator_version=1,
        topic="events.organisation:Renamed",
        state=services.app.mapper.transcoder.encode(state),
    )
    services.app.recorder.insert_events([stored])
    services.catch_up()
    (read_back,) = services.app.stream("cicopa")
    assert read_back.basis is None
    body = services.queries.event("cicopa", str(event.event_id))
    assert (body["basis"], body["data"]) == ("change", {"name": "CICOPA"})
    assert services.queries.state("cicopa", "1999")["name"] == "CICOPA"
    correction = append(
        services,
        {
            "type": "corrected",
            "basis": "attestation",
            "data": {"event_id": str(event.event_id), "reason": "only seen in 1998"},
        },
    )
    assert correction["basis"] == "attestation"
    assert services.queries.event("cicopa", str(event.event_id))["basis"] == "attestation"


OLD_SHAPE_LEAVES_OUT = ("originator_id", "originator_version", "basis")


@pytest.mark.postgres
def test_postgresql_connections_keep_no_prepared_statements(postgres_url):
    """Every read rolls back, which makes psycopg drop a connection's prepared statements:
    none are prepared, so none are prepared again and dropped on the next use."""
    built = build(Config(database_url=postgres_url))
    try:
        for headline in ("a", "b", "c", "d", "e", "f"):
            built.commands.append(
                "cicopa",
                {"type": "milestone", "occurred_on": "2001", "data": {"headline": headline}},
                recorded_by="t",
            )
        with built.app.engine.connect() as conn:
            prepared = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements")
            assert prepared.scalar() == 0
    finally:
        built.close()
