"""Pure pieces of the exports: EDTF dates reduced for Popolo (CONTRACT.md §3) and what a
source's title gives a citation."""

from __future__ import annotations

import pytest

from timeline.exports.csl import csl_item, csl_items, issued, source_id
from timeline.exports.dates import end_date, start_date


@pytest.mark.parametrize(
    ("edtf", "start", "end"),
    [
        ("1947", "1947", "1947"),
        ("2004-02-17", "2004-02-17", "2004-02-17"),
        ("2017-09~", "2017-09", "2017-09"),
        ("2003?", "2003", "2003"),
        ("201X", "2010", "2019"),
        ("19XX", "1900", "1999"),
        ("2017-XX", "2017", "2017"),
        ("2018-21", "2018-03", "2018-05"),
        ("2017-24", "2017-12", "2018-02"),
        ("1998/2003", "1998", "2003"),
        ("2005-09-18/2005-09-23", "2005-09-18", "2005-09-23"),
        ("../2018-02", None, "2018-02"),
        ("/2018-02", None, "2018-02"),
        ("2018-02/..", "2018-02", None),
        ("2018-02/", "2018-02", None),
    ],
)
def test_a_start_is_the_first_day_and_an_end_the_last_day_at_the_dates_own_precision(
    edtf, start, end
):
    assert (start_date(edtf), end_date(edtf)) == (start, end)


def test_a_citation_takes_its_container_and_date_from_the_titles_trailing_parenthesis():
    item = csl_item(
        {
            "title": "Manuel Mariscal elected new president of CICOPA (cicopa.coop, 17 November 2011)",
            "url": "http://www.cicopa.coop/Manuel-Mariscal-elected-new.html",
        }
    )
    assert item["title"] == "Manuel Mariscal elected new president of CICOPA"
    assert item["container-title"] == "cicopa.coop"
    assert item["issued"] == {"date-parts": [[2011, 11, 17]]}
    assert item["type"] == "webpage"
    assert issued("c. 2003") == {"date-parts": [[2003]], "circa": True}
    assert issued("31 February 2003") is None
    kept = csl_item({"title": "Notice (author notice, a catalogue, text by Wikipedia)"})
    assert kept == {
        "id": kept["id"],
        "type": "document",
        "title": "Notice (author notice, a catalogue, text by Wikipedia)",
    }


def test_a_document_cited_with_and_without_its_url_is_one_source_that_keeps_the_url():
    bare = {"title": "CICOPA - Wikipedia", "file": "001.txt"}
    linked = {**bare, "url": "https://en.wikipedia.org/wiki/CICOPA"}
    items = csl_items([{"sources": [bare]}, {"sources": [linked, {"title": "Other"}]}])
    assert [(i["id"], i.get("URL")) for i in items] == [
        (source_id(bare), "https://en.wikipedia.org/wiki/CICOPA"),
        (source_id({"title": "Other"}), None),
    ]
    assert source_id(bare) == source_id(linked)
