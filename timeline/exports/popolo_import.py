"""A Popolo file read into events: organizations (founding and dissolution dates, names with
their dates), memberships of persons (office holders) and of organizations (members).

Each event cites the file, beside the sources the Popolo object gives. Where an object carries
this service's EDTF extensions (`edtf_start_date`, …, see `exports.popolo`) they win over the
plain Popolo dates. Event ids are derived from the events' content, so importing the same file
again adds nothing. A membership with no date at all cannot be placed in time and is refused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from events.errors import DomainError
from events.validation import link_url

Json = dict[str, Any]
NAMESPACE = uuid.UUID("0b6f4a52-3c1e-5d0e-9a7e-2f5d8c1b7a10")
"""The namespace of the ids of imported events (UUID version 5)."""


class PopoloRejected(DomainError):
    """A Popolo file that cannot be imported; nothing of it was written."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(f"{where}: {message}; nothing was imported")


def _date(found: Json, field: str) -> str | None:
    """The EDTF extension of a date field, else the Popolo date (a time of day dropped)."""
    value = found.get(f"edtf_{field}") or found.get(field)
    if value is None:
        return None
    return str(value)[:10] if "T" in str(value) else str(value)


class Reader:
    """Events made from one Popolo document, each with where in the file it came from."""

    def __init__(self, document: Json, filename: str) -> None:
        self.document = document
        self.citation = {"title": f"Popolo file {filename}", "file": filename}
        self.events: list[tuple[str, Json]] = []
        self.persons = {p.get("id"): p for p in self._list("persons")}
        self.organizations = {o.get("id"): o for o in self._list("organizations")}
        self.posts = {p.get("id"): p for p in self._list("posts")}

    def _list(self, name: str) -> list[Json]:
        found = self.document.get(name, [])
        if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
            raise PopoloRejected(name, "must be a list of objects")
        return found

    def _sources(self, found: Json) -> list[Json]:
        cited = [self.citation]
        for link in found.get("sources") or []:
            url = link_url(link.get("url")) if isinstance(link, dict) else None
            if url:
                cited.append({"title": str(link.get("note") or url), "url": url})
        return cited

    def add(
        self,
        where: str,
        organisation: Any,
        kind: str,
        occurred_on: str,
        data: Json,
        found: Json,
        basis: str | None = None,
    ) -> None:
        """One event of `organisation`, citing the file and the object's sources."""
        event: Json = {"organisation": organisation, "type": kind, "occurred_on": occurred_on}
        if basis:
            event["basis"] = basis
        event.update(data=data, sources=self._sources(found))
        content = json.dumps(event, sort_keys=True, ensure_ascii=False)
        event = {"id": str(uuid.uuid5(NAMESPACE, content)), **event}
        self.events.append((where, event))

    def read(self) -> list[tuple[str, Json]]:
        """Every event the document gives: organisations first, then memberships."""
        for index, org in enumerate(self._list("organizations")):
            self._organization(f"organizations[{index}]", org)
        memberships = [(where, self._placed(found)) for where, found in self._memberships()]
        every = [membership for _, membership in memberships]
        for where, membership in memberships:
            self._membership(where, membership, every)
        return self.events

    def _memberships(self) -> Iterator[tuple[str, Json]]:
        """The document's memberships, and those nested in its persons and organizations
        (which name their person or organization by where they stand)."""
        for index, found in enumerate(self._list("memberships")):
            yield f"memberships[{index}]", found
        for plural, key in (("persons", "person_id"), ("organizations", "organization_id")):
            for index, holder in enumerate(self._list(plural)):
                nested = holder.get("memberships") or []
                for number, found in enumerate(nested if isinstance(nested, list) else []):
                    if isinstance(found, dict):
                        placed = {key: holder.get("id"), **found}
                        yield f"{plural}[{index}].memberships[{number}]", placed

    def _organization(self, where: str, org: Json) -> None:
        org_id, founded = org.get("id"), _date(org, "founding_date")
        given = org.get("other_names") or []
        places = {id(n): f"{where}.other_names[{i}]" for i, n in enumerate(given)}
        names = [n for n in given if isinstance(n, dict) and n.get("name")]
        primary = _primary_name(org, names)
        if primary is not None:
            names.append(primary)
            places[id(primary)] = where
        founding_name = _founding_name(names, founded)
        if founded:
            name = founding_name or {"name": org.get("name")}
            self.add(where, org_id, "founded", founded, _name_data(name), org)
        for name in names:
            if name is founding_name:
                continue
            here, start = places[id(name)], _date(name, "start_date")
            if start:
                self.add(here, org_id, "renamed", start, _name_data(name), org)
            else:
                for when in _attested(name):
                    self.add(here, org_id, "renamed", when, _name_data(name), org, "attestation")
        dissolved = _date(org, "dissolution_date")
        if dissolved:
            self.add(where, org_id, "dissolved", dissolved, {}, org)

    def _placed(self, found: Json) -> Json:
        """A membership with the organization and role its post gives, where it gives none."""
        post = self.posts.get(found.get("post_id"), {})
        placed = dict(found)
        placed.setdefault("organization_id", post.get("organization_id"))
        if not placed.get("role"):
            placed["role"] = post.get("label") or post.get("role")
        return placed

    def _membership(self, where: str, found: Json, every: list[Json]) -> None:
        org_id = found.get("organization_id")
        start, end = _date(found, "start_date"), _date(found, "end_date")
        if not (start or end or list(_attested(found))):
            raise PopoloRejected(where, "has no start_date, end_date or attested dates")
        member = found.get("member") if isinstance(found.get("member"), dict) else None
        if found.get("person_id") or (member and member.get("@type") == "Person"):
            self._office(where, found, every, org_id, start, end)
        elif member:
            self._member(where, found, member, org_id, start, end)
        else:
            raise PopoloRejected(where, "names neither a person_id nor a member organization")

    def _office(
        self,
        where: str,
        found: Json,
        every: list[Json],
        org_id: Any,
        start: str | None,
        end: str | None,
    ) -> None:
        person_id = found.get("person_id") or found["member"].get("id")
        nested = found.get("person")
        person: Json = self.persons.get(person_id) or (nested if isinstance(nested, dict) else {})
        role = found.get("role")
        data: Json = {"role": role, "person": {"id": person_id, "name": person.get("name")}}
        if found.get("replaces_role"):
            data["replaces_role"] = found["replaces_role"]
        self._begin(where, found, org_id, "office_holder_appointed", data, start)
        if end and not _succeeded(found, end, every):
            left = {"role": role, "person_id": person_id}
            self.add(where, org_id, "office_holder_left", end, left, found)

    def _member(
        self, where: str, found: Json, member: Json, org_id: Any, start: str | None, end: str | None
    ) -> None:
        described = self.organizations.get(member.get("id"), {})
        joined = {"id": member.get("id"), "name": member.get("name") or described.get("name")}
        if found.get("country"):
            joined["country"] = found["country"]
        self._begin(where, found, org_id, "member_joined", {"member": joined}, start)
        if end:
            self.add(where, org_id, "member_left", end, {"member_id": member.get("id")}, found)

    def _begin(
        self, where: str, found: Json, org_id: Any, kind: str, data: Json, start: str | None
    ) -> None:
        """The event that began it, or, with no start, the attestations that show it held."""
        if start:
            self.add(where, org_id, kind, start, data, found)
        for when in _attested(found):
            self.add(where, org_id, kind, when, data, found, "attestation")


