"""The exports as the API and the CLI ask for them: each reads the histories through the
application's queries (the read model), and the Popolo import writes through its commands."""

from __future__ import annotations

import json
from collections.abc import Iterable

from events.dates import EDTFDate
from events.errors import OrganisationNotFound
from events.validation import is_slug
from timeline.commands import Commands, ImportReport
from timeline.errors import ImportRejected
from timeline.exports import history
from timeline.exports.csl import csl_items
from timeline.exports.jsonld import jsonld
from timeline.exports.popolo import History, citation_link, popolo
from timeline.exports.popolo_import import PopoloRejected, events_from_popolo
from timeline.exports.yearly import states_csv, years
from timeline.queries import Queries, today

Json = history.Json
OFFICE_TYPES = "office_holder_appointed,office_holder_left"


def _names_one_of(event: Json, people: set[str]) -> bool:
    data = event["data"]
    person = data["person"]["id"] if "person" in data else data.get("person_id")
    return person in people


class Exports:
    """Popolo, JSON-LD, CSV by year and CSL-JSON of the histories; Popolo files imported."""

    def __init__(self, queries: Queries, commands: Commands | None = None) -> None:
        self.queries = queries
        self.commands = commands

    def _events(self, organisation: str, types: str | None = None) -> list[Json]:
        """The organisation's events as they count now (404 when it has none)."""
        if not is_slug(organisation):
            raise OrganisationNotFound(organisation)
        return list(self.queries.all_events(organisation, types=types))

    def _history(self, organisation: str, names: dict[str, str | None]) -> History:
        views = history.views_of(self._events(organisation))
        people = {t.person["id"] for t in history.tenures(views, today())}
        others = {
            other: history.views_of(events)
            for other, events in self._offices_elsewhere(organisation).items()
            if any(_names_one_of(event, people) for event in events)
        }
        return History(organisation, views, self.queries.state(organisation), others, names)

    def _offices_elsewhere(self, organisation: str) -> dict[str, list[Json]]:
        """Every other organisation's appointments and leavings, in occurrence order: one
        pass over the events list, however many people held posts."""
        found: dict[str, list[Json]] = {}
        cursor = None
        while True:
            page = self.queries.events(None, types=OFFICE_TYPES, limit=1000, cursor=cursor)
            for event in page.events:
                if event["organisation"] != organisation:
                    found.setdefault(event["organisation"], []).append(event)
            if page.next is None:
                return found
            cursor = page.next

    def popolo(self, organisations: Iterable[str] | None, base_url: str) -> Json:
        """A Popolo document of the organisations named (None: every one)."""
        listed = self.queries.organisations()
        names = {o["id"]: o["name"] for o in listed}
        chosen = [o["id"] for o in listed] if organisations is None else list(organisations)
        histories = [self._history(org, names) for org in chosen]
        return popolo(histories, citation_link(base_url), today())

    def jsonld(
        self, organisation: str, at: str | None, base_url: str, known_at: str | None = None
    ) -> Json:
        """The state at `at` (as known at `known_at`) as JSON-LD."""
        return jsonld(self.queries.state(organisation, at, known_at), base_url)

    def check_years(self, organisation: str, start: str | None, end: str | None) -> range:
        """The years asked for (422 when they are not two years, in order, at most 500
        apart), of an organisation that has a history (404 otherwise)."""
        span = years(start, end)
        self.queries.state(organisation)
        return span

    def states_csv(self, organisation: str, start: str | None, end: str | None) -> str:
        """The state year by year from `from` to `to`, as CSV.

        Every column is a function of the events that count, and an event starts to count in
        the year its range ends: a year in which no range ends has the state of the year
        before, so the state is asked for only in the first year and in those years."""
        span = self.check_years(organisation, start, end)
        ending = set()
        for event in self._events(organisation):
            last = (
                EDTFDate.parse(event["occurred_on"]).last_day if event.get("occurred_on") else None
            )
            if last is not None:
                ending.add(last.year)
        rows: list[tuple[int, Json]] = []
        for year in span:
            changed = not rows or year in ending
            rows.append(
                (year, self.queries.state(organisation, str(year)) if changed else rows[-1][1])
            )
        return states_csv(rows)

    def sources(self, organisation: str) -> list[Json]:
        """Every source the organisation's events cite, as CSL-JSON items."""
        return csl_items(self._events(organisation))

    def import_popolo(self, text: str, filename: str) -> ImportReport:
        """Import a Popolo file, all or nothing, through the same checks as every append."""
        if self.commands is None:
            raise RuntimeError("Exports built without commands cannot import")
        try:
            document = json.loads(text)
        except ValueError as error:
            raise PopoloRejected("the file", f"is not JSON ({error})") from None
        found = events_from_popolo(document, filename)
        lines = [json.dumps(event, ensure_ascii=False) for _, event in found]
        try:
            return self.commands.import_lines(lines)
        except ImportRejected as error:
            where = found[error.line - 1][0] if 0 < error.line <= len(found) else "the file"
            message = str(error).split(": ", 1)[-1].removesuffix("; nothing was imported")
            raise PopoloRejected(where, message) from None
