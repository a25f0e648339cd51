"""The forms' date preview (api/static/edtf-preview.js, run by node) reads every date as the
pages print it (events/dates.py), and refuses what the service refuses, for the same reason."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.dates import EDTFDate, InvalidDate
from tests.unit.test_dates import LOC_ACCEPTED, LOC_REFUSED_BY_THE_CONTRACT, REJECTED, VALID

SCRIPT = Path(__file__).resolve().parents[2] / "api" / "static" / "edtf-preview.js"
READER = """
const { readDate } = require(process.argv[1]);
const texts = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(texts.map(readDate)));
"""
CONTRACT_EXAMPLES = [
    "2004-02-17",
    "2017-09",
    "1947",
    "2019~",
    "2003?",
    "2003%",
    "201X",
    "19XX",
    "2017-XX",
    "2017-05-XX",
    "2017-XX-XX",
    "1XXX",
    "201X-05",
    "201X-XX",
    "2018-21",
    "2018-24",
    "2018-25",
    "1998/2003",
    "../2018-02",
    "2018-02/..",
    "/2018-02",
    "2018-02/",
    "../..",
    "/",
    "2005-02-30",
    "2017-13",
    "2003/1998",
    "1984~/2004-06?",
    "0000",
    "9999-24",
    "2004-02-17T10:00",
    "-0100",
    "Y12345",
    "{1998,2003}",
    "2017-X5",
    "1998/2003/2005",
    "",
    "2000-02-29",
    "1900-02-29",
    "2004-2",
    "20041",
    "2018-21-05",
    "2017-XX-05",
]


def python_reading(text: str) -> dict[str, object]:
    try:
        return {"ok": True, "display": EDTFDate.parse(text).display()}
    except InvalidDate as error:
        reason = str(error.reason)
        prefix = repr(text) + " "
        assert reason.startswith(prefix)
        return {"ok": False, "reason": reason[len(prefix) :]}


def script_readings(texts: list[str]) -> list[dict[str, object]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run the forms' script (Debian's nodejs; .ci/test uses npm)")
    done = subprocess.run(
        [node, "-e", READER, str(SCRIPT)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_the_script_reads_every_example_as_the_pages_do():
    examples = [
        *CONTRACT_EXAMPLES,
        *(text for text, *_ in VALID),
        *(text for text, _ in REJECTED),
        *LOC_ACCEPTED,
        *LOC_REFUSED_BY_THE_CONTRACT,
    ]
    texts = [t for t in dict.fromkeys(examples) if isinstance(t, str)]
    assert len(texts) > 60
    readings = script_readings(texts)
    for text, reading in zip(texts, readings, strict=True):
        assert reading == python_reading(text), text
    shown = dict(zip(texts, readings, strict=True))
    assert shown["2019~"] == {"ok": True, "display": "c. 2019"}
    assert shown["../2018-02"] == {"ok": True, "display": "by Feb 2018"}


SIDES = st.from_regex(
    r"\A([0-9]{4}|[0-9]{3}X|[0-9]{2}XX)(-([0-9]{2}|XX)(-([0-9]{2}|XX))?)?[?~%]?\Z"
)


DATE_LIKE = st.one_of(
    SIDES,
    st.builds("{}/{}".format, SIDES, st.one_of(SIDES, st.sampled_from(["..", ""]))),
    st.builds("{}/{}".format, st.sampled_from(["..", ""]), SIDES),
    st.text(max_size=12),
)


@settings(max_examples=10, deadline=None, database=None)  # each example is one node process
@given(st.lists(DATE_LIKE, min_size=1, max_size=300))
def test_the_script_and_the_service_agree_on_any_date_like_text(texts):
    for text, reading in zip(texts, script_readings(texts), strict=True):
        assert reading == python_reading(text), text
