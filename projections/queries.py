"""Questions answered from the SQL read model, without replaying any stream.

A state is a handful of index probes: for each primary facet of the organisation, the latest
fact that counts at the date, and whether a later fact ended it (a leaving, a disaffiliation,
a role continued by another). A value that carries how it is known (a name, an office's
holder, a member...) is the latest fact of its *run* (see `projections.facts`): the run starts
after the latest ending before it, or after the latest earlier fact about another value if
one comes after that ending, each one probe (the second sought back no further than the
first). The run's facts themselves are read as rows, one index range, and give the value's
`since` (its first change) and `attested` (its attestations). Then the documents, the
figures' overlapping reports and the uncertain events, each a bounded range scan. The cost
follows the size of the answer, not the length of the history. Every answer must equal the
pure fold's in `projections.state`: the property tests hold the two together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, text

from projections.facts import (
    ANYONE,
    ATTESTATION,
    ENDED_BY_NAME,
    ENDED_FOR_ANYONE,
    ONE_VALUE_PER_KEY,
    RUN_FACETS,
)
from projections.people import OfficeStep, positions_from_steps
from projections.records import Json, format_timestamp
from projections.tables import (
    LONG_SPANS,
    LONGEST_SPAN_CLASS,
    OPEN,
    OPEN_END,
    OPEN_START,
    PRECISIONS,
    micros,
)

LOG_POSITION_SQL = "SELECT max(row_id) FROM tl_events"
"""The read model's position: it grows with every event the read model applies (one
statement, so it is read atomically even outside a snapshot)."""


def _active(alias: str, known: int | None) -> str:
    """SQL for "this row is the version that counts at recording time `known`" (None: now)."""
    if known is None:
        return f"{alias}.tx_to = {OPEN}"
    return f"({alias}.tx_from <= :known AND {alias}.tx_to > :known)"


_LISTED_FACETS = """
SELECT organisation, facet, key FROM tl_facets WHERE organisation IN :orgs AND facet IN :facets"""
"""The primary facets of the organisations and facet names a caller lists."""

_STATE_FACETS_OF = """
SELECT organisation, facet, key FROM tl_facets
WHERE organisation = :org AND facet IN ('existence', 'figure')
UNION ALL
SELECT organisation, facet, key FROM tl_facets
WHERE facet IN ('parent', 'name') AND organisation IN (
  SELECT DISTINCT organisation FROM tl_facts
  WHERE facet = 'parent' AND ref = :org AND organisation <> :org)"""
"""An organisation's existence and figures, with the parent and names of every organisation
that was ever affiliated to it (its possible sub-organisations), in one statement; its values
that carry how they are known are read by `_runs_sql`."""


@lru_cache(maxsize=16)
def _latest_sql(known: int | None, facets_of: str = _LISTED_FACETS) -> str:
    return f"""
SELECT fc.organisation, fc.facet, fc.key, f.value, f.first_day, f.position, f.fact_id, f.event_id,
  (fc.facet IN ('office', 'parent', 'member') AND EXISTS (
     SELECT 1 FROM tl_facts c
     WHERE c.organisation = fc.organisation AND c.facet = fc.facet || '_end'
       AND c.key = fc.key AND c.subkey IN (f.ident, '{ANYONE}')
       AND c.first_day >= f.first_day AND c.first_day <= :at_end
       AND (c.first_day > f.first_day OR c.position > f.position)
       AND c.last_day <= :at_end AND {_active("c", known)})) AS ended
FROM ({facets_of}) fc
JOIN tl_facts f ON f.fact_id = (
  SELECT f2.fact_id FROM tl_facts f2
  WHERE f2.organisation = fc.organisation AND f2.facet = fc.facet AND f2.key = fc.key
    AND f2.subkey = '' AND f2.first_day <= :at_end AND f2.last_day <= :at_end
    AND {_active("f2", known)}
  ORDER BY f2.first_day DESC, f2.position DESC LIMIT 1)
