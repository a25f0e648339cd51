"""API tokens: made by the CLI, stored as hashes, checked in constant time, listed and revoked."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, exc, insert, or_, select, update

from events.errors import DomainError
from events.validation import text_problem
from timeline.errors import InvalidArguments
from timeline.tables import tokens

log = logging.getLogger(__name__)

PREFIX = "tl"
ID_LENGTH = 16
"""A token's id: 16 lowercase hex digits, the part of the token between its underscores."""

USE_RESOLUTION = 60
"""Seconds: `last_used_at` is written only when the stored value is older than this."""


@dataclass(frozen=True)
class Identity:
    """Who is writing: the token's id (scopes idempotency keys) and its name (`recorded_by`)."""

    token_id: str
    name: str


@dataclass(frozen=True)
class SessionProof:
    """What a browser session keeps of its token: the id and the hash of the secret (the
    value the database holds), so the cookie never carries a usable bearer token."""

    token_id: str
    secret_sha256: str


class UnknownToken(DomainError):
    """A token id that names no token, or one revoked already."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _rfc3339(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def token_id_of(token: str) -> str:
    """The id of a token as `create` returns it (the part a person reads and types)."""
    return token.split("_", 2)[1]


class Tokens:
    """The token table, with the identities of tokens verified in the last second.

    A token verified in the database is trusted for `REMEMBER_SECONDS` without another look
    (a primary-key read per request costs a PostgreSQL round trip), so a revoked token is
    refused by every process at most that long after the revocation is committed."""

    REMEMBER_SECONDS = 1.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._verified: dict[str, tuple[Identity, float]] = {}

    def create(self, name: str) -> str:
        """Make a token for `name` and return it; only its hash is kept."""
        problem = text_problem(name) if isinstance(name, str) else "must be text"
        if problem or not name.strip() or len(name) > 200:
            raise InvalidArguments({"name": problem or "must be 1 to 200 characters"})
        token_id, secret = secrets.token_hex(ID_LENGTH // 2), secrets.token_urlsafe(32)
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

    def list(self) -> Iterator[dict[str, str | None]]:
        """Every token, oldest first (those made in the same second by id), as the CLI lists
        it: never the secret or its hash."""
        columns = tokens.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    columns.token_id,
                    columns.name,
                    columns.created_at,
                    columns.last_used_at,
                    columns.revoked_at,
                ).order_by(columns.created_at, columns.token_id)
            ).all()
        for row in rows:
            yield {
                "id": row.token_id,
                "name": row.name,
                "created_at": _rfc3339(row.created_at),
                "last_used_at": _rfc3339(row.last_used_at),
                "revoked_at": _rfc3339(row.revoked_at),
            }

    def revoke(self, token_id: str) -> None:
        """Refuse the token from now on, in every process; UnknownToken if there is none to
        revoke (no such id, or revoked already)."""
        with self.engine.begin() as conn:
            revoked = conn.execute(
                update(tokens)
                .where(tokens.c.token_id == token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=int(time.time()))
            ).rowcount
            if revoked:
                return
            known = conn.execute(
                select(tokens.c.revoked_at).where(tokens.c.token_id == token_id)
            ).first()
        if known is None:
            raise UnknownToken(f"no token has the id {token_id!r} (see `timeline token list`)")
        raise UnknownToken(f"the token {token_id!r} was revoked already")

    def authenticate(self, presented: str) -> Identity | None:
        """The identity a presented token stands for, or None (unknown, wrong or revoked)."""
        return self._remembered(_digest(presented), lambda: self._check(presented))

    def authenticate_session(self, proof: SessionProof) -> Identity | None:
        """The identity of a browser session begun with a token (see `session_proof`), or None
        once the token is revoked: checked and remembered as `authenticate` does."""
        key = _digest(f"session:{proof.token_id}:{proof.secret_sha256}")
        return self._remembered(key, lambda: self._check_proof(proof))

    def session_proof(self, presented: str) -> SessionProof | None:
        """What a browser session keeps of the token it was begun with (its id and its
        secret's hash, never the token), or None if the token is not a valid one."""
        identity = self.authenticate(presented)
        if identity is None:
            return None
        return SessionProof(identity.token_id, _digest(presented.split("_", 2)[2]))

    def _remembered(self, key: str, check: Callable[[], Identity | None]) -> Identity | None:
        """A verified identity for up to `REMEMBER_SECONDS`, else `check` asked again."""
        remembered = self._verified.get(key)
        if remembered and remembered[1] > time.monotonic():
            return remembered[0]
        identity = check()
        if identity is None:
            self._verified.pop(key, None)
        else:
            if len(self._verified) > 1024:
                self._verified.clear()
            self._verified[key] = (identity, time.monotonic() + self.REMEMBER_SECONDS)
        return identity

    def _check(self, presented: str) -> Identity | None:
        """Look the token up in the database, and note its use."""
        parts = presented.split("_", 2)
        if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != ID_LENGTH:
            return None
        return self._check_proof(SessionProof(parts[1], _digest(parts[2])))

    def _check_proof(self, proof: SessionProof) -> Identity | None:
        """Look a token up by its id and its secret's hash, and note its use."""
        columns = tokens.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    columns.name, columns.secret_sha256, columns.revoked_at, columns.last_used_at
                ).where(columns.token_id == proof.token_id)
            ).first()
        expected = row.secret_sha256 if row else _digest("")
        matches = hmac.compare_digest(proof.secret_sha256, expected)
        if row is None or not matches or row.revoked_at is not None:
            return None
        self._note_use(proof.token_id, row.last_used_at)
        return Identity(proof.token_id, row.name)

    def _note_use(self, token_id: str, stored: int | None) -> None:
        """Keep `last_used_at` to the minute: write it only when the stored value is older
        than a minute, and only if no other process wrote a newer one meanwhile."""
        now = int(time.time())
        if stored is not None and now - stored < USE_RESOLUTION:
            return
        stale = now - USE_RESOLUTION
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(tokens)
                    .where(
                        tokens.c.token_id == token_id,
                        or_(tokens.c.last_used_at.is_(None), tokens.c.last_used_at <= stale),
                    )
                    .values(last_used_at=now)
                )
        except exc.OperationalError as error:  # a note, not worth refusing the request over
            log.warning("could not note the use of token %s: %s", token_id, error)
