"""An organisation's history as Popolo JSON (popoloproject.com): `organizations`, `persons`,
`posts` and `memberships`, with `sources` on every object.

Popolo dates are plain ISO 8601 (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`): each is reduced as
CONTRACT.md §3 says (`exports.dates`), and the EDTF string it came from is kept beside it in
the extension fields `edtf_start_date`, `edtf_end_date`, `edtf_founding_date` and
`edtf_dissolution_date`. A start known only from attestations is left out, and the
attestations are given in the extension `attested` (`{"first", "last", "count"}`). Names carry
their language in the extension `language` and the acronym their event gave in `acronym`;
a membership that continues an earlier-named post names it in `replaces_role`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from events.validation import link_url
from projections.records import EventView
from timeline.exports import history
from timeline.exports.csl import source_id
from timeline.exports.dates import end_date, start_date

Json = dict[str, Any]
SourceLink = Callable[[str, Json], str]
"""The URL that stands for a source cited by an organisation's events (its own, if it has an
http(s) one; otherwise the service's citation of it)."""


def citation_link(base_url: str) -> SourceLink:
    """Sources as links: their own URL, or the item of the organisation's sources.json."""

    def link(organisation: str, source: Json) -> str:
        return link_url(source.get("url")) or (
            f"{base_url}api/organisations/{organisation}/sources.json#{source_id(source)}"
        )

    return link


def slug(text: str) -> str:
    """`Secretary General` → `secretary-general`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "role"


def dated(held: history.Held) -> Json:
    """`start_date`/`end_date` and their EDTF strings (and attestations), where known."""
    fields: Json = {}
    if held.since:
        fields["start_date"] = start_date(held.since)
        fields["edtf_start_date"] = held.since
    if held.to:
        end = end_date(held.to)
        if end:
            fields["end_date"] = end
        fields["edtf_end_date"] = held.to
    if held.attested:
        fields["attested"] = held.attested
    return {key: value for key, value in fields.items() if value is not None}


@dataclass(frozen=True)
class History:
    """What one organisation's Popolo document is made of."""

    organisation: str
    views: Sequence[EventView]
    state: Json
    """Its state today: its current name and parent."""
    others: Mapping[str, Sequence[EventView]]
    """The events of the other organisations where its people held posts."""
    names: Mapping[str, str | None]
    """Every organisation's current name."""