"""


NO_BOUND = -(2**40)
"""Where a run with nothing before it starts: before every day and position."""


def _after(row: str, day: str, position: str) -> str:
    """SQL for "`row` comes after (day, position) in occurrence order"."""
    return f"({row}.first_day > {day} OR ({row}.first_day = {day} AND {row}.position > {position}))"


def _listed(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def _before(a: str, b: str, later: bool = False) -> str:
    """SQL for "fact `a` is found and comes before fact `b` (or `b` is not found)" in
    occurrence order (after it, if `later`)."""
    way = ">" if later else "<"
    return (
        f"({a}.fact_id IS NOT NULL AND ({b}.fact_id IS NULL OR "
        f"({a}.first_day, {a}.position) {way} ({b}.first_day, {b}.position)))"
    )


@lru_cache(maxsize=16)
def _runs_sql(known: int | None) -> str:
    """Per (facet, key) of a value that says how it is known: the latest counted fact, what
    ended it (if anything did), and, if it is held, the facts of its run in order.

    Each step is a CTE kept as its own small table (one row per key), so each probe runs
    once per key; the probes a facet cannot need (the endings its facts never have, the
    ends of a value that ended) are skipped by CASE. Every probe is a seek that stops at
    its first row, but for the run's facts, which are part of the answer."""

    def counted(alias: str) -> str:
        return f"{alias}.last_day <= :at_end AND {_active(alias, known)}"

    def same(alias: str, facet: str = "l.facet", subkey: str = "= ''") -> str:
        return (
            f"{alias}.organisation = :org AND {alias}.facet = {facet} AND {alias}.key = l.key "
            f"AND {alias}.subkey {subkey}"
        )

    def ending(alias: str, subkey: str, after_latest: bool) -> str:
        """One probe: the first ending after the latest fact, or the last one before it, of
        the holder named (`subkey` l.ident) or of anyone (`subkey` ANYONE)."""
        if after_latest:
            where = (
                f"{alias}.first_day >= l.first_day AND {alias}.first_day <= :at_end "
                f"AND {_after(alias, 'l.first_day', 'l.position')}"
            )
            order = f"{alias}.first_day, {alias}.position"
        else:
            where = (
                f"{alias}.first_day <= l.first_day "
                f"AND ({alias}.first_day < l.first_day OR {alias}.position < l.position)"
            )
            order = f"{alias}.first_day DESC, {alias}.position DESC"
        return (
            f"(SELECT {alias}.fact_id FROM tl_facts {alias} "
            f"WHERE {same(alias, ends, '= ' + subkey)} AND {where} "
            f"AND {counted(alias)} ORDER BY {order} LIMIT 1)"
        )

    ends = "l.facet || '_end'"
    named, anyone = _listed(ENDED_BY_NAME), _listed(ENDED_FOR_ANYONE)
    stop_first = _before("sn", "sa", later=True)
    held = "l.end_id IS NULL"
    # a value held that is not null (a founding without an acronym holds none) has a run
    told = f"{held} AND l.value <> 'null'"
    return f"""
WITH keyed AS MATERIALIZED (
  SELECT fc.facet, fc.key, (
    SELECT f.fact_id FROM tl_facts f
    WHERE f.organisation = fc.organisation AND f.facet = fc.facet AND f.key = fc.key
      AND f.subkey = '' AND f.first_day <= :at_end AND {counted("f")}
    ORDER BY f.first_day DESC, f.position DESC LIMIT 1) AS latest_id
  FROM tl_facets fc
  WHERE fc.organisation = :org AND fc.facet IN ({_listed(RUN_FACETS)})
), latest AS MATERIALIZED (
  SELECT l.fact_id, l.facet, l.key, l.ident, l.value, l.first_day, l.position, l.event_id,
    l.sources,
    CASE WHEN l.facet IN ({named}) THEN {ending("e", "l.ident", True)} END AS end_named,
    CASE WHEN l.facet IN ({anyone}) THEN {ending("a", f"'{ANYONE}'", True)} END AS end_any
  FROM keyed k JOIN tl_facts l ON l.fact_id = k.latest_id
), ended AS MATERIALIZED (
  SELECT l.*, CASE WHEN {_before("en", "ea")} THEN en.fact_id ELSE ea.fact_id END AS end_id
  FROM latest l
  LEFT JOIN tl_facts en ON en.fact_id = l.end_named
  LEFT JOIN tl_facts ea ON ea.fact_id = l.end_any
), stops AS MATERIALIZED (
  SELECT l.*,
    CASE WHEN {held} AND l.facet IN ({named}) THEN {ending("s", "l.ident", False)}
    END AS stop_named,
    CASE WHEN {held} AND l.facet IN ({anyone}) THEN {ending("n", f"'{ANYONE}'", False)}
    END AS stop_any
  FROM ended l
), stopped AS MATERIALIZED (
  SELECT l.*,
    COALESCE(CASE WHEN {stop_first} THEN sn.first_day ELSE sa.first_day END, {NO_BOUND})
      AS stop_day,
    COALESCE(CASE WHEN {stop_first} THEN sn.position ELSE sa.position END, {NO_BOUND})
      AS stop_position
  FROM stops l
  LEFT JOIN tl_facts sn ON sn.fact_id = l.stop_named
  LEFT JOIN tl_facts sa ON sa.fact_id = l.stop_any
), started AS MATERIALIZED (
  -- the latest earlier fact about another value, sought back from the latest fact only as
  -- far as the latest ending before it: the walk covers the run, not the history before it
  SELECT l.*, CASE WHEN {told} AND l.facet NOT IN ({_listed(ONE_VALUE_PER_KEY)}) THEN (
    SELECT o.fact_id FROM tl_facts o
    WHERE {same("o")} AND o.first_day <= l.first_day AND o.first_day >= l.stop_day
      AND o.ident <> l.ident AND (o.first_day < l.first_day OR o.position < l.position)
      AND {_after("o", "l.stop_day", "l.stop_position")} AND {counted("o")}
    ORDER BY o.first_day DESC, o.position DESC LIMIT 1) END AS other_id
  FROM stopped l
), runs AS (
  SELECT l.*, COALESCE(o.first_day, l.stop_day) AS start_day,
    COALESCE(o.position, l.stop_position) AS start_position,
    CASE WHEN {told} THEN l.first_day END AS run_last_day
  FROM started l LEFT JOIN tl_facts o ON o.fact_id = l.other_id
)
SELECT l.facet, l.key, l.value, l.first_day, l.position, l.event_id, l.sources,
  e.subkey AS end_subkey, e.occurred_on AS end_on, e.first_day AS end_day,
  e.position AS end_position,
  CASE WHEN e.fact_id IS NOT NULL AND l.facet = 'office' THEN EXISTS (
     SELECT 1 FROM tl_facts z
     WHERE z.organisation = :org AND z.facet = 'office_end' AND z.key = l.key
       AND z.subkey = '{ANYONE}' AND z.first_day >= e.first_day AND z.first_day <= :at_end
       AND {_after("z", "e.first_day", "e.position")} AND {counted("z")}) END AS continued,
  x.value AS run_value, x.basis AS run_basis, x.occurred_on AS run_on,
  x.first_day AS run_day, x.position AS run_position
FROM runs l
LEFT JOIN tl_facts x ON {same("x")} AND x.first_day >= l.start_day
  AND x.first_day <= l.run_last_day AND {_after("x", "l.start_day", "l.start_position")}
  AND (x.first_day < l.first_day OR x.position <= l.position) AND {counted("x")}
LEFT JOIN tl_facts e ON e.fact_id = l.end_id
ORDER BY l.facet, l.key, x.first_day, x.position
"""


