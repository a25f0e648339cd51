"""Log lines: one JSON object each, with the request id and every extra field."""

from __future__ import annotations

import json
import logging

from timeline.logs import JsonFormatter, request_id


def _line(**extra: object) -> dict[str, object]:
    record = logging.makeLogRecord({"name": "timeline.test", "levelno": 20, "levelname": "INFO"})
    record.msg = "hello %s"
    record.args = ("world",)
    record.__dict__.update(extra)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


def test_a_line_carries_the_message_level_logger_and_extras():
    line = _line(path="/api/x", status=201, duration_ms=1.5)
    assert line["message"] == "hello world"
    assert (line["level"], line["logger"]) == ("info", "timeline.test")
    assert (line["path"], line["status"], line["duration_ms"]) == ("/api/x", 201, 1.5)
    assert str(line["time"]).endswith("+00:00")


def test_a_line_carries_the_request_id_being_served():
    token = request_id.set("req-42")
    try:
        assert _line()["request_id"] == "req-42"
    finally:
        request_id.reset(token)
    assert "request_id" not in _line()


def test_values_json_cannot_hold_natively_are_written_as_text_or_exactly():
    line = _line(huge=2**70, thing=object(), name_with_accent="Coopérative")
    assert line["huge"] == 2**70
    assert str(line["thing"]).startswith("<object object")
    assert line["name_with_accent"] == "Coopérative"
