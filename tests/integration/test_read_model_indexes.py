"""A read model made before an index was added gets it when the service starts."""

from __future__ import annotations

from sqlalchemy import inspect, text

from timeline.bootstrap import build
from timeline.config import Config


def test_an_index_missing_from_an_existing_read_model_is_created_at_startup(database_url):
    services = build(Config(database_url=database_url))
    with services.app.engine.begin() as conn:
        conn.execute(text("DROP INDEX tl_facts_ends"))
    services.close()
    indexes = lambda engine: {i["name"] for i in inspect(engine).get_indexes("tl_facts")}  # noqa: E731

    services = build(Config(database_url=database_url))
    try:
        assert "tl_facts_ends" in indexes(services.app.engine)
    finally:
        services.close()