@lru_cache(maxsize=16)
def _reports_sql(known: int | None, figures: int) -> str:
    # A counted report overlaps the latest exactly when it ends on or after the latest's
    # first day (it sorts no later than the latest, so it starts by the latest's last day):
    # one range seek on last_day per figure, touching only the answer. The latest's first
    # day is its event's sort day, unless its range has no first day (then every report).
    seek = f"""
SELECT f.key, f.value, f.first_day, f.position FROM tl_facts f
WHERE f.organisation = :org AND f.facet = 'figure' AND f.key = :key_{{n}} AND f.subkey = ''
  AND f.last_day >= (
    SELECT CASE WHEN ev.precision = {OPEN_START} THEN 0 ELSE ev.sort_day END
    FROM tl_events ev WHERE ev.event_id = :event_{{n}} AND {_active("ev", known)})
  AND f.last_day <= :at_end AND {_active("f", known)}"""
    union = " UNION ALL ".join(seek.format(n=n) for n in range(figures))
    return f"SELECT key, value FROM ({union}) r ORDER BY r.key, r.first_day, r.position"


@lru_cache(maxsize=16)
def _documents_sql(known: int | None) -> str:
    return f"""
SELECT value FROM tl_facts d
WHERE d.organisation = :org AND d.facet = 'document' AND d.key = '' AND d.subkey = ''
  AND d.first_day <= :at_end AND d.last_day <= :at_end AND {_active("d", known)}
ORDER BY d.first_day, d.position
"""


