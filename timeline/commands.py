"""Commands: the ways a history grows: appends, imports and the seed (written by `Writer`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any
from uuid import UUID, uuid4

from events.validation import SLUG, EventDraft, parse_event
from timeline.application import Timeline
from timeline.errors import ImportRejected
from timeline.importing import CLI_WRITER, Importer
from timeline.writer import Append, Appended, IfMatch, Writer, check_organisation_id

Json = dict[str, Any]
STORED_FIELDS = ("id", "organisation", "version", "recorded_at", "recorded_by", "status")
"""Fields of an exported event that import ignores (or, for `id`, keeps aside)."""
EXPORT_EXTRAS = ("amendment", "original")


@dataclass(frozen=True)
class ImportReport:
    """How many events an import stored, and how many it skipped as already stored."""

    imported: int
    skipped: int


class Commands:
    """Appending events, importing and seeding histories (written by `Writer`)."""

    def __init__(self, app: Timeline) -> None:
        self.app = app
        self.writer = Writer(app)

    def append(
        self,
        organisation: str,
        payload: EventDraft | object,
        *,
        recorded_by: str,
        token_id: str = CLI_WRITER,
        expected_version: int | None = None,
        if_match: IfMatch | None = None,
        idempotency_key: str | None = None,
    ) -> Appended:
        """Append one event (checked already, or a payload to check), on the conditions
        given: `If-Match` (or one `expected_version`) and an idempotency key (see
        `Writer.append`)."""
        check_organisation_id(organisation)
        draft = payload if isinstance(payload, EventDraft) else parse_event(payload)
        if expected_version is not None:
            if_match = IfMatch(frozenset((expected_version,)))
        return self.writer.append(
            Append(organisation, draft, recorded_by, token_id, if_match, idempotency_key)
        )

    def import_lines(
        self, lines: Iterable[str], *, progress: Callable[[int], None] | None = None
    ) -> ImportReport:
        """Import JSON Lines of events, all or nothing; events whose id is stored are skipped
        (one transaction, saved a batch at a time: see `timeline.importing`)."""
        importer = Importer(self.app, self.writer)
        return ImportReport(*importer.run(_read_import(lines, progress)))

    def seed(self) -> ImportReport:
        """Load the CICOPA history shipped with the service (a second run adds nothing)."""
        return self.import_lines(seed_lines())


def seed_lines() -> list[str]:
    """The lines of the shipped CICOPA history."""
    text = resources.files("timeline").joinpath("data/cicopa.jsonl").read_text("utf-8")
    return text.splitlines()


def _read_import(
    lines: Iterable[str], progress: Callable[[int], None] | None
) -> Iterator[tuple[int, str, str, Json]]:
    """(line number, organisation, event id, event payload) for each non-blank line."""
    for number, line in enumerate(lines, start=1):
        if progress is not None:
            progress(1)
        if not line.strip():
            continue
        try:
            stored = json.loads(line, parse_constant=_reject_constant)
        except ValueError as error:
            raise ImportRejected(number, f"not a JSON object ({error})") from None
        yield (number, *_import_item(number, stored))


def _import_item(number: int, stored: object) -> tuple[str, str, Json]:
    if not isinstance(stored, dict):
        raise ImportRejected(number, "not a JSON object")
    organisation = stored.get("organisation")
    if not isinstance(organisation, str) or not SLUG.fullmatch(organisation):
        raise ImportRejected(number, "organisation: must be an organisation id such as 'cicopa'")
    raw_id = stored.get("id", str(uuid4()))
    try:
        event_id = str(UUID(raw_id)) if isinstance(raw_id, str) else ""
    except ValueError:
        event_id = ""
    if not event_id:
        raise ImportRejected(number, "id: must be an event id (a UUID)")
    payload = {k: v for k, v in stored.items() if k not in STORED_FIELDS + EXPORT_EXTRAS}
    original = stored.get("original")
    if isinstance(original, dict):
        # An exported corrected event shows its corrected fields; import what was recorded.
        payload.update({k: v for k, v in original.items() if k in ("occurred_on", "data")})
        if "basis" in original:  # None: the event was recorded without one
            payload.pop("basis", None)
            if original["basis"] is not None:
                payload["basis"] = original["basis"]
    return organisation, event_id, payload


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
