"""The four exports over HTTP, on the CICOPA history, read against the service's own states and
people endpoint: Popolo and CSL-JSON validated against their projects' schemas, JSON-LD parsed
by rdflib, the CSV by the csv module."""

from __future__ import annotations

import csv
import io
import re

import pytest
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, SKOS

from events.dates import EDTFDate

ORG = Namespace("http://www.w3.org/ns/org#")
TIME = Namespace("http://www.w3.org/2006/time#")
PROV = Namespace("http://www.w3.org/ns/prov#")
BASE = "http://localhost/"
EXPORTS = ["popolo", "jsonld", "states.csv?from=1998&to=1999", "sources.json"]


def test_popolo_objects_validate_cite_sources_and_agree_with_the_people_endpoint(
    client, popolo_validators
):
    response = client.get("/api/organisations/cicopa/popolo")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.json
    for kind, validator in popolo_validators.items():
        assert document[kind], kind
        for found in document[kind]:
            assert list(validator.iter_errors(found)) == [], found
            assert found["sources"], found
    state = client.get("/api/organisations/cicopa/state").json
    cicopa = document["organizations"][0]
    assert (cicopa["id"], cicopa["name"], cicopa["parent_id"]) == ("cicopa", state["name"], "ica")
    assert (cicopa["founding_date"], cicopa["edtf_founding_date"]) == ("1947", "1947")
    names = {(n["name"], n["language"]) for n in cicopa["other_names"]}
    assert {(named["name"], lang) for lang, named in state["names"].items()} <= names
    memberships = {
        (
            m["person_id"],
            m["organization_id"],
            m["role"],
            m.get("edtf_start_date"),
            m.get("edtf_end_date"),
        )
        for m in document["memberships"]
        if "person_id" in m
    }
    positions = set()
    for person in document["persons"]:
        for p in client.get(f"/api/people/{person['id']}").json["positions"]:
            positions.add((person["id"], p["organisation"], p["role"], p["from"], p["to"]))
    assert memberships == positions
    held = {h["person"]["id"] for h in state["office_holders"]}
    assert held <= {p["id"] for p in document["persons"]}
    assert {m["organization_id"] for m in document["memberships"]} <= {
        o["id"] for o in document["organizations"]
    }


def test_popolo_dates_are_the_first_and_last_days_of_their_edtf_ranges(client):
    memberships = client.get("/api/organisations/cicopa/popolo").json["memberships"]
    for m in memberships:
        if "edtf_start_date" in m:
            first = EDTFDate.parse(m["edtf_start_date"]).first_day
            assert first is not None and first.isoformat().startswith(m["start_date"])
        if "end_date" in m:
            last = EDTFDate.parse(m["edtf_end_date"]).last_day
            assert last is not None and last.isoformat().startswith(m["end_date"][:4])
        if "edtf_start_date" not in m:
            assert "start_date" not in m and m["attested"]["count"] >= 1
    ended_before = [m for m in memberships if m.get("edtf_end_date", "").startswith("../")]
    assert ended_before and all(
        m["end_date"] == m["edtf_end_date"][3:].rstrip("?~%") for m in ended_before
    )


def _membership_of(graph: Graph, member: URIRef, organisation: URIRef) -> URIRef:
    found = [
        node
        for node in graph.subjects(ORG.member, member)
        if (node, ORG.organization, organisation) in graph
    ]
    assert len(found) == 1, member
    return found[0]


# rdflib 7.6's own JSON-LD parser builds a ConjunctiveGraph, which rdflib itself deprecates.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_jsonld_parses_as_rdf_whose_triples_say_what_the_state_says(client):
    response = client.get("/api/organisations/cicopa/jsonld?at=2018")
    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    graph = Graph().parse(data=response.data, format="json-ld")
    state = client.get("/api/organisations/cicopa/state?at=2018").json
    cicopa = URIRef(f"{BASE}organisations/cicopa")
    assert (cicopa, RDF.type, ORG.Organization) in graph
    assert (cicopa, ORG.subOrganizationOf, URIRef(f"{BASE}organisations/ica")) in graph
    labels = {(str(label), label.language) for label in graph.objects(cicopa, SKOS.prefLabel)}
    assert labels == {(named["name"], lang) for lang, named in state["names"].items()}
    memberships = set(graph.subjects(ORG.organization, cicopa))
    assert len(memberships) == len(state["office_holders"]) + len(state["members"])
    assert state["office_holders"]
    for holder in state["office_holders"]:
        person = URIRef(f"{BASE}people/{holder['person']['id']}")
        assert (person, FOAF.name, Literal(holder["person"]["name"])) in graph
        node = _membership_of(graph, person, cicopa)
        role = graph.value(node, ORG.role)
        assert graph.value(role, SKOS.prefLabel) == Literal(holder["role"])
        interval = graph.value(node, ORG.memberDuring)
        assert (interval, RDF.type, TIME.Interval) in graph
        beginning = graph.value(interval, TIME.hasBeginning)
        if holder["since"] is None:
            assert beginning is None
        else:
            assert str(graph.value(beginning, DCTERMS.date)) == holder["since"]
        titles = {
            str(graph.value(s, DCTERMS.title)) for s in graph.objects(node, PROV.wasDerivedFrom)
        }
        assert titles == {source["title"] for source in holder["sources"]}