@lru_cache(maxsize=16)
def _uncertain_sql(known: int | None) -> str:
    # An event straddles the end of `at` (its range starts by then and ends after it) in one
    # of a few shapes (see `projections.tables.date_shape`), each found by an index seek
    # that touches little more than the answer: a month or a year that contains that day
    # starts on the first of it; a range with no last day straddles every day from its first
    # on, one with no first day every day before its last (by which it sorts); any other
    # range of class k starts fewer than 2**k days before the day.
    seek = f"""
SELECT body, sort_day, position FROM tl_events e
WHERE e.organisation = :org AND e.precision = {{shape}} AND {{where}} AND {_active("e", known)}"""
    seeks = [
        seek.format(
            shape=PRECISIONS["month"], where="e.sort_day = :month_start AND e.last_day > :at_end"
        ),
        seek.format(
            shape=PRECISIONS["year"], where="e.sort_day = :year_start AND e.last_day > :at_end"
        ),
        seek.format(shape=OPEN_END, where="e.sort_day <= :at_end"),
        seek.format(shape=OPEN_START, where="e.sort_day > :at_end"),
    ]
    seeks += [
        seek.format(
            shape=LONG_SPANS + k,
            where=f"e.sort_day > :at_end - {2**k} AND e.sort_day <= :at_end "
            "AND e.last_day > :at_end",
        )
        for k in range(2, LONGEST_SPAN_CLASS + 1)
    ]
    return f"SELECT body FROM ({' UNION ALL '.join(seeks)}) u ORDER BY u.sort_day, u.position"


@lru_cache(maxsize=16)
def _header_sql(known: int | None) -> str:
    return f"""
SELECT o.first_recorded, EXISTS (
  SELECT 1 FROM tl_events e
  WHERE e.organisation = o.organisation AND e.last_day <= :at_end AND {_active("e", known)}
) AS any_counted
FROM tl_organisations o WHERE o.organisation = :org
"""


@dataclass(frozen=True)
class Asked:
    """When a question is about: the end of `at` in valid time, `known_at` in recording time."""

    at_end: date
    known_at: datetime | None = None

    @property
    def known(self) -> int | None:
        """Recording time as the read model stores it, or None for "now"."""
        return micros(self.known_at) if self.known_at else None

    @property
    def versioned(self) -> int | None:
        """`known` as the statements' SQL sees it: a recording time is a parameter, so their
        text depends only on whether one is asked (and is built once for each case)."""
        return None if self.known_at is None else 0

    def params(self, **more: Any) -> dict[str, Any]:
        """Bind parameters for the queries."""
        end = self.at_end
        params = {
            "at_end": end.toordinal(),
            "year_start": end.replace(month=1, day=1).toordinal(),
            "month_start": end.replace(day=1).toordinal(),
            **more,
        }
        if self.known_at is not None:
            params["known"] = self.known
        return params


def state_sql(asked: Asked) -> dict[str, str]:
    """The SQL of the statements a state runs, by name, in the order it runs them, but for
    the figures' reports (see `reports_sql`): what a benchmark times bare through the driver,
    with `asked.params(org=...)`. The latest facts of the organisation (and of those that were
    affiliated to it) are rows with columns organisation, facet, key, value, first_day,
    position, fact_id, event_id, ended."""
    known = asked.versioned
    return {
        "header": _header_sql(known),
        "latest": _latest_sql(known, _STATE_FACETS_OF),
        "runs": _runs_sql(known),
        "documents": _documents_sql(known),
        "uncertain": _uncertain_sql(known),
    }


