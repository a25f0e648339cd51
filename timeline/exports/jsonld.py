"""An organisation's state at a date as JSON-LD, in the W3C Organization Ontology (`org:`),
with OWL-Time intervals (`time:`), SKOS labels (`skos:`) and PROV derivations (`prov:`).

The `@context` is inline, so an RDF parser reads the document with no network. Nodes are named
by the service's own URLs (`{base}organisations/cicopa`, `{base}people/bruno-roelants`); each
fact cites, through `prov:wasDerivedFrom`, a `prov:Entity` describing each of its sources.
Dates keep their EDTF string (typed `edtf:EDTF`, the Library of Congress datatype) and, when it
is a plain year, month or day, an XSD form OWL-Time reads (`time:inXSDgYear`, …).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from events.dates import EDTFDate
from events.validation import link_url
from timeline.exports.csl import source_id
from timeline.exports.popolo import slug

Json = dict[str, Any]

CONTEXT: Json = {
    "org": "http://www.w3.org/ns/org#",
    "time": "http://www.w3.org/2006/time#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "edtf": "http://id.loc.gov/datatypes/edtf/",
    "schema": "https://schema.org/",
}
_XSD = {
    "day": ("time:inXSDDate", "xsd:date"),
    "month": ("time:inXSDgYearMonth", "xsd:gYearMonth"),
    "year": ("time:inXSDgYear", "xsd:gYear"),
}


def _ref(iri: str) -> Json:
    return {"@id": iri}


def instant(occurred_on: str) -> Json:
    """A `time:Instant` for an EDTF date: its EDTF string, and an XSD form when it is a
    plain day, month or year (no qualifier, no interval)."""
    node: Json = {
        "@type": "time:Instant",
        "dcterms:date": {"@value": occurred_on, "@type": "edtf:EDTF"},
    }
    parsed = EDTFDate.parse(occurred_on)
    if not parsed.interval and not parsed.qualifier and parsed.precision in _XSD:
        prop, datatype = _XSD[parsed.precision]
        node[prop] = {"@value": occurred_on, "@type": datatype}
    return node


class Graph:
    """The nodes of one document, named under the service's base URL."""

    def __init__(self, base_url: str, organisation: str) -> None:
        self.base = base_url
        self.organisation = organisation
        self.sources: dict[str, Json] = {}

    def org(self, org: str) -> str:
        """The IRI of an organisation."""
        return f"{self.base}organisations/{org}"

    def person(self, person: str) -> str:
        """The IRI of a person."""
        return f"{self.base}people/{person}"

    def derived(self, sources: Iterable[Json]) -> list[Json]:
        """`prov:wasDerivedFrom` values for cited sources, each described once."""
        refs = []
        for source in sources:
            iri = f"{self.base}api/organisations/{self.organisation}/sources.json"
            iri = f"{iri}#{source_id(source)}"
            if iri not in self.sources:
                node: Json = {"@id": iri, "@type": "prov:Entity", "dcterms:title": source["title"]}
                url = link_url(source.get("url"))
                if url:
                    node["schema:url"] = _ref(url)
                self.sources[iri] = node
            refs.append(_ref(iri))
        return refs

    def membership(self, member: Json, since: str | None, cited: Json, role: Json | None) -> Json:
        """An `org:Membership` of this organisation, during an interval from `since`."""
        interval: Json = {"@type": "time:Interval"}
        if since:
            interval["time:hasBeginning"] = instant(since)
        node: Json = {
            "@type": "org:Membership",
            "org:member": member,
            "org:organization": _ref(self.org(self.organisation)),
            "org:memberDuring": interval,
            "prov:wasDerivedFrom": self.derived(cited.get("sources", [])),
        }
        if role is not None:
            node["org:role"] = role
        return node


def _labels(state: Json) -> tuple[list[Json], list[Json]]:
    preferred, alternative = [], []
    for language, named in sorted(state.get("names", {}).items()):
        if named.get("name"):
            preferred.append({"@value": named["name"], "@language": language})
        if named.get("acronym"):
            alternative.append({"@value": named["acronym"], "@language": language})
    return preferred, alternative


def jsonld(state: Json, base_url: str) -> Json:
    """The state as a JSON-LD document with an inline `@context`."""
    org = state["organisation"]
    graph = Graph(base_url, org)
    preferred, alternative = _labels(state)
    provenance = state.get("provenance", {})
    node: Json = {
        "@id": graph.org(org),
        "@type": "org:Organization",
        "dcterms:identifier": org,
        "skos:prefLabel": preferred,
        "skos:altLabel": alternative,
        "prov:wasDerivedFrom": graph.derived(
            source for known in provenance.values() for source in known.get("sources", [])
        ),
    }
    if state.get("parent"):
        node["org:subOrganizationOf"] = _ref(graph.org(state["parent"]))
    if state.get("headquarters"):
        node["org:hasPrimarySite"] = {
            "@type": "org:Site",
            "skos:prefLabel": state["headquarters"],
        }
    node["org:hasSubOrganization"] = [_ref(graph.org(s["id"])) for s in state["sub_organisations"]]
    nodes = [node]
    posts: dict[str, Json] = {}
    for holder in state["office_holders"]:
        person = holder["person"]
        role_iri = f"{graph.org(org)}/roles/{slug(holder['role'])}"
        role = {"@id": role_iri, "@type": "org:Role", "skos:prefLabel": holder["role"]}
        member = {
            "@id": graph.person(person["id"]),
            "@type": "foaf:Person",
            "foaf:name": person["name"],
        }
        nodes.append(graph.membership(member, holder.get("since"), holder, role))
        post = posts.setdefault(
            role_iri,
            {
                "@id": f"{graph.org(org)}/posts/{slug(holder['role'])}",
                "@type": "org:Post",
                "skos:prefLabel": holder["role"],
                "org:role": _ref(role_iri),
                "org:postIn": _ref(graph.org(org)),
                "org:heldBy": [],
            },
        )
        post["org:heldBy"].append(_ref(graph.person(person["id"])))
    for entry in state["members"]:
        member = {
            "@id": graph.org(entry["id"]),
            "@type": "org:Organization",
            "skos:prefLabel": entry["name"],
        }
        nodes.append(graph.membership(member, entry.get("since"), entry, None))
    nodes.extend(posts.values())
    nodes.extend(graph.sources.values())
    return {"@context": CONTEXT, "@graph": nodes}