class Document:
    """A Popolo document being assembled, each object once by its id."""

    def __init__(self, link: SourceLink) -> None:
        self.link = link
        self.organizations: dict[str, Json] = {}
        self.persons: dict[str, Json] = {}
        self.posts: dict[str, Json] = {}
        self.memberships: dict[str, Json] = {}

    def sources(self, organisation: str, sources: Iterable[Json]) -> list[Json]:
        """Popolo links for cited sources, each URL once."""
        links: dict[str, Json] = {}
        for source in sources:
            url = self.link(organisation, source)
            links.setdefault(url, {"url": url, "note": source.get("title")})
        return list(links.values())

    def cite(self, target: Json, organisation: str, sources: Iterable[Json]) -> None:
        """Add sources to an object's `sources`, each URL once."""
        known = {link["url"] for link in target["sources"]}
        for link in self.sources(organisation, sources):
            if link["url"] not in known:
                known.add(link["url"])
                target["sources"].append(link)

    def organization(self, org: str, name: str | None) -> Json:
        """The organization with this id, made on first mention."""
        return self.organizations.setdefault(org, {"id": org, "name": name, "sources": []})

    def as_json(self) -> Json:
        """The document: organizations, persons, posts and memberships."""
        return {
            "organizations": list(self.organizations.values()),
            "persons": list(self.persons.values()),
            "posts": list(self.posts.values()),
            "memberships": list(self.memberships.values()),
        }

    def add_history(self, found: History, today: date) -> None:
        """The organisation, its names, posts, people and member organisations."""
        org = found.organisation
        main = self.organization(org, found.state.get("name"))
        self._describe(main, found, today)
        people = set()
        for tenure in history.tenures(found.views, today):
            people.add(tenure.person["id"])
        for views in [found.views, *(found.others[o] for o in sorted(found.others))]:
            for number, tenure in enumerate(history.tenures(views, today), start=1):
                if tenure.person["id"] in people:
                    self._tenure(tenure, number, found.names)
        for number, membership in enumerate(history.memberships(found.views, today), start=1):
            self._membership(membership, number)
        if not main["sources"]:  # nothing above cites: whatever its events cite
            self.cite(main, org, (s for view in found.views for s in view.record.sources))

    def _describe(self, main: Json, found: History, today: date) -> None:
        org, views = found.organisation, found.views
        names = history.names(views, today)
        main["other_names"] = [_other_name(entry, found.state) for entry in names]
        for entry in names:
            self.cite(main, org, entry.sources)
        if found.state.get("parent"):
            main["parent_id"] = found.state["parent"]
            provenance = found.state.get("provenance", {}).get("parent", {})
            self.cite(main, org, provenance.get("sources", []))
        for kind, field, reduce in (
            ("founded", "founding_date", start_date),
            ("dissolved", "dissolution_date", end_date),
        ):
            event = history.latest(views, today, kind)
            if event is None or event.occurred_on is None:
                continue
            if kind == "dissolved" and found.state.get("exists"):
                continue  # founded again since: it exists
            reduced = reduce(event.occurred_on)
            if reduced:
                main[field] = reduced
            main[f"edtf_{field}"] = event.occurred_on
            self.cite(main, org, event.record.sources)

    def _tenure(self, tenure: history.TenureHeld, number: int, names: Mapping[str, Any]) -> None:
        org, person = tenure.organisation, tenure.person
        post_id = f"{org}/posts/{slug(tenure.role)}"
        post = self.posts.setdefault(
            post_id,
            {
                "id": post_id,
                "label": tenure.role,
                "role": tenure.role,
                "organization_id": org,
                "sources": [],
            },
        )
        entry = self.persons.setdefault(
            person["id"], {"id": person["id"], "name": person["name"], "sources": []}
        )
        entry["name"] = person["name"]  # as the latest event names them
        membership_id = f"{org}/memberships/{slug(tenure.role)}/{person['id']}/{number}"
        self.memberships[membership_id] = {
            "id": membership_id,
            "person_id": person["id"],
            "organization_id": org,
            "post_id": post_id,
            "role": tenure.role,
            "label": f"{tenure.role}, {names.get(org) or org}",
            **dated(tenure),
            **({"replaces_role": tenure.replaces_role} if tenure.replaces_role else {}),
            "sources": self.sources(org, tenure.sources),
        }
        for target in (post, entry, self.organization(org, names.get(org))):
            self.cite(target, org, tenure.sources)

    def _membership(self, membership: history.MembershipHeld, number: int) -> None:
        org, member = membership.organisation, membership.member
        entry = self.organization(member["id"], member["name"])
        self.cite(entry, org, membership.sources)
        membership_id = f"{org}/memberships/members/{member['id']}/{number}"
        self.memberships[membership_id] = {
            "id": membership_id,
            "member": {"@type": "Organization", "id": member["id"], "name": member["name"]},
            "organization_id": org,
            "role": "member",
            **({"country": member["country"]} if member.get("country") else {}),
            **dated(membership),
            "sources": self.sources(org, membership.sources),
        }


def _other_name(entry: history.NameHeld, state: Json) -> Json:
    current = state.get("names", {}).get(entry.language, {}).get("name") == entry.name
    if not current:
        note = "former name"
    elif entry.name == state.get("name"):
        note = "current name"
    else:
        note = f"current name in {entry.language}"
    found: Json = {"name": entry.name, "note": note, "language": entry.language}
    if entry.acronym:
        found["acronym"] = entry.acronym
    found.update(dated(entry))
    return found


def popolo(histories: Iterable[History], link: SourceLink, today: date) -> Json:
    """One Popolo document for one or several organisations' histories."""
    document = Document(link)
    for found in histories:
        document.add_history(found, today)
    return document.as_json()
