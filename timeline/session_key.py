"""The key that signs the pages' session cookies: from the configuration, or made once.

Without `TIMELINE_SECRET_KEY`, a key is generated on first use and kept in the settings
table of the database (beside the cursor key), so restarts and every worker process share it
and nobody is signed out by a restart; on PostgreSQL it lives in the same database.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, exc, insert, select

from timeline.config import Config
from timeline.tables import settings

SESSION_KEY = "session_signing_key"


def session_key(config: Config, engine: Engine) -> str:
    """The configured key, else the one kept in the database (made by the first caller)."""
    if config.secret_key:
        return config.secret_key
    found = _stored(engine)
    if found is not None:
        return found
    try:
        with engine.begin() as conn:
            conn.execute(insert(settings).values(name=SESSION_KEY, value=secrets.token_hex(32)))
    except exc.IntegrityError:
        pass  # another process made it first: use theirs
    stored = _stored(engine)
    assert stored is not None
    return stored


def _stored(engine: Engine) -> str | None:
    with engine.connect() as conn:
        value = conn.execute(
            select(settings.c.value).where(settings.c.name == SESSION_KEY)
        ).scalar_one_or_none()
    return None if value is None else str(value)