def test_states_csv_has_a_row_a_year_that_reads_as_the_state_of_that_year(client):
    response = client.get("/api/organisations/cicopa/states.csv?from=1995&to=2019")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.mimetype_params["charset"] == "utf-8"
    reader = csv.DictReader(io.StringIO(response.data.decode("utf-8"), newline=""))
    rows = list(reader)
    contract = "year exists name acronym headquarters parent office_holders members"
    assert reader.fieldnames[:8] == contract.split()
    assert [row["year"] for row in rows] == [str(year) for year in range(1995, 2020)]
    figure_columns = reader.fieldnames[8:]
    assert figure_columns == sorted(figure_columns) and "member_organisations" in figure_columns
    for row in rows:
        state = client.get(f"/api/organisations/cicopa/state?at={row['year']}").json
        assert row["exists"] == ("true" if state["exists"] else "false")
        for column in ("name", "acronym", "headquarters", "parent"):
            assert row[column] == (state[column] or ""), (row["year"], column)
        holders = "; ".join(f"{h['role']}: {h['person']['name']}" for h in state["office_holders"])
        assert row["office_holders"] == holders
        assert row["members"] == "; ".join(m["name"] for m in state["members"])
        for name in figure_columns:
            figure = state["figures"].get(name)
            assert row[name] == ("" if figure is None else str(figure["value"])), name


def test_states_csv_quotes_commas_quotes_and_new_lines_in_names(client, seeded):
    name = 'Comma, "quoted"\nand a new line'
    payload = {"type": "founded", "occurred_on": "2001", "data": {"name": name}}
    seeded.commands.append("odd-name", payload, recorded_by="test")
    text = client.get("/api/organisations/odd-name/states.csv?from=2000&to=2001").data
    rows = list(csv.reader(io.StringIO(text.decode("utf-8"), newline="")))
    assert [row[:3] for row in rows[1:]] == [["2000", "false", ""], ["2001", "true", name]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "from"),
        ("from=1998", "to"),
        ("from=2000&to=1999", "to"),
        ("from=1500&to=2000", "to"),
        ("from=1998-01&to=1999", "from"),
        ("from=98&to=1999", "from"),
    ],
)
def test_states_csv_refuses_years_it_cannot_give_with_422(client, query, field):
    response = client.get(f"/api/organisations/cicopa/states.csv?{query}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"]


def test_sources_json_lists_every_cited_source_once_as_valid_csl_json(client, csl_validator):
    response = client.get("/api/organisations/cicopa/sources.json")
    assert response.status_code == 200
    items = response.json
    assert list(csl_validator.iter_errors(items)) == []
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"src-[0-9a-f]{12}", i) for i in ids)
    assert ids == [item["id"] for item in client.get("/api/organisations/cicopa/sources.json").json]
    events = client.get("/api/organisations/cicopa/events?limit=1000").json["events"]
    urls = {item.get("URL") for item in items}
    files = {item.get("archive_location") for item in items}
    for event in events:
        for source in event.get("sources", []):
            assert source.get("url") in urls or source.get("file") in files, source
    report = next(i for i in items if i["title"].startswith("Report of the International"))
    assert report["type"] == "report"
    assert report["container-title"] == "ICA Review Vol. 90 No. 2"
    assert report["issued"] == {"date-parts": [[1997, 7]]}


@pytest.mark.parametrize("export", EXPORTS)
def test_an_unknown_organisation_is_a_404_problem(client, export):
    response = client.get(f"/api/organisations/no-such-org/{export}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_a_repeated_download_is_a_304_until_the_history_changes(client, seeded):
    tags = {}
    for export in EXPORTS:
        first = client.get(f"/api/organisations/cicopa/{export}")
        tags[export] = first.headers["ETag"]
        again = client.get(
            f"/api/organisations/cicopa/{export}", headers={"If-None-Match": tags[export]}
        )
        assert (again.status_code, again.data) == (304, b"")
    payload = {"type": "milestone", "occurred_on": "1999", "data": {"headline": "A meeting"}}
    seeded.commands.append("cicopa", payload, recorded_by="test")
    for export in EXPORTS:
        after = client.get(
            f"/api/organisations/cicopa/{export}", headers={"If-None-Match": tags[export]}
        )
        assert after.status_code == 200 and after.headers["ETag"] != tags[export]


def test_the_exports_are_in_the_openapi_document_with_their_media_types(client):
    paths = client.get("/api/openapi.json").json["paths"]
    expected = {
        "popolo": "application/json",
        "jsonld": "application/ld+json",
        "states.csv": "text/csv",
        "sources.json": "application/json",
    }
    for name, media_type in expected.items():
        responses = paths[f"/api/organisations/{{org}}/{name}"]["get"]["responses"]
        assert media_type in responses["200"]["content"]
        assert "404" in responses


def test_the_timeline_page_links_the_csv_and_the_sources_to_cite(client):
    page = client.get("/organisations/cicopa").data.decode("utf-8")
    csv_link = re.search(r'href="(/api/organisations/cicopa/states\.csv\?[^"]+)"', page)
    assert csv_link and "cite these sources" in page
    assert 'href="/api/organisations/cicopa/sources.json"' in page
    assert client.get(csv_link.group(1).replace("&amp;", "&")).status_code == 200