def _primary_name(org: Json, names: list[Json]) -> Json | None:
    """The organization's `name` when no other name repeats it: it began when the last of its
    language's former names ended (or at the founding, when none did)."""
    if not org.get("name") or any(n["name"] == org["name"] for n in names):
        return None
    ended = [n for n in names if n.get("language", "en") == "en" and _date(n, "end_date")]
    if not ended:
        return {"name": org["name"]}
    last = max(ended, key=lambda n: str(n.get("end_date") or _date(n, "end_date")))
    return {"name": org["name"], "start_date": _date(last, "end_date")}


def _founding_name(names: list[Json], founded: str | None) -> Json | None:
    """The name it was founded with: the one that began then, else the earliest-ended name
    whose start is not given."""
    if not founded:
        return None
    exact = next((n for n in names if _date(n, "start_date") == founded), None)
    if exact is not None:
        return exact
    undated = [
        n
        for n in names
        if not _date(n, "start_date") and _date(n, "end_date") and not n.get("attested")
    ]
    return min(undated, key=lambda n: str(n.get("end_date") or _date(n, "end_date")), default=None)


def _name_data(name: Json) -> Json:
    data: Json = {"name": name.get("name")}
    if name.get("acronym"):
        data["acronym"] = name["acronym"]
    if name.get("language") and name["language"] != "en":
        data["language"] = name["language"]
    return data


def _attested(found: Json) -> Iterator[str]:
    """The first and last attestation dates given in the `attested` extension."""
    attested = found.get("attested")
    if not isinstance(attested, dict):
        return
    dates = [attested.get("first"), attested.get("last")]
    yield from dict.fromkeys(str(d) for d in dates if d)


def _succeeded(found: Json, end: str, every: list[Json]) -> bool:
    """True when another membership of the same post began when this one ended: the
    successor's appointment ends it, as it did when the file was written."""
    for other in every:
        if other is found or other.get("organization_id") != found.get("organization_id"):
            continue
        if found.get("role") not in (other.get("role"), other.get("replaces_role")):
            continue
        replaced = (f"../{day.rsplit('/', 1)[-1]}" for day in _attested(other))
        starts = [_date(other, "start_date"), *replaced]
        if end in starts:
            return True
    return False


def events_from_popolo(document: object, filename: str) -> list[tuple[str, Json]]:
    """(where in the file, event as a JSON Lines import reads it) for a Popolo document."""
    if not isinstance(document, dict):
        raise PopoloRejected(
            "the file", "must be a Popolo JSON object with organizations, persons and memberships"
        )
    return Reader(document, filename).read()
