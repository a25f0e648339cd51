"""Questions answered from the SQL read model, without replaying any stream.

A state is a handful of index probes: for each primary facet of the organisation, the latest
fact that counts at the date (and, for offices and parents, whether a later fact ended it);
for each member, its latest leaving and the first joining after it; then the documents, the
figures' overlapping reports and the uncertain events, each a bounded range scan. The cost
follows the size of the answer, not the length of the history. Every answer must equal
the pure fold's in `projections.state`: the property tests hold the two together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, text

from events.dates import EDTFDate
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
WHERE organisation = :org
  AND facet IN ('name', 'acronym', 'existence', 'headquarters', 'parent', 'office', 'figure')
UNION ALL
SELECT organisation, facet, key FROM tl_facets
WHERE facet IN ('parent', 'name') AND organisation IN (
  SELECT DISTINCT organisation FROM tl_facts
  WHERE facet = 'parent' AND ref = :org AND organisation <> :org)"""
"""An organisation's facets for its state, with the parent and name of every organisation
that was ever affiliated to it (its possible sub-organisations), in one statement."""


def _latest_sql(known: int | None, facets_of: str = _LISTED_FACETS) -> str:
    return f"""
SELECT fc.organisation, fc.facet, fc.key, f.value, f.first_day, f.position, f.fact_id,
  (fc.facet IN ('office', 'parent') AND EXISTS (
     SELECT 1 FROM tl_facts c
     WHERE c.organisation = fc.organisation AND c.facet = fc.facet || '_end'
       AND c.key = fc.key AND c.subkey = f.ref
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


def _members_sql(known: int | None) -> str:
    return f"""
SELECT j.value, j.first_day, j.position
FROM tl_facets fc
LEFT JOIN tl_facts l ON l.fact_id = (
  SELECT l2.fact_id FROM tl_facts l2
  WHERE l2.organisation = fc.organisation AND l2.facet = 'member_end' AND l2.key = fc.key
    AND l2.subkey = '' AND l2.first_day <= :at_end AND l2.last_day <= :at_end
    AND {_active("l2", known)}
  ORDER BY l2.first_day DESC, l2.position DESC LIMIT 1)
JOIN tl_facts j ON j.fact_id = (
  SELECT j2.fact_id FROM tl_facts j2
  WHERE j2.organisation = fc.organisation AND j2.facet = 'member' AND j2.key = fc.key
    AND j2.subkey = '' AND j2.first_day >= COALESCE(l.first_day, -1)
    AND j2.first_day <= :at_end AND j2.last_day <= :at_end AND {_active("j2", known)}
    AND (l.fact_id IS NULL OR j2.first_day > l.first_day OR j2.position > l.position)
  ORDER BY j2.first_day ASC, j2.position ASC LIMIT 1)
WHERE fc.organisation = :org AND fc.facet = 'member'
ORDER BY j.first_day, j.position
"""


def _reports_sql(known: int | None, figures: int) -> str:
    # A counted report overlaps the latest exactly when it ends on or after the latest's
    # first day (it sorts no later than the latest, so it starts by the latest's last day):
    # one range seek on last_day per figure, touching only the answer.
    seek = f"""
SELECT f.key, f.value, f.first_day, f.position FROM tl_facts f
WHERE f.organisation = :org AND f.facet = 'figure' AND f.key = :key_{{n}} AND f.subkey = ''
  AND f.last_day >= :from_{{n}} AND f.last_day <= :at_end AND {_active("f", known)}"""
    union = " UNION ALL ".join(seek.format(n=n) for n in range(figures))
    return f"SELECT key, value FROM ({union}) r ORDER BY r.key, r.first_day, r.position"


def _documents_sql(known: int | None) -> str:
    return f"""
SELECT value FROM tl_facts d
WHERE d.organisation = :org AND d.facet = 'document' AND d.key = '' AND d.subkey = ''
  AND d.first_day <= :at_end AND d.last_day <= :at_end AND {_active("d", known)}
ORDER BY d.first_day, d.position
"""


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
            statement(_latest_sql(asked.known), "orgs", "facets"),
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
        header = self.conn.execute(statement(_header_sql(asked.known)), params).first()
        if header is None or (asked.known is not None and header.first_recorded > asked.known):
            return None
        latest: dict[str, dict[tuple[str, str], Any]] = {}
        for row in self.conn.execute(statement(_latest_sql(asked.known, _STATE_FACETS_OF)), params):
            if not row.ended:
                latest.setdefault(row.organisation, {})[(row.facet, row.key)] = row
        own = latest.pop(organisation, {})
        value = {facet_key: orjson.loads(row.value) for facet_key, row in own.items()}
        holders = sorted(
            (row for (facet, _), row in own.items() if facet == "office"),
            key=lambda row: (row.first_day, row.position),
        )
        figures = [row for (facet, _), row in own.items() if facet == "figure"]
        return {
            "organisation": organisation,
            "at": at_label,
            "known_at": format_timestamp(asked.known_at) if asked.known_at else None,
            "exists": bool(header.any_counted) and value.get(("existence", ""), True) is not False,
            "name": value.get(("name", "")),
            "acronym": value.get(("acronym", "")),
            "headquarters": value.get(("headquarters", "")),
            "parent": value.get(("parent", "")),
            "office_holders": [orjson.loads(row.value) for row in holders],
            "members": self._values(_members_sql(asked.known), params),
            "figures": self._figures(organisation, figures, asked),
            "documents": self._values(_documents_sql(asked.known), params),
            "sub_organisations": _children(organisation, latest),
            "uncertain": self._values(_uncertain_sql(asked.known), params),
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
        steps = {(org, role): self._office_steps(org, role, today) for org, role in offices}
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

    def _office_steps(self, organisation: str, role: str, today: date) -> list[OfficeStep]:
        rows = self.conn.execute(
            statement(
                "SELECT facet, ref, value, first_day, position FROM tl_facts s "
                "WHERE s.organisation = :org AND s.facet IN ('office', 'office_end') "
                f"AND s.key = :role AND s.last_day <= :today AND {_active('s', None)} "
                "ORDER BY s.first_day, s.position"
            ),
            {"org": organisation, "role": role, "today": today.toordinal()},
        )
        steps = []
        for row in rows:
            value = orjson.loads(row.value)
            appointed = row.facet == "office"
            occurred_on = value["since"] if appointed else value["occurred_on"]
            name = value["person"]["name"] if appointed else None
            steps.append(
                OfficeStep(appointed, row.ref, name, occurred_on, (row.first_day, row.position))
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
            name, acronym = facts.get(("name", "")), facts.get(("acronym", ""))
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
        params = asked.params(org=organisation)
        for n, row in enumerate(latest):
            first = EDTFDate.parse(orjson.loads(row.value)["reported_on"]).first_day
            params[f"key_{n}"] = row.key
            params[f"from_{n}"] = first.toordinal() if first else 0
        reports: dict[str, list[Json]] = {}
        sql = _reports_sql(asked.known, len(latest))
        for key, value in self.conn.execute(statement(sql), params):
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
            name = latest[child].get(("name", ""))
            children.append({"id": child, "name": orjson.loads(name.value) if name else None})
    return children