def reports_sql(asked: Asked, figures: Sequence[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    """The statement reading the reports that overlap each figure's latest, given (key, event
    id) of each figure's latest fact (in key order), and its parameters beside `asked`'s."""
    params: dict[str, Any] = {}
    for n, (key, event_id) in enumerate(figures):
        params[f"key_{n}"] = key
        params[f"event_{n}"] = event_id
    return _reports_sql(asked.versioned, len(figures)), params


@lru_cache(maxsize=64)
def statement(sql: str, *expanding: str) -> Any:
    """A statement object per SQL text, made once: building one parses its parameters."""
    return text(sql).bindparams(*(bindparam(name, expanding=True) for name in expanding))


class StateQueries:
    """Reads of the state, the people and the organisations over one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def has_history(self, organisation: str, known_at: datetime | None) -> bool:
        """True if any event of the organisation was recorded by `known_at` (or at all)."""
        row = self.conn.execute(
            statement("SELECT first_recorded FROM tl_organisations WHERE organisation = :org"),
            {"org": organisation},
        ).first()
        return row is not None and (known_at is None or row[0] <= micros(known_at))

    def log_position(self) -> int:
        """Changes whenever the read model applies anything: the newest row's id."""
        found = self.conn.execute(statement(LOG_POSITION_SQL)).scalar()
        return int(found or 0)

    def latest_facts(
        self, organisations: Sequence[str], facet_names: Sequence[str], asked: Asked
    ) -> dict[str, dict[tuple[str, str], Any]]:
        """Per organisation, per (facet, key): the latest counted fact, unless it was ended."""
        rows = self.conn.execute(
            statement(_latest_sql(asked.versioned), "orgs", "facets"),
            asked.params(orgs=list(organisations), facets=list(facet_names)),
        )
        found: dict[str, dict[tuple[str, str], Any]] = {org: {} for org in organisations}
        for row in rows:
            if not row.ended:
                found[row.organisation][(row.facet, row.key)] = row
        return found

    def state(self, organisation: str, at_label: str, asked: Asked) -> Json | None:
        """The state of the organisation at the end of `at`, as known at `known_at`; None if
        no event of it had been recorded by then."""
        params = asked.params(org=organisation)
        sql = state_sql(asked)
        header = self.conn.execute(statement(sql["header"]), params).first()
        if header is None or (asked.known is not None and header.first_recorded > asked.known):
            return None
        latest: dict[str, dict[tuple[str, str], Any]] = {}
        for row in self.conn.execute(statement(sql["latest"]), params):
            if not row.ended:
                latest.setdefault(row.organisation, {})[(row.facet, row.key)] = row
        own = latest.pop(organisation, {})
        existence = own.get(("existence", ""))
        figures = [row for (facet, _), row in own.items() if facet == "figure"]
        runs = _runs(self.conn.execute(statement(sql["runs"]), params).all())
        return {
            "organisation": organisation,
            "at": at_label,
            "known_at": format_timestamp(asked.known_at) if asked.known_at else None,
            "exists": bool(header.any_counted)
            and (existence is None or orjson.loads(existence.value) is not False),
            **_known_values(runs),
            "figures": self._figures(organisation, figures, asked),
            "documents": self._values(sql["documents"], params),
            "sub_organisations": _children(organisation, latest),
            "uncertain": self._values(sql["uncertain"], params),
        }

    def positions(self, person: str, today: date) -> tuple[str | None, list[Json]] | None:
        """A person's name and positions across organisations, as they count today."""
        offices = self.conn.execute(
            statement(
                "SELECT DISTINCT organisation, key FROM tl_facts "
                f"WHERE facet = 'office' AND ref = :person AND {_active('tl_facts', None)}"
            ),
            {"person": person},
        ).all()
        if not offices:
            return None
        roles = {(str(org), str(role)) for org, role in offices}
        for org, role in list(roles):
            # an appointment to another role that continues this one ends its tenures
            roles.update((org, orjson.loads(value)["role"]) for value in self._continued(org, role))
        steps = {(org, role): self._office_steps(org, role, today) for org, role in sorted(roles)}
        return positions_from_steps(steps, person)

    def people(self) -> list[Json]:
        """Everyone ever appointed to an office (as things stand now), with their latest name."""
        rows = self.conn.execute(
            statement(
                "SELECT ref, value FROM tl_facts "
                f"WHERE facet = 'office' AND {_active('tl_facts', None)} ORDER BY position"
            )
        )
        names = {row.ref: orjson.loads(row.value)["person"]["name"] for row in rows}
        return [{"id": key, "name": names[key]} for key in sorted(names, key=lambda k: names[k])]

    def _continued(self, organisation: str, role: str) -> list[str]:
        """The endings of `role` by appointments to roles that continue it (as of now)."""
        return list(
            self.conn.scalars(
                statement(
                    "SELECT value FROM tl_facts s WHERE s.organisation = :org "
                    f"AND s.facet = 'office_end' AND s.key = :role AND s.subkey = '{ANYONE}' "
                    f"AND {_active('s', None)}"
                ),
                {"org": organisation, "role": role},
            )
        )

    def _office_steps(self, organisation: str, role: str, today: date) -> list[OfficeStep]:
        """The role's appointments, attestations and leavings that count today, in order."""
        rows = self.conn.execute(
            statement(
                "SELECT facet, ref, value, basis, occurred_on, first_day, position "
                "FROM tl_facts s WHERE s.organisation = :org AND s.key = :role "
                f"AND (s.facet = 'office' OR (s.facet = 'office_end' AND s.subkey <> '{ANYONE}')) "
                f"AND s.last_day <= :today AND {_active('s', None)} "
                "ORDER BY s.first_day, s.position"
            ),
            {"org": organisation, "role": role, "today": today.toordinal()},
        )
        steps = []
        for row in rows:
            appointed = row.facet == "office"
            value = orjson.loads(row.value) if appointed else {}
            steps.append(
                OfficeStep(
                    appointed,
                    row.ref,
                    value["person"]["name"] if appointed else None,
                    row.occurred_on,
                    (row.first_day, row.position),
                    row.basis == ATTESTATION,
                    value.get("replaces_role"),
                )
            )
        return steps

    def organisations(self, today: date) -> list[Json]:
        """Every organisation with events: its id, name and acronym today, and its version."""
        rows = self.conn.execute(
            statement("SELECT organisation, version FROM tl_organisations ORDER BY organisation")
        ).all()
        if not rows:
            return []
        names = self.latest_facts([r.organisation for r in rows], ("name", "acronym"), Asked(today))
        listed = []
        for row in rows:
            facts = names[row.organisation]
            language = _language(facts)
            name, acronym = facts.get(("name", language)), facts.get(("acronym", language))
            listed.append(
                {
                    "id": row.organisation,
                    "name": orjson.loads(name.value) if name else None,
                    "acronym": orjson.loads(acronym.value) if acronym else None,
                    "version": row.version,
                }
            )
        return listed

    def version(self, organisation: str) -> int:
        """The organisation's stream version (0 if it has no events)."""
        found = self.conn.execute(
            statement("SELECT version FROM tl_organisations WHERE organisation = :org"),
            {"org": organisation},
        ).scalar()
        return int(found or 0)

    def _figures(self, organisation: str, latest_rows: Sequence[Any], asked: Asked) -> Json:
        if not latest_rows:
            return {}
        latest = sorted(latest_rows, key=lambda row: row.key)
        sql, params = reports_sql(asked, [(row.key, row.event_id) for row in latest])
        reports: dict[str, list[Json]] = {}
        for key, value in self.conn.execute(
            statement(sql), asked.params(org=organisation, **params)
        ):
            reports.setdefault(key, []).append(orjson.loads(value))
        return {
            row.key: {**orjson.loads(row.value), "reports": reports.get(row.key, [])}
            for row in latest
        }

    def _values(self, sql: str, params: dict[str, Any]) -> list[Json]:
        return [orjson.loads(row[0]) for row in self.conn.execute(statement(sql), params)]


def _children(organisation: str, latest: dict[str, dict[tuple[str, str], Any]]) -> list[Json]:
    """Of the other organisations' latest parent and name facts, those whose parent is this one."""
    children = []
    for child in sorted(latest):
        parent = latest[child].get(("parent", ""))
        if parent is not None and orjson.loads(parent.value) == organisation:
            name = latest[child].get(("name", _language(latest[child])))
            children.append({"id": child, "name": orjson.loads(name.value) if name else None})
    return children


def _language(facts: dict[tuple[str, str], Any]) -> str:
    """The language a state's `name` and `acronym` are in: English if it has an English name,
    else the latest name's (in occurrence order)."""
    named = [row for (facet, _), row in facts.items() if facet == "name"]
    if not named or any(row.key == "en" for row in named):
        return "en"
    return str(max(named, key=lambda row: (row.first_day, row.position)).key)


@dataclass
class Run:
    """A value that says how it is known (see `_runs_sql`): its latest fact, what ended it,
    and, while it is held, what its run of facts says about how it is known."""

    facet: str
    key: str
    value: str
    first_day: int
    position: int
    event_id: str
    sources: str
    end_subkey: str | None
    end_on: str | None
    end_day: int | None
    end_position: int | None
    continued: bool
    first_value: str | None = None
    first_first_day: int | None = None
    first_position: int | None = None
    since: str | None = None
    attested_count: int = 0
    attested_first: str | None = None
    attested_last: str | None = None

    def add(self, value: str, basis: int, occurred_on: str, day: int, position: int) -> None:
        """The next fact of the run, in occurrence order."""
        if self.first_value is None:
            self.first_value, self.first_first_day, self.first_position = value, day, position
        if basis == ATTESTATION:
            self.attested_count += 1
            self.attested_first = self.attested_first or occurred_on
            self.attested_last = occurred_on
        elif self.since is None:
            self.since = occurred_on


_VALUE_COLUMNS = 12
"""The columns of a `_runs_sql` row about the value; the rest are about a fact of its run."""


def _runs(rows: Sequence[Sequence[Any]]) -> list[Run]:
    """The rows of `_runs_sql` (one per fact of a held value's run, in order, and one per
    ended value), gathered per value."""
    runs: list[Run] = []
    last: Run | None = None
    for row in rows:
        if last is None or (last.facet, last.key) != (row[0], row[1]):
            last = Run(*row[:_VALUE_COLUMNS])
            last.continued = bool(last.continued)
            runs.append(last)
        if row[-2] is not None:
            last.add(*row[_VALUE_COLUMNS:])
    return runs


def _known_values(rows: Sequence[Any]) -> Json:
    """The state's values that say how they are known, from their runs (see `_runs_sql`)."""
    held = {(row.facet, row.key): row for row in rows if row.end_subkey is None}
    language = _language(held)
    names = {
        key: {"name": orjson.loads(row.value), "acronym": _value(held.get(("acronym", key)))}
        for (facet, key), row in sorted(held.items())
        if facet == "name"
    }
    fields = {
        "name": held.get(("name", language)),
        "acronym": held.get(("acronym", language)),
        "headquarters": held.get(("headquarters", "")),
        "parent": held.get(("parent", "")),
    }
    offices = sorted((row for row in held.values() if row.facet == "office"), key=_first_order)
    members = sorted((row for row in held.values() if row.facet == "member"), key=_first_order)
    return {
        **{name: _value(row) for name, row in fields.items()},
        "names": names,
        "provenance": {
            name: _provenance(row)
            for name, row in fields.items()
            if row is not None and _value(row) is not None
        },
        "office_holders": [_holder(row) for row in offices],
        "roles_without_known_holder": _unknown_holders(rows),
        "members": [_member(row) for row in members],
    }


def _value(row: Any) -> Any:
    return orjson.loads(row.value) if row is not None else None


def _first_order(row: Any) -> tuple[int, int]:
    return (row.first_first_day, row.first_position)


def _provenance(row: Any) -> Json:
    """How a value is known: the first change of its run, its attestations, its latest event."""
    attested = None
    if row.attested_count:
        attested = {
            "first": row.attested_first,
            "last": row.attested_last,
            "count": row.attested_count,
        }
    return {
        "since": row.since,
        "attested": attested,
        "event_id": row.event_id,
        "sources": orjson.loads(row.sources),
    }


def _holder(row: Any) -> Json:
    """An office holder, named as the latest event of their tenure names them."""
    return {"role": row.key, "person": orjson.loads(row.value)["person"], **_provenance(row)}


def _member(row: Any) -> Json:
    """A member organisation, as the first event of its membership names it."""
    first = orjson.loads(row.first_value)
    return {
        "id": first["id"],
        "name": first["name"],
        "country": first.get("country"),
        **_provenance(row),
    }


def _unknown_holders(rows: Sequence[Any]) -> list[Json]:
    """Roles whose holder left with nothing after: the record is silent about who followed."""
    left = [
        row
        for row in rows
        if row.facet == "office" and row.end_subkey not in (None, ANYONE) and not row.continued
    ]
    left.sort(key=lambda row: (row.end_day, row.end_position))
    unknown = []
    for row in left:
        person = orjson.loads(row.value)["person"]
        last_holder = {"id": person["id"], "name": person["name"]}
        unknown.append({"role": row.key, "since": row.end_on, "last_holder": last_holder})
    return unknown
