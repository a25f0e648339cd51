"""API tokens: made by the CLI, stored as hashes, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select

from events.validation import text_problem
from timeline.errors import InvalidArguments
from timeline.tables import tokens

PREFIX = "tl"


@dataclass(frozen=True)
class Identity:
    """Who is writing: the token's id (scopes idempotency keys) and its name (`recorded_by`)."""

    token_id: str
    name: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Tokens:
    """The token table, with the identities of tokens verified in the last minute."""

    REMEMBER_SECONDS = 60.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._verified: dict[str, tuple[Identity, float]] = {}

    def create(self, name: str) -> str:
        """Make a token for `name` and return it; only its hash is kept."""
        problem = text_problem(name) if isinstance(name, str) else "must be text"
        if problem or not name.strip() or len(name) > 200:
            raise InvalidArguments({"name": problem or "must be 1 to 200 characters"})
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(
                insert(tokens).values(
                    token_id=token_id,
                    name=name,
                    secret_sha256=_digest(secret),
                    created_at=int(time.time()),
                )
            )
        return f"{PREFIX}_{token_id}_{secret}"

    def authenticate(self, presented: str) -> Identity | None:
        """The identity a presented token stands for, or None."""
        fingerprint = _digest(presented)
        remembered = self._verified.get(fingerprint)
        if remembered and remembered[1] > time.monotonic():
            return remembered[0]
        identity = self._check(presented)
        if identity is not None:
            if len(self._verified) > 1024:
                self._verified.clear()
            self._verified[fingerprint] = (identity, time.monotonic() + self.REMEMBER_SECONDS)
        return identity

    def _check(self, presented: str) -> Identity | None:
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 16:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tokens.c.name, tokens.c.secret_sha256).where(tokens.c.token_id == parts[1])
            ).first()
        expected = row.secret_sha256 if row else _digest("")
        matches = hmac.compare_digest(_digest(parts[2]), expected)
        return Identity(parts[1], row.name) if row and matches else None
