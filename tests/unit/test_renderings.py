"""Kept answers are serialised and hashed once (api.resources.Renderings)."""

from __future__ import annotations

import orjson
from flask import Flask
from werkzeug.http import generate_etag

from api.resources import Renderings


def test_a_kept_answer_is_rendered_once_and_told_apart_from_an_equal_one(monkeypatch):
    dumped = []
    real = orjson.dumps
    monkeypatch.setattr(orjson, "dumps", lambda body: dumped.append(body) or real(body))
    renderings = Renderings(size=2)
    kept = {"name": "CICOPA", "members": [1, 2]}
    with Flask(__name__).app_context():
        first, again = renderings.response(kept), renderings.response(kept)
        equal = renderings.response({"name": "CICOPA", "members": [1, 2]})
    assert len(dumped) == 2  # the kept one once, the equal (other) one once
    assert first.get_data() == again.get_data() == real(kept)
    assert first.headers["ETag"] == again.headers["ETag"] == f'W/"{generate_etag(real(kept))}"'
    assert equal.headers["ETag"] == first.headers["ETag"]
    assert first.mimetype == "application/json"


def test_renderings_keep_the_most_recently_asked_up_to_their_size():
    renderings = Renderings(size=2)
    bodies = [{"n": n} for n in range(3)]
    with Flask(__name__).app_context():
        for body in (bodies[0], bodies[1], bodies[0], bodies[2]):
            renderings.response(body)
    held = [made[0] for made in renderings._made.values()]
    assert len(held) == 2
    assert held[0] is bodies[0] and held[1] is bodies[2]  # bodies[1] was asked least recently
